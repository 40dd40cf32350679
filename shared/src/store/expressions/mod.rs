//! Every condition, update and key expression the lock and key stores send,
//! each whole and named. An expression names attribute `x` as `#x` and is
//! bound by [`super::item::attribute_names`]; the tests check each name.

/// How long after its last use a free (or expired) lock item may be deleted
/// by DynamoDB TTL. No decision depends on it; it only bounds storage.
pub(super) const GC_AFTER_MILLIS: u64 = 30 * 24 * 3600 * 1000;

/// No waiter's live reservation stands, but this lease's own (`:leaseId`):
/// every grant of a lock or a permit respects it (see `reservations`).
macro_rules! unreserved {
    () => {
        "(attribute_not_exists(#reservedUntil) OR #reservedUntil <= :now OR #reservedFor = :leaseId)"
    };
}
/// What every grant removes: the reservation it may have used (a grant
/// lands only where none of another lease stands).
macro_rules! unreserve {
    () => {
        ", #reservedFor, #reservedUntil, #waitingSince"
    };
}

// After the macros above, which the permits' expressions use too.
mod keys;
mod permits;

pub(super) use keys::*;
pub(super) use permits::*;

/// Grant only if the lock is new (or deleted: a tombstone has no `#locked`),
/// free, or its lease has expired (by the clock-skew margin: `:expiredBy` is
/// now less the margin), and no other waiter has reserved it.
pub(super) const ACQUIRE_CONDITION: &str = concat!(
    "(attribute_not_exists(#locked) OR #locked = :false OR #expiresAt <= :expiredBy) AND ",
    unreserved!()
);

/// The part of every acquire update that takes the lock for the new lease.
/// The fencing token grows by one per grant, across a delete too (its
/// tombstone keeps the token); an item never created (or garbage-collected
/// 30 days after its last use) starts from the clock in microseconds, above
/// every token an earlier item of that name gave out. A new grant is never
/// forced away.
macro_rules! acquire_set {
    () => {
        "SET #locked = :true, #leaseId = :leaseId, #leasedBy = :leasedBy, #acquiredAt = :now, \
         #updatedAt = :now, \
         #createdAt = if_not_exists(#createdAt, :now), \
         #fencingToken = if_not_exists(#fencingToken, :tokenBase) + :one"
    };
}
/// Acquire with a TTL and an idempotency key, which remembers the TTL it
/// was granted for (a renew changes `leaseTtl`, not what the key asked).
macro_rules! acquire_ttl_key {
    () => {
        concat!(
            acquire_set!(),
            ", #expiresAt = :expiresAt, #leaseTtl = :leaseTtl, #gcAt = :gcAt, \
             #idempotencyKey = :idempotencyKey, #idempotencyTtl = :leaseTtl",
            " REMOVE #forcedRelease",
            unreserve!()
        )
    };
}
/// Acquire with a TTL, without an idempotency key.
macro_rules! acquire_ttl {
    () => {
        concat!(
            acquire_set!(),
            ", #expiresAt = :expiresAt, #leaseTtl = :leaseTtl, #gcAt = :gcAt",
            " REMOVE #idempotencyKey, #idempotencyTtl, #forcedRelease",
            unreserve!()
        )
    };
}
/// Acquire without a TTL (never garbage-collected while held), with an idempotency key.
macro_rules! acquire_key {
    () => {
        concat!(
            acquire_set!(),
            ", #idempotencyKey = :idempotencyKey",
            " REMOVE #expiresAt, #leaseTtl, #gcAt, #idempotencyTtl, #forcedRelease",
            unreserve!()
        )
    };
}
/// Acquire without a TTL or an idempotency key.
macro_rules! acquire_plain {
    () => {
        concat!(
            acquire_set!(),
            " REMOVE #expiresAt, #leaseTtl, #gcAt, #idempotencyKey, #idempotencyTtl, #forcedRelease",
            unreserve!()
        )
    };
}
/// What a lock created under a quota adds: the element it reserved (see `quota`).
macro_rules! with_slot {
    () => {
        " ADD #slot :slot"
    };
}
pub(super) const ACQUIRE_TTL_KEY: &str = acquire_ttl_key!();
pub(super) const ACQUIRE_TTL: &str = acquire_ttl!();
pub(super) const ACQUIRE_KEY: &str = acquire_key!();
pub(super) const ACQUIRE_PLAIN: &str = acquire_plain!();
/// The four acquire updates, for a lock created under a quota.
pub(super) const CREATE_TTL_KEY: &str = concat!(acquire_ttl_key!(), with_slot!());
pub(super) const CREATE_TTL: &str = concat!(acquire_ttl!(), with_slot!());
pub(super) const CREATE_KEY: &str = concat!(acquire_key!(), with_slot!());
pub(super) const CREATE_PLAIN: &str = concat!(acquire_plain!(), with_slot!());

