//! One function per endpoint: API Gateway REST proxy request in, JSON answer
//! out. Every failure becomes a JSON error through [`crate::http::error`].

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::http::{self, json, required_query, required_str, tenant};
use crate::keys::ApiKey;
use crate::store::{Acquired, KeyStore, LockStore, Released};
use crate::types::{LeaseId, Lock, LockName, Requester, Timestamp, UserId};

/// Answer of `POST /v0/users/anonymous`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    user_id: UserId,
    api_key: String,
}

/// Answer of `POST /v0/lock`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AcquireAnswer {
    locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_id: Option<LeaseId>,
    message: &'static str,
}

/// Answer of `POST /v0/unlock`.
#[derive(Serialize)]
struct UnlockAnswer {
    unlocked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

/// Answer of `GET /v0/locks`.
#[derive(Serialize)]
struct LockList {
    locks: Vec<Lock>,
}

fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|err| http::error(&err))
}

/// `POST /v0/users/anonymous`: a new user and its API key, shown only here.
pub async fn create_user(keys: &KeyStore, request: Request) -> Response<Body> {
    respond(
        async {
            http::body_bytes(&request)?; // any body is ignored, but not an oversized one
            let user_id = UserId::generate();
            let key = ApiKey::generate();
            keys.register(&key.hash(), &user_id, Timestamp::now())
                .await?;
            Ok(json(
                StatusCode::OK,
                &NewUser {
                    user_id,
                    api_key: key.reveal(),
                },
            ))
        }
        .await,
    )
}

/// `POST /v0/lock` with `{lockName, requester}`: a new lease if the lock is free.
pub async fn acquire(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let user = tenant(&request)?;
            let body = http::json_object(&request)?;
            let name = LockName::parse(required_str(&body, "lockName")?)?;
            let requester = Requester::parse(required_str(&body, "requester")?)?;
            // Made before the first write attempt, so an SDK retry of a write
            // that already landed is recognised as ours.
            let lease = LeaseId::generate();
            let answer = match locks
                .acquire(&user, &name, &requester, &lease, Timestamp::now())
                .await?
            {
                Acquired::Granted(lock) => AcquireAnswer {
                    locked: true,
                    lease_id: Some(lock.lease_id),
                    message: "lock acquired",
                },
                Acquired::Held => AcquireAnswer {
                    locked: false,
                    lease_id: None,
                    message: "lock is held by another lease",
                },
            };
            Ok(json(StatusCode::OK, &answer))
        }
        .await,
    )
}

/// `GET /v0/lock?lockName=`: the lock's current (or last) lease.
pub async fn get_lock(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let user = tenant(&request)?;
            let name = LockName::parse(&required_query(&request, "lockName")?)?;
            let lock = locks
                .get(&user, &name)
                .await?
                .ok_or(ApiError::LockNotFound)?;
            Ok(json(StatusCode::OK, &lock))
        }
        .await,
    )
}

/// `POST /v0/unlock` with `{lockName, leaseId}`: frees the lock if the lease holds it.
pub async fn unlock(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let user = tenant(&request)?;
            let body = http::json_object(&request)?;
            let name = LockName::parse(required_str(&body, "lockName")?)?;
            let lease = LeaseId::parse(required_str(&body, "leaseId")?)?;
            let answer = match locks
                .release(&user, &name, &lease, Timestamp::now())
                .await?
            {
                Released::Released => UnlockAnswer {
                    unlocked: true,
                    message: None,
                },
                Released::NotHolder => UnlockAnswer {
                    unlocked: false,
                    message: Some("lease is not the lock's current lease"),
                },
                Released::NotFound => return Err(ApiError::LockNotFound),
            };
            Ok(json(StatusCode::OK, &answer))
        }
        .await,
    )
}

/// `GET /v0/locks`: every lock of the caller, ordered by name.
pub async fn list_locks(locks: &LockStore, request: Request) -> Response<Body> {
    respond(
        async {
            let user = tenant(&request)?;
            let locks = locks.list(&user).await?;
            Ok(json(StatusCode::OK, &LockList { locks }))
        }
        .await,
    )
}
