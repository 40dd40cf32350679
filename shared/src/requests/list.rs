//! The list endpoint's request: an optional page size and cursor.

use lambda_http::Request;

use crate::error::ApiError;
use crate::http::{optional_query, tenant};
use crate::types::{LockName, UserId, MAX_LABEL_BYTES};

/// Most locks one page of `GET /v0/locks` holds, and the page without
/// `limit`: the default quota of names, so a user within it still gets every
/// lock in one answer, as the reference lists them.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// `GET /v0/locks?limit=&cursor=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// At most this many locks ([`MAX_PAGE_LIMIT`] without `limit`).
    pub limit: usize,
    /// Continue after this position in name order (from the `cursor` of a
    /// previous page: the last lock name it listed).
    pub after: Option<String>,
}

impl ListRequest {
    /// Parses a list; a malformed `limit` or `cursor` is refused.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let user = tenant(request)?;
        let limit = optional_query(request, "limit")?
            .map(|text| {
                text.parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE_LIMIT).contains(limit))
                    .ok_or_else(|| {
                        ApiError::invalid("limit", "must be a whole number from 1 to 1000")
                    })
            })
            .transpose()?
            .unwrap_or(MAX_PAGE_LIMIT);
        let after = optional_query(request, "cursor")?
            .map(|cursor| {
                position_of(&cursor).ok_or_else(|| {
                    ApiError::invalid("cursor", "must be a nextCursor from an earlier page")
                })
            })
            .transpose()?;
        Ok(Self { user, limit, after })
    }
}

/// The opaque `nextCursor` that continues a list after lock `name`. It holds
/// only a position in name order: the tenant always comes from the key, so
/// a cursor can never move into another tenant's locks, however it is
/// altered (an altered but well-formed cursor is just another position).
pub fn cursor_after(name: &LockName) -> String {
    let hex: String = name.as_str().bytes().map(|b| format!("{b:02x}")).collect();
    format!("{CURSOR_VERSION}{hex}")
}

/// Marks the cursor format, so a later one can be told apart.
const CURSOR_VERSION: &str = "c1";

/// The position a cursor continues after: `c1` and 1 to 255 bytes in
/// lower-case hex (bytes that are not UTF-8 are read lossily, so every
/// well-formed cursor is a position); `None` if it is malformed.
fn position_of(cursor: &str) -> Option<String> {
    let hex = cursor.strip_prefix(CURSOR_VERSION)?;
    let lower_hex = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * MAX_LABEL_BYTES || !lower_hex {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}
