//! What the lock operations are asked ([`Grant`]) and what they end in: a
//! lost race or a stale lease is an outcome, not an error.

use super::item::{lock_from_item, optional_string, Item, IDEMPOTENCY_KEY, IDEMPOTENCY_TTL};
use super::reservations::Reservation;
use crate::types::{IdempotencyKey, LeaseId, LeaseTtl, Lock, Requester, Timestamp};

/// A grant request: who asks, under which lease, for how long.
#[derive(Clone, Debug)]
pub struct Grant<'a> {
    /// Who asks.
    pub requester: &'a Requester,
    /// The new lease, made before the first write attempt.
    pub lease: &'a LeaseId,
    /// The lease's TTL; `None`: it lasts until released.
    pub ttl: Option<LeaseTtl>,
    /// The client's key for retrying this acquire.
    pub idempotency_key: Option<&'a IdempotencyKey>,
}

/// What an acquire ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease holds the lock; the lock as it now stands. Also the answer to
    /// a retry (same lease, or same idempotency key) of a grant that landed.
    Granted(Lock),
    /// Another lease holds the lock (until `expires_at`, if it has a TTL);
    /// nothing was written.
    Held {
        /// When the holder's lease ends, if it has a TTL.
        expires_at: Option<Timestamp>,
    },
    /// No live lease holds the lock, but another waiting acquire has
    /// reserved it until `until`; nothing was written.
    Reserved {
        /// When the reservation lapses, unless its waiter renews it.
        until: Timestamp,
    },
    /// The name is new and the tenant is at its quota; nothing was written.
    QuotaExceeded,
    /// The idempotency key was granted, and is still live, for another
    /// requester or TTL; nothing was written.
    KeyReused,
}

/// What a delete ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The lock is gone, and its place in the quota free.
    Done,
    /// A live lease holds the lock; nothing was written.
    Held,
    /// No lock of that name exists for the user.
    NotFound,
}

/// What a release ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The lease no longer holds the lock (now, or already before a retry).
    Freed,
    /// The lease is not the lock's current one; nothing was written.
    NotHolder,
    /// The lease is the lock's last one but has expired; nothing was written.
    Expired,
    /// No lock of that name exists for the user.
    NotFound,
}

/// One page of a user's locks, in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockPage {
    /// The locks of the page.
    pub locks: Vec<Lock>,
    /// Whether more locks follow the last one.
    pub more: bool,
}

/// What a renew ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// The lease is live until `expires_at` (`None`: until released).
    Extended {
        /// The lease's new end.
        expires_at: Option<Timestamp>,
    },
    /// The lease is not the lock's live one (another lease, released, or expired).
    NotLive,
    /// No lock of that name exists for the user.
    NotFound,
}

/// Whether `current`, the item a refused grant is judged from, shows the
/// lock grantable to `grant` after all: no lock, or one no live lease holds
/// (by `expired_by`) and no other waiter has reserved. Only a read made after
/// the condition failed can show that (the holder released, a reservation
/// was withdrawn, or this grant's own landed attempt was force-released):
/// the grant is then written again rather than refused for a state gone.
pub(super) fn grantable(
    current: Option<&Item>,
    grant: &Grant<'_>,
    now: Timestamp,
    expired_by: Timestamp,
) -> bool {
    let Some(item) = current else {
        return true;
    };
    let Ok(lock) = lock_from_item(item) else {
        return false;
    };
    let reserved_for_another = Reservation::of(item, now).is_some_and(|r| !r.is_for(grant.lease));
    !lock.is_held(expired_by) && !reserved_for_another
}

