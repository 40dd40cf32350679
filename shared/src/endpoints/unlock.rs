//! `POST /v0/unlock` with `{lockName, leaseId}` (frees the lock if that
//! lease is live) or `{lockName, force: true}` (frees it whoever holds it):
//! one write.

use lambda_http::Request;
use lock_wire::{LeaseId, Route, UnlockAnswer, UnlockRequest};
use serde_json::json;

use super::{Endpoint, Example, Permissions, Scene, HELD};
use crate::audit::{Act, Entry};
use crate::error::ApiError;
use crate::input::{FromRequest, Json};
use crate::metrics::{self, Metric};
use crate::store::{LockStore, Released};
use crate::types::{LockName, Timestamp, UserId};

/// `POST /v0/unlock`.
pub struct Unlock;

/// Whose lease an unlock (or a semaphore's release) ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnlockBy {
    /// Only this lease, if it is live.
    Lease(LeaseId),
    /// Whatever lease holds the lock (`force: true`).
    Force,
}

/// The tenant, the lock, and whose lease ends.
impl FromRequest for (UserId, LockName, UnlockBy) {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        let (user, Json(input)) = <(UserId, Json<UnlockRequest>)>::from_request(request)?;
        let by = UnlockBy::from_fields(input.force, input.lease_id)?;
        Ok((user, input.lock_name, by))
    }
}

impl UnlockBy {
    /// From a body's `force` and `leaseId`: exactly one of them.
    pub(super) fn from_fields(
        force: Option<bool>,
        lease: Option<LeaseId>,
    ) -> Result<Self, ApiError> {
        match (force.unwrap_or(false), lease) {
            (true, None) => Ok(UnlockBy::Force),
            (true, Some(_)) => Err(ApiError::invalid("leaseId", "must not be given with force")),
            (false, Some(lease)) => Ok(UnlockBy::Lease(lease)),
            (false, None) => Err(ApiError::invalid("leaseId", "is required")),
        }
    }
}

impl Endpoint for Unlock {
    const ROUTE: Route = Route::Unlock;
    /// The release, the read after a failed condition.
    const PERMISSIONS: Permissions =
        Permissions::locks(&["dynamodb:UpdateItem", "dynamodb:GetItem"]);
    type State = LockStore;
    type Input = (UserId, LockName, UnlockBy);
    type Answer = UnlockAnswer;

    fn example(scene: &Scene) -> Example {
        let body = json!({ "lockName": HELD, "leaseId": scene.held });
        Example::body(body).shows("unlocked", json!(true))
    }

    async fn handle(
        locks: &LockStore,
        (user, name, by): Self::Input,
    ) -> Result<UnlockAnswer, ApiError> {
        let now = Timestamp::now();
        let released = match &by {
            UnlockBy::Force => {
                let (released, before) = locks.force_release(&user, &name, now).await?;
                if released == Released::Freed {
                    Entry::new(Act::ForceRelease, &user, now)
                        .on(name.as_str())
                        .displacing(before.as_ref())
                        .write();
                }
                released
            }
            UnlockBy::Lease(lease) => locks.release(&user, &name, lease, now).await?,
        };
        metrics::property("lockName", name.as_str());
        record_release(&by, &released);
        let refused = |message: &str| UnlockAnswer {
            unlocked: false,
            message: Some(message.into()),
        };
        match released {
            Released::Freed => Ok(UnlockAnswer {
                unlocked: true,
                message: None,
            }),
            Released::NotHolder => Ok(refused("lease is not the lock's current lease")),
            Released::Expired => Ok(refused("lease has expired")),
            Released::NotFound => Err(ApiError::LockNotFound),
        }
    }
}

/// Counts a release: forced, or of a lease no longer live.
pub(super) fn record_release(by: &UnlockBy, released: &Released) {
    match (by, released) {
        (UnlockBy::Force, Released::Freed) => metrics::count(Metric::ForceRelease),
        (_, Released::NotHolder | Released::Expired) => metrics::count(Metric::StaleRelease),
        _ => {}
    }
}
