//! One function per endpoint: API Gateway REST proxy request in, JSON answer
//! out. Every failure becomes a JSON error through [`crate::http::error`].
//! The lock endpoints are here; the key endpoints in `keys`.

mod keys;

pub use keys::{create_user, revoke_key, revoke_other_keys, rotate_key};

use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use lock_wire::{AcquireAnswer, DeleteAnswer, LockList, LockView, RenewAnswer, UnlockAnswer};

use crate::config::AcquireSettings;
use crate::error::ApiError;
use crate::http::{self, json};
use crate::requests::{
    cursor_after, AcquireRequest, DeleteRequest, GetRequest, ListRequest, RenewRequest, UnlockBy,
    UnlockRequest,
};
use crate::store::{Acquired, Deleted, Grant, LockStore, Place, Released, Renewed};
use crate::types::{LeaseId, Lock, LockName, Timestamp, UserId};

/// Most conditional writes one waiting acquire makes (the last at the end of its wait).
pub const MAX_WAIT_ATTEMPTS: u32 = 40;
/// First pause between attempts of a waiting acquire; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between attempts; each pause is jittered down to half.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A lock as the API shows it at `now`.
fn view(lock: Lock, now: Timestamp) -> LockView {
    LockView {
        locked: lock.is_held(now),
        lock_name: lock.lock_name.into(),
        lease_id: lock.lease_id.into(),
        leased_by: lock.leased_by.into(),
        created_at: lock.created_at,
        updated_at: lock.updated_at,
        fencing_token: lock.fencing_token,
        expires_at: lock.expires_at,
    }
}

/// The answer, or the JSON error for the failure.
fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|err| http::error(&err))
}

/// `POST /v0/lock` with `{lockName, requester, ttlSeconds?, waitSeconds?}` and
/// an optional `Idempotency-Key` header: a new lease if the lock is free,
/// waiting up to `waitSeconds` (at most the service's longest wait) for it.
pub async fn acquire(
    locks: &LockStore,
    settings: &AcquireSettings,
    request: Request,
) -> Response<Body> {
    respond(
        async {
            let input = AcquireRequest::parse(&request, settings.default_ttl)?;
            // Made before the first write attempt, so an SDK retry of a write
            // that already landed is recognised as ours.
            let lease = LeaseId::generate();
            let grant = Grant {
                requester: &input.requester,
                lease: &lease,
                ttl: input.ttl,
                idempotency_key: input.idempotency_key.as_ref(),
            };
            let wait = input.wait.duration().min(settings.max_wait);
            let outcome =
                acquire_within(locks, settings, &input.user, &input.name, &grant, wait).await?;
            let answer = match outcome {
                Acquired::Granted(lock) => AcquireAnswer {
                    locked: true,
                    lease_id: Some(lock.lease_id.into()),
                    message: "lock acquired".into(),
                    fencing_token: Some(lock.fencing_token),
                    expires_at: lock.expires_at,
                },
                Acquired::QuotaExceeded => return Err(ApiError::LockQuotaExceeded),
                Acquired::KeyReused => return Err(ApiError::IdempotencyKeyReused),
                // The holder's expiry, so a client knows when to ask again.
                Acquired::Held { expires_at } => AcquireAnswer {
                    locked: false,
                    lease_id: None,
                    message: "lock is held by another lease".into(),
                    fencing_token: None,
                    expires_at,
                },
            };
            Ok(json(StatusCode::OK, &answer))
        }
        .await,
    )
}

/// How long past the end of its wait a waiting place lapses by itself, should
/// its function die before giving it back.
pub const PLACE_LAPSE_MARGIN: Duration = Duration::from_secs(5);

/// Tries to acquire; if the lock is held and `wait` is not zero, takes one of
/// the tenant's waiting places (none free: [`ApiError::TooManyWaiting`]) and
/// tries again until granted or `wait` has passed: at most
/// [`MAX_WAIT_ATTEMPTS`] conditional writes in all, apart by a jittered
/// exponential backoff, and never later than just after the holder's lease
/// expires. The place is given back when the wait ends.
async fn acquire_within(
    locks: &LockStore,
    settings: &AcquireSettings,
    user: &UserId,
    name: &LockName,
    grant: &Grant<'_>,
    wait: Duration,
) -> Result<Acquired, ApiError> {
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
    let mut backoff = FIRST_BACKOFF;
    for _ in 1..MAX_WAIT_ATTEMPTS {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let mut pause = jittered(backoff);
        if let Some(end) = expires_at {
            let until_expiry =
                Duration::from_millis(end.millis().saturating_sub(last.millis()) + 1);
            pause = pause.min(until_expiry);
        }
        tokio::time::sleep(pause.min(remaining)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        last = Timestamp::now();
        match locks.acquire(user, name, grant, last).await? {
            Acquired::Held { expires_at: end } => expires_at = end,
            outcome => return Ok(outcome),
        }
    }
    Ok(Acquired::Held { expires_at })
}

/// A random duration between half of `pause` and `pause` (spreads waiters apart).
fn jittered(pause: Duration) -> Duration {
    let half = pause / 2;
    let random = (uuid::Uuid::new_v4().as_u128() % 1024) as u32;
    half + half * random / 1024
}

/// `GET /v0/lock?lockName=`: the lock's current (or last) lease.
pub async fn get_lock(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = GetRequest::parse(&request)?;
            let lock = locks
                .get(&input.user, &input.name)
                .await?
                .ok_or(ApiError::LockNotFound)?;
            Ok(json(StatusCode::OK, &view(lock, Timestamp::now())))
        }
        .await,
    )
}

