//! Everything a function reads from its environment, read once at cold start:
//! the variable names, the table names they hold, and the acquire settings.
//! A bad setting is the operator's, so it is a [`ConfigError`], never an API error.

use std::time::Duration;

use crate::types::{LeaseTtl, WaitTime};

/// Environment variable that names the lock table.
pub const LOCKS_TABLE_ENV: &str = "LOCKS_TABLE";
/// Environment variable that names the API-key table.
pub const API_KEYS_TABLE_ENV: &str = "API_KEYS_TABLE";
/// Environment variable with the TTL (seconds) of leases acquired without `ttlSeconds`.
pub const DEFAULT_LEASE_TTL_ENV: &str = "DEFAULT_LEASE_TTL_SECONDS";
/// Environment variable with the most lock names a tenant may have (0: no limit).
pub const MAX_LOCKS_ENV: &str = "MAX_LOCKS_PER_USER";
/// The quota where [`MAX_LOCKS_ENV`] is unset (the template's default too):
/// the size of `GET /v0/locks`' default page, so a tenant within it lists
/// every lock in one answer (a test checks that 1 000 locks of the longest
/// names fit Lambda's 6 MB answer).
pub const DEFAULT_MAX_LOCKS: u32 = 1000;
/// Environment variable with the most acquires of one tenant that may be
/// waiting at once (1 to 100).
pub const MAX_WAITING_ENV: &str = "MAX_WAITING_PER_USER";
/// The limit of waiting acquires where [`MAX_WAITING_ENV`] is unset (the template's default).
pub const DEFAULT_MAX_WAITING: u32 = 10;
/// Environment variable with the longest wait the service grants one acquire
/// (0 to 20 s); `waitSeconds` above it waits that long.
pub const MAX_WAIT_ENV: &str = "MAX_WAIT_SECONDS";
/// The longest wait where [`MAX_WAIT_ENV`] is unset (the template's default):
/// with the stage's default throttle, waiting acquires of every user together
/// hold at most 200 + 100/s × 5 s = 700 function instances, and waiting
/// acquires of permits 50 + 20/s × 5 s = 150 more (SECURITY.md).
pub const DEFAULT_MAX_WAIT_SECONDS: u64 = 5;

/// Environment variable with the clock-skew margin in milliseconds (0 to
/// [`MAX_CLOCK_SKEW_MARGIN_MS`]): how long after its `expiresAt` a lease
/// may be taken over by another, so that function instances whose clocks
/// differ by less than that never grant overlapping leases.
pub const CLOCK_SKEW_MARGIN_ENV: &str = "CLOCK_SKEW_MARGIN_MS";
/// The margin where [`CLOCK_SKEW_MARGIN_ENV`] is unset (the template's
/// default): docs/SEMANTICS.md, "Clocks", says where it comes from.
pub const DEFAULT_CLOCK_SKEW_MARGIN_MS: u64 = 1000;
/// The largest margin a deployment may set.
pub const MAX_CLOCK_SKEW_MARGIN_MS: u64 = 60_000;

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required environment variable is unset or empty.
    #[error("environment variable {0} must name a DynamoDB table")]
    MissingTable(&'static str),
    /// A setting's environment variable holds a value out of its range.
    #[error("environment variable {var} {problem}")]
    InvalidSetting {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
}

/// The table named by environment variable `var`; fails fast when unset.
pub fn table_from_env(var: &'static str) -> Result<String, ConfigError> {
    table_from(var, std::env::var(var).ok())
}

fn table_from(var: &'static str, value: Option<String>) -> Result<String, ConfigError> {
    value
        .filter(|name| !name.trim().is_empty())
        .ok_or(ConfigError::MissingTable(var))
}

/// Settings of the acquire function.
#[derive(Clone, Copy, Debug)]
pub struct AcquireSettings {
    /// TTL of leases acquired without `ttlSeconds`; `None`: they last until released.
    pub default_ttl: Option<LeaseTtl>,
    /// Most lock names a tenant may have; `None`: no limit.
    pub max_locks: Option<u32>,
    /// Most acquires of one tenant waiting at once.
    pub max_waiting: u32,
    /// Longest wait of one acquire.
    pub max_wait: Duration,
}

impl Default for AcquireSettings {
    fn default() -> Self {
        Self {
            default_ttl: None,
            max_locks: Some(DEFAULT_MAX_LOCKS),
            max_waiting: DEFAULT_MAX_WAITING,
            max_wait: Duration::from_secs(DEFAULT_MAX_WAIT_SECONDS),
        }
    }
}

impl AcquireSettings {
    /// Reads [`DEFAULT_LEASE_TTL_ENV`] (unset, empty or `0`: no default TTL),
    /// [`MAX_LOCKS_ENV`] (unset or empty: [`DEFAULT_MAX_LOCKS`]; `0`: no limit),
    /// [`MAX_WAITING_ENV`] and [`MAX_WAIT_ENV`] (unset or empty: their defaults).
    pub fn from_env() -> Result<Self, ConfigError> {
        let env = |var| std::env::var(var).unwrap_or_default();
        let max_waiting = whole_number_within(MAX_WAITING_ENV, &env(MAX_WAITING_ENV), 1, 100)?;
        let max_wait =
            whole_number_within(MAX_WAIT_ENV, &env(MAX_WAIT_ENV), 0, WaitTime::MAX_SECONDS)?;
        Ok(Self {
            max_locks: max_locks_from(&env(MAX_LOCKS_ENV))?,
            max_waiting: max_waiting.map_or(DEFAULT_MAX_WAITING, |n| n as u32),
            max_wait: Duration::from_secs(max_wait.unwrap_or(DEFAULT_MAX_WAIT_SECONDS)),
            ..Self::from_value(&env(DEFAULT_LEASE_TTL_ENV))?
        })
    }

    /// Interprets a [`DEFAULT_LEASE_TTL_ENV`] value.
    fn from_value(seconds: &str) -> Result<Self, ConfigError> {
        let invalid = |problem: String| ConfigError::InvalidSetting {
            var: DEFAULT_LEASE_TTL_ENV,
            problem,
        };
        let default_ttl = match seconds.trim() {
            "" | "0" => None,
            text => {
                let seconds = text
                    .parse()
                    .map_err(|_| invalid("must be a whole number of seconds".into()))?;
                let ttl = LeaseTtl::from_seconds(seconds)
                    .map_err(|_| invalid(format!("must be from 0 to {}", LeaseTtl::MAX_SECONDS)))?;
                Some(ttl)
            }
        };
        Ok(Self {
            default_ttl,
            ..Self::default()
        })
    }
}

/// The clock-skew margin from [`CLOCK_SKEW_MARGIN_ENV`] (unset or empty:
/// [`DEFAULT_CLOCK_SKEW_MARGIN_MS`]).
pub fn clock_skew_margin_from_env() -> Result<Duration, ConfigError> {
    let value = std::env::var(CLOCK_SKEW_MARGIN_ENV).unwrap_or_default();
    clock_skew_margin_from(&value)
}

/// Interprets a [`CLOCK_SKEW_MARGIN_ENV`] value.
fn clock_skew_margin_from(value: &str) -> Result<Duration, ConfigError> {
    let millis = whole_number_within(CLOCK_SKEW_MARGIN_ENV, value, 0, MAX_CLOCK_SKEW_MARGIN_MS)?;
    Ok(Duration::from_millis(
        millis.unwrap_or(DEFAULT_CLOCK_SKEW_MARGIN_MS),
    ))
}

/// A whole number from `min` to `max` in variable `var`'s `value`; `None` if it is blank.
fn whole_number_within(
    var: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<u64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(Some(number)),
        _ => Err(ConfigError::InvalidSetting {
            var,
            problem: format!("must be a whole number from {min} to {max}"),
        }),
    }
}

