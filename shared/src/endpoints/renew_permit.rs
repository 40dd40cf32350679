//! `POST /v0/semaphore/renew` with `{semaphoreName, leaseId, permit?,
//! ttlSeconds?}`: extends a live permit's lease by `ttlSeconds` (or its own
//! TTL) from now: one write given `permit`, else one read first.

use lock_wire::{RenewAnswer, RenewPermitRequest, Route};
use serde_json::json;

use super::renew::renew_answer;
use super::{Endpoint, Example, Permissions, Scene, POOL};
use crate::error::ApiError;
use crate::input::Json;
use crate::metrics;
use crate::store::LockStore;
use crate::types::{Timestamp, UserId};

/// `POST /v0/semaphore/renew`.
pub struct RenewPermit;

impl Endpoint for RenewPermit {
    const ROUTE: Route = Route::RenewPermit;
    /// The renew; the query that finds the slot (or tells a missing semaphore).
    const PERMISSIONS: Permissions = Permissions::locks(&["dynamodb:UpdateItem", "dynamodb:Query"]);
    type State = LockStore;
    type Input = (UserId, Json<RenewPermitRequest>);
    type Answer = RenewAnswer;

    fn example(scene: &Scene) -> Example {
        let (lease, permit) = &scene.pool_renewed;
        let body =
            json!({ "semaphoreName": POOL, "leaseId": lease, "permit": permit, "ttlSeconds": 60 });
        Example::body(body).shows("renewed", json!(true))
    }

    async fn handle(
        locks: &LockStore,
        (user, Json(input)): Self::Input,
    ) -> Result<RenewAnswer, ApiError> {
        let (name, lease, now) = (&input.semaphore_name, &input.lease_id, Timestamp::now());
        metrics::property("semaphoreName", name.as_str());
        let renewed = locks
            .renew_permit(&user, name, lease, input.permit, input.ttl_seconds, now)
            .await?;
        let message = "lease holds no permit of this semaphore (released, expired or replaced)";
        renew_answer(renewed, message).ok_or(ApiError::SemaphoreNotFound)
    }
}
