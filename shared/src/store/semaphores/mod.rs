//! Semaphores: at most `permits` live leases of one name, each a lease of
//! its own, without transactions, TTL or streams (docs/SEMANTICS.md,
//! "Semaphores").
//!
//! A semaphore is items in its tenant's partition, under sort keys that no
//! lock name can have (they start with `\u{2}`; lock names are at least a
//! space): its record `\u{2}NAME\u{1}` (the count of permits, when it was
//! created, its element of the quota) and one item per permit slot,
//! `\u{2}NAME\u{1}00` to `\u{2}NAME\u{1}63`, each holding at most one lease
//! with its own expiry and fencing token. One strongly consistent `Query`
//! (`begins_with` the record's key) reads a semaphore whole.
//!
//! - `acquire`: the grant, one conditional write on a slot;
//! - `ask`: one acquire's home slot, guard, conditions and own grants;
//! - `guard`: a keyed acquire's guard on its home slot;
//! - `create`: a new semaphore's record and slots;
//! - `leases`: release, force release, renew and delete;
//! - `reserve`: what a waiting acquire sees, and its reservations;
//! - `stored`: a semaphore's items as read, each slot's state, its holders.

mod acquire;
mod ask;
mod create;
mod guard;
mod leases;
mod reserve;
mod stored;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use super::expressions::{uses_value, PARTITION_SEMAPHORES, SEMAPHORE_ITEMS};
use super::item::{attribute_names, sort_key, string_attr, string_value};
use super::LockStore;
use crate::error::StoreError;
use crate::schema::LOCKS_SORT_KEY;
use crate::types::{LeaseId, Requester, SemaphoreName, Timestamp, UserId};

pub use acquire::PermitAcquired;
use stored::{key_of, live_permit, SlotState, Stored};

/// Where semaphore items start in a partition's sort order (after the
/// quota's and the waiting places' items, before every lock name).
pub const SEMAPHORES_START: &str = "\u{2}";
/// Where they end: no key starts with this.
const SEMAPHORES_END: &str = "\u{3}";
/// Ends a semaphore's name in its keys: below every character a name may
/// have, so a semaphore's items are together, in name order.
const NAME_END: char = '\u{1}';
/// A permit's TTL when neither the request nor the template gives one.
pub const DEFAULT_PERMIT_TTL_SECONDS: u64 = 300;

/// The sort key of semaphore `name`'s record (and the prefix of its slots').
pub(super) fn record_position(name: &str) -> String {
    format!("{SEMAPHORES_START}{name}{NAME_END}")
}

/// The sort key of permit slot `slot` of semaphore `name`.
fn slot_position(name: &SemaphoreName, slot: u8) -> String {
    format!("{}{slot:02}", record_position(name.as_str()))
}

/// Whether sort key `position` is a semaphore's record (a quota element's
/// bearer, like a lock) rather than one of its slots.
pub(super) fn is_record(position: &str) -> bool {
    position.starts_with(SEMAPHORES_START) && position.ends_with(NAME_END)
}

/// A live permit: the lease holding one slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permit {
    /// The slot (0-based).
    pub slot: u8,
    /// The lease.
    pub lease_id: LeaseId,
    /// Its requester.
    pub leased_by: Requester,
    /// When it was granted.
    pub acquired_at: Timestamp,
    /// When it expires (every permit does).
    pub expires_at: Timestamp,
    /// Its fencing token: larger for every grant of this slot, ever.
    pub fencing_token: u64,
}

/// A semaphore as stored now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Semaphore {
    /// Its name.
    pub name: SemaphoreName,
    /// How many leases it grants at once.
    pub permits: u8,
    /// When it was created.
    pub created_at: Timestamp,
    /// When a permit was last granted, renewed or released.
    pub updated_at: Timestamp,
    /// The live leases, by slot.
    pub holders: Vec<Permit>,
}

/// One page of a user's semaphores, in name order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SemaphorePage {
    /// The semaphores of the page.
    pub semaphores: Vec<Semaphore>,
    /// Whether more follow the last one.
    pub more: bool,
}