/// `POST /v0/unlock` with `{lockName, leaseId}` (frees the lock if that lease
/// is live) or `{lockName, force: true}` (frees it whoever holds it).
pub async fn unlock(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = UnlockRequest::parse(&request)?;
            let now = Timestamp::now();
            let released = match &input.by {
                UnlockBy::Force => locks.force_release(&input.user, &input.name, now).await?,
                UnlockBy::Lease(lease) => {
                    locks.release(&input.user, &input.name, lease, now).await?
                }
            };
            let answer = match released {
                Released::Released => UnlockAnswer {
                    unlocked: true,
                    message: None,
                },
                Released::NotHolder => UnlockAnswer {
                    unlocked: false,
                    message: Some("lease is not the lock's current lease".into()),
                },
                Released::Expired => UnlockAnswer {
                    unlocked: false,
                    message: Some("lease has expired".into()),
                },
                Released::NotFound => return Err(ApiError::LockNotFound),
            };
            Ok(json(StatusCode::OK, &answer))
        }
        .await,
    )
}

/// `POST /v0/lock/renew` with `{lockName, leaseId, ttlSeconds?}`: extends a
/// live lease by `ttlSeconds` (or by its own TTL) from now.
pub async fn renew(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = RenewRequest::parse(&request)?;
            let renewed = locks
                .renew(
                    &input.user,
                    &input.name,
                    &input.lease,
                    input.ttl,
                    Timestamp::now(),
                )
                .await?;
            let answer = match renewed {
                Renewed::Renewed { expires_at } => RenewAnswer {
                    renewed: true,
                    expires_at,
                    message: None,
                },
                Renewed::NotLive => RenewAnswer {
                    renewed: false,
                    expires_at: None,
                    message: Some(
                        "lease is not the lock's live lease (released, expired or replaced)".into(),
                    ),
                },
                Renewed::NotFound => return Err(ApiError::LockNotFound),
            };
            Ok(json(StatusCode::OK, &answer))
        }
        .await,
    )
}

/// `POST /v0/lock/delete` with `{lockName}`: deletes a lock no live lease
/// holds, freeing its quota slot (`409` if held, `404` if never created).
pub async fn delete_lock(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = DeleteRequest::parse(&request)?;
            match locks
                .delete(&input.user, &input.name, Timestamp::now())
                .await?
            {
                Deleted::Deleted => Ok(json(StatusCode::OK, &DeleteAnswer { deleted: true })),
                Deleted::Held => Err(ApiError::LockHeld),
                Deleted::NotFound => Err(ApiError::LockNotFound),
            }
        }
        .await,
    )
}

/// `GET /v0/locks?limit=&cursor=`: one page of the caller's locks, ordered
/// by name (1 000 without `limit`), and the cursor of the next one.
pub async fn list_locks(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = ListRequest::parse(&request)?;
            let now = Timestamp::now();
            let page = locks
                .list_page(&input.user, input.after.as_deref(), Some(input.limit))
                .await?;
            let next_cursor = page
                .locks
                .last()
                .filter(|_| page.more)
                .map(|last| cursor_after(&last.lock_name));
            let locks = page.locks.into_iter().map(|lock| view(lock, now)).collect();
            Ok(json(StatusCode::OK, &LockList { locks, next_cursor }))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::apigw::ApiGatewayProxyResponse;

    use super::*;
    use crate::requests::MAX_PAGE_LIMIT;
    use crate::types::{Requester, MAX_LABEL_BYTES};

    /// Lambda's largest answer of a synchronous invocation, in bytes.
    const LAMBDA_MAX_ANSWER: usize = 6 * 1024 * 1024;

    /// The default page of `GET /v0/locks` (the whole list of a user within
    /// the default quota) fits Lambda's answer with room to spare, even with
    /// names and requesters of the characters JSON escapes, escaped once in
    /// the body and again in the proxy answer around it.
    #[test]
    fn a_full_page_of_the_longest_names_fits_lambdas_answer() {
        let now = Timestamp::from_millis(1_795_678_800_000);
        let locks = (0..MAX_PAGE_LIMIT)
            .map(|n| {
                // Distinct names of 255 bytes, each `"` escaping to 4 bytes in the end.
                let name = format!("{n:04}{}", "\"".repeat(MAX_LABEL_BYTES - 4));
                view(
                    Lock {
                        lock_name: LockName::parse(&name).unwrap(),
                        locked: true,
                        lease_id: LeaseId::generate(),
                        leased_by: Requester::parse(&"\\".repeat(MAX_LABEL_BYTES)).unwrap(),
                        created_at: now,
                        updated_at: now,
                        expires_at: Some(now),
                        fencing_token: u64::MAX,
                    },
                    now,
                )
            })
            .collect();
        let page = LockList {
            locks,
            next_cursor: Some(cursor_after(&LockName::parse(&"\"".repeat(255)).unwrap())),
        };
        let response = json(StatusCode::OK, &page);
        let Body::Text(body) = response.body() else {
            panic!("a text body")
        };
        let mut proxy = ApiGatewayProxyResponse::default();
        proxy.status_code = 200;
        proxy.headers = response.headers().clone();
        proxy.body = Some(aws_lambda_events::encodings::Body::Text(body.clone()));
        let answer = serde_json::to_vec(&proxy).unwrap().len();
        eprintln!("{MAX_PAGE_LIMIT} worst-case locks: {answer} bytes in the proxy answer");
        assert!(
            answer > 2 * 1024 * 1024,
            "the names are escaped twice: {answer}"
        );
        assert!(answer < LAMBDA_MAX_ANSWER / 2, "{answer} bytes");
    }
}
