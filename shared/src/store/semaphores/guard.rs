//! A keyed acquire's guard on its home slot: set (or moved) before its grant
//! goes to another slot, so that its retries, which try the home first,
//! fail there and find the grant where the guard points, and two attempts
//! of one key in flight agree on one slot.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::ask::{guards_of, Ask};
use super::{key_of, live_permit, with_values, SlotState, Stored};
use crate::error::StoreError;
use crate::store::expressions::{GUARD_CONDITION, GUARD_UPDATE};
use crate::store::item::{
    number_value, old_item_on_condition_failure, string_value, Item, TO, UNTIL,
};
use crate::store::LockStore;
use crate::types::{Timestamp, UserId};

/// Most live guards of other keys one home slot keeps (its item stays a
/// few KB); a keyed acquire finding more is refused as if all were held.
const MAX_GUARDS: usize = 32;
/// Most lapsed guards one guard write removes.
const MAX_LAPSED_REMOVED: usize = 16;

/// Where a keyed acquire's grant goes after its guard step.
pub(super) enum Guarded {
    /// To this slot.
    At(u8),
    /// Nowhere yet: read the semaphore again.
    Again,
    /// Nowhere: the home slot takes no guard now (being deleted, or full
    /// of other keys' guards).
    Refused,
}

impl LockStore {
    /// Points the key's guard on its home slot at `slot` (removing lapsed
    /// guards seen there), unless a live one already points at a free slot.
    pub(super) async fn guard(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        stored: &Stored,
        slot: u8,
        now: Timestamp,
    ) -> Result<Guarded, StoreError> {
        let Some((home, _)) = &ask.home else {
            return Ok(Guarded::At(slot));
        };
        let Some(item) = stored.slots.get(home) else {
            return Ok(Guarded::At(slot)); // a missing home holds no guard
        };
        if matches!(stored.state(*home, now)?, SlotState::Closed) {
            return Ok(Guarded::Refused);
        }
        let seen = ask.guard_on_home(stored, now).map(|(to, _)| to);
        if seen == Some(slot) {
            return Ok(Guarded::At(slot));
        }
        let Some(update) = guard_update(ask, item, seen.is_some(), now) else {
            return Ok(Guarded::Refused);
        };
        let condition = ask.bind(GUARD_CONDITION);
        let values = guard_values(ask, slot, seen, now);
        let request = self.slot_update(user, ask.name, *home, &condition, &update);
        let result = with_values(request, &[&condition, &update], values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Guarded::At(slot)),
            Err(failure) => {
                let old = old_item_on_condition_failure(failure)?;
                Ok(old.map_or(Guarded::Again, |old| {
                    after_refused_guard(ask, *home, &old, now)
                }))
            }
        }
    }
}

/// The guard write's update for home slot item `item`, removing the lapsed
/// guards of other keys it shows; `None` if a new guard would be one too
/// many (`replacing`: this key's live guard is being moved, not added).
fn guard_update(ask: &Ask<'_>, item: &Item, replacing: bool, now: Timestamp) -> Option<String> {
    let guard = ask.home.as_ref().map(|(_, guard)| guard.as_str());
    let live = |until: u64| until > now.millis();
    let others: Vec<_> = guards_of(item)
        .into_iter()
        .filter(|(name, _, _)| Some(*name) != guard)
        .collect();
    if !replacing && others.iter().filter(|(_, _, until)| live(*until)).count() >= MAX_GUARDS {
        return None;
    }
    let lapsed: Vec<String> = others
        .iter()
        .filter(|(_, _, until)| !live(*until))
        .take(MAX_LAPSED_REMOVED)
        .map(|(name, _, _)| format!("#{name}"))
        .collect();
    let update = ask.bind(GUARD_UPDATE);
    Some(match lapsed.is_empty() {
        true => update,
        false => format!("{update} REMOVE {}", lapsed.join(", ")),
    })
}

/// The guard write's values: the guard `{to: slot, until}`, where it was
/// `seen` pointing, and what its condition compares.
fn guard_values(
    ask: &Ask<'_>,
    slot: u8,
    seen: Option<u8>,
    now: Timestamp,
) -> Vec<(&'static str, AttributeValue)> {
    let until = now.millis() + ask.ttl.millis();
    let entry = HashMap::from([
        (TO.to_owned(), number_value(u64::from(slot))),
        (UNTIL.to_owned(), number_value(until)),
    ]);
    let key = ask.grant.idempotency_key.map_or("", |key| key.as_str());
    vec![
        (":permits", number_value(u64::from(ask.permits))),
        (":now", number_value(now.millis())),
        (":true", AttributeValue::Bool(true)),
        (":idempotencyKey", string_value(key)),
        (":slotNumber", number_value(u64::from(slot))),
        (":seenTo", number_value(u64::from(seen.unwrap_or(slot)))),
        (":guard", AttributeValue::M(entry)),
    ]
}

/// Where to go after the guard's condition failed on home slot item `old`:
/// home, if this key holds it (its grant is found there); where another
/// attempt of this key pointed the guard; else read again.
fn after_refused_guard(ask: &Ask<'_>, home: u8, old: &Item, now: Timestamp) -> Guarded {
    let key = ask.grant.idempotency_key.map(|key| key.as_str());
    let held = live_permit(old, home, now).ok().flatten().is_some();
    if held && key.is_some() && key_of(old) == key {
        return Guarded::At(home);
    }
    let Some((_, guard)) = &ask.home else {
        return Guarded::Again;
    };
    let guards = guards_of(old);
    let ours = guards
        .iter()
        .find(|(name, _, until)| name == guard && *until > now.millis());
    ours.map_or(Guarded::Again, |(_, to, _)| Guarded::At(*to))
}