/// What a refused acquire means, from the lock as it stood: granted if it
/// is our own live lease (a retry of a write that landed, or the same
/// idempotency key asked for the same requester and TTL), refused if that
/// key was granted for another, reserved if it is free but another
/// waiter's reservation stands, held otherwise.
pub(super) fn judge_refused_acquire(
    current: Option<Item>,
    grant: &Grant<'_>,
    now: Timestamp,
    expired_by: Timestamp,
) -> Acquired {
    // A partial item (moto shows a concurrent first grant that way) is simply
    // not ours; only a full one can be.
    let Some((item, lock)) =
        current.and_then(|item| lock_from_item(&item).ok().map(|lock| (item, lock)))
    else {
        return Acquired::Held { expires_at: None };
    };
    let same_key = grant
        .idempotency_key
        .is_some_and(|key| optional_string(&item, IDEMPOTENCY_KEY) == Some(key.as_str()));
    let ours = lock.lease_id == *grant.lease || same_key;
    if ours && lock.is_held(now) {
        let asked_ttl = grant.ttl.map(|ttl| ttl.millis());
        let granted_ttl = item
            .get(IDEMPOTENCY_TTL)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok());
        let same_request = lock.leased_by == *grant.requester && granted_ttl == asked_ttl;
        if lock.lease_id != *grant.lease && !same_request {
            return Acquired::KeyReused;
        }
        if lock.lease_id != *grant.lease {
            crate::metrics::count(crate::metrics::Metric::IdempotentReplay);
        }
        return Acquired::Granted(lock);
    }
    let reservation = Reservation::of(&item, now).filter(|r| !r.is_for(grant.lease));
    match reservation {
        // Held for others until the clock-skew margin past its expiry.
        Some(reservation) if !lock.is_held(expired_by) => Acquired::Reserved {
            until: reservation.until,
        },
        _ => Acquired::Held {
            expires_at: lock.expires_at,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::item::*;
    use super::*;

    /// A lock item of `lease`, locked or not, ending at `expires` (ms) if given.
    fn lock_item(lease: &LeaseId, locked: bool, expires: Option<u64>) -> Item {
        let mut item = test_lock_item(lease, locked);
        if let Some(end) = expires {
            item.insert(EXPIRES_AT.into(), number_value(end));
        }
        item
    }

    fn reserved(mut item: Item, lease: &LeaseId, until: u64) -> Item {
        item.insert(RESERVED_FOR.into(), string_value(lease.as_str()));
        item.insert(RESERVED_UNTIL.into(), number_value(until));
        item.insert(WAITING_SINCE.into(), number_value(1));
        item
    }

    #[test]
    fn a_refusal_read_back_free_and_unreserved_for_others_is_grantable() {
        let (mine, other) = (LeaseId::generate(), LeaseId::generate());
        let requester = Requester::parse("me").unwrap();
        let grant = Grant {
            requester: &requester,
            lease: &mine,
            ttl: None,
            idempotency_key: None,
        };
        let (now, expired_by) = (
            Timestamp::from_millis(10_000),
            Timestamp::from_millis(9_000),
        );
        let cases = [
            (None, true, "no lock"),
            (Some(lock_item(&other, false, None)), true, "released"),
            (
                Some(lock_item(&mine, false, None)),
                true,
                "own grant force-released",
            ),
            (
                Some(lock_item(&other, true, None)),
                false,
                "held without a TTL",
            ),
            (
                Some(lock_item(&other, true, Some(9_500))),
                false,
                "within the skew margin",
            ),
            (
                Some(lock_item(&other, true, Some(9_000))),
                true,
                "expired by the margin",
            ),
            (
                Some(reserved(lock_item(&other, false, None), &other, 11_000)),
                false,
                "reserved for another waiter",
            ),
            (
                Some(reserved(lock_item(&other, false, None), &other, 10_000)),
                true,
                "another's reservation lapsed",
            ),
            (
                Some(reserved(lock_item(&other, false, None), &mine, 11_000)),
                true,
                "reserved for this grant",
            ),
        ];
        for (item, expected, case) in cases {
            assert_eq!(
                grantable(item.as_ref(), &grant, now, expired_by),
                expected,
                "{case}"
            );
        }
        let mut partial = lock_item(&other, false, None);
        partial.remove(LEASED_BY);
        assert!(
            !grantable(Some(&partial), &grant, now, expired_by),
            "a partial item"
        );
    }
}
