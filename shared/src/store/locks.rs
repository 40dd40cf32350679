//! [`LockStore`]'s writes: acquire, release, force release, renew and
//! delete, each one DynamoDB call (plus one consistent read where an engine
//! does not return the old item on a failed condition, and the quota's
//! calls for a new name). Reads are in `reads`.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::expressions::*;
use super::item::{
    attribute_names, gc_at, granted_lock, is_lock, is_true, lock_from_item, lock_key, number_value,
    old_item_on_condition_failure, string_value, token_base, written_item, Item, FORCED_RELEASE,
};
use super::outcomes::{grantable, judge_refused_acquire};
pub use super::outcomes::{Acquired, Deleted, Grant, LockPage, Released, Renewed};
use super::quota::Slot;
use super::settings::LockStore;
use super::takeover::{report_takeover, Taken};
use crate::error::StoreError;
use crate::metrics::{self, Metric};
use crate::types::{LeaseId, LeaseTtl, Lock, LockName, Timestamp, UserId};

/// Most grant writes one acquire makes: a refusal read back as grantable
/// (dynalite re-reads the item after a failed condition, and it may have
/// changed meanwhile) is written again, twice at most.
const GRANT_WRITES: u32 = 3;

impl LockStore {
    /// A conditional update of lock `name` of `user`: `condition` and
    /// `update` with their placeholders bound, and `:now`, `:true`, `:false`
    /// as every lock expression uses them. Values an expression does not use
    /// are dropped, since DynamoDB refuses unused ones.
    pub(super) fn update(
        &self,
        user: &UserId,
        name: &LockName,
        condition: &str,
        update: &str,
        now: Timestamp,
    ) -> UpdateItemFluentBuilder {
        let mut request = self
            .table
            .update(lock_key(user, name))
            .condition_expression(condition)
            .update_expression(update)
            .set_expression_attribute_names(Some(attribute_names(&[condition, update])));
        let common = [
            (":now", number_value(now.millis())),
            (":expiredBy", number_value(self.expired_by(now).millis())),
            (":true", AttributeValue::Bool(true)),
            (":false", AttributeValue::Bool(false)),
        ];
        for (placeholder, value) in common {
            if uses_value(&[condition, update], placeholder) {
                request = request.expression_attribute_values(placeholder, value);
            }
        }
        request
    }

    /// Grants `name` to `grant.lease` if the lock is new, free or expired,
    /// and no other waiting acquire has reserved it (see `reservations`).
    /// Without a quota, one conditional write. With one, an existing name
    /// takes one write too; a new name also reserves a slot (refused at the
    /// quota), creates the lock and clears the reservation (see `quota`).
    /// Safe to retry: a write that already landed (same lease) or a client
    /// retry with the same idempotency key while that lease is live is
    /// recognised from the old item and reported as granted, with the
    /// original lease and token.
    pub async fn acquire(
        &self,
        user: &UserId,
        name: &LockName,
        grant: &Grant<'_>,
        now: Timestamp,
    ) -> Result<Acquired, StoreError> {
        let expired_by = self.expired_by(now);
        let Some(quota) = self.quota else {
            let mut writes = 0;
            loop {
                writes += 1;
                let current = match self
                    .grant_write(user, name, grant, ACQUIRE_CONDITION, None, now)
                    .await?
                {
                    Ok(granted) => return Ok(granted),
                    Err(current) => current,
                };
                if writes == GRANT_WRITES || !grantable(current.as_ref(), grant, now, expired_by) {
                    return Ok(judge_refused_acquire(current, grant, now, expired_by));
                }
                metrics::count(Metric::ConditionRetry);
            }
        };
        // A new name someone else creates meanwhile is then an existing one;
        // a refusal read back as grantable is written again.
        let mut outcome = Acquired::Held { expires_at: None };
        for round in 0..GRANT_WRITES {
            if round > 0 {
                metrics::count(Metric::ConditionRetry);
            }
            let last = round + 1 == GRANT_WRITES;
            match self
                .grant_write(user, name, grant, FREE_UNRESERVED_LOCK_EXISTS, None, now)
                .await?
            {
                Ok(granted) => return Ok(granted),
                Err(Some(current)) => {
                    if last || !grantable(Some(&current), grant, now, expired_by) {
                        return Ok(judge_refused_acquire(Some(current), grant, now, expired_by));
                    }
                    continue;
                }
                Err(None) => {} // no such lock: a new name
            }
            let slot = Slot::new(now);
            if !self.reserve_slot(user, &slot, quota, now).await? {
                return Ok(Acquired::QuotaExceeded);
            }
            let created = self
                .grant_write(user, name, grant, NEW_LOCK_CONDITION, Some(&slot), now)
                .await?;
            outcome = created
                .unwrap_or_else(|current| judge_refused_acquire(current, grant, now, expired_by));
            // Created by this write (or its own retried attempt): the lock
            // carries the slot. Anything else created nothing with it.
            let created_here =
                matches!(&outcome, Acquired::Granted(lock) if lock.lease_id == *grant.lease);
            if !created_here {
                self.give_back_slot(user, &slot).await?;
            }
            if !matches!(outcome, Acquired::Held { .. }) {
                return Ok(outcome);
            }
        }
        Ok(outcome)
    }

