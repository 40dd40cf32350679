//! The DynamoDB store. Acquire and release are each one conditional write;
//! a lost race is an outcome, not an error.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::keys::KeyHash;
use crate::schema::{API_KEYS_PARTITION_KEY, LOCKS_PARTITION_KEY, LOCKS_SORT_KEY};
use crate::types::{LeaseId, Lock, LockName, Requester, Timestamp, UserId};

type Item = HashMap<String, AttributeValue>;

// Lock item attributes besides the key.
const LOCKED: &str = "locked";
const LEASE_ID: &str = "leaseId";
const LEASED_BY: &str = "leasedBy";
const CREATED_AT: &str = "createdAt";
const UPDATED_AT: &str = "updatedAt";
const FENCING_TOKEN: &str = "fencingToken";
// API-key item attributes besides the key.
const USER_ID: &str = "userId";

/// Grant only if the lock was never created or is free.
const ACQUIRE_CONDITION: &str = "attribute_not_exists(#lockName) OR #locked = :false";
/// Take the lock for the new lease; the first grant also sets `createdAt`.
const ACQUIRE_UPDATE: &str = "SET #locked = :true, #leaseId = :leaseId, #leasedBy = :leasedBy, \
     #updatedAt = :now, #createdAt = if_not_exists(#createdAt, :now) ADD #fencingToken :one";
/// Release only the live lease.
const RELEASE_CONDITION: &str = "#leaseId = :leaseId AND #locked = :true";
const RELEASE_UPDATE: &str = "SET #locked = :false, #updatedAt = :now";
/// Never overwrite a stored key.
const REGISTER_KEY_CONDITION: &str = "attribute_not_exists(#keyHash)";

/// What an acquire ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease holds the lock; the lock as it now stands.
    Granted(Lock),
    /// Another lease holds the lock; nothing was written.
    Held,
}

/// What a release ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The lease no longer holds the lock (now, or already before a retry).
    Released,
    /// The lease is not the lock's current one; nothing was written.
    NotHolder,
    /// No lock of that name exists for the user.
    NotFound,
}

/// Locks of every tenant, in the table keyed by (userId, lockName).
#[derive(Clone, Debug)]
pub struct LockStore {
    client: Client,
    table: String,
    page_size: Option<i32>,
}

