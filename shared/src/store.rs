//! The DynamoDB store. Acquire, release, force release and renew are each one
//! conditional write; a lost race is an outcome, not an error. Expiry is
//! decided in the condition expressions with the caller's clock.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::keys::KeyHash;
use crate::schema::{API_KEYS_PARTITION_KEY, LOCKS_PARTITION_KEY, LOCKS_SORT_KEY, TTL_ATTRIBUTE};
use crate::types::{
    IdempotencyKey, LeaseId, LeaseTtl, Lock, LockName, Requester, Timestamp, UserId,
};

type Item = HashMap<String, AttributeValue>;

// Lock item attributes besides the key.
const LOCKED: &str = "locked";
const LEASE_ID: &str = "leaseId";
const LEASED_BY: &str = "leasedBy";
const CREATED_AT: &str = "createdAt";
const UPDATED_AT: &str = "updatedAt";
const EXPIRES_AT: &str = "expiresAt";
const LEASE_TTL: &str = "leaseTtl";
const FENCING_TOKEN: &str = "fencingToken";
const IDEMPOTENCY_KEY: &str = "idempotencyKey";
const FORCED: &str = "forcedRelease";
// API-key item attributes besides the key.
const USER_ID: &str = "userId";

/// How long after its last use a free (or expired) lock item may be deleted
/// by DynamoDB TTL. No decision depends on it; it only bounds storage.
const GC_AFTER_MILLIS: u64 = 30 * 24 * 3600 * 1000;

/// Grant only if the lock is new, free, or its lease has expired.
const ACQUIRE_CONDITION: &str =
    "attribute_not_exists(#lockName) OR #locked = :false OR #expiresAt <= :now";
/// Take the lock for the new lease. The fencing token grows by one per grant;
/// a new (or garbage-collected and re-created) item starts from the clock in
/// microseconds, above every token an earlier item of that name gave out.
const ACQUIRE_SET: &str = "SET #locked = :true, #leaseId = :leaseId, #leasedBy = :leasedBy, \
     #updatedAt = :now, #createdAt = if_not_exists(#createdAt, :now), \
     #fencingToken = if_not_exists(#fencingToken, :tokenBase) + :one";
/// Only the live lease (granted, not released, not expired) may release or renew.
const LIVE_LEASE_CONDITION: &str =
    "#leaseId = :leaseId AND #locked = :true AND (attribute_not_exists(#expiresAt) OR #expiresAt > :now)";
/// Free the lock, keeping its last lease for `GET`.
const RELEASE_UPDATE: &str =
    "SET #locked = :false, #updatedAt = :now, #gcAt = :gcAt REMOVE #expiresAt, #leaseTtl, #idempotencyKey";
/// Free the lock whoever holds it, and mark the lease as taken away, so its
/// holder's later unlock is not mistaken for a retry of its own.
const FORCE_RELEASE_UPDATE: &str =
    "SET #locked = :false, #updatedAt = :now, #gcAt = :gcAt, #forced = :true \
     REMOVE #expiresAt, #leaseTtl, #idempotencyKey";
/// Renew with a new TTL.
const RENEW_WITH_TTL_UPDATE: &str =
    "SET #expiresAt = :expiresAt, #leaseTtl = :leaseTtl, #updatedAt = :now, #gcAt = :gcAt";
/// Renew with the lease's own TTL.
const RENEW_OWN_TTL_UPDATE: &str =
    "SET #expiresAt = :now + #leaseTtl, #updatedAt = :now, #gcAt = :gcAt";
/// The attribute names that releasing and force-releasing both use.
const FREE_LOCK_NAMES: [(&str, &str); 6] = [
    ("#locked", LOCKED),
    ("#expiresAt", EXPIRES_AT),
    ("#updatedAt", UPDATED_AT),
    ("#gcAt", TTL_ATTRIBUTE),
    ("#leaseTtl", LEASE_TTL),
    ("#idempotencyKey", IDEMPOTENCY_KEY),
];
/// A forced release needs only the lock to exist.
const FORCE_RELEASE_CONDITION: &str = "attribute_exists(#lockName)";
/// Never overwrite a stored key.
const REGISTER_KEY_CONDITION: &str = "attribute_not_exists(#keyHash)";

