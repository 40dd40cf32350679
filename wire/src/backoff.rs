//! The one jittered exponential backoff, shared by the service's waiting
//! acquire and the client's retries and lease keeper, so that every waiter
//! spreads out the same way.

use std::time::Duration;

/// Pauses that start at `first`, double per attempt up to `max`, and are
/// each jittered down to half (so waiters told the same pause spread out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The pause after the first attempt.
    pub first: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Backoff {
    /// Pauses from `first`, doubling up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self { first, max }
    }

    /// The pause after attempt `attempt` (1-based): between half and all of
    /// `first × 2^(attempt-1)`, capped at `max`.
    pub fn pause(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        jittered(self.first.saturating_mul(1 << exponent).min(self.max))
    }
}

/// A random duration between half of `pause` and `pause`.
pub fn jittered(pause: Duration) -> Duration {
    let half = pause / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_jittered_down_to_half() {
        let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        for (attempt, full) in [
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1600),
            (5, 2000),
            (40, 2000),
        ] {
            let full = Duration::from_millis(full);
            for _ in 0..50 {
                let pause = backoff.pause(attempt);
                assert!(pause >= full / 2 && pause <= full, "{attempt}: {pause:?}");
            }
        }
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }
}
