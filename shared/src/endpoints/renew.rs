//! `POST /v0/lock/renew` with `{lockName, leaseId, ttlSeconds?}`: extends a
//! live lease by `ttlSeconds` (or its own TTL) from now, in one write.

use lock_wire::{RenewAnswer, RenewRequest, Route};
use serde_json::json;

use super::{Endpoint, Example, Permissions, Scene, RENEWED};
use crate::error::ApiError;
use crate::input::Json;
use crate::metrics::{self, Metric};
use crate::store::{LockStore, Renewed};
use crate::types::{Timestamp, UserId};

/// `POST /v0/lock/renew`.
pub struct Renew;

impl Endpoint for Renew {
    const ROUTE: Route = Route::Renew;
    /// The renew, the read after a failed condition.
    const PERMISSIONS: Permissions =
        Permissions::locks(&["dynamodb:UpdateItem", "dynamodb:GetItem"]);
    type State = LockStore;
    type Input = (UserId, Json<RenewRequest>);
    type Answer = RenewAnswer;

    fn example(scene: &Scene) -> Example {
        let body = json!({ "lockName": RENEWED, "leaseId": scene.renewed, "ttlSeconds": 60 });
        Example::body(body).shows("renewed", json!(true))
    }

    async fn handle(
        locks: &LockStore,
        (user, Json(input)): Self::Input,
    ) -> Result<RenewAnswer, ApiError> {
        metrics::property("lockName", input.lock_name.as_str());
        let renewed = locks
            .renew(
                &user,
                &input.lock_name,
                &input.lease_id,
                input.ttl_seconds,
                Timestamp::now(),
            )
            .await?;
        renew_answer(
            renewed,
            "lease is not the lock's live lease (released, expired or replaced)",
        )
        .ok_or(ApiError::LockNotFound)
    }
}

/// The answer of a renew of a lock or a permit (`message` why not, when the
/// lease is not live); `None` if there is nothing of that name.
pub(super) fn renew_answer(renewed: Renewed, message: &str) -> Option<RenewAnswer> {
    match renewed {
        Renewed::Extended { expires_at } => Some(RenewAnswer {
            renewed: true,
            expires_at,
            message: None,
        }),
        Renewed::NotLive => Some({
            metrics::count(Metric::RenewLost);
            RenewAnswer {
                renewed: false,
                expires_at: None,
                message: Some(message.into()),
            }
        }),
        Renewed::NotFound => None,
    }
}
