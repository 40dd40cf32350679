//! Which keys are a user's, and revoking all but the caller's: one record
//! per user in the key table, read strongly consistently (a GSI would be
//! eventually consistent, and a revocation must not miss a key created a
//! moment ago).
//!
//! The record sits under the partition key `user#<userId>`, which no key
//! hash can be (hashes are hex), and maps each key hash of the user that may
//! still work to when it stops (`0`: not before it is revoked). Sign-up and rotation
//! add to it; revocations take out; a rotation also drops the keys that
//! stopped working more than [`ROTATION_RETRY_MILLIS`] ago, so it holds at
//! most [`MAX_KEYS_PER_USER`] entries.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::expressions::{
    KEY_EXISTS, REGISTER_KEY_CONDITION, REVOKE_OTHER_CONDITION, REVOKE_UPDATE,
};
use super::item::{
    api_key_item, attribute_names, gc_at, landed, number_value, string_value, Item, USER_ID,
};
use super::keys::{KeyStore, ROTATION_RETRY_MILLIS};
use super::table::Table;
use crate::error::StoreError;
use crate::keys::KeyHash;
use crate::schema::API_KEYS_PARTITION_KEY;
use crate::types::{Timestamp, UserId};

/// Most keys of one user that may work at once (live, in a rotation's
/// grace, or retrying a rotation): a rotation beyond it is refused.
pub const MAX_KEYS_PER_USER: usize = 20;
/// The record's map of key hash → when the key stops working.
const KEYS: &str = "keys";

/// What revoking a user's other keys ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokedOthers {
    /// This many keys that could still work were revoked (0 on a retry).
    Revoked(u64),
    /// The calling key was rotated: a rotated key cannot revoke the others.
    CallerRotated,
    /// The calling key is unknown, another user's, or revoked.
    Refused,
}

/// The keys of one user that may still work, and when each stops (`None`:
/// not before it is revoked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserKeys {
    /// Whether the record exists (users from before records have none).
    pub(super) exists: bool,
    /// Key hash → when the key stops working.
    pub(super) keys: HashMap<String, Option<Timestamp>>,
}

impl UserKeys {
    /// The keys that may still do something at `now` (in the retry window included).
    pub fn working(&self, now: Timestamp) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(move |(_, end)| end.is_none_or(|end| still_counts(end, now)))
            .map(|(hash, _)| hash.as_str())
    }

    /// The keys that stopped working for good before `now`.
    fn dead(&self, now: Timestamp) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(move |(_, end)| end.is_some_and(|end| !still_counts(end, now)))
            .map(|(hash, _)| hash.as_str())
    }
}

fn still_counts(end: Timestamp, now: Timestamp) -> bool {
    end.plus_millis(ROTATION_RETRY_MILLIS) > now
}

/// The partition key of `user`'s record.
fn record_key(user: &UserId) -> String {
    format!("user#{user}")
}

/// A change to a user's record: keys to set (with when they stop) and keys to take out.
#[derive(Default)]
pub(super) struct KeysChange<'a> {
    pub(super) set: Vec<(&'a KeyHash, Option<Timestamp>)>,
    pub(super) remove: Vec<String>,
}

/// One user's record in the key table.
pub(super) struct UserRecords<'a> {
    pub(super) table: &'a Table,
}

impl UserRecords<'_> {
    /// `user`'s keys, as stored now (a strongly consistent read).
    pub(super) async fn read(&self, user: &UserId) -> Result<UserKeys, StoreError> {
        let output = self
            .table
            .get(api_key_item(&record_key(user)))
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(UserKeys::default());
        };
        let keys = item.get(KEYS).and_then(|v| v.as_m().ok());
        let keys = keys
            .into_iter()
            .flatten()
            .map(|(hash, end)| {
                let end = end.as_n().ok().and_then(|n| n.parse::<u64>().ok());
                let end = end.filter(|millis| *millis > 0).map(Timestamp::from_millis);
                (hash.clone(), end)
            })
            .collect();
        Ok(UserKeys { exists: true, keys })
    }

    /// Applies `change` to `user`'s record, creating the record if `known`
    /// says it does not exist yet. Every entry of one change is distinct.
    pub(super) async fn apply(
        &self,
        user: &UserId,
        known: &UserKeys,
        change: KeysChange<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if !known.exists && self.create(user, &change, now).await? {
            return Ok(());
        }
        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        let mut names = attribute_names(&[KEY_EXISTS]);
        names.insert(format!("#{KEYS}"), KEYS.to_owned());
        let mut request = self.table.update(api_key_item(&record_key(user)));
        for (n, (hash, end)) in change.set.iter().enumerate() {
            names.insert(format!("#k{n}"), hash.as_str().to_owned());
            sets.push(format!("#{KEYS}.#k{n} = :k{n}"));
            request = request.expression_attribute_values(format!(":k{n}"), end_value(*end));
        }
        for (n, hash) in change.remove.iter().enumerate() {
            names.insert(format!("#r{n}"), hash.clone());
            removes.push(format!("#{KEYS}.#r{n}"));
        }
        let mut update = Vec::new();
        if !sets.is_empty() {
            update.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            update.push(format!("REMOVE {}", removes.join(", ")));
        }
        if update.is_empty() {
            return Ok(());
        }
        let result = request
            .condition_expression(KEY_EXISTS)
            .update_expression(update.join(" "))
            .set_expression_attribute_names(Some(names))
            .send()
            .await;
        // Not landed: the record does not exist (a user from before records
        // whose first change takes nothing out), so there is nothing to change.
        landed(result).map(drop)
    }

    /// Creates `user`'s record with the keys `change` sets; `false` if it
    /// exists already (a concurrent change created it).
    async fn create(
        &self,
        user: &UserId,
        change: &KeysChange<'_>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let keys: HashMap<String, AttributeValue> = change
            .set
            .iter()
            .map(|(hash, end)| (hash.as_str().to_owned(), end_value(*end)))
            .collect();
        let mut record = Item::new();
        record.insert(
            API_KEYS_PARTITION_KEY.into(),
            string_value(&record_key(user)),
        );
        record.insert(USER_ID.into(), string_value(user.as_str()));
        record.insert(super::item::CREATED_AT.into(), number_value(now.millis()));
        record.insert(KEYS.into(), AttributeValue::M(keys));
        self.table.create(record, REGISTER_KEY_CONDITION).await
    }
}

