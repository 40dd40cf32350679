//! The grant of a permit. First one conditional write on one slot: the
//! `Idempotency-Key`'s home slot (its hash), else a random one, so that a
//! retry lands on its own grant first and acquirers spread over the slots.
//! If that write finds the slot taken: one read of the whole semaphore,
//! then one write on a slot it shows free, a few rounds at most. A new
//! semaphore is created with its record and all its slots.
//!
//! A keyed acquire granted away from its home slot first leaves a guard
//! there (`moved…: {to, until}`, until the lease's first expiry): its
//! retries' first writes at home fail on it and find the grant where the
//! guard points, and two concurrent attempts of one key agree on one slot.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use futures_util::future::join_all;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use super::{
    key_of, live_permit, permit_of, record_position, with_values, Permit, SlotState, Stored,
};
use crate::error::StoreError;
use crate::store::expressions::{
    FREE_HOME_PERMIT, FREE_PERMIT, FREE_SLOT_UPDATE, GRANT_PERMIT, GRANT_PERMIT_KEY,
    GUARD_CONDITION, GUARD_UPDATE, MISSING_PERMIT, NEW_ITEM_CONDITION, NEW_PERMIT,
};
use crate::store::item::{
    number_attr, number_value, old_item_on_condition_failure, sort_key, string_value, Item,
    CREATED_AT, GENERATION, IDEMPOTENCY_TTL, MOVED, PERMITS, SLOT, TO, UNTIL,
};
use crate::store::quota::Slot;
use crate::store::{Grant, LockStore};
use crate::types::{LeaseTtl, SemaphoreName, Timestamp, UserId};
use lock_wire::Permits;

/// What an acquire of a permit ended in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PermitAcquired {
    /// The lease holds `permit`. Also the answer to a retry (same lease, or
    /// same key asked for the same requester, TTL and permits).
    Granted {
        /// The permit granted.
        permit: Permit,
        /// The semaphore's permits.
        permits: u8,
    },
    /// Live leases hold every permit; nothing was written.
    Held {
        /// The semaphore's permits.
        permits: u8,
        /// When the first of their leases ends.
        expires_at: Option<Timestamp>,
    },
    /// The semaphore is new and the tenant is at its quota of names.
    QuotaExceeded,
    /// The key's live grant was for another requester, TTL or permits.
    KeyReused,
    /// The semaphore has another number of permits than asked.
    PermitsMismatch {
        /// The semaphore's own.
        permits: u8,
    },
}

/// Most rounds of (one read, one write) after the first write.
const ROUNDS: usize = 3;
/// Most live guards of other keys one home slot keeps (its item stays a
/// few KB); a keyed acquire finding more is refused as if all were held.
const MAX_GUARDS: usize = 32;
/// Most lapsed guards one guard write removes.
const MAX_LAPSED_REMOVED: usize = 16;

/// One acquire of a permit.
#[derive(Clone)]
struct Ask<'a> {
    name: &'a SemaphoreName,
    permits: u8,
    grant: &'a Grant<'a>,
    ttl: LeaseTtl,
    /// The key's home slot and the name of its guard attribute.
    home: Option<(u8, String)>,
    /// The generation of the semaphore this acquire just created.
    created: Option<String>,
}

impl<'a> Ask<'a> {
    fn new(name: &'a SemaphoreName, permits: Permits, grant: &'a Grant<'a>) -> Self {
        let permits = permits.get();
        let ttl = grant.ttl.unwrap_or_else(|| {
            LeaseTtl::from_seconds(super::DEFAULT_PERMIT_TTL_SECONDS).expect("in range")
        });
        let home = grant.idempotency_key.map(|key| {
            let digest = Sha256::digest(key.as_str().as_bytes());
            let hash = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
            (
                (hash % u64::from(permits)) as u8,
                format!("{MOVED}{hash:016x}"),
            )
        });
        Self {
            name,
            permits,
            grant,
            ttl,
            home,
            created: None,
        }
    }

    fn home_slot(&self) -> Option<u8> {
        self.home.as_ref().map(|(slot, _)| *slot)
    }

    /// `condition` with `#moved` naming this key's guard.
    fn bind(&self, condition: &str) -> String {
        match &self.home {
            Some((_, guard)) => condition.replace(&format!("#{MOVED}"), &format!("#{guard}")),
            None => condition.to_owned(),
        }
    }

