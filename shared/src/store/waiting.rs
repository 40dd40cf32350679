//! Places for waiting acquires: at most a set number of one tenant's
//! acquires wait at once, without transactions.
//!
//! A waiting item in the tenant's own partition (sort key [`WAITING_KEY`],
//! which no lock name can be) has one attribute per place, `p0`, `p1`, …,
//! each `{until, owner}` while taken. A place is taken by one conditional
//! write ("empty, or lapsed": `until` is past) and given back by its owner
//! ("still mine"). A waiter that dies mid-wait never gives its place back;
//! the place lapses at `until`, the end of its wait plus a margin.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;

use super::expressions::{
    GIVE_BACK_PLACE_CONDITION, GIVE_BACK_PLACE_UPDATE, TAKE_PLACE_CONDITION, TAKE_PLACE_UPDATE,
};
use super::item::{
    attribute_names, landed, number_value, old_item_on_condition_failure, sort_key, string_value,
    Item, OWNER, PLACE, UNTIL,
};
use super::LockStore;
use crate::error::StoreError;
use crate::metrics::{self, Metric};
use crate::types::{Timestamp, UserId};

/// Sort key of a tenant's waiting item: before every lock name.
pub const WAITING_KEY: &str = "\u{1}waiting";
/// Most places one tenant may be given (the waiting item stays a few KB).
pub const MAX_PLACES: u32 = 100;
/// Most writes one attempt at a place makes before answering "full".
const TAKE_ATTEMPTS: usize = 4;

/// What asking for a waiting place ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Place number `0` is this waiter's until it gives it back.
    Taken(u32),
    /// Every place is taken; the first of them lapses at `next_lapse`.
    Full {
        /// When the earliest taken place lapses, at the latest.
        next_lapse: Timestamp,
    },
}

impl LockStore {
    /// Takes one of `places` waiting places of `user` for `owner` until
    /// `until` (a place lapsed at `now` counts as free): one write when a
    /// place is free, a few more when waiters race for the last ones.
    pub async fn take_waiting_place(
        &self,
        user: &UserId,
        places: u32,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Place, StoreError> {
        let places = places.clamp(1, MAX_PLACES);
        // A random first place, so concurrent waiters rarely collide.
        let mut place = fastrand::u32(..places);
        for _ in 0..TAKE_ATTEMPTS {
            let entry = HashMap::from([
                (UNTIL.to_owned(), number_value(until.millis())),
                (OWNER.to_owned(), string_value(owner)),
            ]);
            let result = self
                .place_update(user, place, TAKE_PLACE_CONDITION, TAKE_PLACE_UPDATE)
                .expression_attribute_values(":entry", AttributeValue::M(entry))
                .expression_attribute_values(":now", number_value(now.millis()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let failure = match result {
                Ok(_) => return Ok(Place::Taken(place)),
                Err(failure) => failure,
            };
            let waiting = match old_item_on_condition_failure(failure)? {
                Some(item) => item,
                None => self
                    .read_item_at(user, WAITING_KEY)
                    .await?
                    .unwrap_or_default(),
            };
            let (free, next_lapse) = free_places(&waiting, places, now);
            match free.get(place as usize % free.len().max(1)) {
                Some(&next) => {
                    metrics::count(Metric::ConditionRetry);
                    place = next;
                }
                None => return Ok(Place::Full { next_lapse }),
            }
        }
        let waiting = self.read_item_at(user, WAITING_KEY).await?;
        let (_, next_lapse) = free_places(&waiting.unwrap_or_default(), places, now);
        Ok(Place::Full { next_lapse })
    }

    /// Gives back place `place` of `user` if `owner` still has it.
    pub async fn give_back_waiting_place(
        &self,
        user: &UserId,
        place: u32,
        owner: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .place_update(
                user,
                place,
                GIVE_BACK_PLACE_CONDITION,
                GIVE_BACK_PLACE_UPDATE,
            )
            .expression_attribute_values(":owner", string_value(owner))
            .send()
            .await;
        // Not landed: it lapsed, and another waiter may have it now.
        landed(result).map(drop)
    }

    /// A conditional update of place `place` of `user`'s waiting item.
    fn place_update(
        &self,
        user: &UserId,
        place: u32,
        condition: &str,
        update: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let mut names = attribute_names(&[condition, update]);
        names.insert(format!("#{PLACE}"), place_attribute(place));
        self.table
            .update(sort_key(user, WAITING_KEY))
            .condition_expression(condition)
            .update_expression(update)
            .set_expression_attribute_names(Some(names))
    }
}

/// The attribute of place `place`.
fn place_attribute(place: u32) -> String {
    format!("p{place}")
}

/// The places of `waiting` (of `places`) that are free at `now`, and when
/// the earliest taken one lapses (`now` + 1 s if none is taken, which only
/// a concurrent give-back can cause).
fn free_places(waiting: &Item, places: u32, now: Timestamp) -> (Vec<u32>, Timestamp) {
    let mut free = Vec::new();
    let mut next_lapse: Option<u64> = None;
    for place in 0..places {
        let until = waiting
            .get(&place_attribute(place))
            .and_then(|entry| entry.as_m().ok())
            .and_then(|entry| entry.get(UNTIL)?.as_n().ok()?.parse::<u64>().ok());
        match until {
            Some(until) if until >= now.millis() => {
                next_lapse = Some(next_lapse.map_or(until, |next| next.min(until)));
            }
            _ => free.push(place),
        }
    }
    let next_lapse = next_lapse.unwrap_or(now.millis() + 1000);
    (free, Timestamp::from_millis(next_lapse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lapsed_and_empty_places_are_free_and_the_earliest_lapse_is_known() {
        let now = Timestamp::from_millis(10_000);
        let entry = |until: u64| {
            AttributeValue::M(HashMap::from([
                (UNTIL.to_owned(), number_value(until)),
                (OWNER.to_owned(), string_value("w")),
            ]))
        };
        let waiting = HashMap::from([
            ("p0".to_owned(), entry(12_000)),
            ("p1".to_owned(), entry(9_999)),
            ("p3".to_owned(), entry(11_000)),
            ("p7".to_owned(), entry(1)), // beyond the places in use
        ]);
        let (free, next) = free_places(&waiting, 4, now);
        assert_eq!(free, vec![1, 2]);
        assert_eq!(next.millis(), 11_000);
        let (free, _) = free_places(&HashMap::new(), 2, now);
        assert_eq!(free, vec![0, 1]);
    }

    #[test]
    fn the_waiting_item_sorts_before_every_lock_name() {
        assert!(WAITING_KEY < super::super::quota::FIRST_LOCK_NAME);
        assert!(crate::types::LockName::parse(WAITING_KEY).is_err());
    }
}