/// `request` with those of `values` that its expressions use (DynamoDB
/// refuses unused ones).
fn with_values(
    mut request: UpdateItemFluentBuilder,
    expressions: &[&str],
    values: Vec<(&'static str, AttributeValue)>,
) -> UpdateItemFluentBuilder {
    for (placeholder, value) in values {
        if uses_value(expressions, placeholder) {
            request = request.expression_attribute_values(placeholder, value);
        }
    }
    request
}

impl LockStore {
    /// A conditional update of slot `slot` of `name`, its names bound.
    fn slot_update(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        slot: u8,
        condition: &str,
        update: &str,
    ) -> UpdateItemFluentBuilder {
        self.table
            .update(sort_key(user, &slot_position(name, slot)))
            .condition_expression(condition)
            .update_expression(update)
            .set_expression_attribute_names(Some(attribute_names(&[condition, update])))
    }

    /// Semaphore `name` of `user` as stored now (a strongly consistent `Query`).
    pub async fn semaphore(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        now: Timestamp,
    ) -> Result<Option<Semaphore>, StoreError> {
        self.read_semaphore(user, name).await?.semaphore(name, now)
    }

    /// The record and slots of `name`: one strongly consistent `Query` (a
    /// semaphore's items are well under DynamoDB's 1 MB page).
    async fn read_semaphore(
        &self,
        user: &UserId,
        name: &SemaphoreName,
    ) -> Result<Stored, StoreError> {
        let prefix = record_position(name.as_str());
        let mut stored = Stored::with_margin(self.clock_margin);
        let mut start_key = None;
        loop {
            let page = self
                .table
                .query()
                .key_condition_expression(SEMAPHORE_ITEMS)
                .set_expression_attribute_names(Some(attribute_names(&[SEMAPHORE_ITEMS])))
                .expression_attribute_values(":userId", string_value(user.as_str()))
                .expression_attribute_values(":prefix", string_value(&prefix))
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                stored.add(&prefix, item)?;
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(stored);
            }
        }
    }

    /// The semaphores of `user` in name order after `after` (from the first
    /// if `None`), at most `limit`, and whether more remain: strongly
    /// consistent `Query` calls of the partition's semaphore items only,
    /// reading the items of at most `limit` semaphores and the next record.
    pub async fn semaphore_page(
        &self,
        user: &UserId,
        after: Option<&str>,
        limit: usize,
        now: Timestamp,
    ) -> Result<SemaphorePage, StoreError> {
        let (mut groups, mut more): (Vec<(String, Stored)>, _) = (Vec::new(), false);
        let mut start_key = after.map(|name| {
            // After every item of that semaphore (its slots end in digits).
            sort_key(user, &format!("{}\u{7f}", record_position(name)))
        });
        'pages: loop {
            let page = self
                .table
                .query()
                .key_condition_expression(PARTITION_SEMAPHORES)
                .set_expression_attribute_names(Some(attribute_names(&[PARTITION_SEMAPHORES])))
                .expression_attribute_values(":userId", string_value(user.as_str()))
                .expression_attribute_values(":from", string_value(SEMAPHORES_START))
                .expression_attribute_values(":to", string_value(SEMAPHORES_END))
                .limit(((limit + 1 - groups.len()) * 65).min(1000) as i32)
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                let position = string_attr(&item, LOCKS_SORT_KEY)?.to_owned();
                if is_record(&position) {
                    if groups.len() == limit {
                        more = true;
                        break 'pages;
                    }
                    let stored = Stored::with_margin(self.clock_margin);
                    groups.push((position.clone(), stored));
                }
                // Slots follow their record; a tombstone without one is skipped.
                if let Some((prefix, stored)) = groups.last_mut() {
                    if position.starts_with(prefix.as_str()) {
                        stored.add(prefix, item)?;
                    }
                }
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        let mut semaphores = Vec::new();
        for (prefix, stored) in &groups {
            let name = &prefix[SEMAPHORES_START.len()..prefix.len() - NAME_END.len_utf8()];
            let name = SemaphoreName::from_trusted(name.to_owned());
            semaphores.extend(stored.semaphore(&name, now)?);
        }
        Ok(SemaphorePage { semaphores, more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::quota::{FIRST_LOCK_NAME, NAMES_KEY};
    use crate::store::waiting::WAITING_KEY;

    #[test]
    fn semaphore_items_sort_between_the_tenants_items_and_the_locks() {
        let name = SemaphoreName::parse("pool").unwrap();
        let record = record_position(name.as_str());
        assert!(NAMES_KEY < SEMAPHORES_START && WAITING_KEY < SEMAPHORES_START);
        assert!(record.as_str() < FIRST_LOCK_NAME && SEMAPHORES_END < FIRST_LOCK_NAME);
        assert!(is_record(&record) && !is_record(&slot_position(&name, 7)));
        // A name that extends another sorts after all of the other's items.
        let longer = record_position("pool b");
        assert!(slot_position(&name, 63) < longer && format!("{record}\u{7f}") < longer);
    }
}