/// Only the live lease (granted, not released, not expired) may release or renew.
pub(super) const LIVE_LEASE_CONDITION: &str =
    "#leaseId = :leaseId AND #locked = :true AND (attribute_not_exists(#expiresAt) OR #expiresAt > :now)";
/// Renewing with the lease's own TTL also needs the lease to have one.
pub(super) const LIVE_LEASE_WITH_TTL_CONDITION: &str =
    "#leaseId = :leaseId AND #locked = :true AND (attribute_not_exists(#expiresAt) OR #expiresAt > :now) \
     AND attribute_exists(#leaseTtl)";
/// Free the lock, keeping its last lease for `GET`.
pub(super) const RELEASE_UPDATE: &str =
    "SET #locked = :false, #updatedAt = :now, #gcAt = :gcAt REMOVE #expiresAt, #leaseTtl, #idempotencyKey, #idempotencyTtl";
/// A forced release needs only the lock to exist (not a tombstone).
pub(super) const FORCE_RELEASE_CONDITION: &str = "attribute_exists(#locked)";
/// Free the lock whoever holds it, and mark the lease as taken away, so its
/// holder's later unlock is not mistaken for a retry of its own.
pub(super) const FORCE_RELEASE_UPDATE: &str =
    "SET #locked = :false, #updatedAt = :now, #gcAt = :gcAt, #forcedRelease = :true \
     REMOVE #expiresAt, #leaseTtl, #idempotencyKey, #idempotencyTtl";
/// Renew with a new TTL.
pub(super) const RENEW_WITH_TTL_UPDATE: &str =
    "SET #expiresAt = :expiresAt, #leaseTtl = :leaseTtl, #updatedAt = :now, #gcAt = :gcAt";
/// Renew with the lease's own TTL.
pub(super) const RENEW_OWN_TTL_UPDATE: &str =
    "SET #expiresAt = :now + #leaseTtl, #updatedAt = :now, #gcAt = :gcAt";
/// An existing lock (not a tombstone) that no live lease holds: it may be deleted.
pub(super) const FREE_LOCK_EXISTS: &str =
    "attribute_exists(#locked) AND (#locked = :false OR #expiresAt <= :expiredBy)";
/// Delete the lock, leaving a tombstone that keeps only its key and fencing
/// token: without `#locked` every read takes it for no lock, and the next
/// grant of the name goes on counting from its token. (Deleting the item
/// would let a grant written before the delete but landing after it start
/// again from its own, older clock.) DynamoDB TTL collects it in 30 days.
pub(super) const TOMBSTONE_LOCK_UPDATE: &str = "SET #updatedAt = :now, #gcAt = :gcAt \
     REMOVE #locked, #leaseId, #leasedBy, #createdAt, #acquiredAt, #expiresAt, #leaseTtl, \
     #idempotencyKey, #idempotencyTtl, #forcedRelease, #slot, #reservedFor, #reservedUntil, \
     #waitingSince";
/// An existing lock (not a tombstone) that no live lease holds and no other
/// waiter has reserved: the acquire of a name that exists, under a quota.
pub(super) const FREE_UNRESERVED_LOCK_EXISTS: &str = concat!(
    "attribute_exists(#locked) AND (#locked = :false OR #expiresAt <= :expiredBy) AND ",
    unreserved!()
);
/// A waiter may reserve an existing lock (not a tombstone) where no live
/// reservation stands, or its own does, or a younger waiter's (one waiting
/// since later than `:waitingSince`) does.
pub(super) const RESERVE_LOCK_CONDITION: &str = "attribute_exists(#locked) \
     AND (attribute_not_exists(#reservedUntil) OR #reservedUntil <= :now \
     OR #reservedFor = :leaseId OR #waitingSince > :waitingSince)";
