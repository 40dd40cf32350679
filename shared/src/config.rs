//! Everything a function reads from its environment, read once at cold start:
//! the variable names, the table names they hold, and the acquire settings.
//! A bad setting is the operator's, so it is a [`ConfigError`], never an API error.

use crate::types::LeaseTtl;

/// Environment variable that names the lock table.
pub const LOCKS_TABLE_ENV: &str = "LOCKS_TABLE";
/// Environment variable that names the API-key table.
pub const API_KEYS_TABLE_ENV: &str = "API_KEYS_TABLE";
/// Environment variable with the TTL (seconds) of leases acquired without `ttlSeconds`.
pub const DEFAULT_LEASE_TTL_ENV: &str = "DEFAULT_LEASE_TTL_SECONDS";
/// Environment variable with the most lock names a tenant may have (0: no limit).
pub const MAX_LOCKS_ENV: &str = "MAX_LOCKS_PER_USER";
/// The quota where [`MAX_LOCKS_ENV`] is unset (the template's default too):
/// a tenant at it lists every lock in one answer, far under Lambda's 6 MB
/// response limit even with 255-byte names and requesters (about 800 bytes
/// a lock, so at most about 4 MB).
pub const DEFAULT_MAX_LOCKS: u32 = 5000;

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
}

impl Default for AcquireSettings {
    fn default() -> Self {
        Self {
            default_ttl: None,
            max_locks: Some(DEFAULT_MAX_LOCKS),
        }
    }
}

impl AcquireSettings {
    /// Reads [`DEFAULT_LEASE_TTL_ENV`] (unset, empty or `0`: no default TTL)
    /// and [`MAX_LOCKS_ENV`] (unset or empty: [`DEFAULT_MAX_LOCKS`]; `0`: no limit).
    pub fn from_env() -> Result<Self, ConfigError> {
        let env = |var| std::env::var(var).unwrap_or_default();
        Ok(Self {
            max_locks: max_locks_from(&env(MAX_LOCKS_ENV))?,
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
