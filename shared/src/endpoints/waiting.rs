//! Waiting out a held lock or semaphore (`waitSeconds` > 0): the tenant's
//! waiting place, then strongly consistent reads a few tens of
//! milliseconds apart, writing only to take what a read shows open or to
//! reserve it as the longest waiter (see `store::reservations`), until
//! granted or the wait ends. Lock and semaphore acquires share it.

use std::future::Future;
use std::time::{Duration, Instant};

use lock_wire::{LeaseId, WaitTime};

use super::Acquirer;
use crate::error::{ApiError, StoreError};
use crate::metrics::{self, Metric};
use crate::store::{Acquired, Booking, PermitAcquired, Place, Sight};
use crate::types::{Timestamp, UserId};

/// How long past the end of its wait a waiting place lapses by itself, should
/// its function die before giving it back.
pub const PLACE_LAPSE_MARGIN: Duration = Duration::from_secs(5);
/// Shortest and longest pause between two reads of a waiting acquire
/// (uniformly between): a released lock is seen 30 ms later on average,
/// for ~17 reads a second (PERFORMANCE.md, "Waiting").
const POLL: (Duration, Duration) = (Duration::from_millis(50), Duration::from_millis(70));
/// A waiter renews its reservation once less than this is left of it.
const RENEW_RESERVATION_BEFORE: Duration = Duration::from_millis(1_000);
/// Most reads one waiting acquire makes (a 20 s wait makes about 320).
pub const MAX_LOOKS: u32 = 500;

/// How long an acquire asking `wait_seconds` may wait: at most `max_wait`.
pub fn wait_of(wait_seconds: Option<WaitTime>, max_wait: Duration) -> Duration {
    wait_seconds
        .map_or(Duration::ZERO, |wait| wait.duration())
        .min(max_wait)
}

/// An acquire's outcome, as waiting sees it.
pub trait Waitable {
    /// `Some(end)` while refused because held or reserved (until `end`, if
    /// known); `None` once granted or refused for good.
    fn held(&self) -> Option<Option<Timestamp>>;
    /// The permit slot granted (`None` for a lock).
    fn granted_slot(&self) -> Option<u8>;
}

impl Waitable for Acquired {
    fn held(&self) -> Option<Option<Timestamp>> {
        match self {
            Acquired::Held { expires_at } => Some(*expires_at),
            Acquired::Reserved { until } => Some(Some(*until)),
            _ => None,
        }
    }

    fn granted_slot(&self) -> Option<u8> {
        None
    }
}

impl Waitable for PermitAcquired {
    fn held(&self) -> Option<Option<Timestamp>> {
        match self {
            PermitAcquired::Held { expires_at, .. } => Some(*expires_at),
            _ => None,
        }
    }

    fn granted_slot(&self) -> Option<u8> {
        match self {
            PermitAcquired::Granted { permit, .. } => Some(permit.slot),
            _ => None,
        }
    }
}

