//! `POST /v0/lock` with `{lockName, requester, ttlSeconds?, waitSeconds?}`
//! and an optional `Idempotency-Key` header: a new lease if the lock is new,
//! free or expired (one write for a name that exists) and not reserved for
//! a longer waiter, else waiting up to `waitSeconds` (at most the service's
//! longest wait) in one of the user's waiting places.

use lambda_http::Request;
use lock_wire::{AcquireAnswer, AcquireRequest, IdempotencyKey, LeaseId, Route};
use serde_json::json;

use super::waiting::{acquire_within, wait_of, Waiter};
use super::{Endpoint, Example, Permissions, Scene};
use crate::config::AcquireSettings;
use crate::error::{ApiError, StoreError};
use crate::input::{FromRequest, Json};
use crate::metrics::{self, Metric};
use crate::store::{Acquired, Booking, Grant, LockStore, Sight};
use crate::types::{LockName, Timestamp, UserId};

/// `POST /v0/lock`.
pub struct Acquire;

/// What acquire works with: the store (with the quota) and its settings.
#[derive(Clone, Debug)]
pub struct Acquirer {
    /// The lock store, with the tenants' quota of names.
    pub locks: LockStore,
    /// The default TTL, the quota and the waiting limits.
    pub settings: AcquireSettings,
}

/// An acquire, parsed.
#[derive(Debug)]
pub struct AcquireInput {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The body.
    pub request: AcquireRequest,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl FromRequest for AcquireInput {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        let (user, (Json(request), idempotency_key)) = FromRequest::from_request(request)?;
        Ok(AcquireInput {
            user,
            request,
            idempotency_key,
        })
    }
}

impl Endpoint for Acquire {
    const ROUTE: Route = Route::Acquire;
    /// The grant and quota writes, the reads after a failed condition, starting a user's names item (`PutItem`, `Query`).
    const PERMISSIONS: Permissions = Permissions::locks(&[
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
    ]);
    type State = Acquirer;
    type Input = AcquireInput;
    type Answer = AcquireAnswer;

    fn example(_: &Scene) -> Example {
        let body = json!({ "lockName": "new", "requester": "example" });
        Example::body(body).shows("locked", json!(true))
    }

    async fn handle(state: &Acquirer, input: AcquireInput) -> Result<AcquireAnswer, ApiError> {
        let AcquireInput {
            user,
            request,
            idempotency_key,
        } = input;
        // Made before the first write attempt, so an SDK retry of a write
        // that already landed is recognised as ours.
        let lease = LeaseId::generate();
        let grant = Grant {
            requester: &request.requester,
            lease: &lease,
            ttl: request.ttl_seconds.or(state.settings.default_ttl),
            idempotency_key: idempotency_key.as_ref(),
        };
        let wait = wait_of(request.wait_seconds, state.settings.max_wait);
        let waiter = LockWaiter {
            locks: &state.locks,
            user: &user,
            name: &request.lock_name,
            grant: &grant,
        };
        metrics::property("lockName", request.lock_name.as_str());
        let outcome = acquire_within(state, &user, &lease, wait, &waiter).await?;
        let counted = match &outcome {
            Acquired::Granted(_) => Some(Metric::AcquireGranted),
            Acquired::Held { .. } | Acquired::Reserved { .. } => Some(Metric::AcquireRefused),
            Acquired::QuotaExceeded => Some(Metric::AcquireQuotaRefused),
            Acquired::KeyReused => None, // a 409: the caller's mistake, not contention
        };
        counted.into_iter().for_each(metrics::count);
        match outcome {
            Acquired::Granted(lock) => Ok(AcquireAnswer {
                locked: true,
                lease_id: Some(lock.lease_id.into()),
                message: "lock acquired".into(),
                fencing_token: Some(lock.fencing_token),
                expires_at: lock.expires_at,
                reserved_until: None,
            }),
            Acquired::QuotaExceeded => Err(ApiError::LockQuotaExceeded),
            Acquired::KeyReused => Err(ApiError::IdempotencyKeyReused),
            // The holder's expiry, so a client knows when to ask again.
            Acquired::Held { expires_at } => Ok(AcquireAnswer {
                locked: false,
                lease_id: None,
                message: held_message(
                    "lock is held by another lease",
                    expires_at,
                    state.locks.clock_margin(),
                ),
                fencing_token: None,
                expires_at,
                reserved_until: None,
            }),
            Acquired::Reserved { until } => Ok(AcquireAnswer {
                locked: false,
                lease_id: None,
                message: "lock is reserved for a client that has waited longer".into(),
                fencing_token: None,
                expires_at: Some(until),
                reserved_until: Some(until),
            }),
        }
    }
}

/// A refusal's message; with a lease that expires, when to ask again: its
/// `expiresAt` plus the clock-skew margin (docs/SEMANTICS.md, "Clocks").
pub(super) fn held_message(held: &str, expires_at: Option<Timestamp>, margin: u64) -> String {
    match expires_at {
        Some(_) => format!(
            "{held}; it may be taken over from expiresAt plus {margin} ms (the clock-skew margin)"
        ),
        None => held.to_owned(),
    }
}

/// One acquire of a lock, as waiting sees it.
struct LockWaiter<'a> {
    locks: &'a LockStore,
    user: &'a UserId,
    name: &'a LockName,
    grant: &'a Grant<'a>,
}

impl Waiter for LockWaiter<'_> {
    type Outcome = Acquired;

    async fn attempt(&self, now: Timestamp) -> Result<Acquired, StoreError> {
        self.locks
            .acquire(self.user, self.name, self.grant, now)
            .await
    }

    async fn look(&self, now: Timestamp) -> Result<Sight, StoreError> {
        let lease = self.grant.lease;
        self.locks
            .look_at_lock(self.user, self.name, lease, now)
            .await
    }

    async fn reserve(&self, _: &Sight, booking: &Booking<'_>) -> Result<bool, StoreError> {
        self.locks.reserve_lock(self.user, self.name, booking).await
    }

    async fn withdraw(&self, _: Option<u8>, now: Timestamp) -> Result<bool, StoreError> {
        let (user, name, lease) = (self.user, self.name, self.grant.lease);
        let locks = self.locks;
        locks
            .withdraw_lock_reservation(user, name, lease, now)
            .await
    }

    fn refused(&self, sight: &Sight) -> Acquired {
        match &sight.reservation {
            Some(other) if !sight.held && !other.is_for(self.grant.lease) => {
                Acquired::Reserved { until: other.until }
            }
            _ => Acquired::Held {
                expires_at: sight.expires_at,
            },
        }
    }
}