/// A grant request: who asks, under which lease, for how long.
#[derive(Clone, Debug)]
pub struct Grant<'a> {
    /// Who asks.
    pub requester: &'a Requester,
    /// The new lease, made before the first write attempt.
    pub lease: &'a LeaseId,
    /// The lease's TTL; `None`: it lasts until released.
    pub ttl: Option<LeaseTtl>,
    /// The client's key for retrying this acquire.
    pub idempotency_key: Option<&'a IdempotencyKey>,
}

/// What an acquire ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease holds the lock; the lock as it now stands. Also the answer to
    /// a retry (same lease, or same idempotency key) of a grant that landed.
    Granted(Lock),
    /// Another lease holds the lock (until `expires_at`, if it has a TTL);
    /// nothing was written.
    Held {
        /// When the holder's lease ends, if it has a TTL.
        expires_at: Option<Timestamp>,
    },
}

/// What a release ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The lease no longer holds the lock (now, or already before a retry).
    Released,
    /// The lease is not the lock's current one; nothing was written.
    NotHolder,
    /// The lease is the lock's last one but has expired; nothing was written.
    Expired,
    /// No lock of that name exists for the user.
    NotFound,
}

/// What a renew ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// The lease is live until `expires_at` (`None`: until released).
    Renewed {
        /// The lease's new end.
        expires_at: Option<Timestamp>,
    },
    /// The lease is not the lock's live one (another lease, released, or expired).
    NotLive,
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

    /// Grants `name` to `grant.lease` if the lock is new, free or expired,
    /// in one conditional write. Safe to retry: a write that already landed
    /// (same lease) or a client retry with the same idempotency key while
    /// that lease is live is recognised from the old item and reported as
    /// granted, with the original lease and token.
    pub async fn acquire(
        &self,
        user: &UserId,
        name: &LockName,
        grant: &Grant<'_>,
        now: Timestamp,
    ) -> Result<Acquired, StoreError> {
        let mut set = ACQUIRE_SET.to_owned();
        let mut remove = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(user, name)))
            .condition_expression(ACQUIRE_CONDITION)
            .expression_attribute_names("#lockName", LOCKS_SORT_KEY)
            .expression_attribute_names("#locked", LOCKED)
            .expression_attribute_names("#leaseId", LEASE_ID)
            .expression_attribute_names("#leasedBy", LEASED_BY)
            .expression_attribute_names("#updatedAt", UPDATED_AT)
            .expression_attribute_names("#createdAt", CREATED_AT)
            .expression_attribute_names("#fencingToken", FENCING_TOKEN)
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_names("#leaseTtl", LEASE_TTL)
            .expression_attribute_names("#gcAt", TTL_ATTRIBUTE)
            .expression_attribute_names("#idempotencyKey", IDEMPOTENCY_KEY)
            .expression_attribute_names("#forced", FORCED)
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":leaseId", s(grant.lease.as_str()))
            .expression_attribute_values(":leasedBy", s(grant.requester.as_str()))
            .expression_attribute_values(":now", n(now.millis()))
            .expression_attribute_values(":tokenBase", n(now.millis().saturating_mul(1000)))
            .expression_attribute_values(":one", n(1));
        match grant.ttl {
            Some(ttl) => {
                let expires_at = now.plus_millis(ttl.millis());
                set.push_str(", #expiresAt = :expiresAt, #leaseTtl = :leaseTtl, #gcAt = :gcAt");
                request = request
                    .expression_attribute_values(":expiresAt", n(expires_at.millis()))
                    .expression_attribute_values(":leaseTtl", n(ttl.millis()))
                    .expression_attribute_values(":gcAt", gc_at(expires_at));
            }
            // A lease without TTL is never garbage-collected while held.
            None => remove.extend(["#expiresAt", "#leaseTtl", "#gcAt"]),
        }
        match grant.idempotency_key {
            Some(key) => {
                set.push_str(", #idempotencyKey = :idempotencyKey");
                request = request.expression_attribute_values(":idempotencyKey", s(key.as_str()));
            }
            None => remove.push("#idempotencyKey"),
        }
        // A new grant is never a forced-away lease.
        remove.push("#forced");
        let update = format!("{set} REMOVE {}", remove.join(", "));
        let result = request
            .update_expression(update)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or(StoreError::MalformedItem(LEASE_ID))?;
                return Ok(Acquired::Granted(lock_from_item(&item)?));
            }
            Err(err) => err,
        };
        let old = self.item_behind(err, user, name).await?;
        // A partial old item (moto shows a concurrent first grant that way) is
        // simply not ours; only a full one can be.
        let Some((item, old)) =
            old.and_then(|item| lock_from_item(&item).ok().map(|lock| (item, lock)))
        else {
            return Ok(Acquired::Held { expires_at: None });
        };
        let same_key = grant
            .idempotency_key
            .is_some_and(|key| optional_string(&item, IDEMPOTENCY_KEY) == Some(key.as_str()));
        let ours = old.lease_id == *grant.lease || same_key;
        Ok(if ours && old.is_held(now) {
            Acquired::Granted(old)
        } else {
            Acquired::Held {
                expires_at: old.expires_at,
            }
        })
    }

    /// Frees `name` if `lease` is its live lease, in one conditional write.
    /// Safe to retry: a lock already freed by this same lease reports
    /// `Released`. An expired lease cannot release.
    pub async fn release(
        &self,
        user: &UserId,
        name: &LockName,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Result<Released, StoreError> {
        let result = self
            .free_lock(user, name, now)
            .condition_expression(LIVE_LEASE_CONDITION)
            .update_expression(RELEASE_UPDATE)
            .expression_attribute_names("#leaseId", LEASE_ID)
            .expression_attribute_values(":leaseId", s(lease.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(err) = result else {
            return Ok(Released::Released);
        };
        let old = self.item_behind(err, user, name).await?;
        let Some(item) = old else {
            return Ok(Released::NotFound);
        };
        let forced = item.get(FORCED).and_then(|v| v.as_bool().ok()) == Some(&true);
        Ok(match lock_from_item(&item) {
            Ok(lock) if lock.lease_id == *lease && !lock.locked && !forced => Released::Released,
            Ok(lock) if lock.lease_id == *lease && lock.locked => Released::Expired,
            _ => Released::NotHolder,
        })
    }

    /// Frees `name` whatever lease holds it (the tenant owns its locks), in
    /// one conditional write. The old lease is dead from then on.
    pub async fn force_release(
        &self,
        user: &UserId,
        name: &LockName,
        now: Timestamp,
    ) -> Result<Released, StoreError> {
        let result = self
            .free_lock(user, name, now)
            .condition_expression(FORCE_RELEASE_CONDITION)
            .update_expression(FORCE_RELEASE_UPDATE)
            .expression_attribute_names("#lockName", LOCKS_SORT_KEY)
            .expression_attribute_names("#forced", FORCED)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Released::Released),
            // The only way this condition fails: there is no such lock.
            Err(err) => old_item_on_condition_failure(err).map(|_| Released::NotFound),
        }
    }

    /// What a release and a forced release share: an update of `name` at
    /// `now` with the names and values both their expressions use.
    fn free_lock(&self, user: &UserId, name: &LockName, now: Timestamp) -> UpdateItemFluentBuilder {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(user, name)));
        FREE_LOCK_NAMES
            .into_iter()
            .fold(request, |request, (placeholder, attribute)| {
                request.expression_attribute_names(placeholder, attribute)
            })
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", n(now.millis()))
            .expression_attribute_values(":gcAt", gc_at(now))
    }

    /// Extends `lease` to `now + ttl` (or its own TTL again) if it is the live
    /// lease of `name`, in one conditional write.
    pub async fn renew(
        &self,
        user: &UserId,
        name: &LockName,
        lease: &LeaseId,
        ttl: Option<LeaseTtl>,
        now: Timestamp,
    ) -> Result<Renewed, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(lock_key(user, name)))
            .expression_attribute_names("#leaseId", LEASE_ID)
            .expression_attribute_names("#locked", LOCKED)
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_names("#leaseTtl", LEASE_TTL)
            .expression_attribute_names("#updatedAt", UPDATED_AT)
            .expression_attribute_names("#gcAt", TTL_ATTRIBUTE)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":leaseId", s(lease.as_str()))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match ttl {
            Some(ttl) => {
                let expires_at = now.plus_millis(ttl.millis());
                request
                    .condition_expression(LIVE_LEASE_CONDITION)
                    .update_expression(RENEW_WITH_TTL_UPDATE)
                    .expression_attribute_values(":expiresAt", n(expires_at.millis()))
                    .expression_attribute_values(":leaseTtl", n(ttl.millis()))
                    .expression_attribute_values(":gcAt", gc_at(expires_at))
            }
            // The lease's own TTL again; a lease without one has nothing to extend.
            None => request
                .condition_expression(format!(
                    "{LIVE_LEASE_CONDITION} AND attribute_exists(#leaseTtl)"
                ))
                .update_expression(RENEW_OWN_TTL_UPDATE)
                .expression_attribute_values(
                    ":gcAt",
                    gc_at(now.plus_millis(LeaseTtl::MAX_SECONDS * 1000)),
                ),
        };
        let err = match request.send().await {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or(StoreError::MalformedItem(LEASE_ID))?;
                let lock = lock_from_item(&item)?;
                return Ok(Renewed::Renewed {
                    expires_at: lock.expires_at,
                });
            }
            Err(err) => err,
        };
        let old = self.item_behind(err, user, name).await?;
        Ok(match old.map(|item| lock_from_item(&item)) {
            None => Renewed::NotFound,
            // Live, granted without a TTL and renewed without one: it stays
            // live until released, which is all renewing asks for.
            Some(Ok(lock))
                if lock.lease_id == *lease && lock.is_held(now) && lock.expires_at.is_none() =>
            {
                Renewed::Renewed { expires_at: None }
            }
            Some(_) => Renewed::NotLive,
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

    /// The item as it stood when a write's condition failed: the old item the
    /// engine returned (`ALL_OLD`), or else one consistent read. A missing
    /// item also comes back without an old item, so `None` from the engine
    /// always needs that read to tell "never created" apart.
    async fn item_behind(
        &self,
        err: aws_sdk_dynamodb::error::SdkError<
            UpdateItemError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
        user: &UserId,
        name: &LockName,
    ) -> Result<Option<Item>, StoreError> {
        match old_item_on_condition_failure(err)? {
            Some(old) => Ok(Some(old)),
            None => self.read_item(user, name).await,
        }
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

/// When DynamoDB TTL may delete an item last relevant at `last_use`, in epoch seconds.
fn gc_at(last_use: Timestamp) -> AttributeValue {
    n(last_use.plus_millis(GC_AFTER_MILLIS).millis() / 1000)
}

fn lock_key(user: &UserId, name: &LockName) -> Item {
    HashMap::from([
        (LOCKS_PARTITION_KEY.to_owned(), s(user.as_str())),
        (LOCKS_SORT_KEY.to_owned(), s(name.as_str())),
    ])
}

fn lock_from_item(item: &Item) -> Result<Lock, StoreError> {
    Ok(Lock {
        lock_name: LockName::from_stored(string_attr(item, LOCKS_SORT_KEY)?.to_owned()),
        locked: *item
            .get(LOCKED)
            .and_then(|v| v.as_bool().ok())
            .ok_or(StoreError::MalformedItem(LOCKED))?,
        lease_id: LeaseId::from_stored(string_attr(item, LEASE_ID)?.to_owned()),
        leased_by: Requester::from_stored(string_attr(item, LEASED_BY)?.to_owned()),
        created_at: Timestamp::from_millis(number_attr(item, CREATED_AT)?),
        updated_at: Timestamp::from_millis(number_attr(item, UPDATED_AT)?),
        expires_at: match item.get(EXPIRES_AT) {
            Some(_) => Some(Timestamp::from_millis(number_attr(item, EXPIRES_AT)?)),
            None => None,
        },
        fencing_token: number_attr(item, FENCING_TOKEN)?,
    })
}

fn optional_string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
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
