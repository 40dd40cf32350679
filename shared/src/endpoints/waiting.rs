//! Waiting out a held lock or semaphore (`waitSeconds` > 0): the tenant's
//! waiting place, then attempts apart by a backoff until granted or the
//! wait ends. Lock and semaphore acquires share it.

use std::future::Future;
use std::time::{Duration, Instant};

use lock_wire::{Backoff, LeaseId, WaitTime};

use super::Acquirer;
use crate::error::{ApiError, StoreError};
use crate::store::{Acquired, PermitAcquired, Place};
use crate::types::{Timestamp, UserId};

/// Most conditional writes one waiting acquire makes (the last at the end of its wait).
pub const MAX_WAIT_ATTEMPTS: u32 = 40;
/// How long past the end of its wait a waiting place lapses by itself, should
/// its function die before giving it back.
pub const PLACE_LAPSE_MARGIN: Duration = Duration::from_secs(5);
/// First pause between attempts of a waiting acquire; it doubles up to 1 s,
/// each pause jittered down to half.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));

/// How long an acquire asking `wait_seconds` may wait: at most `max_wait`.
pub fn wait_of(wait_seconds: Option<WaitTime>, max_wait: Duration) -> Duration {
    wait_seconds
        .map_or(Duration::ZERO, |wait| wait.duration())
        .min(max_wait)
}

/// An acquire's outcome, as waiting sees it.
pub trait Waitable {
    /// `Some(end)` while held (until `end`, if the holder's lease has one).
    fn held(&self) -> Option<Option<Timestamp>>;
}

impl Waitable for Acquired {
    fn held(&self) -> Option<Option<Timestamp>> {
        match self {
            Acquired::Held { expires_at } => Some(*expires_at),
            _ => None,
        }
    }
}

impl Waitable for PermitAcquired {
    fn held(&self) -> Option<Option<Timestamp>> {
        match self {
            PermitAcquired::Held { expires_at, .. } => Some(*expires_at),
            _ => None,
        }
    }
}

/// Tries `attempt`; if it finds the name held and `wait` is not zero, takes
/// one of the tenant's waiting places for `lease` (none free:
/// [`ApiError::TooManyWaiting`]) and tries again until granted or `wait` has
/// passed: at most [`MAX_WAIT_ATTEMPTS`] attempts in all, apart by a
/// jittered exponential backoff, and never later than just after the
/// holder's lease expires. The place is given back when the wait ends.
pub async fn acquire_within<O, F, Fut>(
    state: &Acquirer,
    user: &UserId,
    lease: &LeaseId,
    wait: Duration,
    attempt: F,
) -> Result<O, ApiError>
where
    O: Waitable,
    F: Fn(Timestamp) -> Fut,
    Fut: Future<Output = Result<O, StoreError>>,
{
    let (locks, settings) = (&state.locks, &state.settings);
    let deadline = Instant::now() + wait;
    let now = Timestamp::now();
    let first = attempt(now).await?;
    if first.held().is_none() || wait.is_zero() {
        return Ok(first);
    }
    let owner = lease.as_str();
    let until = now.plus_millis((wait + PLACE_LAPSE_MARGIN).as_millis() as u64);
    let place = match locks
        .take_waiting_place(user, settings.max_waiting, owner, until, now)
        .await?
    {
        Place::Taken(place) => place,
        Place::Full { next_lapse } => {
            let seconds = next_lapse
                .millis()
                .saturating_sub(now.millis())
                .div_ceil(1000);
            return Err(ApiError::TooManyWaiting {
                limit: settings.max_waiting,
                retry_after: seconds.clamp(1, 20),
            });
        }
    };
    let outcome = keep_trying(first, now, deadline, attempt).await;
    if let Err(err) = locks.give_back_waiting_place(user, place, owner).await {
        // It lapses by itself at `until`.
        tracing::warn!(error = ?err, place, "waiting place not given back");
    }
    outcome
}

/// The attempts of a waiting acquire after its first, refused one (`last`,
/// at `at`).
async fn keep_trying<O, F, Fut>(
    mut last: O,
    mut at: Timestamp,
    deadline: Instant,
    attempt: F,
) -> Result<O, ApiError>
where
    O: Waitable,
    F: Fn(Timestamp) -> Fut,
    Fut: Future<Output = Result<O, StoreError>>,
{
    for round in 1..MAX_WAIT_ATTEMPTS {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let mut pause = BACKOFF.pause(round);
        if let Some(Some(end)) = last.held() {
            let until_expiry = Duration::from_millis(end.millis().saturating_sub(at.millis()) + 1);
            pause = pause.min(until_expiry);
        }
        tokio::time::sleep(pause.min(remaining)).await;
        at = Timestamp::now();
        last = attempt(at).await?;
        if last.held().is_none() {
            break;
        }
    }
    Ok(last)
}
