//! What a semaphore shows a waiting acquire, and its reservations: the
//! longest waiter reserves one held slot (the one whose lease ends first),
//! the next longest another, so each of the N longest waiters is next on
//! one slot (see `store::reservations`).

use super::{with_values, SlotState, Stored};
use crate::error::StoreError;
use crate::store::expressions::{
    RESERVED_BY, RESERVE_SLOT_CONDITION, SET_RESERVATION, UNRESERVE_UPDATE,
};
use crate::store::item::{landed, number_value, string_value};
use crate::store::reservations::{Booking, Reservation, Sight};
use crate::store::LockStore;
use crate::types::{LeaseId, SemaphoreName, Timestamp, UserId};
use lock_wire::Permits;

impl Stored {
    /// Another waiter's reservation stands on `slot` at `now`.
    pub(super) fn reserved_for_other(&self, slot: u8, lease: &LeaseId, now: Timestamp) -> bool {
        let reservation = self
            .slots
            .get(&slot)
            .and_then(|item| Reservation::of(item, now));
        reservation.is_some_and(|r| !r.is_for(lease))
    }

    /// What this read shows the waiting acquire of `lease` for `permits`
    /// permits. A missing semaphore, or one of another count, is open: the
    /// grant attempt creates it, or answers the mismatch.
    fn sight(&self, permits: u8, lease: &LeaseId, now: Timestamp) -> Result<Sight, StoreError> {
        if self.record.is_none() || self.permits()? != permits {
            return Ok(Sight {
                open: true,
                ..Sight::default()
            });
        }
        let mut sight = Sight {
            held: true,
            expires_at: self.earliest_takeover(now),
            ..Sight::default()
        };
        // (expiry or 0 if free, slot, reservation) of each slot it may reserve.
        let mut candidates = Vec::new();
        for slot in 0..permits {
            let reservation = self.slots.get(&slot).and_then(|i| Reservation::of(i, now));
            let ends = match self.state(slot, now)? {
                SlotState::Closed => continue,
                SlotState::Live(permit) => permit.expires_at.millis(),
                SlotState::Missing | SlotState::Free => {
                    sight.held = false;
                    0
                }
            };
            match reservation {
                Some(own) if own.is_for(lease) => {
                    sight.open |= ends == 0;
                    sight.reservation = Some(own);
                    sight.slot = Some(slot);
                }
                None if ends == 0 => sight.open = true,
                other => candidates.push((ends, slot, other)),
            }
        }
        if sight.slot.is_none() {
            // A slot without a reservation, the first to end; else the
            // youngest waiter's, which only an older waiter takes over.
            let best = candidates.into_iter().min_by_key(|(ends, _, reservation)| {
                let since = reservation.as_ref().map(|r| u64::MAX - r.since.millis());
                (since, *ends)
            });
            if let Some((_, slot, reservation)) = best {
                sight.slot = Some(slot);
                sight.reservation = reservation;
            }
        }
        Ok(sight)
    }
}

