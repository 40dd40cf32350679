//! `POST /v0/semaphore/release` with `{semaphoreName, leaseId, permit?}`
//! (frees that lease's permit if it is live: one write given `permit`, else
//! one read first) or `{semaphoreName, force: true, permit?}` (frees that
//! permit, or every live one, whoever holds it).

use lambda_http::Request;
use lock_wire::{PermitSlot, ReleasePermitAnswer, ReleasePermitRequest, Route};
use serde_json::json;

use super::unlock::record_release;
use super::{Endpoint, Example, Permissions, Scene, UnlockBy, POOL};
use crate::audit::{Act, Entry};
use crate::error::ApiError;
use crate::input::{FromRequest, Json};
use crate::metrics;
use crate::store::{LockStore, Released};
use crate::types::{SemaphoreName, Timestamp, UserId};

/// `POST /v0/semaphore/release`.
pub struct ReleasePermit;

/// A release, parsed.
#[derive(Debug)]
pub struct ReleaseInput {
    user: UserId,
    name: SemaphoreName,
    by: UnlockBy,
    permit: Option<PermitSlot>,
}

impl FromRequest for ReleaseInput {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        let (user, Json(input)) = <(UserId, Json<ReleasePermitRequest>)>::from_request(request)?;
        let by = UnlockBy::from_fields(input.force, input.lease_id)?;
        Ok(ReleaseInput {
            user,
            name: input.semaphore_name,
            by,
            permit: input.permit,
        })
    }
}

impl Endpoint for ReleasePermit {
    const ROUTE: Route = Route::ReleasePermit;
    /// The release; the query that finds the slot (or tells a missing semaphore).
    const PERMISSIONS: Permissions = Permissions::locks(&["dynamodb:UpdateItem", "dynamodb:Query"]);
    type State = LockStore;
    type Input = ReleaseInput;
    type Answer = ReleasePermitAnswer;

    fn example(scene: &Scene) -> Example {
        let (lease, permit) = &scene.pool_held;
        let body = json!({ "semaphoreName": POOL, "leaseId": lease, "permit": permit });
        Example::body(body).shows("released", json!(true))
    }

    async fn handle(
        locks: &LockStore,
        input: ReleaseInput,
    ) -> Result<ReleasePermitAnswer, ApiError> {
        let ReleaseInput {
            user,
            name,
            by,
            permit,
        } = input;
        let now = Timestamp::now();
        let released = match &by {
            UnlockBy::Force => {
                locks
                    .force_release_permits(&user, &name, permit, now)
                    .await?
            }
            UnlockBy::Lease(lease) => {
                locks
                    .release_permit(&user, &name, lease, permit, now)
                    .await?
            }
        };
        metrics::property("semaphoreName", name.as_str());
        record_release(&by, &released);
        if matches!((&by, released), (UnlockBy::Force, Released::Freed)) {
            let mut entry = Entry::new(Act::ForceReleasePermits, &user, now).on(name.as_str());
            entry.permit = permit.map(|p| p.get());
            entry.write();
        }
        let refused = |message: &str| ReleasePermitAnswer {
            released: false,
            message: Some(message.into()),
        };
        match released {
            Released::Freed => Ok(ReleasePermitAnswer {
                released: true,
                message: None,
            }),
            Released::NotHolder => Ok(refused("lease holds no permit of this semaphore")),
            Released::Expired => Ok(refused("lease has expired")),
            Released::NotFound => Err(ApiError::SemaphoreNotFound),
        }
    }
}