impl LockStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page_size: None,
        }
    }

    /// Limits how many items each `Query` page of [`LockStore::list`] holds
    /// (default: DynamoDB's 1 MB pages).
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items);
        self
    }

    /// Grants `name` to `lease` if the lock is free or new, in one conditional
    /// write. Safe to retry with the same `lease`: a write that already
    /// succeeded is recognised from the old item and reported as granted.
    pub async fn acquire(
        &self,
        user: &UserId,
        name: &LockName,
        requester: &Requester,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Result<Acquired, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(user, name)))
            .condition_expression(ACQUIRE_CONDITION)
            .update_expression(ACQUIRE_UPDATE)
            .expression_attribute_names("#lockName", LOCKS_SORT_KEY)
            .expression_attribute_names("#locked", LOCKED)
            .expression_attribute_names("#leaseId", LEASE_ID)
            .expression_attribute_names("#leasedBy", LEASED_BY)
            .expression_attribute_names("#updatedAt", UPDATED_AT)
            .expression_attribute_names("#createdAt", CREATED_AT)
            .expression_attribute_names("#fencingToken", FENCING_TOKEN)
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":leaseId", s(lease.as_str()))
            .expression_attribute_values(":leasedBy", s(requester.as_str()))
            .expression_attribute_values(":now", n(now.millis()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or(StoreError::MalformedItem(LEASE_ID))?;
                Ok(Acquired::Granted(lock_from_item(&item)?))
            }
            Err(err) => {
                let old = match old_item_on_condition_failure(err)? {
                    Some(old) => Some(old),
                    None => self.read_item(user, name).await?,
                };
                // Only our own lease, already live, makes a failed write a grant.
                match old {
                    Some(item)
                        if lease_of(&item) == Some(lease.as_str())
                            && locked(&item) == Some(true) =>
                    {
                        Ok(Acquired::Granted(lock_from_item(&item)?))
                    }
                    _ => Ok(Acquired::Held),
                }
            }
        }
    }

    /// Frees `name` if `lease` holds it, in one conditional write. Safe to
    /// retry: a lock already freed by this same lease reports `Released`.
    pub async fn release(
        &self,
        user: &UserId,
        name: &LockName,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Result<Released, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(user, name)))
            .condition_expression(RELEASE_CONDITION)
            .update_expression(RELEASE_UPDATE)
            .expression_attribute_names("#locked", LOCKED)
            .expression_attribute_names("#leaseId", LEASE_ID)
            .expression_attribute_names("#updatedAt", UPDATED_AT)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":leaseId", s(lease.as_str()))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(err) = result else {
            return Ok(Released::Released);
        };
        // A missing item also comes back without an old item, so `None` here
        // needs one read to tell "never created" from "engine did not say".
        let old = match old_item_on_condition_failure(err)? {
            Some(old) => Some(old),
            None => self.read_item(user, name).await?,
        };
        Ok(match old {
            None => Released::NotFound,
            Some(item)
                if lease_of(&item) == Some(lease.as_str()) && locked(&item) == Some(false) =>
            {
                Released::Released
            }
            Some(_) => Released::NotHolder,
        })
    }

    /// The lock as stored now (a strongly consistent read), if it exists.
    pub async fn get(&self, user: &UserId, name: &LockName) -> Result<Option<Lock>, StoreError> {
        self.read_item(user, name)
            .await?
            .as_ref()
            .map(lock_from_item)
            .transpose()
    }

    async fn read_item(&self, user: &UserId, name: &LockName) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(user, name)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item)
    }

    /// Every lock of `user`, ordered by name: a strongly consistent `Query` of
    /// the user's partition, one call per page.
    pub async fn list(&self, user: &UserId) -> Result<Vec<Lock>, StoreError> {
        let mut locks = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#userId = :userId")
                .expression_attribute_names("#userId", LOCKS_PARTITION_KEY)
                .expression_attribute_values(":userId", s(user.as_str()))
                .consistent_read(true)
                .set_limit(self.page_size)
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            for item in page.items() {
                locks.push(lock_from_item(item)?);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(locks);
            }
        }
    }
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
            .item(API_KEYS_PARTITION_KEY, s(key.as_str()))
            .item(USER_ID, s(user.as_str()))
            .item(CREATED_AT, n(now.millis()))
            .condition_expression(REGISTER_KEY_CONDITION)
            .expression_attribute_names("#keyHash", API_KEYS_PARTITION_KEY)
            .send()
            .await?;
        Ok(())
    }

    /// The user that owns `key`, if any (a strongly consistent read).
    pub async fn user_for(&self, key: &KeyHash) -> Result<Option<UserId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(API_KEYS_PARTITION_KEY, s(key.as_str()))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let user = string_attr(&item, USER_ID)?;
        UserId::parse(user)
            .map(Some)
            .ok_or(StoreError::MalformedItem(USER_ID))
    }
}

/// The old item a failed condition returned (`ALL_OLD`), or `None` if the
/// engine returned none; any other failure is an error.
fn old_item_on_condition_failure(
    err: aws_sdk_dynamodb::error::SdkError<
        UpdateItemError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Result<Option<Item>, StoreError> {
    match err.into_service_error() {
        UpdateItemError::ConditionalCheckFailedException(failed) => Ok(failed.item),
        other => Err(aws_sdk_dynamodb::Error::from(other).into()),
    }
}

fn lock_key(user: &UserId, name: &LockName) -> Item {
    HashMap::from([
        (LOCKS_PARTITION_KEY.to_owned(), s(user.as_str())),
        (LOCKS_SORT_KEY.to_owned(), s(name.as_str())),
    ])
}

/// The item's lease id, if it has one. Failed conditions are judged on the raw
/// old item: an engine may return a partial one (moto shows a concurrent
/// first grant as a key-only item), which simply is not ours.
fn lease_of(item: &Item) -> Option<&str> {
    item.get(LEASE_ID)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn locked(item: &Item) -> Option<bool> {
    item.get(LOCKED).and_then(|v| v.as_bool().ok()).copied()
}

fn lock_from_item(item: &Item) -> Result<Lock, StoreError> {
    Ok(Lock {
        lock_name: LockName::from_stored(string_attr(item, LOCKS_SORT_KEY)?.to_owned()),
        locked: locked(item).ok_or(StoreError::MalformedItem(LOCKED))?,
        lease_id: LeaseId::from_stored(string_attr(item, LEASE_ID)?.to_owned()),
        leased_by: Requester::from_stored(string_attr(item, LEASED_BY)?.to_owned()),
        created_at: Timestamp::from_millis(number_attr(item, CREATED_AT)?),
        updated_at: Timestamp::from_millis(number_attr(item, UPDATED_AT)?),
        fencing_token: number_attr(item, FENCING_TOKEN)?,
    })
}

fn string_attr<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or(StoreError::MalformedItem(name))
}

fn number_attr(item: &Item, name: &'static str) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or(StoreError::MalformedItem(name))
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
