//! A permit's lease after its grant: release, force release and renew (one
//! write each given the slot; without it, one read finds the slot first),
//! and the delete of a whole semaphore.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use futures_util::future::join_all;

use super::{record_position, with_values, SlotState, Stored};
use crate::error::StoreError;
use crate::store::expressions::{
    CLOSABLE_SLOT, CLOSED_BY, FORCE_PERMIT_UPDATE, LIVE_PERMIT, RELEASE_PERMIT_UPDATE,
    RENEW_PERMIT_OWN_TTL, RENEW_PERMIT_WITH_TTL, REOPEN_UPDATE, SAME_LEASE, SLOT_EXISTS,
    TOMBSTONE_UPDATE,
};
use crate::store::item::{
    attribute_names, gc_at, is_true, landed, number_attr, number_value,
    old_item_on_condition_failure, optional_string, sort_key, string_attr, string_value, Item,
    DELETED_BY, EXPIRES_AT, FORCED_RELEASE, GENERATION, LEASE_ID, LOCKED,
};
use crate::store::quota::Slot;
use crate::store::{Deleted, LockStore, Released, Renewed};
use crate::types::{LeaseId, LeaseTtl, SemaphoreName, Timestamp, UserId};
use lock_wire::PermitSlot;

/// `:now`, `:true` and `:false`, which the lease writes' expressions use.
fn flags(now: Timestamp) -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":now", number_value(now.millis())),
        (":true", AttributeValue::Bool(true)),
        (":false", AttributeValue::Bool(false)),
    ]
}

/// Where a lease is, when its slot was not given.
enum Whereabouts {
    /// In this slot (live or not).
    Slot(u8),
    /// In none of the semaphore's.
    Nowhere,
    /// The semaphore does not exist.
    NoSemaphore,
}

