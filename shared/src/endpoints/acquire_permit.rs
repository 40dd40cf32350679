//! `POST /v0/semaphore` with `{semaphoreName, requester, permits,
//! ttlSeconds?, waitSeconds?}` and an optional `Idempotency-Key` header: a
//! lease on one of the semaphore's permits if one is free (one write when
//! the first slot tried is), else waiting as a lock's acquire does. Every
//! permit expires: `ttlSeconds`, else the template's default, else 300 s.

use lock_wire::{IdempotencyKey, LeaseId, PermitAnswer, PermitRequest, Route};
use serde_json::json;

use super::waiting::{acquire_within, wait_of};
use super::{Acquirer, Endpoint, Example, Permissions, Scene};
use crate::error::ApiError;
use crate::input::Json;
use crate::store::semaphores::DEFAULT_PERMIT_TTL_SECONDS;
use crate::store::{Grant, PermitAcquired};
use crate::types::{LeaseTtl, UserId};

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
        let (name, permits) = (&request.semaphore_name, request.permits);
        let attempt = |now| {
            state
                .locks
                .acquire_permit(&user, name, permits, &grant, now)
        };
        match acquire_within(state, &user, &lease, wait, attempt).await? {
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
                message: "every permit is held by a live lease".into(),
            }),
            PermitAcquired::QuotaExceeded => Err(ApiError::LockQuotaExceeded),
            PermitAcquired::KeyReused => Err(ApiError::IdempotencyKeyReused),
            PermitAcquired::PermitsMismatch { permits } => {
                Err(ApiError::PermitsMismatch { permits })
            }
        }
    }
}
