//! The per-tenant quota of lock names, without transactions (dynalite has
//! none, nor do multi-Region strongly consistent global tables).
//!
//! A counter item in the tenant's own partition (sort key [`COUNTER_KEY`],
//! which no lock name can be: names refuse control characters) holds the
//! slots in use, a version that every change of the count bumps, and the
//! names reserved but not yet created (`pending`, name → reservation time).
//! A new name reserves a slot with one conditional increment ("fewer than
//! the quota"), so concurrent creations can never exceed it; then the lock
//! is created and the reservation cleared. Deletes give the slot back.
//!
//! The count can only drift upwards (a crash between two writes, or DynamoDB
//! TTL deleting an idle lock, which nothing counts): a tenant then has fewer
//! slots, never more. It heals when a reservation is refused: the locks
//! actually in the partition are counted, plus the reservations still in
//! flight (fresh pending names whose lock does not exist yet), and if that
//! is lower than the counter, the counter is set to it, guarded by the
//! version read first, so no concurrent change is lost.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::expressions::{
    GIVE_BACK_CONDITION, GIVE_BACK_RESERVED_UPDATE, GIVE_BACK_UPDATE, HEAL_CONDITION, HEAL_UPDATE,
    NEW_ITEM_CONDITION, RELEASE_RESERVATION_UPDATE, RESERVE_CONDITION, RESERVE_UPDATE,
};
use super::item::{
    attribute_names, landed, number_attr, number_value, sort_key, Item, LOCK_ENTRY, PENDING,
    SLOTS_USED, VERSION,
};
use super::LockStore;
use crate::error::StoreError;
use crate::types::{LockName, Timestamp, UserId};

/// Sort key of a tenant's counter item: before every lock name.
pub const COUNTER_KEY: &str = "\u{1}quota";
/// Where lock names start in a partition's sort order: a name's first
/// character is never a control character, so it is at least a space.
pub const FIRST_LOCK_NAME: &str = " ";
/// How long a reservation may be in flight; an older one was abandoned by a
/// crash between reserving and creating, and no longer holds a slot.
const RESERVATION_MILLIS: u64 = 60_000;

/// What one attempt at reserving a slot ended in.
enum Reservation {
    Reserved,
    /// The counter is at the quota.
    Full,
    /// The tenant has no counter yet.
    NoCounter,
    /// The counter changed under the attempt (created meanwhile): try again.
    Raced,
}

impl LockStore {
    /// Reserves a slot for the new lock `name` of `user` under `quota`:
    /// `false` if the tenant is at its quota (after healing the count).
    pub(super) async fn reserve_slot(
        &self,
        user: &UserId,
        name: &LockName,
        quota: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut healed = false;
        for _ in 0..4 {
            match self.try_reserve(user, name, quota, now).await? {
                Reservation::Reserved => return Ok(true),
                Reservation::Raced => {}
                Reservation::NoCounter => self.start_counter(user).await?,
                Reservation::Full if !healed => {
                    healed = true;
                    if !self.heal_count(user, now).await? {
                        return Ok(false);
                    }
                }
                Reservation::Full => return Ok(false),
            }
        }
        Ok(false)
    }

    async fn try_reserve(
        &self,
        user: &UserId,
        name: &LockName,
        quota: u32,
        now: Timestamp,
    ) -> Result<Reservation, StoreError> {
        let result = self
            .counter_update(user, Some(RESERVE_CONDITION), RESERVE_UPDATE, Some(name))
            .expression_attribute_values(":quota", number_value(u64::from(quota)))
            .expression_attribute_values(":one", number_value(1))
            .expression_attribute_values(":now", number_value(now.millis()))
            .send()
            .await;
        if landed(result)? {
            return Ok(Reservation::Reserved);
        }
        // Full only if the counter says so now: it may not have existed when
        // the write was judged, and been created by a concurrent request since.
        let Some(counter) = self.counter(user).await? else {
            return Ok(Reservation::NoCounter);
        };
        let used = number_attr(&counter, SLOTS_USED)?;
        Ok(if used >= u64::from(quota) {
            Reservation::Full
        } else {
            Reservation::Raced
        })
    }

    /// Clears the reservation of `name` once its lock exists.
    pub(super) async fn finish_reservation(
        &self,
        user: &UserId,
        name: &LockName,
    ) -> Result<(), StoreError> {
        let result = self
            .counter_update(user, None, RELEASE_RESERVATION_UPDATE, Some(name))
            .send()
            .await;
        landed(result).map(drop)
    }