/// What one waiting acquire does with the store: the grant attempt, the
/// read, the reservation and its withdrawal.
pub trait Waiter: Sync {
    /// What an attempt ends in.
    type Outcome: Waitable + Send;
    /// One grant attempt (a conditional write).
    fn attempt(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Self::Outcome, StoreError>> + Send;
    /// One strongly consistent read.
    fn look(&self, now: Timestamp) -> impl Future<Output = Result<Sight, StoreError>> + Send;
    /// Reserves where `sight` says (`false`: refused).
    fn reserve(
        &self,
        sight: &Sight,
        booking: &Booking<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Withdraws this waiter's reservation at `slot`, if it still stands.
    fn withdraw(
        &self,
        slot: Option<u8>,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The refusal to answer when the wait ended on `sight`.
    fn refused(&self, sight: &Sight) -> Self::Outcome;
}

/// Tries `waiter`'s grant once; if it finds the name held and `wait` is not
/// zero, takes one of the tenant's waiting places for `lease` (none free:
/// [`ApiError::TooManyWaiting`]) and waits its turn (`wait_turn`) until
/// granted or `wait` has passed. The place is given back when the wait ends.
pub async fn acquire_within<W: Waiter>(
    state: &Acquirer,
    user: &UserId,
    lease: &LeaseId,
    wait: Duration,
    waiter: &W,
) -> Result<W::Outcome, ApiError> {
    let (locks, settings) = (&state.locks, &state.settings);
    let deadline = Instant::now() + wait;
    let now = Timestamp::now();
    let first = waiter.attempt(now).await?;
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
            metrics::count(Metric::AcquireThrottled);
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
    let started = Instant::now();
    let outcome = wait_turn(waiter, lease, now, deadline).await;
    metrics::value(Metric::WaitTime, started.elapsed().as_millis() as f64);
    if matches!(&outcome, Ok(refused) if refused.held().is_some()) {
        metrics::count(Metric::WaitTimedOut);
    }
    if let Err(err) = locks.give_back_waiting_place(user, place, owner).await {
        // It lapses by itself at `until`.
        tracing::warn!(error = ?err, place, "waiting place not given back");
    }
    outcome
}

/// What a waiter does after one read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Write the grant: the read shows it open.
    Grant,
    /// Write a reservation: none stands, or this waiter's own lapses soon,
    /// or a younger waiter's stands.
    Reserve,
    /// Read again later.
    Wait,
}

/// The step of the waiter of `lease`, waiting since `since`, after `sight` at `now`.
fn next_step(sight: &Sight, lease: &LeaseId, since: Timestamp, now: Timestamp) -> Step {
    if sight.open {
        return Step::Grant;
    }
    let renew_by = now.plus_millis(RENEW_RESERVATION_BEFORE.as_millis() as u64);
    match &sight.reservation {
        None => Step::Reserve,
        Some(own) if own.is_for(lease) && own.until <= renew_by => Step::Reserve,
        Some(own) if own.is_for(lease) => Step::Wait,
        Some(younger) if younger.since > since => Step::Reserve,
        Some(_) => Step::Wait,
    }
}

/// How long to pause before the next read: a jittered [`POLL`], never past
/// the holder's expiry (then the lock is open), `deadline` or `remaining`.
fn pause_before_look(sight: Option<&Sight>, now: Timestamp, remaining: Duration) -> Duration {
    let (low, high) = (POLL.0.as_millis() as u64, POLL.1.as_millis() as u64);
    let mut pause = Duration::from_millis(fastrand::u64(low..=high));
    if let Some(end) = sight.and_then(|s| s.expires_at) {
        if end > now {
            let until_expiry = end.millis() - now.millis() + 1;
            pause = pause.min(Duration::from_millis(until_expiry));
        }
    }
    pause.min(remaining)
}

/// The reads and writes of a waiting acquire after its first, refused
/// attempt at `since`, until granted or `deadline`. A reservation it leaves
/// behind (the wait ended, or a permit was granted on another slot) is
/// withdrawn.
async fn wait_turn<W: Waiter>(
    waiter: &W,
    lease: &LeaseId,
    since: Timestamp,
    deadline: Instant,
) -> Result<W::Outcome, ApiError> {
    let mut reserved: Option<Option<u8>> = None;
    let mut sight: Option<Sight> = None;
    let mut granted = None;
    for _ in 0..MAX_LOOKS {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let pause = pause_before_look(sight.as_ref(), Timestamp::now(), remaining);
        tokio::time::sleep(pause).await;
        let now = Timestamp::now();
        let seen = waiter.look(now).await?;
        match next_step(&seen, lease, since, now) {
            Step::Grant => {
                let outcome = waiter.attempt(now).await?;
                if outcome.held().is_none() {
                    granted = Some(outcome);
                    break;
                }
            }
            Step::Reserve => {
                let booking = Booking { lease, since, now };
                if waiter.reserve(&seen, &booking).await? {
                    reserved = Some(seen.slot);
                }
            }
            Step::Wait => {}
        }
        sight = Some(seen);
    }
    let used = granted.as_ref().map(Waitable::granted_slot);
    if let Some(slot) = reserved.filter(|slot| used != Some(*slot)) {
        // It lapses by itself within the reservation's life.
        if let Err(err) = waiter.withdraw(slot, Timestamp::now()).await {
            tracing::warn!(error = ?err, "reservation not withdrawn");
        }
    }
    Ok(granted.unwrap_or_else(|| waiter.refused(&sight.unwrap_or_default())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Reservation;

    fn reservation(lease: &LeaseId, until: u64, since: u64) -> Option<Reservation> {
        Some(Reservation {
            lease: lease.as_str().to_owned(),
            until: Timestamp::from_millis(until),
            since: Timestamp::from_millis(since),
        })
    }

    #[test]
    fn a_waiter_grants_when_open_reserves_when_it_may_and_else_waits() {
        let (me, other) = (LeaseId::generate(), LeaseId::generate());
        let (since, now) = (Timestamp::from_millis(1_000), Timestamp::from_millis(5_000));
        let held = |reservation| Sight {
            open: false,
            held: true,
            expires_at: Some(Timestamp::from_millis(9_000)),
            reservation,
            slot: None,
        };
        let open = Sight {
            open: true,
            ..held(None)
        };
        let cases = [
            (open, Step::Grant),
            (held(None), Step::Reserve),
            (held(reservation(&me, 7_000, 1_000)), Step::Wait),
            (held(reservation(&me, 6_000, 1_000)), Step::Reserve),
            (held(reservation(&other, 7_000, 999)), Step::Wait),
            (held(reservation(&other, 7_000, 1_000)), Step::Wait),
            (held(reservation(&other, 7_000, 1_001)), Step::Reserve),
        ];
        for (sight, step) in cases {
            assert_eq!(next_step(&sight, &me, since, now), step, "{sight:?}");
        }
    }

    #[test]
    fn a_pause_is_a_poll_but_never_past_the_holders_expiry_or_the_wait() {
        let now = Timestamp::from_millis(10_000);
        let long = Duration::from_secs(5);
        for _ in 0..100 {
            let pause = pause_before_look(None, now, long);
            assert!((POLL.0..=POLL.1).contains(&pause), "{pause:?}");
        }
        let ending = |at| Sight {
            expires_at: Some(Timestamp::from_millis(at)),
            ..Sight::default()
        };
        let soon = pause_before_look(Some(&ending(10_020)), now, long);
        assert_eq!(soon, Duration::from_millis(21));
        let past = pause_before_look(Some(&ending(9_000)), now, long);
        assert!(past >= POLL.0, "an expiry passed does not hurry the reads");
        let end = Duration::from_millis(3);
        assert_eq!(pause_before_look(None, now, end), end);
    }
}
