//! When to send a call again: bounded, jittered exponential backoff, only
//! for transient failures, and never past a deadline (a lease's expiry).

use std::time::{Duration, Instant};

pub(crate) use lock_wire::jittered;
use lock_wire::Backoff;

use crate::Error;

/// How a [`crate::Client`] retries transient failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts of one call, the first included (1: no retry).
    pub attempts: u32,
    /// Pause before the first retry; it doubles up to `max_pause`.
    pub first_pause: Duration,
    /// Longest pause between attempts. Each pause is jittered down to half.
    pub max_pause: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 200 ms doubling to 2 s: about 1.4 s to 2.8 s of pauses.
    fn default() -> Self {
        Self {
            attempts: 4,
            first_pause: Duration::from_millis(200),
            max_pause: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// The pause before attempt `attempt + 1` after `error` on attempt
    /// `attempt` (1-based), or `None` to give up: the error is not transient,
    /// the attempts are spent, or the retry would start after `deadline`. A
    /// `429` with `Retry-After` waits what the service asked (plus up to a
    /// quarter second, so waiters told the same do not return at once)
    /// instead of the backoff.
    pub fn pause_after(
        &self,
        attempt: u32,
        error: &Error,
        now: Instant,
        deadline: Option<Instant>,
    ) -> Option<Duration> {
        if !error.is_transient() || attempt >= self.attempts {
            return None;
        }
        let pause = match error {
            Error::Throttled {
                retry_after: Some(after),
                ..
            } => *after + jittered(Duration::from_millis(250)),
            _ => Backoff::new(self.first_pause, self.max_pause).pause(attempt),
        };
        match deadline {
            Some(deadline) if now + pause >= deadline => None,
            _ => Some(pause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> Error {
        Error::Throttled {
            message: "slow down".into(),
            retry_after: None,
        }
    }

    #[test]
    fn only_transient_errors_are_retried_and_only_so_often() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        assert!(policy.pause_after(1, &transient(), now, None).is_some());
        assert!(policy.pause_after(3, &transient(), now, None).is_some());
        assert_eq!(policy.pause_after(4, &transient(), now, None), None);
        assert_eq!(policy.pause_after(1, &Error::NotFound, now, None), None);
        assert_eq!(policy.pause_after(1, &Error::Unauthorized, now, None), None);
        assert_eq!(
            RetryPolicy::never().pause_after(1, &transient(), now, None),
            None
        );
    }

    #[test]
    fn pauses_grow_jittered_and_stop_at_the_deadline() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        for (attempt, full) in [(1, 200), (2, 400), (3, 800)] {
            let pause = policy
                .pause_after(attempt, &transient(), now, None)
                .unwrap();
            let full = Duration::from_millis(full);
            assert!(pause >= full / 2 && pause <= full, "{attempt}: {pause:?}");
        }
        // A retry that would start after the lease expires is not made.
        let soon = Some(now + Duration::from_millis(50));
        assert_eq!(policy.pause_after(1, &transient(), now, soon), None);
        let later = Some(now + Duration::from_secs(5));
        assert!(policy.pause_after(1, &transient(), now, later).is_some());
    }

    #[test]
    fn a_retry_after_replaces_the_backoff() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        let told = Error::Throttled {
            message: "too many waiting".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        let pause = policy.pause_after(1, &told, now, None).unwrap();
        assert!(pause >= Duration::from_secs(3), "{pause:?}");
        assert!(pause <= Duration::from_millis(3250), "{pause:?}");
        let soon = Some(now + Duration::from_secs(2));
        assert_eq!(
            policy.pause_after(1, &told, now, soon),
            None,
            "past the deadline"
        );
        assert_eq!(
            policy.pause_after(4, &told, now, None),
            None,
            "attempts spent"
        );
    }
}