impl LockStore {
    /// Frees `lease`'s permit if it is live: one conditional write given
    /// its `slot`. A retry of a release that landed answers `Freed` as long
    /// as the slot was not granted again; an expired lease cannot release.
    pub async fn release_permit(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        lease: &LeaseId,
        slot: Option<PermitSlot>,
        now: Timestamp,
    ) -> Result<Released, StoreError> {
        let slot = match self.slot_of(user, name, lease, slot).await? {
            Whereabouts::Slot(slot) => slot,
            Whereabouts::Nowhere => return Ok(Released::NotHolder),
            Whereabouts::NoSemaphore => return Ok(Released::NotFound),
        };
        let mut values = flags(now);
        values.push((":leaseId", string_value(lease.as_str())));
        let request = self.slot_update(user, name, slot, LIVE_PERMIT, RELEASE_PERMIT_UPDATE);
        let result = with_values(request, &[LIVE_PERMIT, RELEASE_PERMIT_UPDATE], values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(failure) = result else {
            return Ok(Released::Freed);
        };
        let old = old_item_on_condition_failure(failure)?;
        let Some(item) = self.slot_after_failure(user, name, slot, old).await? else {
            return Ok(Released::NotFound);
        };
        let ours = optional_string(&item, LEASE_ID) == Some(lease.as_str());
        let locked = is_true(&item, LOCKED);
        Ok(match (ours, locked) {
            (true, false) if !is_true(&item, FORCED_RELEASE) => Released::Freed,
            (true, true) => Released::Expired,
            _ => Released::NotHolder,
        })
    }

    /// Frees permit `slot` whoever holds it (one write), or, without a
    /// slot, every permit a live lease holds (one read, one write each).
    /// The leases are dead from then on.
    pub async fn force_release_permits(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        slot: Option<PermitSlot>,
        now: Timestamp,
    ) -> Result<Released, StoreError> {
        let values = || flags(now);
        if let Some(slot) = slot {
            let request =
                self.slot_update(user, name, slot.get(), SLOT_EXISTS, FORCE_PERMIT_UPDATE);
            let result = with_values(request, &[FORCE_PERMIT_UPDATE], values())
                .send()
                .await;
            if landed(result)? {
                return Ok(Released::Freed);
            }
            // A missing or closed slot holds no lease.
            let stored = self.read_semaphore(user, name).await?;
            return Ok(match stored.record {
                Some(_) => Released::Freed,
                None => Released::NotFound,
            });
        }
        let stored = self.read_semaphore(user, name).await?;
        if stored.record.is_none() {
            return Ok(Released::NotFound);
        }
        let mut forces = Vec::new();
        for slot in 0..stored.permits()? {
            if let SlotState::Live(permit) = stored.state(slot, now)? {
                let mut values = values();
                values.push((":leaseId", string_value(permit.lease_id.as_str())));
                let request = self.slot_update(user, name, slot, SAME_LEASE, FORCE_PERMIT_UPDATE);
                let request = with_values(request, &[SAME_LEASE, FORCE_PERMIT_UPDATE], values);
                forces.push(async move { landed(request.send().await) });
            }
        }
        // Not landed: its lease ended meanwhile, which is what was asked.
        for forced in join_all(forces).await {
            forced?;
        }
        Ok(Released::Freed)
    }

    /// Extends `lease` to `now + ttl` (or its own TTL again) if it is live:
    /// one conditional write given its `slot`.
    pub async fn renew_permit(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        lease: &LeaseId,
        slot: Option<PermitSlot>,
        ttl: Option<LeaseTtl>,
        now: Timestamp,
    ) -> Result<Renewed, StoreError> {
        let slot = match self.slot_of(user, name, lease, slot).await? {
            Whereabouts::Slot(slot) => slot,
            Whereabouts::Nowhere => return Ok(Renewed::NotLive),
            Whereabouts::NoSemaphore => return Ok(Renewed::NotFound),
        };
        let mut values = flags(now);
        values.push((":leaseId", string_value(lease.as_str())));
        let update = match ttl {
            Some(ttl) => {
                values.push((":expiresAt", number_value(now.millis() + ttl.millis())));
                values.push((":leaseTtl", number_value(ttl.millis())));
                RENEW_PERMIT_WITH_TTL
            }
            None => RENEW_PERMIT_OWN_TTL,
        };
        let request = self.slot_update(user, name, slot, LIVE_PERMIT, update);
        let result = with_values(request, &[LIVE_PERMIT, update], values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failure = match result {
            Ok(output) => {
                let item = output.attributes.ok_or(StoreError::NoAttributes)?;
                let expires_at = Timestamp::from_millis(number_attr(&item, EXPIRES_AT)?);
                return Ok(Renewed::Extended {
                    expires_at: Some(expires_at),
                });
            }
            Err(failure) => failure,
        };
        let old = old_item_on_condition_failure(failure)?;
        Ok(
            match self.slot_after_failure(user, name, slot, old).await? {
                Some(_) => Renewed::NotLive,
                None => Renewed::NotFound,
            },
        )
    }

    /// Deletes `name` if no live lease holds a permit: closes every slot
    /// (one write each; a slot granted meanwhile reopens the others and the
    /// delete is refused), deletes the record, takes its element out of the
    /// quota. Closed slots stay as tombstones that no grant of this
    /// semaphore can take, so no grant outlives the delete; a semaphore
    /// created later reuses them (its tokens go on rising).
    pub async fn delete_semaphore(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        now: Timestamp,
    ) -> Result<Deleted, StoreError> {
        let stored = self.read_semaphore(user, name).await?;
        let Some(record) = &stored.record else {
            return Ok(Deleted::NotFound);
        };
        if !stored.holders(now)?.is_empty() {
            return Ok(Deleted::Held);
        }
        let generation = string_attr(record, GENERATION)?;
        let delete = LeaseId::generate();
        let slots = 0..stored.permits()?;
        let closes = slots.clone().map(|slot| {
            let values = vec![
                (":deleteId", string_value(delete.as_str())),
                (":generation", string_value(generation)),
                (":false", AttributeValue::Bool(false)),
                (":now", number_value(now.millis())),
                (":expiredBy", number_value(self.expired_by(now).millis())),
                (":gcAt", gc_at(now)),
            ];
            let request = self.slot_update(user, name, slot, CLOSABLE_SLOT, TOMBSTONE_UPDATE);
            let request = with_values(request, &[CLOSABLE_SLOT, TOMBSTONE_UPDATE], values);
            async move { landed(request.send().await) }
        });
        let mut all_closed = true;
        for closed in join_all(closes).await {
            all_closed &= closed?;
        }
        if !all_closed {
            self.reopen(user, name, &stored, &delete).await?;
            return Ok(Deleted::Held);
        }
        let position = record_position(name.as_str());
        let deleted = self
            .table
            .delete(sort_key(user, &position))
            .condition_expression(SLOT_EXISTS)
            .set_expression_attribute_names(Some(attribute_names(&[SLOT_EXISTS])))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match deleted {
            Ok(output) => {
                let record = output.attributes.ok_or(StoreError::NoAttributes)?;
                self.give_back_slot(user, &Slot::of_lock(&record)?).await?;
                Ok(Deleted::Done)
            }
            // Another delete took it first.
            Err(failure) => old_item_on_condition_failure(failure).map(|_| Deleted::NotFound),
        }
    }

    /// Reopens the slots delete `delete` closed (its refusal).
    async fn reopen(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        stored: &Stored,
        delete: &LeaseId,
    ) -> Result<(), StoreError> {
        let permits = stored.permits()?;
        let reopens = (0..permits).map(|slot| {
            let values = vec![
                (":deleteId", string_value(delete.as_str())),
                (":permits", number_value(u64::from(permits))),
            ];
            let request = self.slot_update(user, name, slot, CLOSED_BY, REOPEN_UPDATE);
            let request = with_values(request, &[CLOSED_BY, REOPEN_UPDATE], values);
            async move { landed(request.send().await) }
        });
        for reopened in join_all(reopens).await {
            reopened?;
        }
        Ok(())
    }

    /// The slot of `lease`: `slot` if given, else the one a read finds it in.
    async fn slot_of(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        lease: &LeaseId,
        slot: Option<PermitSlot>,
    ) -> Result<Whereabouts, StoreError> {
        if let Some(slot) = slot {
            return Ok(Whereabouts::Slot(slot.get()));
        }
        let stored = self.read_semaphore(user, name).await?;
        if stored.record.is_none() {
            return Ok(Whereabouts::NoSemaphore);
        }
        let mut slots = stored.slots.iter();
        let held = slots.find(|(_, item)| optional_string(item, LEASE_ID) == Some(lease.as_str()));
        Ok(held.map_or(Whereabouts::Nowhere, |(slot, _)| Whereabouts::Slot(*slot)))
    }

    /// Slot `slot`'s item after a failed write (`old`, as the engine
    /// returned it): `None` if the semaphore does not exist (a tombstone,
    /// or nothing, without a record).
    async fn slot_after_failure(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        slot: u8,
        old: Option<Item>,
    ) -> Result<Option<Item>, StoreError> {
        if let Some(item) = old.filter(|item| !item.contains_key(DELETED_BY)) {
            return Ok(Some(item));
        }
        let mut stored = self.read_semaphore(user, name).await?;
        if stored.record.is_none() {
            return Ok(None);
        }
        // A missing slot holds no lease: an empty item says so.
        Ok(Some(stored.slots.remove(&slot).unwrap_or_default()))
    }
}
