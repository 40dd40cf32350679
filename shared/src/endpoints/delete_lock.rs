//! `POST /v0/lock/delete` with `{lockName}`: deletes a lock no live lease
//! holds, freeing its place in the quota (`409` if held, `404` if never
//! created). Two writes.

use lock_wire::{DeleteAnswer, DeleteRequest, Route};
use serde_json::json;

use super::{Endpoint, Example, Permissions, Scene, FREED};
use crate::audit::{Act, Entry};
use crate::error::ApiError;
use crate::input::Json;
use crate::metrics::{self, Metric};
use crate::store::{Deleted, LockStore};
use crate::types::{Timestamp, UserId};

/// `POST /v0/lock/delete`.
pub struct DeleteLock;

impl Endpoint for DeleteLock {
    const ROUTE: Route = Route::DeleteLock;
    /// The delete, the element taken out of the quota, the read that tells a missing lock apart.
    const PERMISSIONS: Permissions = Permissions::locks(&[
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
    ]);
    type State = LockStore;
    type Input = (UserId, Json<DeleteRequest>);
    type Answer = DeleteAnswer;

    fn example(_: &Scene) -> Example {
        Example::body(json!({ "lockName": FREED })).shows("deleted", json!(true))
    }

    async fn handle(
        locks: &LockStore,
        (user, Json(input)): Self::Input,
    ) -> Result<DeleteAnswer, ApiError> {
        let now = Timestamp::now();
        match locks.delete(&user, &input.lock_name, now).await? {
            Deleted::Done => {
                metrics::count(Metric::Delete);
                metrics::property("lockName", input.lock_name.as_str());
                Entry::new(Act::DeleteLock, &user, now)
                    .on(input.lock_name.as_str())
                    .write();
                Ok(DeleteAnswer { deleted: true })
            }
            Deleted::Held => Err(ApiError::LockHeld),
            Deleted::NotFound => Err(ApiError::LockNotFound),
        }
    }
}
