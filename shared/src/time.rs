//! Time in the domain: instants ([`Timestamp`]) and the bounded durations a
//! request may ask for ([`LeaseTtl`], [`WaitTime`]).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use crate::types::ValidationError;

/// A point in time with millisecond precision, stored as epoch milliseconds
/// and shown as RFC 3339 UTC (`2026-11-26T07:40:00.123Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current time of this machine.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    /// The timestamp `millis` milliseconds after the Unix epoch.
    pub fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// The timestamp `millis` milliseconds later.
    pub fn plus_millis(self, millis: u64) -> Self {
        Self(self.0.saturating_add(millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = UNIX_EPOCH + Duration::from_millis(self.0);
        write!(f, "{}", humantime::format_rfc3339_millis(time))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A lease's time to live: 1 to 86 400 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTtl(u64);

impl LeaseTtl {
    /// Longest lease, in seconds (one day).
    pub const MAX_SECONDS: u64 = 86_400;

    /// Validates a `ttlSeconds` value.
    pub fn from_seconds(seconds: u64) -> Result<Self, ValidationError> {
        seconds_within("ttlSeconds", 1, Self::MAX_SECONDS, seconds).map(Self)
    }

    /// The TTL in milliseconds.
    pub fn millis(self) -> u64 {
        self.0 * 1000
    }
}

/// How long an acquire may wait for a held lock: 0 to 20 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WaitTime(u64);

impl WaitTime {
    /// Longest wait, in seconds.
    pub const MAX_SECONDS: u64 = 20;

    /// Validates a `waitSeconds` value.
    pub fn from_seconds(seconds: u64) -> Result<Self, ValidationError> {
        seconds_within("waitSeconds", 0, Self::MAX_SECONDS, seconds).map(Self)
    }

    /// The wait as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

/// How long a key rotated out keeps working: 0 to 86 400 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyGrace(u64);

impl KeyGrace {
    /// Longest grace, in seconds (one day).
    pub const MAX_SECONDS: u64 = 86_400;

    /// Validates an `oldKeyValidForSeconds` value.
    pub fn from_seconds(seconds: u64) -> Result<Self, ValidationError> {
        seconds_within("oldKeyValidForSeconds", 0, Self::MAX_SECONDS, seconds).map(Self)
    }

    /// The grace in milliseconds.
    pub fn millis(self) -> u64 {
        self.0 * 1000
    }
}

/// `seconds` if it is from `min` to `max`, else the error naming `field`.
fn seconds_within(
    field: &'static str,
    min: u64,
    max: u64,
    seconds: u64,
) -> Result<u64, ValidationError> {
    if (min..=max).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ValidationError::new(
            field,
            format!("must be from {min} to {max}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_and_waits_have_bounds() {
        assert_eq!(LeaseTtl::from_seconds(1).unwrap().millis(), 1000);
        assert!(LeaseTtl::from_seconds(86_400).is_ok());
        for bad in [0, 86_401, u64::MAX] {
            assert_eq!(
                LeaseTtl::from_seconds(bad).unwrap_err().to_string(),
                "ttlSeconds must be from 1 to 86400"
            );
        }
        assert_eq!(
            WaitTime::from_seconds(0).unwrap().duration(),
            Duration::ZERO
        );
        assert_eq!(
            WaitTime::from_seconds(20).unwrap().duration(),
            Duration::from_secs(20)
        );
        assert_eq!(
            WaitTime::from_seconds(21).unwrap_err().to_string(),
            "waitSeconds must be from 0 to 20"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_795_678_800_123).to_string(),
            "2026-11-26T07:40:00.123Z"
        );
        assert!(Timestamp::now() > Timestamp::from_millis(1_700_000_000_000));
    }
}
