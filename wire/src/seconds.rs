//! Durations a request carries, in whole seconds within a range: a lease's
//! TTL, a wait, a rotated key's grace.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ValidationError;

/// A number of seconds in a range: whole seconds in, whole seconds out.
macro_rules! seconds_value {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
        pub struct $name(u64);

        impl $name {
            /// Longest value, in seconds.
            pub const MAX_SECONDS: u64 = $max;

            /// Validates a value of its field.
            pub fn from_seconds(seconds: u64) -> Result<Self, ValidationError> {
                if ($min..=$max).contains(&seconds) {
                    Ok(Self(seconds))
                } else {
                    Err(ValidationError::new(
                        $field,
                        format!("must be from {} to {}", $min, $max),
                    ))
                }
            }

            /// The value in whole seconds.
            pub fn seconds(self) -> u64 {
                self.0
            }

            /// The value in milliseconds.
            pub fn millis(self) -> u64 {
                self.0 * 1000
            }

            /// The value as a duration.
            pub fn duration(self) -> Duration {
                Duration::from_secs(self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let seconds = u64::deserialize(d)?;
                Self::from_seconds(seconds).map_err(serde::de::Error::custom)
            }
        }
    };
}

seconds_value!(
    /// A lease's time to live (`ttlSeconds`): 1 to 86 400 seconds.
    LeaseTtl, "ttlSeconds", 1, 86_400
);
seconds_value!(
    /// How long an acquire may wait for a held lock (`waitSeconds`): 0 to 20 seconds.
    WaitTime, "waitSeconds", 0, 20
);
seconds_value!(
    /// How long a rotated-out key keeps working (`oldKeyValidForSeconds`): 0 to 86 400 seconds.
    KeyGrace, "oldKeyValidForSeconds", 0, 86_400
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_have_bounds_and_name_their_field() {
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
        assert_eq!(
            KeyGrace::from_seconds(86_401).unwrap_err().to_string(),
            "oldKeyValidForSeconds must be from 0 to 86400"
        );
    }
}