    /// The condition of a grant on existing slot `slot`.
    fn free_condition(&self, slot: u8) -> &'static str {
        if self.home_slot() == Some(slot) {
            FREE_HOME_PERMIT
        } else {
            FREE_PERMIT
        }
    }

    fn granted(&self, permit: Permit) -> PermitAcquired {
        PermitAcquired::Granted {
            permit,
            permits: self.permits,
        }
    }

    /// What slot item `item` (of slot `slot`) says if this acquire already
    /// holds it: granted to this lease (a retried write that landed) or to
    /// this key, for the same request or not.
    fn own(&self, item: &Item, slot: u8, now: Timestamp) -> Option<PermitAcquired> {
        let permit = live_permit(item, slot, now).ok()??;
        if permit.lease_id == *self.grant.lease {
            return Some(self.granted(permit));
        }
        let key = self.grant.idempotency_key?;
        if key_of(item) != Some(key.as_str()) {
            return None;
        }
        let same_request = permit.leased_by == *self.grant.requester
            && number_attr(item, IDEMPOTENCY_TTL).ok() == Some(self.ttl.millis())
            && number_attr(item, PERMITS).ok() == Some(u64::from(self.permits));
        Some(match same_request {
            true => self.granted(permit),
            false => PermitAcquired::KeyReused,
        })
    }

    /// This acquire's live grant on any slot of `stored`, if there is one.
    fn own_anywhere(&self, stored: &Stored, now: Timestamp) -> Option<PermitAcquired> {
        let mut slots = stored.slots.iter();
        slots.find_map(|(slot, item)| self.own(item, *slot, now))
    }

    /// A slot to grant: the key's home if it is free, else a random free one.
    fn choose(&self, stored: &Stored, now: Timestamp) -> Result<Option<u8>, StoreError> {
        let mut free = Vec::new();
        for slot in 0..self.permits {
            if matches!(
                stored.state(slot, now)?,
                SlotState::Missing | SlotState::Free
            ) {
                free.push(slot);
            }
        }
        if let Some(home) = self.home_slot().filter(|home| free.contains(home)) {
            return Ok(Some(home));
        }
        Ok((!free.is_empty()).then(|| free[fastrand::usize(..free.len())]))
    }
}

/// The guards of slot item `item`: attribute, `to`, `until`.
fn guards_of(item: &Item) -> Vec<(&str, u8, u64)> {
    let named = item.iter().filter(|(name, _)| name.starts_with(MOVED));
    named
        .filter_map(|(name, value)| guard_of(name, value))
        .collect()
}

/// One guard: attribute, `to`, `until` (`None`: not a guard).
fn guard_of<'a>(name: &'a str, value: &AttributeValue) -> Option<(&'a str, u8, u64)> {
    let entry = value.as_m().ok()?;
    let number = |field: &str| entry.get(field)?.as_n().ok()?.parse::<u64>().ok();
    let to = u8::try_from(number(TO)?).ok()?;
    Some((name, to, number(UNTIL)?))
}

impl LockStore {
    /// Grants one of `permits` permits of semaphore `name` to `grant.lease`
    /// (TTL: the grant's, else [`super::DEFAULT_PERMIT_TTL_SECONDS`]). One
    /// conditional write when the first slot tried is free; else one read
    /// and one write per round. Safe to retry, as [`LockStore::acquire`].
    pub async fn acquire_permit(
        &self,
        user: &UserId,
        name: &SemaphoreName,
        permits: Permits,
        grant: &Grant<'_>,
        now: Timestamp,
    ) -> Result<PermitAcquired, StoreError> {
        let ask = Ask::new(name, permits, grant);
        let first = ask
            .home_slot()
            .unwrap_or_else(|| fastrand::u8(..ask.permits));
        let condition = ask.free_condition(first);
        if let Some(outcome) = self.try_slot(user, &ask, first, condition, now).await? {
            return Ok(outcome);
        }
        let mut expires_at = None;
        for _ in 0..ROUNDS {
            let stored = self.read_semaphore(user, name).await?;
            if stored.record.is_none() {
                match self.create_semaphore(user, &ask, now).await? {
                    Some(outcome) => return Ok(outcome),
                    None => continue,
                }
            }
            if let Some(own) = ask.own_anywhere(&stored, now) {
                return Ok(own);
            }
            let have = stored.permits()?;
            if have != ask.permits {
                return Ok(PermitAcquired::PermitsMismatch { permits: have });
            }
            expires_at = stored.earliest_expiry(now);
            let Some(mut slot) = ask.choose(&stored, now)? else {
                break;
            };
            if ask.home_slot().is_some_and(|home| home != slot) {
                match self.guard(user, &ask, &stored, slot, now).await? {
                    Some(to) => slot = to,
                    None => break,
                }
            }
            let condition = match stored.state(slot, now)? {
                SlotState::Missing => MISSING_PERMIT,
                _ => ask.free_condition(slot),
            };
            if let Some(outcome) = self.try_slot(user, &ask, slot, condition, now).await? {
                return Ok(outcome);
            }
        }
        let permits = ask.permits;
        Ok(PermitAcquired::Held {
            permits,
            expires_at,
        })
    }