/// A permit slot of the semaphore's count, reserved as a lock is.
pub(super) const RESERVE_SLOT_CONDITION: &str = "#permits = :permits \
     AND (attribute_not_exists(#reservedUntil) OR #reservedUntil <= :now \
     OR #reservedFor = :leaseId OR #waitingSince > :waitingSince)";
/// Set the reservation: for whom, until when, and since when its waiter waits.
pub(super) const SET_RESERVATION: &str = "SET #reservedFor = :leaseId, \
     #reservedUntil = :reservedUntil, #waitingSince = :waitingSince";
/// Only the reservation's own waiter withdraws it.
pub(super) const RESERVED_BY: &str = "#reservedFor = :leaseId";
/// Withdraw the reservation (its waiter stopped waiting).
pub(super) const UNRESERVE_UPDATE: &str = "REMOVE #reservedFor, #reservedUntil, #waitingSince";
/// A new item: the quota's names item or a semaphore's record does not exist yet.
pub(super) const NEW_ITEM_CONDITION: &str = "attribute_not_exists(#lockName)";
/// A new lock under a quota: no item, or a deleted lock's tombstone.
pub(super) const NEW_LOCK_CONDITION: &str = "attribute_not_exists(#locked)";
/// The locks of one user: its partition from the first possible lock name
/// on, which leaves out the quota counter (see `quota`).
pub(super) const PARTITION_LOCKS: &str = "#userId = :userId AND #lockName >= :firstName";
/// Reserve only in a started names item whose set holds fewer than the quota.
pub(super) const RESERVE_CONDITION: &str =
    "attribute_exists(#healedAt) AND (attribute_not_exists(#slots) OR size(#slots) < :quota)";
/// Add the reserved element.
pub(super) const RESERVE_UPDATE: &str = "ADD #slots :slot";
/// Take elements out only of a started names item (never create one).
pub(super) const GIVE_BACK_CONDITION: &str = "attribute_exists(#healedAt)";
/// Take out elements (`:slot` is a set of one or more).
pub(super) const GIVE_BACK_UPDATE: &str = "DELETE #slots :slot";
/// Heal only if no other heal claimed the names since they were read.
pub(super) const HEAL_CONDITION: &str = "#healedAt = :healedAt";
/// Claim the heal.
pub(super) const HEAL_UPDATE: &str = "SET #healedAt = :now";
/// What a lock item's quota element is read from (`#locked`: a tombstone, without it, has none).
pub(super) const SLOTS_PROJECTION: &str = "#lockName, #locked, #slot, #createdAt";
/// A waiting place that is empty or has lapsed (`#place` is bound to one place's attribute).
pub(super) const TAKE_PLACE_CONDITION: &str =
    "attribute_not_exists(#place) OR #place.#until < :now";
