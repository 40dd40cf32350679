//! [`LockStore`]'s reads: get, list (whole or in pages), and the item
//! reads the writes fall back on. All strongly consistent.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::expressions::PARTITION_LOCKS;
use super::item::{attribute_names, is_lock, lock_from_item, sort_key, string_value, Item};
use super::outcomes::LockPage;
use super::quota::FIRST_LOCK_NAME;
use super::LockStore;
use crate::error::StoreError;
use crate::types::{Lock, LockName, UserId};

impl LockStore {
    /// A strongly consistent `Query` of `user`'s locks, in name order: the
    /// partition from the first possible lock name on, so never the quota's
    /// names item; `also` are the other expressions it will carry.
    pub(super) fn locks_query(&self, user: &UserId, also: &[&str]) -> QueryFluentBuilder {
        self.partition_query(user, FIRST_LOCK_NAME, also)
    }

    /// A strongly consistent `Query` of `user`'s partition from sort key
    /// `first` on; `also` are the other expressions it will carry.
    pub(super) fn partition_query(
        &self,
        user: &UserId,
        first: &str,
        also: &[&str],
    ) -> QueryFluentBuilder {
        let expressions: Vec<&str> = std::iter::once(PARTITION_LOCKS)
            .chain(also.iter().copied())
            .collect();
        self.table
            .query()
            .key_condition_expression(PARTITION_LOCKS)
            .set_expression_attribute_names(Some(attribute_names(&expressions)))
            .expression_attribute_values(":userId", string_value(user.as_str()))
            .expression_attribute_values(":firstName", string_value(first))
    }

    /// The lock as stored now (a strongly consistent read), if it exists.
    pub async fn get(&self, user: &UserId, name: &LockName) -> Result<Option<Lock>, StoreError> {
        self.read_item(user, name)
            .await?
            .as_ref()
            .map(lock_from_item)
            .transpose()
    }

    /// Every lock of `user`, ordered by name.
    pub async fn list(&self, user: &UserId) -> Result<Vec<Lock>, StoreError> {
        Ok(self.list_page(user, None, None).await?.locks)
    }

    /// The locks of `user` in name order after `after` (from the first if
    /// `None`), at most `limit` of them (all if `None`), and whether more
    /// remain: strongly consistent `Query` calls of the user's partition
    /// only, one per page of up to `limit + 1` items (DynamoDB's 1 MB pages
    /// hold more than 1 000 locks).
    pub async fn list_page(
        &self,
        user: &UserId,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<LockPage, StoreError> {
        // One more than asked for tells whether another page follows.
        let wanted = limit.map(|limit| limit + 1);
        let mut locks = Vec::new();
        // A position before the first possible lock name starts at the first.
        let after = after.filter(|position| *position >= FIRST_LOCK_NAME);
        let mut start_key = after.map(|position| sort_key(user, position));
        loop {
            let remaining = wanted.map(|wanted| wanted.saturating_sub(locks.len()));
            let page_limit = match (remaining, self.page_size) {
                (Some(remaining), Some(size)) => Some(size.min(remaining as i32)),
                (Some(remaining), None) => Some(remaining as i32),
                (None, size) => size,
            };
            let page = self
                .locks_query(user, &[])
                .set_limit(page_limit)
                .set_exclusive_start_key(start_key)
                .send()
                .await?;
            for item in page.items().iter().filter(|item| is_lock(item)) {
                locks.push(lock_from_item(item)?);
            }
            start_key = page.last_evaluated_key;
            let full = wanted.is_some_and(|wanted| locks.len() >= wanted);
            if start_key.is_none() || full {
                break;
            }
        }
        let more = limit.is_some_and(|limit| locks.len() > limit);
        if let Some(limit) = limit {
            locks.truncate(limit);
        }
        Ok(LockPage { locks, more })
    }

    /// The item of lock `name` (a strongly consistent read); a deleted
    /// lock's tombstone is no lock: `None`.
    pub(super) async fn read_item(
        &self,
        user: &UserId,
        name: &LockName,
    ) -> Result<Option<Item>, StoreError> {
        Ok(self
            .read_item_at(user, name.as_str())
            .await?
            .filter(is_lock))
    }

    /// The item at sort key `position` of `user`'s partition (a strongly
    /// consistent read).
    pub(super) async fn read_item_at(
        &self,
        user: &UserId,
        position: &str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self.table.get(sort_key(user, position)).send().await?;
        Ok(output.item)
    }
}
