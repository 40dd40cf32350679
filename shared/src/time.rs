//! Time in the domain: instants ([`Timestamp`]) and the bounded durations a
//! request may ask for ([`LeaseTtl`], [`WaitTime`]).

use std::time::Duration;

use crate::types::ValidationError;

/// A point in time as the API writes it: defined once, in the wire crate.
pub use lock_wire::Timestamp;

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
