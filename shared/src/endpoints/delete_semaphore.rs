//! `POST /v0/semaphore/delete` with `{semaphoreName}`: deletes a semaphore
//! no live lease holds a permit of, freeing its place in the quota (`409`
//! if held, `404` if never acquired). One read, one write per permit, two
//! more writes.

use lock_wire::{DeleteAnswer, DeleteSemaphoreRequest, Route};
use serde_json::json;

use super::{Endpoint, Example, Permissions, Scene, SPENT};
use crate::audit::{Act, Entry};
use crate::error::ApiError;
use crate::input::Json;
use crate::metrics::{self, Metric};
use crate::store::{Deleted, LockStore};
use crate::types::{Timestamp, UserId};

/// `POST /v0/semaphore/delete`.
pub struct DeleteSemaphore;

impl Endpoint for DeleteSemaphore {
    const ROUTE: Route = Route::DeleteSemaphore;
    /// The read, the slots closed (and reopened on a refusal), the record
    /// deleted, its element taken out of the quota.
    const PERMISSIONS: Permissions = Permissions::locks(&[
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ]);
    type State = LockStore;
    type Input = (UserId, Json<DeleteSemaphoreRequest>);
    type Answer = DeleteAnswer;

    fn example(_: &Scene) -> Example {
        Example::body(json!({ "semaphoreName": SPENT })).shows("deleted", json!(true))
    }

    async fn handle(
        locks: &LockStore,
        (user, Json(input)): Self::Input,
    ) -> Result<DeleteAnswer, ApiError> {
        let name = &input.semaphore_name;
        let now = Timestamp::now();
        match locks.delete_semaphore(&user, name, now).await? {
            Deleted::Done => {
                metrics::count(Metric::Delete);
                metrics::property("semaphoreName", name.as_str());
                Entry::new(Act::DeleteSemaphore, &user, now)
                    .on(input.semaphore_name.as_str())
                    .write();
                Ok(DeleteAnswer { deleted: true })
            }
            Deleted::Held => Err(ApiError::SemaphoreHeld),
            Deleted::NotFound => Err(ApiError::SemaphoreNotFound),
        }
    }
}
