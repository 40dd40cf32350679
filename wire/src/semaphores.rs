//! The semaphore routes' values and JSON: how many permits a semaphore has
//! (`permits`), which one a lease holds (`permit`), the page of
//! `GET /v0/semaphores`, and each request and answer.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    Cursor, LeaseId, LeaseTtl, Requester, SemaphoreName, Timestamp, ValidationError, WaitTime,
};

/// Most permits a semaphore may have.
pub const MAX_PERMITS: u8 = 64;

/// Most semaphores one page of `GET /v0/semaphores` holds, and the page
/// without `limit`: 50 worst-case views (64 holders, every name and
/// requester 255 bytes that JSON escapes to twice their size, and the
/// answer's body escaped again inside Lambda's JSON) are under 4.5 MB, within
/// Lambda's 6 MB answer (a test builds that page).
pub const MAX_SEMAPHORE_PAGE: u8 = 50;

/// A whole number in `min..=max`, from JSON numbers only (`"3"` is refused).
macro_rules! small_number {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $accept_text:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u8);

        impl $name {
            /// Validates a value of its field.
            pub fn new(value: u64) -> Result<Self, ValidationError> {
                match u8::try_from(value) {
                    Ok(value) if ($min..=$max).contains(&value) => Ok(Self(value)),
                    _ => Err(Self::refusal()),
                }
            }

            fn refusal() -> ValidationError {
                ValidationError::new(
                    $field,
                    format!("must be a whole number from {} to {}", $min, $max),
                )
            }

            /// The value.
            pub fn get(self) -> u8 {
                self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u8(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Given {
                    Number(u64),
                    Text(String),
                    Other(serde::de::IgnoredAny),
                }
                // Every JSON value is one of these; an error is serde's own
                // (a missing field), kept so that it names the field.
                let value = match Given::deserialize(d)? {
                    Given::Number(n) => Some(n),
                    Given::Text(text) if $accept_text => text.parse().ok(),
                    _ => None,
                };
                value
                    .ok_or_else(Self::refusal)
                    .and_then(Self::new)
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

small_number!(
    /// How many leases a semaphore grants at once (`permits`): 1 to 64.
    Permits, "permits", 1, MAX_PERMITS, false
);
small_number!(
    /// The permit slot a lease holds (`permit`): 0 to 63.
    PermitSlot, "permit", 0, MAX_PERMITS - 1, false
);
small_number!(
    /// A page of semaphores (`limit`): 1 to [`MAX_SEMAPHORE_PAGE`], from a
    /// number or text (a query parameter is text).
    SemaphorePageLimit, "limit", 1, MAX_SEMAPHORE_PAGE, true
);

impl SemaphorePageLimit {
    /// The page without `limit`.
    pub const DEFAULT: SemaphorePageLimit = SemaphorePageLimit(MAX_SEMAPHORE_PAGE);
}

/// Body of `POST /v0/semaphore`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermitRequest {
    /// The semaphore.
    pub semaphore_name: SemaphoreName,
    /// Who asks (shown as `leasedBy`).
    pub requester: Requester,
    /// How many permits the semaphore has (fixed when it is first acquired).
    pub permits: Permits,
    /// The permit's time to live; absent: the server's default (300 s without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<LeaseTtl>,
    /// How long the server may wait for a permit (at most its longest wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<WaitTime>,
}

/// Answer of `POST /v0/semaphore`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermitAnswer {
    /// Whether a permit was granted.
    pub acquired: bool,
    /// The new lease, when granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    /// The permit slot the lease holds (0-based), when granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit: Option<u8>,
    /// The grant's fencing token (rising per permit slot), when granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<u64>,
    /// Granted: when this lease expires. Refused: the earliest expiry of
    /// the live holders, so a client knows when to ask again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// The semaphore's permits.
    pub permits: u8,
    /// What happened, for people.
    pub message: String,
}

/// Query of `GET /v0/semaphore`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SemaphoreQuery {
    /// The semaphore.
    pub semaphore_name: SemaphoreName,
}

/// A live permit as `GET /v0/semaphore` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermitHolder {
    /// The lease.
    pub lease_id: String,
    /// Its requester.
    pub leased_by: String,
    /// The permit slot it holds.
    pub permit: u8,
    /// When it was granted.
    pub acquired_at: Timestamp,
    /// When it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Its fencing token.
    pub fencing_token: u64,
}

