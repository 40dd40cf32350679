//! The values of `GET /v0/locks`: the page size and the cursor (which
//! `GET /v0/semaphores` shares).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::{LockName, SemaphoreName, ValidationError, MAX_LABEL_BYTES};

/// Most locks one page holds, and the page without `limit`: the default
/// quota of names, so a user within it gets every lock in one answer.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// A page size (`limit`): 1 to [`MAX_PAGE_LIMIT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    /// The page without `limit`.
    pub const DEFAULT: PageLimit = PageLimit(MAX_PAGE_LIMIT);

    /// Validates a `limit`.
    pub fn new(limit: u32) -> Result<Self, ValidationError> {
        if (1..=MAX_PAGE_LIMIT).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(Self::refusal())
        }
    }

    fn refusal() -> ValidationError {
        ValidationError::new("limit", "must be a whole number from 1 to 1000")
    }

    /// The size.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Serialize for PageLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for PageLimit {
    /// From a number, or from text (a query parameter is text).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Number(u64),
            Text(String),
        }
        let limit = match Given::deserialize(d) {
            Ok(Given::Number(n)) => u32::try_from(n).ok(),
            Ok(Given::Text(text)) => text.parse().ok(),
            Err(_) => None,
        };
        limit
            .ok_or_else(Self::refusal)
            .and_then(Self::new)
            .map_err(serde::de::Error::custom)
    }
}

/// The opaque `nextCursor` that continues a list after a lock name. It holds
/// only a position in name order: the tenant always comes from the key, so
/// a cursor can never move into another tenant's locks, however it is
/// altered (an altered but well-formed cursor is just another position).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cursor(String);

/// Marks the cursor format, so a later one can be told apart.
const CURSOR_VERSION: &str = "c1";

impl Cursor {
    /// The cursor that continues after lock `name`.
    pub fn after(name: &LockName) -> Self {
        Self::after_name(name.as_str())
    }

    /// The cursor that continues after semaphore `name`.
    pub fn after_semaphore(name: &SemaphoreName) -> Self {
        Self::after_name(name.as_str())
    }

    fn after_name(name: &str) -> Self {
        let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
        Self(format!("{CURSOR_VERSION}{hex}"))
    }

    /// Validates a `cursor`: `c1` and 1 to 255 bytes in lower-case hex.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match position_of(text) {
            Some(_) => Ok(Self(text.to_owned())),
            None => Err(ValidationError::new(
                "cursor",
                "must be a nextCursor from an earlier page",
            )),
        }
    }

    /// The position the cursor continues after (bytes that are not UTF-8
    /// are read lossily, so every well-formed cursor is a position).
    pub fn position(&self) -> String {
        position_of(&self.0).unwrap_or_default()
    }

    /// The cursor as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The position `cursor` continues after; `None` if it is malformed.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_its_position() {
        let name = LockName::parse("job-é").unwrap();
        let cursor = Cursor::after(&name);
        assert_eq!(Cursor::parse(cursor.as_str()).unwrap().position(), "job-é");
        // Well-formed but not given out: just another position. (Every
        // malformed cursor is refused through the query string, in the
        // service's `list` request test.)
        assert_eq!(Cursor::parse("c100").unwrap().position(), "\0");
    }

    #[test]
    fn a_page_limit_is_1_to_1000_from_a_number_or_text() {
        assert_eq!(serde_json::from_str::<PageLimit>("7").unwrap().get(), 7);
        assert_eq!(
            serde_json::from_str::<PageLimit>(r#""1000""#)
                .unwrap()
                .get(),
            1000
        );
        for bad in ["0", "1001", "-1", "1.5", r#""ten""#, r#""""#, "true"] {
            let err = serde_json::from_str::<PageLimit>(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("limit must be a whole number from 1 to 1000"),
                "{bad}: {err}"
            );
        }
    }
}