impl LockStore {
    /// What semaphore `name` shows the waiting acquire of `lease` for
    /// `permits` permits at `now` (one strongly consistent `Query`).
    pub async fn look_at_semaphore(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        permits: Permits,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Result<Sight, StoreError> {
        let stored = self.read_semaphore(user, name).await?;
        stored.sight(permits.get(), lease, now)
    }

    /// Reserves slot `slot` of `name` (of `permits` permits) for `booking`
    /// (one conditional write): `false` if another waiter's reservation
    /// stands there and is not younger, or the semaphore changed.
    pub async fn reserve_permit(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        permits: Permits,
        slot: u8,
        booking: &Booking<'_>,
    ) -> Result<bool, StoreError> {
        let (condition, update) = (RESERVE_SLOT_CONDITION, SET_RESERVATION);
        let values = vec![
            (":permits", number_value(u64::from(permits.get()))),
            (":now", number_value(booking.now.millis())),
            (":leaseId", string_value(booking.lease.as_str())),
            (":reservedUntil", number_value(booking.until().millis())),
            (":waitingSince", number_value(booking.since.millis())),
        ];
        let request = self.slot_update(user, name, slot, condition, update);
        let result = with_values(request, &[condition, update], values)
            .send()
            .await;
        landed(result)
    }

    /// Withdraws `lease`'s reservation of slot `slot` of `name`, if it
    /// still stands (one conditional write).
    pub async fn withdraw_permit_reservation(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        slot: u8,
        lease: &LeaseId,
    ) -> Result<bool, StoreError> {
        let result = self
            .slot_update(user, name, slot, RESERVED_BY, UNRESERVE_UPDATE)
            .expression_attribute_values(":leaseId", string_value(lease.as_str()))
            .send()
            .await;
        landed(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::item::{
        Item, EXPIRES_AT, LOCKED, PERMITS, RESERVED_FOR, RESERVED_UNTIL, WAITING_SINCE,
    };
    use aws_sdk_dynamodb::types::AttributeValue;

    const NOW: u64 = 100_000;

    fn slot(live_until: Option<u64>, reserved: Option<(&LeaseId, u64)>) -> Item {
        let mut item = Item::from([
            (PERMITS.into(), number_value(3)),
            (LOCKED.into(), AttributeValue::Bool(live_until.is_some())),
            ("leaseId".into(), string_value("holder")),
            ("leasedBy".into(), string_value("r")),
            ("acquiredAt".into(), number_value(1)),
            ("fencingToken".into(), number_value(1)),
            (EXPIRES_AT.into(), number_value(live_until.unwrap_or(1))),
        ]);
        if let Some((lease, since)) = reserved {
            item.insert(RESERVED_FOR.into(), string_value(lease.as_str()));
            item.insert(RESERVED_UNTIL.into(), number_value(NOW + 1_000));
            item.insert(WAITING_SINCE.into(), number_value(since));
        }
        item
    }

    fn stored(slots: [Item; 3]) -> Stored {
        let record = Item::from([(PERMITS.into(), number_value(3))]);
        let slots = slots.into_iter().enumerate().map(|(n, i)| (n as u8, i));
        Stored {
            record: Some(record),
            slots: slots.collect(),
            margin: 0,
        }
    }

    #[test]
    fn a_waiter_reserves_the_first_slot_to_end_else_the_youngest_reservation() {
        let (me, old, young) = (
            LeaseId::generate(),
            LeaseId::generate(),
            LeaseId::generate(),
        );
        let now = Timestamp::from_millis(NOW);
        let sight = |slots| stored(slots).sight(3, &me, now).unwrap();
        let all_held = sight([
            slot(Some(NOW + 9), None),
            slot(Some(NOW + 5), None),
            slot(Some(NOW + 7), None),
        ]);
        assert_eq!(
            (all_held.open, all_held.held, all_held.slot),
            (false, true, Some(1))
        );
        assert_eq!(all_held.expires_at, Some(Timestamp::from_millis(NOW + 5)));
        let reserved = sight([
            slot(Some(NOW + 9), Some((&young, 50))),
            slot(Some(NOW + 5), Some((&old, 10))),
            slot(None, Some((&old, 10))),
        ]);
        assert_eq!(
            (reserved.open, reserved.held, reserved.slot),
            (false, false, Some(0))
        );
        assert_eq!(reserved.reservation.unwrap().since.millis(), 50);
        let mine = sight([
            slot(Some(NOW + 9), None),
            slot(None, Some((&me, 20))),
            slot(None, None),
        ]);
        assert_eq!((mine.open, mine.slot), (true, Some(1)));
        let free = sight([
            slot(Some(NOW + 9), None),
            slot(None, None),
            slot(Some(NOW + 3), None),
        ]);
        assert!(free.open && !free.held);
    }
}