/// Take the place: `{until, owner}`.
pub(super) const TAKE_PLACE_UPDATE: &str = "SET #place = :entry";
/// Only the place's owner gives it back.
pub(super) const GIVE_BACK_PLACE_CONDITION: &str = "#place.#owner = :owner";
/// Give the place back.
pub(super) const GIVE_BACK_PLACE_UPDATE: &str = "REMOVE #place";
/// Whether value placeholder `placeholder` occurs in `expressions` as a whole word.
pub(super) fn uses_value(expressions: &[&str], placeholder: &str) -> bool {
    expressions.iter().any(|expression| {
        expression.match_indices(placeholder).any(|(start, _)| {
            let next = expression[start + placeholder.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::item::{attribute_names, ATTRIBUTES};
    use super::*;

    const EXPRESSIONS: [&str; 67] = [
        ACQUIRE_CONDITION,
        FREE_UNRESERVED_LOCK_EXISTS,
        RESERVE_LOCK_CONDITION,
        RESERVE_SLOT_CONDITION,
        SET_RESERVATION,
        RESERVED_BY,
        UNRESERVE_UPDATE,
        ACQUIRE_TTL_KEY,
        ACQUIRE_TTL,
        ACQUIRE_KEY,
        ACQUIRE_PLAIN,
        CREATE_TTL_KEY,
        CREATE_TTL,
        CREATE_KEY,
        CREATE_PLAIN,
        LIVE_LEASE_CONDITION,
        LIVE_LEASE_WITH_TTL_CONDITION,
        RELEASE_UPDATE,
        FORCE_RELEASE_CONDITION,
        FORCE_RELEASE_UPDATE,
        RENEW_WITH_TTL_UPDATE,
        RENEW_OWN_TTL_UPDATE,
        REGISTER_KEY_CONDITION,
        KEY_EXISTS,
        KEY_OF_USER,
        REVOKE_OTHER_CONDITION,
        ROTATE_CONDITION,
        ROTATE_UPDATE,
        REVOKE_UPDATE,
        FREE_LOCK_EXISTS,
        TOMBSTONE_LOCK_UPDATE,
        NEW_ITEM_CONDITION,
        NEW_LOCK_CONDITION,
        PARTITION_LOCKS,
        RESERVE_CONDITION,
        RESERVE_UPDATE,
        GIVE_BACK_CONDITION,
        GIVE_BACK_UPDATE,
        HEAL_CONDITION,
        HEAL_UPDATE,
        SLOTS_PROJECTION,
        TAKE_PLACE_CONDITION,
        TAKE_PLACE_UPDATE,
        GIVE_BACK_PLACE_CONDITION,
        GIVE_BACK_PLACE_UPDATE,
        FREE_PERMIT,
        FREE_HOME_PERMIT,
        MISSING_PERMIT,
        NEW_PERMIT,
        GRANT_PERMIT_KEY,
        GRANT_PERMIT,
        FREE_SLOT_UPDATE,
        GUARD_CONDITION,
        GUARD_UPDATE,
        LIVE_PERMIT,
        RELEASE_PERMIT_UPDATE,
        SLOT_EXISTS,
        SAME_LEASE,
        FORCE_PERMIT_UPDATE,
        RENEW_PERMIT_WITH_TTL,
        RENEW_PERMIT_OWN_TTL,
        CLOSABLE_SLOT,
        TOMBSTONE_UPDATE,
        CLOSED_BY,
        REOPEN_UPDATE,
        SEMAPHORE_ITEMS,
        PARTITION_SEMAPHORES,
    ];

    #[test]
    fn every_placeholder_names_a_known_attribute() {
        // `#place` is in the list too: the caller binds it to one place's attribute.
        for expression in EXPRESSIONS {
            for name in attribute_names(&[expression]).into_values() {
                assert!(
                    ATTRIBUTES.contains(&name.as_str()),
                    "#{name} in {expression}"
                );
            }
        }
    }

    #[test]
    fn the_acquire_updates_differ_only_in_ttl_idempotency_key_and_slot() {
        let pairs = [
            (ACQUIRE_TTL_KEY, CREATE_TTL_KEY),
            (ACQUIRE_TTL, CREATE_TTL),
            (ACQUIRE_KEY, CREATE_KEY),
            (ACQUIRE_PLAIN, CREATE_PLAIN),
        ];
        for (update, create) in pairs {
            assert!(update.starts_with(acquire_set!()));
            assert!(
                update.ends_with(concat!("#forcedRelease", unreserve!())),
                "{update}"
            );
            assert_eq!(create, format!("{update}{}", with_slot!()));
            let attributes = [
                "#expiresAt",
                "#leaseTtl",
                "#gcAt",
                "#idempotencyKey",
                "#idempotencyTtl",
            ];
            for attribute in attributes {
                assert_eq!(
                    update.matches(attribute).count(),
                    1,
                    "{attribute} in {update}"
                );
            }
        }
    }

    #[test]
    fn only_values_an_expression_uses_are_bound() {
        assert!(uses_value(&[ACQUIRE_CONDITION], ":now"));
        assert!(uses_value(&[RELEASE_UPDATE], ":false"));
        assert!(!uses_value(&[RELEASE_UPDATE], ":true"));
        assert!(!uses_value(&[":nowhere"], ":now"));
    }
}
