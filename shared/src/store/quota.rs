//! The per-tenant quota of lock names, without transactions (dynalite has
//! none, nor do multi-Region strongly consistent global tables).
//!
//! A names item in the tenant's own partition (sort key [`NAMES_KEY`], which
//! no lock name can be: names refuse control characters) holds one element
//! per lock name that exists or is being created, in a binary set (`slots`).
//! Each element is a [`Slot`] of its own (when it was reserved, and random
//! bytes), so two reservations, even of one name, are two elements; every
//! lock created under a quota carries its element (`slot`).
//!
//! - A new name reserves: one write that adds its element on condition that
//!   the set holds fewer than the quota, so concurrent reservations can never
//!   exceed it. The lock is then created with that element; if someone else
//!   created the name meanwhile, the element is taken out again.
//! - A delete takes out the element of the lock it deleted.
//!
//! A semaphore is one name: its record carries its element, as a lock does.
//!
//! Every change adds or takes out one element of its own and none can undo
//! another's (taking out an element twice is a no-op), so the set never holds
//! fewer elements than there are locks: never more than the quota of names.
//! It can hold more elements than locks (orphans): after a crash between two
//! writes, or DynamoDB TTL deleting an idle lock. Orphans are taken out when
//! a reservation finds the set full, at most once per tenant per
//! [`HEAL_INTERVAL_MILLIS`]: the set is read, then the locks' elements, and
//! every element older than [`IN_FLIGHT_MILLIS`] that no lock carries goes.
//! An element that young may still be in flight (its lock about to be
//! created); an older one cannot be, since an acquire ends within its
//! function's timeout (25 s).

use std::collections::HashSet;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use sha2::{Digest, Sha256};

use super::expressions::{
    GIVE_BACK_CONDITION, GIVE_BACK_UPDATE, HEAL_CONDITION, HEAL_UPDATE, NEW_ITEM_CONDITION,
    RESERVE_CONDITION, RESERVE_UPDATE, SLOTS_PROJECTION,
};
use super::item::{
    attribute_names, is_lock, landed, number_attr, number_value, old_item_on_condition_failure,
    sort_key, string_attr, Item, CREATED_AT, HEALED_AT, SLOT, SLOTS,
};
use super::semaphores::{is_record, SEMAPHORES_START};
use super::LockStore;
use crate::error::StoreError;
use crate::metrics::{self, Metric};
use crate::schema::LOCKS_SORT_KEY;
use crate::types::{Timestamp, UserId};

/// Sort key of a tenant's names item: before every lock name.
pub const NAMES_KEY: &str = "\u{1}names";
/// Where lock names start in a partition's sort order: a name's first
/// character is never a control character, so it is at least a space.
pub const FIRST_LOCK_NAME: &str = " ";
/// How long a reserved element may be in flight before its lock exists.
pub const IN_FLIGHT_MILLIS: u64 = 60_000;
/// Least time between two heals of one tenant's names (each reads its
/// whole partition once).
pub const HEAL_INTERVAL_MILLIS: u64 = 5 * 60_000;

/// One lock name's place in its tenant's quota: 6 bytes of the time it was
/// reserved (epoch ms, big-endian) and 8 random bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slot([u8; 14]);

impl Slot {
    /// A new element, reserved at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self::from_parts(now.millis(), &fastrand::u64(..).to_be_bytes())
    }

    /// The element of a lock created before quotas had elements: derived from
    /// its name and creation time, so every reader derives the same one.
    fn legacy(created_at: u64, name: &str) -> Self {
        Self::from_parts(created_at, &Sha256::digest(name.as_bytes()))
    }

    fn from_parts(millis: u64, random: &[u8]) -> Self {
        let mut bytes = [0u8; 14];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6..].copy_from_slice(&random[..8]);
        Self(bytes)
    }

    /// The element as stored.
    pub fn bytes(&self) -> &[u8; 14] {
        &self.0
    }

    /// When the element was reserved (epoch ms).
    pub fn reserved_at(&self) -> u64 {
        let mut millis = [0u8; 8];
        millis[2..].copy_from_slice(&self.0[..6]);
        u64::from_be_bytes(millis)
    }

    /// The element as a one-element binary set, as both items store it.
    pub(super) fn value(&self) -> AttributeValue {
        set_of([self])
    }

    /// The element of lock item `item`: its own, or its legacy one.
    pub(super) fn of_lock(item: &Item) -> Result<Self, StoreError> {
        if let Some(slot) = slots_in(item, SLOT).next() {
            return Ok(slot);
        }
        let name = string_attr(item, LOCKS_SORT_KEY)?;
        Ok(Self::legacy(number_attr(item, CREATED_AT)?, name))
    }
}