/// A semaphore as `GET /v0/semaphore` and `GET /v0/semaphores` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SemaphoreView {
    /// The semaphore.
    pub semaphore_name: String,
    /// How many leases it grants at once.
    pub permits: u8,
    /// How many of them no live lease holds.
    pub available: u8,
    /// The live leases, by permit slot.
    pub holders: Vec<PermitHolder>,
    /// When it was first acquired.
    pub created_at: Timestamp,
    /// When a permit was last acquired, renewed or released.
    pub updated_at: Timestamp,
}

/// Body of `POST /v0/semaphore/release`: a lease (and the permit its grant
/// answered, for one write), or `force: true` (every live permit, or only
/// `permit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleasePermitRequest {
    /// The semaphore.
    pub semaphore_name: SemaphoreName,
    /// The lease to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<LeaseId>,
    /// The permit slot the lease holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit: Option<PermitSlot>,
    /// End whatever lease holds the permits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

/// Answer of `POST /v0/semaphore/release`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePermitAnswer {
    /// Whether the lease no longer holds its permit (now, or already
    /// before a retry).
    pub released: bool,
    /// Why not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Body of `POST /v0/semaphore/renew`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewPermitRequest {
    /// The semaphore.
    pub semaphore_name: SemaphoreName,
    /// The live lease to extend.
    pub lease_id: LeaseId,
    /// The permit slot it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit: Option<PermitSlot>,
    /// New time to live from now; absent: the lease's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<LeaseTtl>,
}

/// Body of `POST /v0/semaphore/delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSemaphoreRequest {
    /// The semaphore.
    pub semaphore_name: SemaphoreName,
}

/// Query of `GET /v0/semaphores`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SemaphoreListQuery {
    /// At most this many semaphores; absent: [`MAX_SEMAPHORE_PAGE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<SemaphorePageLimit>,
    /// Where the page starts: a previous page's `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// Answer of `GET /v0/semaphores`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SemaphoreList {
    /// The semaphores, in name order.
    pub semaphores: Vec<SemaphoreView>,
    /// The cursor of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_1_to_64_json_numbers_and_name_their_field() {
        assert_eq!(serde_json::from_str::<Permits>("64").unwrap().get(), 64);
        for bad in ["0", "65", r#""3""#, "-1", "2.5", "null", "true", "300"] {
            let err = serde_json::from_str::<Permits>(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("permits must be a whole number from 1 to 64"),
                "{bad}: {err}"
            );
        }
        assert_eq!(serde_json::from_str::<PermitSlot>("0").unwrap().get(), 0);
        assert!(serde_json::from_str::<PermitSlot>("64").is_err());
        assert_eq!(
            serde_json::from_str::<SemaphorePageLimit>(r#""7""#)
                .unwrap()
                .get(),
            7
        );
        assert!(serde_json::from_str::<SemaphorePageLimit>("51").is_err());
    }

    /// The page bound holds for the worst view: 64 holders, and every name
    /// 255 bytes of `"`, escaped by JSON and again by Lambda's envelope.
    #[test]
    fn a_page_of_worst_case_views_fits_lambdas_answer() {
        let worst = "\"".repeat(crate::MAX_LABEL_BYTES);
        let end = Some(Timestamp::from_millis(253_402_300_799_999));
        let holder = |permit| PermitHolder {
            lease_id: LeaseId::generate().to_string(),
            leased_by: worst.clone(),
            permit,
            acquired_at: Timestamp::from_millis(253_402_300_799_999),
            expires_at: end,
            fencing_token: u64::MAX,
        };
        let view = SemaphoreView {
            semaphore_name: worst.clone(),
            permits: MAX_PERMITS,
            available: 0,
            holders: (0..MAX_PERMITS).map(holder).collect(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        };
        let page = SemaphoreList {
            semaphores: vec![view; usize::from(MAX_SEMAPHORE_PAGE)],
            next_cursor: Some(Cursor::parse(&format!("c1{}", "ff".repeat(255))).unwrap()),
        };
        let body = serde_json::to_string(&page).unwrap();
        let envelope = serde_json::json!({"statusCode": 200, "body": body}).to_string();
        assert!(envelope.len() < 4_500_000, "{} bytes", envelope.len());
    }
}
