//! `POST /v0/lock/delete` with `{lockName}`: deletes a lock no live lease
//! holds, freeing its place in the quota (`409` if held, `404` if never
//! created). Two writes.

use lambda_http::Request;
use lock_wire::{DeleteAnswer, DeleteRequest, Route};
use serde_json::json;

use super::{Endpoint, Example, Permissions, Scene, FREED};
use crate::error::ApiError;
use crate::http::tenant;
use crate::input::body;
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
    type Input = (UserId, DeleteRequest);
    type Answer = DeleteAnswer;

    fn example(_: &Scene) -> Example {
        Example {
            body: Some(json!({ "lockName": FREED })),
            answer: ("deleted", Some(json!(true))),
            ..Example::default()
        }
    }

    fn parse(request: &Request) -> Result<Self::Input, ApiError> {
        Ok((tenant(request)?, body(request)?))
    }

    async fn handle(
        locks: &LockStore,
        (user, input): Self::Input,
    ) -> Result<DeleteAnswer, ApiError> {
        match locks
            .delete(&user, &input.lock_name, Timestamp::now())
            .await?
        {
            Deleted::Done => Ok(DeleteAnswer { deleted: true }),
            Deleted::Held => Err(ApiError::LockHeld),
            Deleted::NotFound => Err(ApiError::LockNotFound),
        }
    }
}