/// A binary set of `slots` (which must not be empty: DynamoDB has no empty set).
fn set_of<'a>(slots: impl IntoIterator<Item = &'a Slot>) -> AttributeValue {
    AttributeValue::Bs(slots.into_iter().map(|s| Blob::new(s.0)).collect())
}

/// The elements of binary set attribute `name` of `item` (none if absent).
fn slots_in<'a>(item: &'a Item, name: &str) -> impl Iterator<Item = Slot> + 'a {
    let set = item.get(name).and_then(|v| v.as_bs().ok());
    set.into_iter()
        .flatten()
        .filter_map(|blob| blob.as_ref().try_into().ok().map(Slot))
}

impl LockStore {
    /// Reserves `slot` for a new lock name of `user` under `quota`: `false`
    /// if the tenant has as many names as it may (after healing, if due).
    pub(super) async fn reserve_slot(
        &self,
        user: &UserId,
        slot: &Slot,
        quota: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut healed = false;
        for _ in 0..3 {
            let result = self
                .names_update(user, RESERVE_CONDITION, RESERVE_UPDATE)
                .expression_attribute_values(":slot", slot.value())
                .expression_attribute_values(":quota", number_value(u64::from(quota)))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let failure = match result {
                Ok(_) => return Ok(true),
                Err(failure) => failure,
            };
            let names = match old_item_on_condition_failure(failure)? {
                Some(names) => Some(names),
                None => self.read_item_at(user, NAMES_KEY).await?,
            };
            let Some(names) = names else {
                self.start_names(user, now).await?;
                continue;
            };
            if (slots_in(&names, SLOTS).count() as u64) < u64::from(quota) {
                // A delete made room meanwhile.
                metrics::count(Metric::ConditionRetry);
                continue;
            }
            if healed || !self.heal(user, &names, now).await? {
                return Ok(false);
            }
            healed = true;
        }
        Ok(false)
    }

    /// Takes `slot` out of `user`'s names: a reservation that created
    /// nothing, or the element of a deleted lock. Taking out an element that
    /// is not there is a no-op.
    pub(super) async fn give_back_slot(
        &self,
        user: &UserId,
        slot: &Slot,
    ) -> Result<(), StoreError> {
        self.take_out(user, set_of([slot])).await
    }

    async fn take_out(&self, user: &UserId, slots: AttributeValue) -> Result<(), StoreError> {
        let result = self
            .names_update(user, GIVE_BACK_CONDITION, GIVE_BACK_UPDATE)
            .expression_attribute_values(":slot", slots)
            .send()
            .await;
        // Not landed: the tenant has no names item yet, so nothing to take out.
        landed(result).map(drop)
    }

    /// Creates the names item of a tenant that has none, with the elements
    /// of the locks it already has (a new tenant has none; one from before
    /// quotas, or from before elements, has some).
    async fn start_names(&self, user: &UserId, now: Timestamp) -> Result<(), StoreError> {
        let slots = self.lock_slots(user).await?;
        let mut names = sort_key(user, NAMES_KEY);
        names.insert(HEALED_AT.into(), number_value(now.millis()));
        if !slots.is_empty() {
            names.insert(SLOTS.into(), set_of(&slots));
        }
        // Not created: a concurrent request created it first, and theirs counts.
        self.table.create(names, NEW_ITEM_CONDITION).await.map(drop)
    }

