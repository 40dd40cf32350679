//! Items as stored: attribute names, how expressions name them, and the
//! conversion between a lock item and a [`Lock`].

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::outcomes::Grant;
use crate::error::StoreError;
use crate::schema::{LOCKS_PARTITION_KEY, LOCKS_SORT_KEY};
use crate::types::{LeaseId, Lock, LockName, Requester, Timestamp, UserId};

/// An item: attribute name → value.
pub(super) type Item = HashMap<String, AttributeValue>;

/// How an `UpdateItem` call fails.
pub(super) type UpdateFailure = SdkError<UpdateItemError, HttpResponse>;

// Lock item attributes besides the key.
pub(super) const LOCKED: &str = "locked";
pub(super) const LEASE_ID: &str = "leaseId";
pub(super) const LEASED_BY: &str = "leasedBy";
pub(super) const CREATED_AT: &str = "createdAt";
pub(super) const UPDATED_AT: &str = "updatedAt";
pub(super) const EXPIRES_AT: &str = "expiresAt";
pub(super) const FENCING_TOKEN: &str = "fencingToken";
pub(super) const IDEMPOTENCY_KEY: &str = "idempotencyKey";
pub(super) const FORCED_RELEASE: &str = "forcedRelease";
/// The TTL an idempotency key's grant was asked for (absent: none).
pub(super) const IDEMPOTENCY_TTL: &str = "idempotencyTtl";
/// A lock's element of its tenant's quota (see `quota`).
pub(super) const SLOT: &str = "slot";
// API-key item attributes besides the key (and `createdAt`, `expiresAt`).
pub(super) const USER_ID: &str = "userId";
pub(super) const ROTATED_TO: &str = "rotatedTo";
pub(super) const ROTATED_AT: &str = "rotatedAt";
pub(super) const REVOKED_AT: &str = "revokedAt";
pub(super) const ROTATION_KEY: &str = "rotationKey";
// Names item attributes (see `quota`).
pub(super) const SLOTS: &str = "slots";
pub(super) const HEALED_AT: &str = "healedAt";
// A waiting place's entry (see `waiting`).
pub(super) const UNTIL: &str = "until";
pub(super) const OWNER: &str = "owner";
/// The one placeholder that names no attribute: `#place` is bound by the
/// caller to the attribute of one waiting place (`p0`, `p1`, …).
pub(super) const PLACE: &str = "place";
// Semaphore items (see `semaphores`).
pub(super) const PERMITS: &str = "permits";
pub(super) const ACQUIRED_AT: &str = "acquiredAt";
pub(super) const DELETED_BY: &str = "deletedBy";
pub(super) const GENERATION: &str = "generation";
pub(super) const TO: &str = "to";
/// A placeholder replaced by the name of one key's guard attribute
/// (`moved` and 16 hex digits) before it is sent.
pub(super) const MOVED: &str = "moved";
// A waiter's reservation of a lock or permit slot (see `reservations`).
pub(super) const RESERVED_FOR: &str = "reservedFor";
pub(super) const RESERVED_UNTIL: &str = "reservedUntil";
pub(super) const WAITING_SINCE: &str = "waitingSince";

/// Every attribute an expression may name (the tests check each expression
/// against it). An expression names attribute `x` as `#x`, always:
/// [`attribute_names`] binds the placeholders from there.
#[cfg(test)]
pub(super) const ATTRIBUTES: [&str; 35] = [
    LOCKS_PARTITION_KEY,
    LOCKS_SORT_KEY,
    crate::schema::API_KEYS_PARTITION_KEY,
    crate::schema::TTL_ATTRIBUTE,
    LOCKED,
    LEASE_ID,
    LEASED_BY,
    CREATED_AT,
    UPDATED_AT,
    EXPIRES_AT,
    "leaseTtl",
    FENCING_TOKEN,
    IDEMPOTENCY_KEY,
    FORCED_RELEASE,
    IDEMPOTENCY_TTL,
    SLOT,
    USER_ID,
    ROTATED_TO,
    ROTATED_AT,
    REVOKED_AT,
    ROTATION_KEY,
    SLOTS,
    HEALED_AT,
    UNTIL,
    OWNER,
    PLACE,
    PERMITS,
    ACQUIRED_AT,
    DELETED_BY,
    GENERATION,
    TO,
    MOVED,
    RESERVED_FOR,
    RESERVED_UNTIL,
    WAITING_SINCE,
];