impl KeyStore {
    /// Revokes every key of `user` but `caller` that could still work, and
    /// takes them out of the user's record. Refused if `caller` was rotated
    /// (whoever holds an old key must not lock out the holder of the new one).
    pub async fn revoke_others(
        &self,
        caller: &KeyHash,
        user: &UserId,
        now: Timestamp,
    ) -> Result<RevokedOthers, StoreError> {
        let Some(record) = self.record(caller).await? else {
            return Ok(RevokedOthers::Refused);
        };
        if record.user != *user || record.revoked {
            return Ok(RevokedOthers::Refused);
        }
        if record.rotation.is_some() {
            return Ok(RevokedOthers::CallerRotated);
        }
        let known = self.users().read(user).await?;
        let others: Vec<String> = known
            .keys
            .keys()
            .filter(|hash| *hash != caller.as_str())
            .cloned()
            .collect();
        let mut revoked = 0;
        for hash in &others {
            let result = self
                .table
                .update(api_key_item(hash))
                .condition_expression(REVOKE_OTHER_CONDITION)
                .update_expression(REVOKE_UPDATE)
                .set_expression_attribute_names(Some(attribute_names(&[
                    REVOKE_OTHER_CONDITION,
                    REVOKE_UPDATE,
                ])))
                .expression_attribute_values(":userId", string_value(user.as_str()))
                .expression_attribute_values(":now", number_value(now.millis()))
                .expression_attribute_values(
                    ":cutoff",
                    number_value(now.millis().saturating_sub(ROTATION_RETRY_MILLIS)),
                )
                .expression_attribute_values(":gcAt", gc_at(now))
                .send()
                .await;
            revoked += u64::from(landed(result)?);
        }
        let change = KeysChange {
            set: Vec::new(),
            remove: others,
        };
        self.users().apply(user, &known, change, now).await?;
        Ok(RevokedOthers::Revoked(revoked))
    }
}

/// When a key stops, as the record stores it (`0`: not before it is revoked).
fn end_value(end: Option<Timestamp>) -> AttributeValue {
    number_value(end.map_or(0, Timestamp::millis))
}

/// The change a rotation of `old` to `new` makes: `new` works until
/// revoked, `old` until `old_ends`, and the dead keys go.
pub(super) fn rotation_change<'a>(
    known: &UserKeys,
    old: &'a KeyHash,
    new: &'a KeyHash,
    old_ends: Timestamp,
    now: Timestamp,
) -> KeysChange<'a> {
    KeysChange {
        set: vec![(old, Some(old_ends)), (new, None)],
        remove: known
            .dead(now)
            .filter(|hash| *hash != old.as_str() && *hash != new.as_str())
            .map(str::to_owned)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_count_until_the_retry_window_after_they_stop() {
        let now = Timestamp::from_millis(10_000_000);
        let known = UserKeys {
            exists: true,
            keys: HashMap::from([
                ("live".to_owned(), None),
                ("grace".to_owned(), Some(now.plus_millis(1))),
                (
                    "retrying".to_owned(),
                    Some(Timestamp::from_millis(now.millis() - 1)),
                ),
                (
                    "dead".to_owned(),
                    Some(Timestamp::from_millis(now.millis() - ROTATION_RETRY_MILLIS)),
                ),
            ]),
        };
        let mut working: Vec<_> = known.working(now).collect();
        working.sort();
        assert_eq!(working, ["grace", "live", "retrying"]);
        assert_eq!(known.dead(now).collect::<Vec<_>>(), ["dead"]);
    }
}