    /// Takes the orphans out of `names` (the names item as read before this
    /// call) if no heal of this tenant ran in the last
    /// [`HEAL_INTERVAL_MILLIS`]; `true` if any went.
    async fn heal(&self, user: &UserId, names: &Item, now: Timestamp) -> Result<bool, StoreError> {
        let healed_at = number_attr(names, HEALED_AT)?;
        if healed_at.saturating_add(HEAL_INTERVAL_MILLIS) > now.millis() {
            return Ok(false);
        }
        // Claimed first, so concurrent refusals read the partition once.
        let claimed = self
            .names_update(user, HEAL_CONDITION, HEAL_UPDATE)
            .expression_attribute_values(":healedAt", number_value(healed_at))
            .expression_attribute_values(":now", number_value(now.millis()))
            .send()
            .await;
        if !landed(claimed)? {
            return Ok(false);
        }
        // The set was read before the locks are: a lock created in between
        // carries an element too young to be taken out, or one not in `names`.
        let live = self.lock_slots(user).await?;
        let orphans: Vec<Slot> = slots_in(names, SLOTS)
            .filter(|slot| !live.contains(slot))
            .filter(|slot| slot.reserved_at().saturating_add(IN_FLIGHT_MILLIS) <= now.millis())
            .collect();
        if orphans.is_empty() {
            return Ok(false);
        }
        self.take_out(user, set_of(&orphans)).await?;
        Ok(true)
    }

    /// The elements of `user`'s locks and semaphores: strongly consistent
    /// `Query` pages of the partition from the first semaphore item on (1 MB
    /// each), projected to what an element needs; a semaphore's slots bear none.
    async fn lock_slots(&self, user: &UserId) -> Result<HashSet<Slot>, StoreError> {
        let (mut slots, mut start_key) = (HashSet::new(), None);
        loop {
            let page = self
                .partition_query(user, SEMAPHORES_START, &[SLOTS_PROJECTION])
                .projection_expression(SLOTS_PROJECTION)
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            for item in page.items() {
                let position = string_attr(item, LOCKS_SORT_KEY)?;
                // A deleted lock's tombstone has no element.
                let lock = position >= FIRST_LOCK_NAME && is_lock(item);
                if lock || is_record(position) {
                    slots.insert(Slot::of_lock(item)?);
                }
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(slots);
            }
        }
    }

    /// A conditional update of `user`'s names item.
    fn names_update(
        &self,
        user: &UserId,
        condition: &str,
        update: &str,
    ) -> UpdateItemFluentBuilder {
        self.table
            .update(sort_key(user, NAMES_KEY))
            .condition_expression(condition)
            .update_expression(update)
            .set_expression_attribute_names(Some(attribute_names(&[condition, update])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::LockName;

    #[test]
    fn the_names_item_sorts_before_every_lock_name_and_is_not_one() {
        assert!(NAMES_KEY < FIRST_LOCK_NAME);
        assert!(LockName::parse(NAMES_KEY).is_err());
        for name in [" x", "!", "a", "é"] {
            let name = LockName::parse(name).unwrap();
            assert!(name.as_str() >= FIRST_LOCK_NAME, "{name}");
        }
    }

    #[test]
    fn a_slot_keeps_its_reservation_time_and_each_is_its_own() {
        let now = Timestamp::from_millis(1_795_678_800_123);
        let (a, b) = (Slot::new(now), Slot::new(now));
        assert_eq!(a.reserved_at(), now.millis());
        assert_ne!(a, b, "two reservations at one instant are two elements");
        assert_eq!(Slot::legacy(7, "job"), Slot::legacy(7, "job"));
        assert_ne!(Slot::legacy(7, "job"), Slot::legacy(8, "job"));
        assert_eq!(Slot::legacy(7, "job").reserved_at(), 7);
    }

    #[test]
    fn a_lock_item_yields_its_own_slot_or_its_legacy_one() {
        let mut item = sort_key(&UserId::generate(), "job");
        item.insert(CREATED_AT.into(), number_value(42));
        assert_eq!(Slot::of_lock(&item).unwrap(), Slot::legacy(42, "job"));
        let own = Slot::new(Timestamp::from_millis(9));
        item.insert(SLOT.into(), own.value());
        assert_eq!(Slot::of_lock(&item).unwrap(), own);
    }
}
