//! The expressions of semaphores: a permit slot's grant, guard, release,
//! renew, force, tombstone and reopening, and the semaphore's queries.

/// A permit slot of the semaphore's count that no live lease holds (every
/// permit has an expiry).
pub(in crate::store) const FREE_PERMIT: &str = concat!(
    "#permits = :permits AND (#locked = :false OR #expiresAt <= :expiredBy) AND ",
    unreserved!()
);
/// An `Idempotency-Key`'s home slot, free, where no live guard of that key
/// (`#moved`, see `semaphores`) sends it to another slot.
pub(in crate::store) const FREE_HOME_PERMIT: &str = concat!(
    "#permits = :permits AND (#locked = :false OR #expiresAt <= :expiredBy) \
     AND (attribute_not_exists(#moved) OR #moved.#until <= :now OR #moved.#to = :slotNumber) AND ",
    unreserved!()
);
/// A slot missing under a standing semaphore (its creation was cut short).
pub(in crate::store) const MISSING_PERMIT: &str = "attribute_not_exists(#lockName)";
/// A slot of a semaphore being created: new, or the tombstone of an earlier
/// semaphore of that name (never one a delete of this one left).
pub(in crate::store) const NEW_PERMIT: &str =
    "attribute_not_exists(#lockName) OR (attribute_exists(#deletedBy) AND #generation <> :generation)";
/// The part of both permit grants that takes the slot for the new lease;
/// the token rises per slot, from the clock for a new (or collected) item.
macro_rules! grant_permit {
    () => {
        "SET #permits = :permits, #locked = :true, #leaseId = :leaseId, #leasedBy = :leasedBy, \
         #acquiredAt = :now, #updatedAt = :now, #createdAt = if_not_exists(#createdAt, :now), \
         #expiresAt = :expiresAt, #leaseTtl = :leaseTtl, \
         #fencingToken = if_not_exists(#fencingToken, :tokenBase) + :one"
    };
}
/// Grant a permit for an `Idempotency-Key`, remembering the TTL it asked.
pub(in crate::store) const GRANT_PERMIT_KEY: &str = concat!(
    grant_permit!(),
    ", #idempotencyKey = :idempotencyKey, #idempotencyTtl = :leaseTtl",
    " REMOVE #forcedRelease, #deletedBy, #gcAt",
    unreserve!()
);
/// Grant a permit without an `Idempotency-Key`.
pub(in crate::store) const GRANT_PERMIT: &str = concat!(
    grant_permit!(),
    " REMOVE #idempotencyKey, #idempotencyTtl, #forcedRelease, #deletedBy, #gcAt",
    unreserve!()
);
/// A free slot of a new semaphore (a tombstone's token goes on rising).
pub(in crate::store) const FREE_SLOT_UPDATE: &str =
    "SET #permits = :permits, #locked = :false, #createdAt = :now, #updatedAt = :now, \
     #fencingToken = if_not_exists(#fencingToken, :tokenBase) \
     REMOVE #deletedBy, #gcAt, #leaseId, #leasedBy, #acquiredAt, #expiresAt, #leaseTtl, \
     #idempotencyKey, #idempotencyTtl, #forcedRelease, #reservedFor, #reservedUntil, #waitingSince";
/// A key's guard may be set at its home slot while that key holds no live
/// lease there, where no guard of that key is live, or the live one points
/// where this one does (`:slotNumber`) or where it pointed when read
/// (`:seenTo`).
pub(in crate::store) const GUARD_CONDITION: &str = "#permits = :permits \
     AND NOT (#idempotencyKey = :idempotencyKey AND #locked = :true AND #expiresAt > :now) \
     AND (attribute_not_exists(#moved) OR #moved.#until <= :now \
     OR #moved.#to = :slotNumber OR #moved.#to = :seenTo)";
/// Set the guard `{to, until}` (lapsed guards seen are removed after it).
pub(in crate::store) const GUARD_UPDATE: &str = "SET #moved = :guard";
/// Only a permit's live lease may release or renew it.
pub(in crate::store) const LIVE_PERMIT: &str =
    "#leaseId = :leaseId AND #locked = :true AND #expiresAt > :now";
/// Free the permit, keeping its last lease so that a retried release knows it.
pub(in crate::store) const RELEASE_PERMIT_UPDATE: &str = "SET #locked = :false, #updatedAt = :now \
     REMOVE #expiresAt, #leaseTtl, #idempotencyKey, #idempotencyTtl";
/// A slot of a standing semaphore (not a tombstone).
pub(in crate::store) const SLOT_EXISTS: &str = "attribute_exists(#permits)";
/// The lease seen on the slot still holds it (force release of every permit).
pub(in crate::store) const SAME_LEASE: &str = "#leaseId = :leaseId";
/// Free the permit whoever holds it; its lease is marked as taken away.
pub(in crate::store) const FORCE_PERMIT_UPDATE: &str =
    "SET #locked = :false, #updatedAt = :now, #forcedRelease = :true \
     REMOVE #expiresAt, #leaseTtl, #idempotencyKey, #idempotencyTtl";
/// Renew a permit with a new TTL.
pub(in crate::store) const RENEW_PERMIT_WITH_TTL: &str =
    "SET #expiresAt = :expiresAt, #leaseTtl = :leaseTtl, #updatedAt = :now";
/// Renew a permit with its own TTL.
pub(in crate::store) const RENEW_PERMIT_OWN_TTL: &str =
    "SET #expiresAt = :now + #leaseTtl, #updatedAt = :now";
/// A slot a delete may close: absent (closed as a tombstone), or without a live lease.
pub(in crate::store) const CLOSABLE_SLOT: &str =
    "attribute_not_exists(#lockName) OR #locked = :false OR #expiresAt <= :expiredBy";
/// Close the slot: no grant's condition holds on a tombstone. DynamoDB TTL
/// may collect it later (no decision depends on that).
pub(in crate::store) const TOMBSTONE_UPDATE: &str =
    "SET #deletedBy = :deleteId, #generation = :generation, #locked = :false, #updatedAt = :now, \
     #gcAt = :gcAt REMOVE #permits, #expiresAt, #leaseTtl, #idempotencyKey, #idempotencyTtl";
/// Only the delete that closed a slot reopens it.
pub(in crate::store) const CLOSED_BY: &str = "#deletedBy = :deleteId";
/// Reopen a slot whose delete was refused.
pub(in crate::store) const REOPEN_UPDATE: &str = "SET #permits = :permits REMOVE #deletedBy, #gcAt";
/// The items of one semaphore: its record and its slots.
pub(in crate::store) const SEMAPHORE_ITEMS: &str =
    "#userId = :userId AND begins_with(#lockName, :prefix)";
/// Every semaphore item of one user, from a position on.
pub(in crate::store) const PARTITION_SEMAPHORES: &str =
    "#userId = :userId AND #lockName BETWEEN :from AND :to";
