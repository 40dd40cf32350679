//! `POST /v0/semaphore` with `{semaphoreName, requester, permits,
//! ttlSeconds?, waitSeconds?}` and an optional `Idempotency-Key` header: a
//! lease on one of the semaphore's permits if one is free (one write when
//! the first slot tried is), else waiting as a lock's acquire does. Every
//! permit expires: `ttlSeconds`, else the template's default, else 300 s.

use lock_wire::{IdempotencyKey, LeaseId, PermitAnswer, PermitRequest, Route};
use serde_json::json;

use super::acquire::held_message;
use super::waiting::{acquire_within, wait_of, Waiter};
use super::{Acquirer, Endpoint, Example, Permissions, Scene};
use crate::error::{ApiError, StoreError};
use crate::input::Json;
use crate::metrics::{self, Metric};
use crate::store::semaphores::DEFAULT_PERMIT_TTL_SECONDS;
use crate::store::{Booking, Grant, LockStore, PermitAcquired, Sight};
use crate::types::{LeaseTtl, SemaphoreName, Timestamp, UserId};
use lock_wire::Permits;

/// `POST /v0/semaphore`.
pub struct AcquirePermit;

impl Endpoint for AcquirePermit {
    const ROUTE: Route = Route::AcquirePermit;
    /// The grant and quota writes, the reads of the semaphore and of the
    /// quota's names, creating a semaphore's record and a user's names item.
    const PERMISSIONS: Permissions = Permissions::locks(&[
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
    ]);
    type State = Acquirer;
    type Input = (UserId, (Json<PermitRequest>, Option<IdempotencyKey>));
    type Answer = PermitAnswer;

    fn example(_: &Scene) -> Example {
        let body = json!({ "semaphoreName": "new-pool", "requester": "example", "permits": 3 });
        Example::body(body).shows("acquired", json!(true))
    }

    async fn handle(
        state: &Acquirer,
        (user, (Json(request), idempotency_key)): Self::Input,
    ) -> Result<PermitAnswer, ApiError> {
        // Made before the first write attempt, so an SDK retry of a write
        // that already landed is recognised as ours.
        let lease = LeaseId::generate();
        let default = LeaseTtl::from_seconds(DEFAULT_PERMIT_TTL_SECONDS).expect("in range");
        let ttl = request.ttl_seconds.or(state.settings.default_ttl);
        let grant = Grant {
            requester: &request.requester,
            lease: &lease,
            ttl: Some(ttl.unwrap_or(default)),
            idempotency_key: idempotency_key.as_ref(),
        };
        let wait = wait_of(request.wait_seconds, state.settings.max_wait);
        let waiter = PermitWaiter {
            locks: &state.locks,
            user: &user,
            name: &request.semaphore_name,
            permits: request.permits,
            grant: &grant,
        };
        metrics::property("semaphoreName", request.semaphore_name.as_str());
        let outcome = acquire_within(state, &user, &lease, wait, &waiter).await?;
        let counted = match &outcome {
            PermitAcquired::Granted { .. } => Some(Metric::PermitGranted),
            PermitAcquired::Held { .. } => Some(Metric::PermitRefused),
            PermitAcquired::QuotaExceeded => Some(Metric::AcquireQuotaRefused),
            // 409s: the caller's mistakes, not contention.
            PermitAcquired::KeyReused | PermitAcquired::PermitsMismatch { .. } => None,
        };
        counted.into_iter().for_each(metrics::count);
        match outcome {
            PermitAcquired::Granted { permit, permits } => Ok(PermitAnswer {
                acquired: true,
                lease_id: Some(permit.lease_id.into()),
                permit: Some(permit.slot),
                fencing_token: Some(permit.fencing_token),
                expires_at: Some(permit.expires_at),
                permits,
                message: "permit acquired".into(),
            }),
            PermitAcquired::Held {
                permits,
                expires_at,
            } => Ok(PermitAnswer {
                acquired: false,
                lease_id: None,
                permit: None,
                fencing_token: None,
                expires_at,
                permits,
                message: held_message(
                    "every permit is held by a live lease or reserved for a client that has waited longer",
                    expires_at,
                    state.locks.clock_margin(),
                ),
            }),
            PermitAcquired::QuotaExceeded => Err(ApiError::LockQuotaExceeded),
            PermitAcquired::KeyReused => Err(ApiError::IdempotencyKeyReused),
            PermitAcquired::PermitsMismatch { permits } => {
                Err(ApiError::PermitsMismatch { permits })
            }
        }
    }
}

/// One acquire of a permit, as waiting sees it.
struct PermitWaiter<'a> {
    locks: &'a LockStore,
    user: &'a UserId,
    name: &'a SemaphoreName,
    permits: Permits,
    grant: &'a Grant<'a>,
}

impl Waiter for PermitWaiter<'_> {
    type Outcome = PermitAcquired;

    async fn attempt(&self, now: Timestamp) -> Result<PermitAcquired, StoreError> {
        let (user, name, permits, grant) = (self.user, self.name, self.permits, self.grant);
        self.locks
            .acquire_permit(user, name, permits, grant, now)
            .await
    }

    async fn look(&self, now: Timestamp) -> Result<Sight, StoreError> {
        let (user, name, lease) = (self.user, self.name, self.grant.lease);
        self.locks
            .look_at_semaphore(user, name, self.permits, lease, now)
            .await
    }

    async fn reserve(&self, sight: &Sight, booking: &Booking<'_>) -> Result<bool, StoreError> {
        let Some(slot) = sight.slot else {
            return Ok(false);
        };
        let (user, name, permits) = (self.user, self.name, self.permits);
        self.locks
            .reserve_permit(user, name, permits, slot, booking)
            .await
    }

    async fn withdraw(&self, slot: Option<u8>, _: Timestamp) -> Result<bool, StoreError> {
        let Some(slot) = slot else {
            return Ok(false);
        };
        let (user, name, lease) = (self.user, self.name, self.grant.lease);
        self.locks
            .withdraw_permit_reservation(user, name, slot, lease)
            .await
    }

    fn refused(&self, sight: &Sight) -> PermitAcquired {
        PermitAcquired::Held {
            permits: self.permits.get(),
            expires_at: sight.expires_at,
        }
    }
}