    /// Gives a slot back: the reservation of `reserved` that created
    /// nothing, or (`None`) a lock that was deleted. A counter that is
    /// missing or at zero is left alone.
    pub(super) async fn give_back_slot(
        &self,
        user: &UserId,
        reserved: Option<&LockName>,
    ) -> Result<(), StoreError> {
        let update = match reserved {
            Some(_) => GIVE_BACK_RESERVED_UPDATE,
            None => GIVE_BACK_UPDATE,
        };
        let result = self
            .counter_update(user, Some(GIVE_BACK_CONDITION), update, reserved)
            .expression_attribute_values(":one", number_value(1))
            .expression_attribute_values(":zero", number_value(0))
            .send()
            .await;
        landed(result).map(drop)
    }

    /// Creates the counter of a tenant that has none, from its locks (a new
    /// tenant has none; one from before quotas has some).
    async fn start_counter(&self, user: &UserId) -> Result<(), StoreError> {
        let locks = self.count_locks(user).await?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(sort_key(user, COUNTER_KEY)))
            .item(SLOTS_USED, number_value(locks))
            .item(VERSION, number_value(0))
            .item(PENDING, AttributeValue::M(HashMap::new()))
            .condition_expression(NEW_ITEM_CONDITION)
            .set_expression_attribute_names(Some(attribute_names(&[NEW_ITEM_CONDITION])))
            .send()
            .await;
        // Not landed: another request created it first, and theirs counts.
        landed(result).map(drop)
    }

    /// Lowers the count to the locks that exist plus the reservations in
    /// flight, if it is above that; `true` if it was lowered.
    async fn heal_count(&self, user: &UserId, now: Timestamp) -> Result<bool, StoreError> {
        let Some(counter) = self.counter(user).await? else {
            return Ok(false);
        };
        let slots_used = number_attr(&counter, SLOTS_USED)?;
        let version = number_attr(&counter, VERSION)?;
        let pending = counter.get(PENDING).and_then(|v| v.as_m().ok());
        let mut in_flight = HashMap::new();
        for (name, reserved_at) in pending.into_iter().flatten() {
            let reserved_at = reserved_at.as_n().ok().and_then(|n| n.parse::<u64>().ok());
            let Some(at) = reserved_at.filter(|at| at + RESERVATION_MILLIS > now.millis()) else {
                continue; // abandoned: it no longer holds a slot
            };
            // Checked before the count below: a lock created in between is
            // then counted twice (safe), never not at all.
            if self.read_item_at(user, name).await?.is_none() {
                in_flight.insert(name.clone(), number_value(at));
            }
        }
        let actual = self.count_locks(user).await? + in_flight.len() as u64;
        if actual >= slots_used {
            return Ok(false);
        }
        let result = self
            .counter_update(user, Some(HEAL_CONDITION), HEAL_UPDATE, None)
            .expression_attribute_values(":slotsUsed", number_value(actual))
            .expression_attribute_values(":version", number_value(version))
            .expression_attribute_values(":one", number_value(1))
            .expression_attribute_values(":pending", AttributeValue::M(in_flight))
            .send()
            .await;
        landed(result)
    }

    /// The locks of `user` (not the counter): strongly consistent `COUNT`
    /// queries, one per 1 MB of items.
    pub(super) async fn count_locks(&self, user: &UserId) -> Result<u64, StoreError> {
        let (mut total, mut start_key) = (0, None);
        loop {
            let page = self
                .locks_query(user)
                .select(Select::Count)
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            total += u64::try_from(page.count).unwrap_or(0);
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(total);
            }
        }
    }

    async fn counter(&self, user: &UserId) -> Result<Option<Item>, StoreError> {
        self.read_item_at(user, COUNTER_KEY).await
    }

    /// An update of `user`'s counter item; `entry` binds `#lockEntry` (a key
    /// of the `pending` map) to that lock name.
    fn counter_update(
        &self,
        user: &UserId,
        condition: Option<&str>,
        update: &str,
        entry: Option<&LockName>,
    ) -> UpdateItemFluentBuilder {
        let mut names = attribute_names(&[condition.unwrap_or_default(), update]);
        if let Some(name) = entry {
            names.insert(format!("#{LOCK_ENTRY}"), name.as_str().to_owned());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sort_key(user, COUNTER_KEY)))
            .set_condition_expression(condition.map(str::to_owned))
            .update_expression(update)
            .set_expression_attribute_names(Some(names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_sorts_before_every_lock_name_and_is_not_one() {
        assert!(COUNTER_KEY < FIRST_LOCK_NAME);
        assert!(LockName::parse(COUNTER_KEY).is_err());
        for name in [" x", "!", "a", "é"] {
            let name = LockName::parse(name).unwrap();
            assert!(name.as_str() >= FIRST_LOCK_NAME, "{name}");
        }
    }
}
