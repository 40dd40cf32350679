//! `lockctl`'s exit codes (documented in the README and `lockctl --help`),
//! and which one each error of the client means. `run` otherwise exits
//! with its command's own code.

use lock_client::Error;

/// How `lockctl` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// It did what it was asked.
    Success = 0,
    /// The service said no: an unlock or renew answered false, a held lock
    /// cannot be deleted, too many keys to rotate.
    Refused = 1,
    /// Bad command line (clap's own).
    Usage = 2,
    /// The service refused the request as malformed, or an idempotency key
    /// was already used for another request.
    BadRequest = 65,
    /// No lock of that name.
    NotFound = 66,
    /// The service could not be reached or failed, after retries.
    Unavailable = 69,
    /// A new lock name beyond the user's quota.
    Quota = 73,
    /// Writing the output failed (other than a closed pipe, which ends quietly).
    Output = 74,
    /// A live lease holds the lock: not granted, or not deleted
    /// (EX_TEMPFAIL); `run` takes `--conflict-exit-code` instead.
    Held = 75,
    /// `run`: the lease was lost while the command ran; it was sent SIGTERM.
    LeaseLost = 76,
    /// The key is missing, unknown, revoked, expired, or was rotated.
    Unauthorized = 77,
    /// No URL or key configured, or the config file is unreadable.
    Config = 78,
}

impl Exit {
    /// The process's exit status.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<&Error> for Exit {
    fn from(err: &Error) -> Self {
        match err {
            Error::Held { .. } => Exit::Held,
            Error::LeaseLost(_) | Error::TooManyKeys(_) => Exit::Refused,
            Error::NotFound => Exit::NotFound,
            Error::QuotaExceeded(_) => Exit::Quota,
            Error::Unauthorized | Error::KeyRotated(_) => Exit::Unauthorized,
            Error::BadRequest { .. }
            | Error::IdempotencyKeyReused(_)
            | Error::PermitsMismatch(_) => Exit::BadRequest,
            Error::Config(_) => Exit::Config,
            Error::Throttled { .. } | Error::Server { .. } | Error::Transport(_) => {
                Exit::Unavailable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_documented_code() {
        let cases = [
            (Error::Held { expires_at: None }, 75),
            (Error::NotFound, 66),
            (Error::QuotaExceeded("q".into()), 73),
            (Error::Unauthorized, 77),
            (Error::KeyRotated("k".into()), 77),
            (Error::IdempotencyKeyReused("i".into()), 65),
            (Error::PermitsMismatch("p".into()), 65),
            (Error::Config("c".into()), 78),
        ];
        for (err, code) in cases {
            assert_eq!(Exit::from(&err).code(), code, "{err:?}");
        }
        assert_eq!(Exit::Output.code(), 74);
    }
}