/// The `ExpressionAttributeNames` of a request whose expressions are
/// `expressions`: `#x` → `x` for every placeholder they use, and no other
/// (DynamoDB refuses unused names).
pub(super) fn attribute_names(expressions: &[&str]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for expression in expressions {
        for (start, _) in expression.match_indices('#') {
            let name: String = expression[start + 1..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            names.insert(format!("#{name}"), name);
        }
    }
    names
}

/// The key of item `hash` in the API-key table (a key's hash, or a user's record).
pub(super) fn api_key_item(hash: &str) -> Item {
    let key = crate::schema::API_KEYS_PARTITION_KEY.to_owned();
    HashMap::from([(key, string_value(hash))])
}

/// The key of lock `name` of `user`.
pub(super) fn lock_key(user: &UserId, name: &LockName) -> Item {
    sort_key(user, name.as_str())
}

/// The key at `position` in the sort order of `user`'s partition (a lock
/// name, or where a page of locks starts after).
pub(super) fn sort_key(user: &UserId, position: &str) -> Item {
    HashMap::from([
        (LOCKS_PARTITION_KEY.to_owned(), string_value(user.as_str())),
        (LOCKS_SORT_KEY.to_owned(), string_value(position)),
    ])
}

/// Reads a lock item back; fails if it lacks an attribute this code writes.
pub(super) fn lock_from_item(item: &Item) -> Result<Lock, StoreError> {
    Ok(Lock {
        lock_name: LockName::from_trusted(string_attr(item, LOCKS_SORT_KEY)?.to_owned()),
        locked: *item
            .get(LOCKED)
            .and_then(|v| v.as_bool().ok())
            .ok_or(StoreError::MalformedItem(LOCKED))?,
        lease_id: LeaseId::from_trusted(string_attr(item, LEASE_ID)?.to_owned()),
        leased_by: Requester::from_trusted(string_attr(item, LEASED_BY)?.to_owned()),
        created_at: Timestamp::from_millis(number_attr(item, CREATED_AT)?),
        acquired_at: optional_time(item, ACQUIRED_AT)?,
        updated_at: Timestamp::from_millis(number_attr(item, UPDATED_AT)?),
        expires_at: optional_time(item, EXPIRES_AT)?,
        fencing_token: number_attr(item, FENCING_TOKEN)?,
        reserved_until: optional_time(item, RESERVED_UNTIL)?,
    })
}

/// Whether `item` of a lock name is a lock, not a deleted lock's tombstone
/// (which keeps only the key, the fencing token and its collection time).
pub(super) fn is_lock(item: &Item) -> bool {
    item.contains_key(LOCKED)
}

/// A whole lock item of `lease` (token 7), locked or not, for the tests.
#[cfg(test)]
pub(super) fn test_lock_item(lease: &LeaseId, locked: bool) -> Item {
    let mut item = lock_key(&UserId::generate(), &LockName::parse("job").unwrap());
    item.insert(LOCKED.into(), AttributeValue::Bool(locked));
    item.insert(LEASE_ID.into(), string_value(lease.as_str()));
    item.insert(LEASED_BY.into(), string_value("worker"));
    item.insert(CREATED_AT.into(), number_value(1));
    item.insert(UPDATED_AT.into(), number_value(2));
    item.insert(FENCING_TOKEN.into(), number_value(7));
    item
}

/// What every grant's `:tokenBase` is at `now`: the clock in microseconds,
/// above every token an earlier item of the same name gave out.
pub(super) fn token_base(now: Timestamp) -> u64 {
    now.millis().saturating_mul(1000)
}

/// The fencing token a grant at `now` wrote over `old`, the item before it
/// (`None`: there was none), as its update computes it:
/// `if_not_exists(#fencingToken, :tokenBase) + :one`.
pub(super) fn next_fencing_token(old: Option<&Item>, now: Timestamp) -> Result<u64, StoreError> {
    let last = match old.filter(|old| old.contains_key(FENCING_TOKEN)) {
        Some(old) => number_attr(old, FENCING_TOKEN)?,
        None => token_base(now),
    };
    Ok(last + 1)
}

/// A string attribute that may be absent.
pub(super) fn optional_string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// Whether a boolean attribute is present and true.
pub(super) fn is_true(item: &Item, name: &str) -> bool {
    item.get(name).and_then(|v| v.as_bool().ok()) == Some(&true)
}

/// A string attribute that must be present.
pub(super) fn string_attr<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, StoreError> {
    optional_string(item, name).ok_or(StoreError::MalformedItem(name))
}

/// A time attribute (epoch milliseconds) that may be absent.
pub(super) fn optional_time(
    item: &Item,
    name: &'static str,
) -> Result<Option<Timestamp>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => number_attr(item, name).map(|millis| Some(Timestamp::from_millis(millis))),
    }
}

