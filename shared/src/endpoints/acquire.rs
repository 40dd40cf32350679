//! `POST /v0/lock` with `{lockName, requester, ttlSeconds?, waitSeconds?}`
//! and an optional `Idempotency-Key` header: a new lease if the lock is new,
//! free or expired (one write for a name that exists), else waiting up to
//! `waitSeconds` (at most the service's longest wait) in one of the user's
//! waiting places.

use serde_json::json;
use std::time::{Duration, Instant};

use lambda_http::Request;
use lock_wire::{AcquireAnswer, AcquireRequest, IdempotencyKey, LeaseId, Route};

use super::{Endpoint, Example, Permissions, Scene};
use crate::config::AcquireSettings;
use crate::error::ApiError;
use crate::input::{FromRequest, Json};
use crate::store::{Acquired, Grant, LockStore, Place};
use crate::types::{LockName, Timestamp, UserId};
use lock_wire::Backoff;

/// Most conditional writes one waiting acquire makes (the last at the end of its wait).
pub const MAX_WAIT_ATTEMPTS: u32 = 40;
/// How long past the end of its wait a waiting place lapses by itself, should
/// its function die before giving it back.
pub const PLACE_LAPSE_MARGIN: Duration = Duration::from_secs(5);
/// First pause between attempts of a waiting acquire; it doubles up to 1 s,
/// each pause jittered down to half.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));

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
        let wait = request
            .wait_seconds
            .map_or(Duration::ZERO, |wait| wait.duration())
            .min(state.settings.max_wait);
        let outcome = acquire_within(state, &user, &request.lock_name, &grant, wait).await?;
        match outcome {
            Acquired::Granted(lock) => Ok(AcquireAnswer {
                locked: true,
                lease_id: Some(lock.lease_id.into()),
                message: "lock acquired".into(),
                fencing_token: Some(lock.fencing_token),
                expires_at: lock.expires_at,
            }),
            Acquired::QuotaExceeded => Err(ApiError::LockQuotaExceeded),
            Acquired::KeyReused => Err(ApiError::IdempotencyKeyReused),
            // The holder's expiry, so a client knows when to ask again.
            Acquired::Held { expires_at } => Ok(AcquireAnswer {
                locked: false,
                lease_id: None,
                message: "lock is held by another lease".into(),
                fencing_token: None,
                expires_at,
            }),
        }
    }
}

/// Tries to acquire; if the lock is held and `wait` is not zero, takes one of
/// the tenant's waiting places (none free: [`ApiError::TooManyWaiting`]) and
/// tries again until granted or `wait` has passed: at most
/// [`MAX_WAIT_ATTEMPTS`] conditional writes in all, apart by a jittered
/// exponential backoff, and never later than just after the holder's lease
/// expires. The place is given back when the wait ends.
async fn acquire_within(
    state: &Acquirer,
    user: &UserId,
    name: &LockName,
    grant: &Grant<'_>,
    wait: Duration,
) -> Result<Acquired, ApiError> {
    let (locks, settings) = (&state.locks, &state.settings);
    let deadline = Instant::now() + wait;
    let now = Timestamp::now();
    let first = locks.acquire(user, name, grant, now).await?;
    let Acquired::Held { expires_at } = first else {
        return Ok(first);
    };
    if wait.is_zero() {
        return Ok(first);
    }
    let owner = grant.lease.as_str();
    let until = now.plus_millis((wait + PLACE_LAPSE_MARGIN).as_millis() as u64);
    let place = match locks
        .take_waiting_place(user, settings.max_waiting, owner, until, now)
        .await?
    {
        Place::Taken(place) => place,
        Place::Full { next_lapse } => {
            let seconds = next_lapse
                .millis()
                .saturating_sub(now.millis())
                .div_ceil(1000);
            return Err(ApiError::TooManyWaiting {
                limit: settings.max_waiting,
                retry_after: seconds.clamp(1, 20),
            });
        }
    };
    let outcome = keep_trying(locks, user, name, grant, deadline, expires_at, now).await;
    if let Err(err) = locks.give_back_waiting_place(user, place, owner).await {
        // It lapses by itself at `until`.
        tracing::warn!(error = ?err, place, "waiting place not given back");
    }
    outcome
}

/// The attempts of a waiting acquire after its first, refused one (at
/// `last`, when the holder's lease ended at `expires_at`).
async fn keep_trying(
    locks: &LockStore,
    user: &UserId,
    name: &LockName,
    grant: &Grant<'_>,
    deadline: Instant,
    mut expires_at: Option<Timestamp>,
    mut last: Timestamp,
) -> Result<Acquired, ApiError> {
    for attempt in 1..MAX_WAIT_ATTEMPTS {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let mut pause = BACKOFF.pause(attempt);
        if let Some(end) = expires_at {
            let until_expiry =
                Duration::from_millis(end.millis().saturating_sub(last.millis()) + 1);
            pause = pause.min(until_expiry);
        }
        tokio::time::sleep(pause.min(remaining)).await;
        last = Timestamp::now();
        match locks.acquire(user, name, grant, last).await? {
            Acquired::Held { expires_at: end } => expires_at = end,
            outcome => return Ok(outcome),
        }
    }
    Ok(Acquired::Held { expires_at })
}
