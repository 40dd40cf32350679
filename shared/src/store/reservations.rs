//! Reservations: how the acquire that has waited longest gets a lock (or a
//! permit slot) next, even against clients that acquire and release it in
//! a tight loop, without transactions.
//!
//! A waiting acquire looks at the lock with strongly consistent reads. While
//! another lease holds it, the acquire writes a reservation on the lock item
//! (`reservedFor`: its lease, `reservedUntil`, `waitingSince`: when its wait
//! began) where none stands, or a younger waiter's does, and renews its own
//! before it lapses. Every grant's condition refuses while another lease's
//! reservation stands, and every grant removes the reservation it used. A
//! reservation lapses by itself at `reservedUntil`, [`RESERVATION`] after it
//! was written, so a waiter that vanished delays the others that long at
//! most; one that stops waiting withdraws its reservation.

use std::time::Duration;

use super::expressions::{RESERVED_BY, RESERVE_LOCK_CONDITION, SET_RESERVATION, UNRESERVE_UPDATE};
use super::item::{
    landed, lock_from_item, number_value, optional_string, optional_time, string_value, Item,
    RESERVED_FOR, RESERVED_UNTIL, WAITING_SINCE,
};
use super::LockStore;
use crate::error::StoreError;
use crate::types::{LeaseId, LockName, Timestamp, UserId};

/// How long a reservation stands after it was written.
pub const RESERVATION: Duration = Duration::from_secs(2);

/// A waiter's live reservation of a lock or a permit slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The waiting acquire's lease.
    pub lease: String,
    /// When it lapses.
    pub until: Timestamp,
    /// When its waiter began waiting (the older waiter may take it over).
    pub since: Timestamp,
}

impl Reservation {
    /// The reservation item `item` holds, if it is live at `now`.
    pub(super) fn of(item: &Item, now: Timestamp) -> Option<Self> {
        let until = optional_time(item, RESERVED_UNTIL).ok()??;
        let since = optional_time(item, WAITING_SINCE).ok()??;
        let lease = optional_string(item, RESERVED_FOR)?.to_owned();
        (until > now).then_some(Self {
            lease,
            until,
            since,
        })
    }

    /// Whether it is `lease`'s own.
    pub fn is_for(&self, lease: &LeaseId) -> bool {
        self.lease == lease.as_str()
    }
}

/// What one read of a lock (or a semaphore) shows a waiting acquire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sight {
    /// A grant could land now: no live lease holds it (a free slot, for a
    /// semaphore) and no other lease's reservation stands there.
    pub open: bool,
    /// Live leases hold it (every permit, for a semaphore).
    pub held: bool,
    /// When the holder's lease may be taken over: its `expiresAt` plus the
    /// clock-skew margin (the first such, for a semaphore).
    pub expires_at: Option<Timestamp>,
    /// The reservation that stands where this waiter would reserve: its
    /// own, else the one it would have to take over (`None`: none there).
    pub reservation: Option<Reservation>,
    /// The permit slot to reserve (`None` for a lock).
    pub slot: Option<u8>,
}

/// A reservation to write: for whom, since when its waiter waits, and `now`.
#[derive(Clone, Copy, Debug)]
pub struct Booking<'a> {
    /// The waiting acquire's lease.
    pub lease: &'a LeaseId,
    /// When its wait began.
    pub since: Timestamp,
    /// The writer's clock.
    pub now: Timestamp,
}

impl Booking<'_> {
    /// When a reservation written now lapses.
    pub fn until(&self) -> Timestamp {
        self.now.plus_millis(RESERVATION.as_millis() as u64)
    }
}

impl LockStore {
    /// What lock `name` shows the waiting acquire of `lease` at `now` (one
    /// strongly consistent read). A missing lock is open.
    pub async fn look_at_lock(
        &self,
        user: &UserId,
        name: &LockName,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Result<Sight, StoreError> {
        let Some(item) = self.read_item(user, name).await? else {
            return Ok(Sight {
                open: true,
                ..Sight::default()
            });
        };
        let lock = lock_from_item(&item)?;
        let reservation = Reservation::of(&item, now);
        // Another's lease holds it until the clock-skew margin past its expiry.
        let held = lock.is_held(self.expired_by(now));
        Ok(Sight {
            open: !held && reservation.as_ref().is_none_or(|r| r.is_for(lease)),
            held,
            expires_at: lock
                .expires_at
                .filter(|_| held)
                .map(|end| end.plus_millis(self.clock_margin)),
            reservation,
            slot: None,
        })
    }

    /// Reserves lock `name` for `booking` (one conditional write): `false`
    /// if another waiter's reservation stands and is not younger, or the
    /// lock is gone.
    pub async fn reserve_lock(
        &self,
        user: &UserId,
        name: &LockName,
        booking: &Booking<'_>,
    ) -> Result<bool, StoreError> {
        let result = self
            .update(
                user,
                name,
                RESERVE_LOCK_CONDITION,
                SET_RESERVATION,
                booking.now,
            )
            .expression_attribute_values(":leaseId", string_value(booking.lease.as_str()))
            .expression_attribute_values(":reservedUntil", number_value(booking.until().millis()))
            .expression_attribute_values(":waitingSince", number_value(booking.since.millis()))
            .send()
            .await;
        landed(result)
    }

    /// Withdraws `lease`'s reservation of lock `name`, if it still stands
    /// (one conditional write): its waiter stopped waiting.
    pub async fn withdraw_lock_reservation(
        &self,
        user: &UserId,
        name: &LockName,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .update(user, name, RESERVED_BY, UNRESERVE_UPDATE, now)
            .expression_attribute_values(":leaseId", string_value(lease.as_str()))
            .send()
            .await;
        landed(result)
    }
}
