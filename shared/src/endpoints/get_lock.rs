//! `GET /v0/lock?lockName=`: the lock's current (or last) lease; `404` if
//! it was never created. One strongly consistent read.

use lock_wire::{GetLockQuery, LockView, Route};
use serde_json::json;

use super::view::view;
use super::{Endpoint, Example, Permissions, Scene, HELD};
use crate::error::ApiError;
use crate::input::Query;
use crate::store::LockStore;
use crate::types::{Timestamp, UserId};

/// `GET /v0/lock`.
pub struct GetLock;

impl Endpoint for GetLock {
    const ROUTE: Route = Route::GetLock;
    /// One consistent read.
    const PERMISSIONS: Permissions = Permissions::locks(&["dynamodb:GetItem"]);
    type State = LockStore;
    type Input = (UserId, Query<GetLockQuery>);
    type Answer = LockView;

    fn example(_: &Scene) -> Example {
        Example::query("lockName", HELD).shows("lockName", json!(HELD))
    }

    async fn handle(
        locks: &LockStore,
        (user, Query(input)): Self::Input,
    ) -> Result<LockView, ApiError> {
        let lock = locks
            .get(&user, &input.lock_name)
            .await?
            .ok_or(ApiError::LockNotFound)?;
        Ok(view(lock, Timestamp::now(), locks.clock_margin()))
    }
}