/// Interprets a [`MAX_LOCKS_ENV`] value.
fn max_locks_from(value: &str) -> Result<Option<u32>, ConfigError> {
    match value.trim() {
        "" => Ok(Some(DEFAULT_MAX_LOCKS)),
        "0" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::InvalidSetting {
                var: MAX_LOCKS_ENV,
                problem: "must be a whole number (0: no limit)".into(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_variable_must_name_a_table() {
        assert_eq!(
            table_from(LOCKS_TABLE_ENV, Some("Locks".into())).unwrap(),
            "Locks"
        );
        for missing in [None, Some(String::new()), Some("  ".into())] {
            let err = table_from(LOCKS_TABLE_ENV, missing).unwrap_err();
            assert_eq!(
                err.to_string(),
                "environment variable LOCKS_TABLE must name a DynamoDB table"
            );
        }
    }

    #[test]
    fn the_clock_skew_margin_defaults_to_a_second_and_is_bounded() {
        let margin = |value| clock_skew_margin_from(value).ok();
        assert_eq!(
            margin(""),
            Some(Duration::from_millis(DEFAULT_CLOCK_SKEW_MARGIN_MS))
        );
        assert_eq!(margin("0"), Some(Duration::ZERO));
        assert_eq!(margin("250"), Some(Duration::from_millis(250)));
        assert_eq!(margin("60001"), None);
        let err = clock_skew_margin_from("1s").unwrap_err();
        assert!(err.to_string().contains(CLOCK_SKEW_MARGIN_ENV), "{err}");
    }

    #[test]
    fn the_lock_quota_defaults_and_zero_means_none() {
        assert_eq!(max_locks_from("").unwrap(), Some(DEFAULT_MAX_LOCKS));
        assert_eq!(max_locks_from("3").unwrap(), Some(3));
        assert_eq!(max_locks_from("0").unwrap(), None);
        let err = max_locks_from("-1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable MAX_LOCKS_PER_USER must be a whole number (0: no limit)"
        );
    }

    #[test]
    fn waiting_limits_default_and_refuse_out_of_range_values() {
        assert_eq!(
            whole_number_within(MAX_WAITING_ENV, " ", 1, 100).unwrap(),
            None
        );
        assert_eq!(
            whole_number_within(MAX_WAITING_ENV, "100", 1, 100).unwrap(),
            Some(100)
        );
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            let err = whole_number_within(MAX_WAITING_ENV, bad, 1, 100).unwrap_err();
            assert_eq!(
                err.to_string(),
                "environment variable MAX_WAITING_PER_USER must be a whole number from 1 to 100"
            );
        }
        assert_eq!(
            whole_number_within(MAX_WAIT_ENV, "0", 0, 20).unwrap(),
            Some(0)
        );
    }

    #[test]
    fn the_default_lease_ttl_is_off_or_in_range() {
        for off in ["", " ", "0"] {
            assert_eq!(AcquireSettings::from_value(off).unwrap().default_ttl, None);
        }
        let ttl = AcquireSettings::from_value("60").unwrap().default_ttl;
        assert_eq!(ttl.map(LeaseTtl::millis), Some(60_000));
        let cases = [
            ("86401", "must be from 0 to 86400"),
            ("-1", "must be a whole number of seconds"),
            ("ten", "must be a whole number of seconds"),
        ];
        for (value, problem) in cases {
            let err = AcquireSettings::from_value(value).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("environment variable {DEFAULT_LEASE_TTL_ENV} {problem}")
            );
        }
    }
}
