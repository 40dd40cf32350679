//! [`KeyStore`]: API keys by hash, in their own table: register, look up,
//! rotate (with an optional grace period, safe to retry) and revoke.

use aws_sdk_dynamodb::Client;

use super::expressions::{
    KEY_EXISTS, REGISTER_KEY_CONDITION, REVOKE_UPDATE, ROTATE_CONDITION, ROTATE_UPDATE,
};
use super::item::{
    attribute_names, landed, number_value, optional_string, optional_time, string_attr,
    string_value, Item, CREATED_AT, EXPIRES_AT, REVOKED_AT, ROTATED_AT, ROTATED_TO, USER_ID,
};
use crate::error::StoreError;
use crate::keys::{ApiKey, KeyHash};
use crate::schema::API_KEYS_PARTITION_KEY;
use crate::types::{Timestamp, UserId};

/// How long after a rotation the old key may still call the rotate route
/// (and only it), so that a rotation retried after a lost answer gets the
/// same new key back instead of a 401 that would lock the user out.
pub const ROTATION_RETRY_MILLIS: u64 = 15 * 60 * 1000;

/// An API key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key's owner.
    pub user: UserId,
    /// When the key stops working (set when it is rotated).
    pub expires_at: Option<Timestamp>,
    /// Whether the key was revoked.
    pub revoked: bool,
    /// When the key was rotated, and its successor sealed with it.
    pub rotation: Option<(Timestamp, String)>,
}

/// What a key may do at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStanding {
    /// Everything: the key is live.
    Live,
    /// Only retry its rotation: rotated less than [`ROTATION_RETRY_MILLIS`]
    /// ago and no longer live.
    RotationRetry,
    /// Nothing: revoked, or expired and past the retry window.
    Dead,
}

impl KeyRecord {
    /// What the key may do at `now`.
    pub fn standing(&self, now: Timestamp) -> KeyStanding {
        if self.revoked {
            return KeyStanding::Dead;
        }
        if self.expires_at.is_none_or(|end| end > now) {
            return KeyStanding::Live;
        }
        match self.rotation {
            Some((at, _)) if at.plus_millis(ROTATION_RETRY_MILLIS) > now => {
                KeyStanding::RotationRetry
            }
            _ => KeyStanding::Dead,
        }
    }
}

/// What a rotation ended in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotated {
    /// The new key (the same one on a retry), and when the old key stops working.
    To {
        /// The new key, shown to the caller.
        key: ApiKey,
        /// When the old key stops working.
        old_key_expires_at: Timestamp,
    },
    /// The key is unknown, another user's, or revoked: nothing was written.
    Refused,
}

/// API keys, by hash, in their own table.
#[derive(Clone, Debug)]
pub struct KeyStore {
    client: Client,
    table: String,
}

impl KeyStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Records that `key` belongs to `user`; never overwrites an existing key.
    pub async fn register(
        &self,
        key: &KeyHash,
        user: &UserId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(API_KEYS_PARTITION_KEY, string_value(key.as_str()))
            .item(USER_ID, string_value(user.as_str()))
            .item(CREATED_AT, number_value(now.millis()))
            .condition_expression(REGISTER_KEY_CONDITION)
            .set_expression_attribute_names(Some(attribute_names(&[REGISTER_KEY_CONDITION])))
            .send()
            .await?;
        Ok(())
    }

    /// The stored record of `key`, if any (a strongly consistent read).
    pub async fn record(&self, key: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(API_KEYS_PARTITION_KEY, string_value(key.as_str()))
            .consistent_read(true)
            .send()
            .await?;
        output.item.as_ref().map(record_from_item).transpose()
    }

    /// Replaces `old` (a key of `user`) by a new key; `old` keeps working
    /// for `grace_millis`. Safe to retry: a key already rotated answers with
    /// the same new key, read back from the successor sealed with `old`.
    /// Three calls (read, put the new key, mark the old one); a crash
    /// between the last two leaves an unused new key nobody knows.
    pub async fn rotate(
        &self,
        old: &ApiKey,
        user: &UserId,
        grace_millis: u64,
        now: Timestamp,
    ) -> Result<Rotated, StoreError> {
        let Some(record) = self.record(&old.hash()).await? else {
            return Ok(Rotated::Refused);
        };
        if record.user != *user || record.revoked {
            return Ok(Rotated::Refused);
        }
        if let Some(rotated) = successor_of(old, &record) {
            return Ok(rotated);
        }
        let new = ApiKey::generate();
        self.register(&new.hash(), user, now).await?;
        let expires_at = now.plus_millis(grace_millis);
        let sealed = old.seal_successor(&new);
        if self.mark_rotated(old, &sealed, expires_at, now).await? {
            return Ok(Rotated::To {
                key: new,
                old_key_expires_at: expires_at,
            });
        }
        // A concurrent rotation (or a revocation) of `old` won: its answer stands.
        self.delete(&new.hash()).await?;
        let record = self.record(&old.hash()).await?;
        Ok(record
            .and_then(|record| successor_of(old, &record))
            .unwrap_or(Rotated::Refused))
    }

    async fn mark_rotated(
        &self,
        old: &ApiKey,
        sealed: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(API_KEYS_PARTITION_KEY, string_value(old.hash().as_str()))
            .condition_expression(ROTATE_CONDITION)
            .update_expression(ROTATE_UPDATE)
            .set_expression_attribute_names(Some(attribute_names(&[
                ROTATE_CONDITION,
                ROTATE_UPDATE,
            ])))
            .expression_attribute_values(":rotatedTo", string_value(sealed))
            .expression_attribute_values(":now", number_value(now.millis()))
            .expression_attribute_values(":expiresAt", number_value(expires_at.millis()))
            .send()
            .await;
        landed(result)
    }

    /// Revokes `key` (it stops working once the authorizer's cache for it
    /// expires); `false` if there is no such key. Safe to repeat.
    pub async fn revoke(&self, key: &KeyHash, now: Timestamp) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(API_KEYS_PARTITION_KEY, string_value(key.as_str()))
            .condition_expression(KEY_EXISTS)
            .update_expression(REVOKE_UPDATE)
            .set_expression_attribute_names(Some(attribute_names(&[KEY_EXISTS, REVOKE_UPDATE])))
            .expression_attribute_values(":now", number_value(now.millis()))
            .send()
            .await;
        landed(result)
    }

    async fn delete(&self, key: &KeyHash) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(API_KEYS_PARTITION_KEY, string_value(key.as_str()))
            .send()
            .await?;
        Ok(())
    }
}

/// The answer to a rotation of `old` that already happened, if it did.
fn successor_of(old: &ApiKey, record: &KeyRecord) -> Option<Rotated> {
    let (_, sealed) = record.rotation.as_ref()?;
    Some(Rotated::To {
        key: old.open_successor(sealed)?,
        old_key_expires_at: record.expires_at?,
    })
}

fn record_from_item(item: &Item) -> Result<KeyRecord, StoreError> {
    let user = UserId::parse(string_attr(item, USER_ID)?)
        .map_err(|_| StoreError::MalformedItem(USER_ID))?;
    let rotation = match (
        optional_time(item, ROTATED_AT)?,
        optional_string(item, ROTATED_TO),
    ) {
        (Some(at), Some(sealed)) => Some((at, sealed.to_owned())),
        _ => None,
    };
    Ok(KeyRecord {
        user,
        expires_at: optional_time(item, EXPIRES_AT)?,
        revoked: optional_time(item, REVOKED_AT)?.is_some(),
        rotation,
    })
}
