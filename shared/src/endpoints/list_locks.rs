//! `GET /v0/locks?limit=&cursor=`: one page of the caller's locks in name
//! order (1 000 without `limit`), and the cursor of the next one. One
//! strongly consistent `Query` of the caller's partition per page.

use lock_wire::{Cursor, ListQuery, LockList, PageLimit, Route};

use super::view::view;
use super::{Endpoint, Example, Permissions, Scene};
use crate::error::ApiError;
use crate::input::Query;
use crate::store::LockStore;
use crate::types::{Timestamp, UserId};

/// `GET /v0/locks`.
pub struct ListLocks;

impl Endpoint for ListLocks {
    const ROUTE: Route = Route::ListLocks;
    /// One query per page.
    const PERMISSIONS: Permissions = Permissions::locks(&["dynamodb:Query"]);
    type State = LockStore;
    type Input = (UserId, Query<ListQuery>);
    type Answer = LockList;

    fn example(_: &Scene) -> Example {
        Example::query("limit", "10").shows("locks", None)
    }

    async fn handle(
        locks: &LockStore,
        (user, Query(input)): Self::Input,
    ) -> Result<LockList, ApiError> {
        let now = Timestamp::now();
        let limit = input.limit.unwrap_or(PageLimit::DEFAULT).get() as usize;
        let after = input.cursor.map(|cursor| cursor.position());
        let page = locks
            .list_page(&user, after.as_deref(), Some(limit))
            .await?;
        let next_cursor = page
            .locks
            .last()
            .filter(|_| page.more)
            .map(|last| Cursor::after(&last.lock_name));
        let margin = locks.clock_margin();
        let locks = page
            .locks
            .into_iter()
            .map(|lock| view(lock, now, margin))
            .collect();
        Ok(LockList { locks, next_cursor })
    }
}
