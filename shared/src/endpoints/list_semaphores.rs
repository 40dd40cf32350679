//! `GET /v0/semaphores?limit=&cursor=`: one page of the caller's semaphores
//! in name order (50 without `limit`, at most 50), and the cursor of the
//! next one. Strongly consistent `Query` calls of the partition's semaphore
//! items, reading at most one page's worth.

use lock_wire::{Cursor, Route, SemaphoreList, SemaphoreListQuery, SemaphorePageLimit};

use super::view::semaphore_view;
use super::{Endpoint, Example, Permissions, Scene};
use crate::error::ApiError;
use crate::input::Query;
use crate::store::LockStore;
use crate::types::{Timestamp, UserId};

/// `GET /v0/semaphores`.
pub struct ListSemaphores;

impl Endpoint for ListSemaphores {
    const ROUTE: Route = Route::ListSemaphores;
    /// Queries of the semaphore items.
    const PERMISSIONS: Permissions = Permissions::locks(&["dynamodb:Query"]);
    type State = LockStore;
    type Input = (UserId, Query<SemaphoreListQuery>);
    type Answer = SemaphoreList;

    fn example(_: &Scene) -> Example {
        Example::query("limit", "10").shows("semaphores", None)
    }

    async fn handle(
        locks: &LockStore,
        (user, Query(input)): Self::Input,
    ) -> Result<SemaphoreList, ApiError> {
        let limit = input.limit.unwrap_or(SemaphorePageLimit::DEFAULT).get();
        let after = input.cursor.map(|cursor| cursor.position());
        let page = locks
            .semaphore_page(
                &user,
                after.as_deref(),
                usize::from(limit),
                Timestamp::now(),
            )
            .await?;
        let next_cursor = page
            .semaphores
            .last()
            .filter(|_| page.more)
            .map(|last| Cursor::after_semaphore(&last.name));
        let semaphores = page.semaphores.into_iter().map(semaphore_view).collect();
        Ok(SemaphoreList {
            semaphores,
            next_cursor,
        })
    }
}
