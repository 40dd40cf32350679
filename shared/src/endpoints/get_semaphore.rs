//! `GET /v0/semaphore?semaphoreName=`: its permits and live holders; `404`
//! if it was never acquired. One strongly consistent `Query`.

use lock_wire::{Route, SemaphoreQuery, SemaphoreView};
use serde_json::json;

use super::view::semaphore_view;
use super::{Endpoint, Example, Permissions, Scene, POOL};
use crate::error::ApiError;
use crate::input::Query;
use crate::store::LockStore;
use crate::types::{Timestamp, UserId};

/// `GET /v0/semaphore`.
pub struct GetSemaphore;

impl Endpoint for GetSemaphore {
    const ROUTE: Route = Route::GetSemaphore;
    /// One query of the semaphore's items.
    const PERMISSIONS: Permissions = Permissions::locks(&["dynamodb:Query"]);
    type State = LockStore;
    type Input = (UserId, Query<SemaphoreQuery>);
    type Answer = SemaphoreView;

    fn example(_: &Scene) -> Example {
        Example::query("semaphoreName", POOL).shows("semaphoreName", json!(POOL))
    }

    async fn handle(
        locks: &LockStore,
        (user, Query(input)): Self::Input,
    ) -> Result<SemaphoreView, ApiError> {
        let semaphore = locks
            .semaphore(&user, &input.semaphore_name, Timestamp::now())
            .await?
            .ok_or(ApiError::SemaphoreNotFound)?;
        Ok(semaphore_view(semaphore))
    }
}
