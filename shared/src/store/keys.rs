//! [`KeyStore`]: API keys by hash, in their own table: sign up, look up,
//! rotate (with an optional grace period, safe to retry with its
//! `Idempotency-Key`), revoke, and revoke a user's other keys (which keys
//! are a user's: `users`).

use aws_sdk_dynamodb::Client;

use super::expressions::{
    KEY_OF_USER, REGISTER_KEY_CONDITION, REVOKE_UPDATE, ROTATE_CONDITION, ROTATE_UPDATE,
};
use super::item::{
    api_key_item, attribute_names, gc_at, landed, number_value, optional_string, optional_time,
    string_attr, string_value, Item, CREATED_AT, EXPIRES_AT, REVOKED_AT, ROTATED_AT, ROTATED_TO,
    ROTATION_KEY, USER_ID,
};
use super::table::Table;
use super::users::{rotation_change, KeysChange, UserRecords, MAX_KEYS_PER_USER};
use crate::error::StoreError;
use crate::keys::{rotation_fingerprint, ApiKey, KeyHash};
use crate::schema::API_KEYS_PARTITION_KEY;
use crate::types::{IdempotencyKey, Timestamp, UserId};

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
    /// The [`rotation_fingerprint`] of the `Idempotency-Key` it was rotated with.
    pub rotation_key: Option<String>,
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
    /// The key was rotated already, and this is not a retry of that rotation
    /// (its `Idempotency-Key`, within [`ROTATION_RETRY_MILLIS`]): nothing
    /// was written, and the successor stays sealed.
    AlreadyRotated,
    /// The user has [`MAX_KEYS_PER_USER`] keys that may work: nothing was written.
    TooManyKeys,
    /// The key is unknown, another user's, or revoked: nothing was written.
    Refused,
}

/// API keys, by hash, in their own table.
#[derive(Clone, Debug)]
pub struct KeyStore {
    pub(super) table: Table,
}

