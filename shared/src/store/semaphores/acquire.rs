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

use super::ask::Ask;
use super::guard::Guarded;
use super::{with_values, Permit, SlotState};
use crate::error::StoreError;
use crate::metrics::{self, Metric};
use crate::store::expressions::{GRANT_PERMIT, GRANT_PERMIT_KEY, MISSING_PERMIT};
use crate::store::item::{
    next_fencing_token, number_value, old_item_on_condition_failure, string_value, token_base, Item,
};
use crate::store::takeover::{report_takeover, Taken};
use crate::store::{Grant, LockStore};
use crate::types::{SemaphoreName, Timestamp, UserId};
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
        for round in 0..ROUNDS {
            // A round after the first follows a write that lost a race for
            // the slot a read showed free.
            if round > 0 {
                metrics::count(Metric::ConditionRetry);
            }
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
            if ask.needs_guard(&stored, slot, now) {
                match self.guard(user, &ask, &stored, slot, now).await? {
                    Guarded::At(to) => slot = to,
                    Guarded::Again => continue,
                    Guarded::Refused => break,
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
    pub(super) async fn try_slot(
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
            (":expiredBy", number_value(self.expired_by(now).millis())),
            (":false", AttributeValue::Bool(false)),
            (":true", AttributeValue::Bool(true)),
            (":leaseId", string_value(grant.lease.as_str())),
            (":leasedBy", string_value(grant.requester.as_str())),
            (":expiresAt", number_value(now.millis() + ask.ttl.millis())),
            (":leaseTtl", number_value(ask.ttl.millis())),
            (":tokenBase", number_value(token_base(now))),
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
            // The old item: what the grant took over (if anything) is known
            // only from it, and the new permit follows from it.
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let old = output.attributes;
                let permit = Permit {
                    slot,
                    lease_id: grant.lease.clone(),
                    leased_by: grant.requester.clone(),
                    acquired_at: now,
                    expires_at: now.plus_millis(ask.ttl.millis()),
                    fencing_token: next_fencing_token(old.as_ref(), now)?,
                };
                let taken = Taken {
                    name: ask.name.as_str(),
                    permit: Some(slot),
                };
                report_takeover(old.as_ref(), user, taken, grant, now);
                Ok(Ok(permit))
            }
            Err(failure) => Ok(Err(old_item_on_condition_failure(failure)?)),
        }
    }
}