    /// One grant write: the outcome if it landed or showed this acquire's
    /// own grant, `None` if the slot was not free.
    async fn try_slot(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        slot: u8,
        condition: &str,
        now: Timestamp,
    ) -> Result<Option<PermitAcquired>, StoreError> {
        Ok(
            match self.grant_permit(user, ask, slot, condition, now).await? {
                Ok(permit) => Some(ask.granted(permit)),
                Err(Some(old)) => ask.own(&old, slot, now),
                Err(None) => None,
            },
        )
    }

    /// Grants slot `slot` under `condition`: the permit, or the item as it
    /// stood when the condition failed (`None`: not returned, or none).
    async fn grant_permit(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        slot: u8,
        condition: &str,
        now: Timestamp,
    ) -> Result<Result<Permit, Option<Item>>, StoreError> {
        let grant = ask.grant;
        let update = match grant.idempotency_key {
            Some(_) => GRANT_PERMIT_KEY,
            None => GRANT_PERMIT,
        };
        let condition = ask.bind(condition);
        let mut values = vec![
            (":permits", number_value(u64::from(ask.permits))),
            (":now", number_value(now.millis())),
            (":false", AttributeValue::Bool(false)),
            (":true", AttributeValue::Bool(true)),
            (":leaseId", string_value(grant.lease.as_str())),
            (":leasedBy", string_value(grant.requester.as_str())),
            (":expiresAt", number_value(now.millis() + ask.ttl.millis())),
            (":leaseTtl", number_value(ask.ttl.millis())),
            (
                ":tokenBase",
                number_value(now.millis().saturating_mul(1000)),
            ),
            (":one", number_value(1)),
            (":slotNumber", number_value(u64::from(slot))),
            (
                ":generation",
                string_value(ask.created.as_deref().unwrap_or("")),
            ),
        ];
        if let Some(key) = grant.idempotency_key {
            values.push((":idempotencyKey", string_value(key.as_str())));
        }
        let request = self.slot_update(user, ask.name, slot, &condition, update);
        let result = with_values(request, &[&condition, update], values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.ok_or(StoreError::NoAttributes)?;
                Ok(Ok(permit_of(&item, slot)?))
            }
            Err(failure) => Ok(Err(old_item_on_condition_failure(failure)?)),
        }
    }

    /// Points the key's guard at its home slot to `slot` (removing lapsed
    /// guards seen there): the slot to grant (where a live guard of this key
    /// already points, if it does), or `None` if the home slot takes no
    /// guard now (being deleted, or at [`MAX_GUARDS`]).
    async fn guard(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        stored: &Stored,
        slot: u8,
        now: Timestamp,
    ) -> Result<Option<u8>, StoreError> {
        let Some((home, guard)) = &ask.home else {
            return Ok(Some(slot));
        };
        let Some(item) = stored.slots.get(home) else {
            return Ok(Some(slot)); // a missing home is free: chosen before any other
        };
        let guards = guards_of(item);
        let live = |until: u64| until > now.millis();
        let seen = guards
            .iter()
            .find(|(name, _, until)| name == guard && live(*until));
        if let Some((_, to, _)) = seen {
            if *to == slot
                || matches!(
                    stored.state(*to, now)?,
                    SlotState::Free | SlotState::Missing
                )
            {
                return Ok(Some(*to));
            }
        }
        let others = guards.iter().filter(|(name, _, _)| name != guard);
        if others.clone().filter(|(_, _, until)| live(*until)).count() >= MAX_GUARDS {
            return Ok(None);
        }
        let lapsed: Vec<String> = others
            .filter(|(_, _, until)| !live(*until))
            .take(MAX_LAPSED_REMOVED)
            .map(|(name, _, _)| format!("#{name}"))
            .collect();
        let mut update = ask.bind(GUARD_UPDATE);
        if !lapsed.is_empty() {
            update = format!("{update} REMOVE {}", lapsed.join(", "));
        }
        let condition = ask.bind(GUARD_CONDITION);
        let until = now.millis() + ask.ttl.millis();
        let entry = HashMap::from([
            (TO.to_owned(), number_value(u64::from(slot))),
            (UNTIL.to_owned(), number_value(until)),
        ]);
        let seen_to = seen.map_or(slot, |(_, to, _)| *to);
        let values = vec![
            (":permits", number_value(u64::from(ask.permits))),
            (":now", number_value(now.millis())),
            (":slotNumber", number_value(u64::from(slot))),
            (":seenTo", number_value(u64::from(seen_to))),
            (":guard", AttributeValue::M(entry)),
        ];
        let request = self.slot_update(user, ask.name, *home, &condition, &update);
        let result = with_values(request, &[&condition, &update], values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failure = match result {
            Ok(_) => return Ok(Some(slot)),
            Err(failure) => failure,
        };
        // Another attempt of this key pointed it elsewhere meanwhile: go there.
        let old = old_item_on_condition_failure(failure)?;
        let pointed = old.as_ref().and_then(|old| {
            let guards = guards_of(old);
            let ours = guards
                .iter()
                .find(|(name, _, until)| name == guard && live(*until));
            ours.map(|(_, to, _)| *to)
        });
        Ok(pointed)
    }

    /// Creates semaphore `name` (its record, with an element of the quota,
    /// then every slot, `ask`'s first one granted to it): the outcome, or
    /// `None` if another acquire created it first (then read it again).
    async fn create_semaphore(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        now: Timestamp,
    ) -> Result<Option<PermitAcquired>, StoreError> {
        let element = match self.quota {
            Some(quota) => {
                let element = Slot::new(now);
                if !self.reserve_slot(user, &element, quota, now).await? {
                    return Ok(Some(PermitAcquired::QuotaExceeded));
                }
                Some(element)
            }
            None => None,
        };
        let generation = crate::types::LeaseId::generate();
        let mut record = sort_key(user, &record_position(ask.name.as_str()));
        record.insert(PERMITS.into(), number_value(u64::from(ask.permits)));
        record.insert(CREATED_AT.into(), number_value(now.millis()));
        record.insert(GENERATION.into(), string_value(generation.as_str()));
        if let Some(element) = &element {
            record.insert(SLOT.into(), element.value());
        }
        if !self.table.create(record, NEW_ITEM_CONDITION).await? {
            if let Some(element) = &element {
                self.give_back_slot(user, element).await?;
            }
            return Ok(None);
        }
        let first = ask
            .home_slot()
            .unwrap_or_else(|| fastrand::u8(..ask.permits));
        let creator = Ask {
            created: Some(generation.to_string()),
            ..ask.clone()
        };
        let granted = self
            .try_slot(user, &creator, first, NEW_PERMIT, now)
            .await?;
        let others = (0..ask.permits).filter(|slot| *slot != first);
        let writes =
            others.map(|slot| self.new_free_slot(user, ask, slot, generation.as_str(), now));
        for written in join_all(writes).await {
            written?;
        }
        Ok(granted)
    }

    /// Creates free slot `slot` of a semaphore just created (a slot taken
    /// meanwhile, by a grant that read the record, is left as it is).
    async fn new_free_slot(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        slot: u8,
        generation: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let values = vec![
            (":permits", number_value(u64::from(ask.permits))),
            (":now", number_value(now.millis())),
            (":false", AttributeValue::Bool(false)),
            (
                ":tokenBase",
                number_value(now.millis().saturating_mul(1000)),
            ),
            (":generation", string_value(generation)),
        ];
        let request = self.slot_update(user, ask.name, slot, NEW_PERMIT, FREE_SLOT_UPDATE);
        let result = with_values(request, &[NEW_PERMIT, FREE_SLOT_UPDATE], values)
            .send()
            .await;
        crate::store::item::landed(result).map(drop)
    }
}