/// A number attribute that must be present.
pub(super) fn number_attr(item: &Item, name: &'static str) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or(StoreError::MalformedItem(name))
}

/// A DynamoDB string value.
pub(super) fn string_value(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// When DynamoDB TTL may delete an item last relevant at `last_use`, in epoch seconds.
pub(super) fn gc_at(last_use: Timestamp) -> AttributeValue {
    number_value(
        last_use
            .plus_millis(super::expressions::GC_AFTER_MILLIS)
            .millis()
            / 1000,
    )
}

/// A DynamoDB number value.
pub(super) fn number_value(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Whether a conditional write landed (`false`: its condition failed).
pub(super) fn landed<T, E>(result: Result<T, SdkError<E, HttpResponse>>) -> Result<bool, StoreError>
where
    aws_sdk_dynamodb::Error: From<SdkError<E, HttpResponse>>,
{
    match result {
        Ok(_) => Ok(true),
        Err(failure) => old_item_on_condition_failure(failure).map(|_| false),
    }
}

/// The old item a failed condition of any write returned (`ALL_OLD`), or
/// `None` if the engine returned none; any other failure is an error.
pub(super) fn old_item_on_condition_failure<E>(
    failure: SdkError<E, HttpResponse>,
) -> Result<Option<Item>, StoreError>
where
    aws_sdk_dynamodb::Error: From<SdkError<E, HttpResponse>>,
{
    match aws_sdk_dynamodb::Error::from(failure) {
        aws_sdk_dynamodb::Error::ConditionalCheckFailedException(failed) => Ok(failed.item),
        other => Err(other.into()),
    }
}

/// The lock a grant at `now` made of `old`, the item before it, exactly as
/// the grant's update wrote it (see `acquire_set!`).
pub(super) fn granted_lock(
    old: Option<&Item>,
    name: &LockName,
    grant: &Grant<'_>,
    now: Timestamp,
) -> Result<Lock, StoreError> {
    let created_at = match old {
        Some(old) => optional_time(old, CREATED_AT)?,
        None => None,
    };
    Ok(Lock {
        lock_name: name.clone(),
        locked: true,
        lease_id: grant.lease.clone(),
        leased_by: grant.requester.clone(),
        created_at: created_at.unwrap_or(now),
        acquired_at: Some(now),
        updated_at: now,
        expires_at: grant.ttl.map(|ttl| now.plus_millis(ttl.millis())),
        fencing_token: next_fencing_token(old, now)?,
        reserved_until: None,
    })
}

/// Sends a conditional write that returns the item it wrote: `Ok(item)` if
/// it landed, `Err(failure)` if its condition failed (with the old item where
/// the engine returns it); any other failure is a [`StoreError`].
pub(super) async fn written_item(
    request: UpdateItemFluentBuilder,
) -> Result<Result<Item, UpdateFailure>, StoreError> {
    let result = request
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(output) => output.attributes.map(Ok).ok_or(StoreError::NoAttributes),
        Err(failure) => Ok(Err(failure)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_bind_to_the_attribute_of_the_same_name() {
        let names = attribute_names(&[
            "#locked = :false OR #expiresAt <= :now",
            "SET #locked = :true",
        ]);
        assert_eq!(
            names,
            HashMap::from([
                ("#locked".to_owned(), "locked".to_owned()),
                ("#expiresAt".to_owned(), "expiresAt".to_owned()),
            ])
        );
        assert!(attribute_names(&["attribute_exists(x)"]).is_empty());
    }

    #[test]
    fn a_lock_item_round_trips_and_a_missing_attribute_is_named() {
        let lease = LeaseId::generate();
        let mut item = test_lock_item(&lease, true);
        let lock = lock_from_item(&item).unwrap();
        assert_eq!(lock.lease_id, lease);
        assert_eq!((lock.fencing_token, lock.expires_at), (7, None));
        item.remove(LEASED_BY);
        assert!(matches!(
            lock_from_item(&item),
            Err(StoreError::MalformedItem(LEASED_BY))
        ));
    }
}