    /// One grant write of `name` under `condition` (creating the lock with
    /// `slot` of the quota, if given): the grant, or the item as it stood
    /// when the condition failed (`None`: there is none).
    async fn grant_write(
        &self,
        user: &UserId,
        name: &LockName,
        grant: &Grant<'_>,
        condition: &str,
        slot: Option<&Slot>,
        now: Timestamp,
    ) -> Result<Result<Acquired, Option<Item>>, StoreError> {
        let update = match (grant.ttl, grant.idempotency_key, slot) {
            (Some(_), Some(_), None) => ACQUIRE_TTL_KEY,
            (Some(_), None, None) => ACQUIRE_TTL,
            (None, Some(_), None) => ACQUIRE_KEY,
            (None, None, None) => ACQUIRE_PLAIN,
            (Some(_), Some(_), Some(_)) => CREATE_TTL_KEY,
            (Some(_), None, Some(_)) => CREATE_TTL,
            (None, Some(_), Some(_)) => CREATE_KEY,
            (None, None, Some(_)) => CREATE_PLAIN,
        };
        let mut request = self
            .update(user, name, condition, update, now)
            .expression_attribute_values(":leaseId", string_value(grant.lease.as_str()))
            .expression_attribute_values(":leasedBy", string_value(grant.requester.as_str()))
            .expression_attribute_values(":tokenBase", number_value(token_base(now)))
            .expression_attribute_values(":one", number_value(1));
        if let Some(ttl) = grant.ttl {
            let expires_at = now.plus_millis(ttl.millis());
            request = request
                .expression_attribute_values(":expiresAt", number_value(expires_at.millis()))
                .expression_attribute_values(":leaseTtl", number_value(ttl.millis()))
                .expression_attribute_values(":gcAt", gc_at(expires_at));
        }
        if let Some(key) = grant.idempotency_key {
            request =
                request.expression_attribute_values(":idempotencyKey", string_value(key.as_str()));
        }
        if let Some(slot) = slot {
            request = request.expression_attribute_values(":slot", slot.value());
        }
        // The old item, not the new one: what the grant took over (if
        // anything) is known only from it, and the new lock follows from it.
        let result = request
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let old = output.attributes;
                let lock = granted_lock(old.as_ref(), name, grant, now)?;
                let taken = Taken {
                    name: name.as_str(),
                    permit: None,
                };
                report_takeover(old.as_ref(), user, taken, grant, now);
                Ok(Ok(Acquired::Granted(lock)))
            }
            Err(failure) => Ok(Err(self
                .item_after_failed_condition(failure, user, name)
                .await?)),
        }
    }

    /// Deletes `name` if no live lease holds it, then takes its element out of
    /// the quota (two writes). What stays is a tombstone that only keeps the
    /// fencing token, so a re-created lock's tokens go on growing even where a
    /// grant written before the delete lands after it.
    pub async fn delete(
        &self,
        user: &UserId,
        name: &LockName,
        now: Timestamp,
    ) -> Result<Deleted, StoreError> {
        let result = self
            .update(user, name, FREE_LOCK_EXISTS, TOMBSTONE_LOCK_UPDATE, now)
            .expression_attribute_values(":gcAt", gc_at(now))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failure = match result {
            Ok(deleted) => {
                let deleted = deleted.attributes.ok_or(StoreError::NoAttributes)?;
                self.give_back_slot(user, &Slot::of_lock(&deleted)?).await?;
                return Ok(Deleted::Done);
            }
            Err(failure) => failure,
        };
        let current = self
            .item_after_failed_condition(failure, user, name)
            .await?;
        Ok(match current {
            Some(_) => Deleted::Held,
            None => Deleted::NotFound,
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
            .update(user, name, LIVE_LEASE_CONDITION, RELEASE_UPDATE, now)
            .expression_attribute_values(":leaseId", string_value(lease.as_str()))
            .expression_attribute_values(":gcAt", gc_at(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(failure) = result else {
            return Ok(Released::Freed);
        };
        let Some(item) = self
            .item_after_failed_condition(failure, user, name)
            .await?
        else {
            return Ok(Released::NotFound);
        };
        let forced = is_true(&item, FORCED_RELEASE);
        Ok(match lock_from_item(&item) {
            Ok(lock) if lock.lease_id == *lease && !lock.locked && !forced => Released::Freed,
            Ok(lock) if lock.lease_id == *lease && lock.locked => Released::Expired,
            _ => Released::NotHolder,
        })
    }

    /// Frees `name` whatever lease holds it (the tenant owns its locks), in
    /// one conditional write. The old lease is dead from then on. With the
    /// lock as it stood before (the same write returns it), for the audit.
    pub async fn force_release(
        &self,
        user: &UserId,
        name: &LockName,
        now: Timestamp,
    ) -> Result<(Released, Option<Lock>), StoreError> {
        let result = self
            .update(
                user,
                name,
                FORCE_RELEASE_CONDITION,
                FORCE_RELEASE_UPDATE,
                now,
            )
            .expression_attribute_values(":gcAt", gc_at(now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let before = output
                    .attributes
                    .and_then(|item| lock_from_item(&item).ok());
                Ok((Released::Freed, before))
            }
            // The only way this condition fails: there is no such lock.
            Err(failure) => {
                old_item_on_condition_failure(failure).map(|_| (Released::NotFound, None))
            }
        }
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
        let request = match ttl {
            Some(ttl) => {
                let expires_at = now.plus_millis(ttl.millis());
                self.update(user, name, LIVE_LEASE_CONDITION, RENEW_WITH_TTL_UPDATE, now)
                    .expression_attribute_values(":expiresAt", number_value(expires_at.millis()))
                    .expression_attribute_values(":leaseTtl", number_value(ttl.millis()))
                    .expression_attribute_values(":gcAt", gc_at(expires_at))
            }
            // The lease's own TTL again; a lease without one has nothing to extend.
            None => self
                .update(
                    user,
                    name,
                    LIVE_LEASE_WITH_TTL_CONDITION,
                    RENEW_OWN_TTL_UPDATE,
                    now,
                )
                .expression_attribute_values(
                    ":gcAt",
                    gc_at(now.plus_millis(LeaseTtl::MAX_SECONDS * 1000)),
                ),
        };
        let request = request.expression_attribute_values(":leaseId", string_value(lease.as_str()));
        let failure = match written_item(request).await? {
            Ok(item) => {
                let expires_at = lock_from_item(&item)?.expires_at;
                return Ok(Renewed::Extended { expires_at });
            }
            Err(failure) => failure,
        };
        let current = self
            .item_after_failed_condition(failure, user, name)
            .await?;
        Ok(match current.map(|item| lock_from_item(&item)) {
            None => Renewed::NotFound,
            // Live, granted without a TTL and renewed without one: it stays
            // live until released, which is all renewing asks for.
            Some(Ok(lock))
                if lock.lease_id == *lease && lock.is_held(now) && lock.expires_at.is_none() =>
            {
                Renewed::Extended { expires_at: None }
            }
            Some(_) => Renewed::NotLive,
        })
    }

    /// The item as it stood when a write's condition failed: the old item the
    /// engine returned (`ALL_OLD`), or else one consistent read. A missing
    /// item also comes back without an old item, so `None` from the engine
    /// always needs that read to tell "never created" apart. A deleted
    /// lock's tombstone is no lock: `None`.
    async fn item_after_failed_condition<E>(
        &self,
        failure: SdkError<E, HttpResponse>,
        user: &UserId,
        name: &LockName,
    ) -> Result<Option<Item>, StoreError>
    where
        aws_sdk_dynamodb::Error: From<SdkError<E, HttpResponse>>,
    {
        match old_item_on_condition_failure(failure)? {
            Some(old) => Ok(Some(old).filter(is_lock)),
            None => self.read_item(user, name).await,
        }
    }
}