impl KeyStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table.into()),
        }
    }

    /// Records a new user's first key: the key, then the user's record of keys.
    pub async fn sign_up(
        &self,
        key: &KeyHash,
        user: &UserId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.register(key, user, now).await?;
        let change = KeysChange {
            set: vec![(key, None)],
            remove: Vec::new(),
        };
        self.users()
            .apply(user, &Default::default(), change, now)
            .await
    }

    /// Which keys of `user` may still work (its record, read strongly consistently).
    pub async fn keys_of(&self, user: &UserId) -> Result<super::users::UserKeys, StoreError> {
        self.users().read(user).await
    }

    pub(super) fn users(&self) -> UserRecords<'_> {
        UserRecords { table: &self.table }
    }

    /// Records that `key` belongs to `user`; never overwrites an existing key.
    pub async fn register(
        &self,
        key: &KeyHash,
        user: &UserId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.table
            .put()
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
        let output = self.table.get(api_key_item(key.as_str())).send().await?;
        output.item.as_ref().map(record_from_item).transpose()
    }

    /// Replaces `old` (a key of `user`) by a new key; `old` keeps working
    /// for `grace_millis`. A key is rotated once: a retry with the same
    /// `idempotency_key` within [`ROTATION_RETRY_MILLIS`] answers with the
    /// same new key (read back from the successor sealed with `old`); any
    /// other call is [`Rotated::AlreadyRotated`]. Five calls (read the key and
    /// the user's record, put the new key, add it to the record, mark the
    /// old one); a retry one. A crash before the last leaves an unused key
    /// nobody knows, which revoking the others also revokes.
    pub async fn rotate(
        &self,
        old: &ApiKey,
        user: &UserId,
        grace_millis: u64,
        idempotency_key: Option<&IdempotencyKey>,
        now: Timestamp,
    ) -> Result<Rotated, StoreError> {
        let fingerprint = idempotency_key.map(|key| rotation_fingerprint(key.as_str()));
        let Some(record) = self.record(&old.hash()).await? else {
            return Ok(Rotated::Refused);
        };
        if record.user != *user || record.revoked {
            return Ok(Rotated::Refused);
        }
        if record.rotation.is_some() {
            return Ok(retried_rotation(old, &record, fingerprint.as_deref(), now));
        }
        let known = self.users().read(user).await?;
        let (old_hash, new) = (old.hash(), ApiKey::generate());
        let others = known.working(now).filter(|hash| *hash != old_hash.as_str());
        if others.count() + 2 > MAX_KEYS_PER_USER {
            return Ok(Rotated::TooManyKeys);
        }
        let new_hash = new.hash();
        self.register(&new_hash, user, now).await?;
        let expires_at = now.plus_millis(grace_millis);
        let change = rotation_change(&known, &old_hash, &new_hash, expires_at, now);
        self.users().apply(user, &known, change, now).await?;
        let sealed = old.seal_successor(&new);
        if self
            .mark_rotated(old, &sealed, expires_at, fingerprint.as_deref(), now)
            .await?
        {
            return Ok(Rotated::To {
                key: new,
                old_key_expires_at: expires_at,
            });
        }
        // A concurrent rotation (or a revocation) of `old` won: its answer stands.
        self.delete(&new_hash).await?;
        let forget = KeysChange {
            set: Vec::new(),
            remove: vec![new_hash.as_str().to_owned()],
        };
        self.users().apply(user, &known, forget, now).await?;
        Ok(match self.record(&old.hash()).await? {
            Some(record) if record.rotation.is_some() && !record.revoked => {
                retried_rotation(old, &record, fingerprint.as_deref(), now)
            }
            _ => Rotated::Refused,
        })
    }

    async fn mark_rotated(
        &self,
        old: &ApiKey,
        sealed: &str,
        expires_at: Timestamp,
        fingerprint: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // Without an Idempotency-Key nothing can match it: no retry gets the key back.
        let fingerprint = fingerprint.unwrap_or("none");
        let result = self
            .table
            .update(api_key_item(old.hash().as_str()))
            .condition_expression(ROTATE_CONDITION)
            .update_expression(ROTATE_UPDATE)
            .set_expression_attribute_names(Some(attribute_names(&[
                ROTATE_CONDITION,
                ROTATE_UPDATE,
            ])))
            .expression_attribute_values(":rotatedTo", string_value(sealed))
            .expression_attribute_values(":now", number_value(now.millis()))
            .expression_attribute_values(":expiresAt", number_value(expires_at.millis()))
            .expression_attribute_values(":rotationKey", string_value(fingerprint))
            .expression_attribute_values(
                ":gcAt",
                gc_at(expires_at.plus_millis(ROTATION_RETRY_MILLIS)),
            )
            .send()
            .await;
        landed(result)
    }

    /// Revokes `key` of `user` (it stops working once the authorizer's
    /// cache for it expires) and takes it out of the user's record; `false`
    /// if there is no such key of that user. Safe to repeat.
    pub async fn revoke(
        &self,
        key: &KeyHash,
        user: &UserId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .table
            .update(api_key_item(key.as_str()))
            .condition_expression(KEY_OF_USER)
            .update_expression(REVOKE_UPDATE)
            .set_expression_attribute_names(Some(attribute_names(&[KEY_OF_USER, REVOKE_UPDATE])))
            .expression_attribute_values(":userId", string_value(user.as_str()))
            .expression_attribute_values(":now", number_value(now.millis()))
            .expression_attribute_values(":gcAt", gc_at(now))
            .send()
            .await;
        if !landed(result)? {
            return Ok(false);
        }
        let change = KeysChange {
            set: Vec::new(),
            remove: vec![key.as_str().to_owned()],
        };
        let known = super::users::UserKeys {
            exists: true,
            ..Default::default()
        };
        self.users().apply(user, &known, change, now).await?;
        Ok(true)
    }

    async fn delete(&self, key: &KeyHash) -> Result<(), StoreError> {
        self.table.delete(api_key_item(key.as_str())).send().await?;
        Ok(())
    }
}

/// The answer to a rotation of `old` that already happened: its new key if
/// this is a retry of it (the same `Idempotency-Key` fingerprint, within
/// [`ROTATION_RETRY_MILLIS`] of the rotation), [`Rotated::AlreadyRotated`] otherwise.
fn retried_rotation(
    old: &ApiKey,
    record: &KeyRecord,
    fingerprint: Option<&str>,
    now: Timestamp,
) -> Rotated {
    let retry = fingerprint.is_some() && fingerprint == record.rotation_key.as_deref();
    let successor = match (&record.rotation, record.expires_at) {
        (Some((at, sealed)), Some(expires_at))
            if retry && at.plus_millis(ROTATION_RETRY_MILLIS) > now =>
        {
            old.open_successor(sealed).map(|key| Rotated::To {
                key,
                old_key_expires_at: expires_at,
            })
        }
        _ => None,
    };
    successor.unwrap_or(Rotated::AlreadyRotated)
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
        rotation_key: optional_string(item, ROTATION_KEY).map(str::to_owned),
    })
}
