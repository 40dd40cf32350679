//! [`LockStore`]: the table it keeps locks and semaphores in, and its
//! settings (a quota of names, a page size, the clock-skew margin).

use std::time::Duration;

use aws_sdk_dynamodb::Client;

use super::table::Table;
use crate::types::Timestamp;

/// Locks of every tenant, in the table keyed by (userId, lockName).
#[derive(Clone, Debug)]
pub struct LockStore {
    pub(super) table: Table,
    pub(super) page_size: Option<i32>,
    pub(super) quota: Option<u32>,
    /// Milliseconds after its `expiresAt` before another may take a lease.
    pub(super) clock_margin: u64,
}

impl LockStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table.into()),
            page_size: None,
            quota: None,
            clock_margin: 0,
        }
    }

    /// Lets another take an expired lease only `margin` after its
    /// `expiresAt` by the reading instance's clock (default: none), so that
    /// instances whose clocks differ by less never grant overlapping leases.
    /// The holder's own renew and unlock still end at `expiresAt`.
    pub fn with_clock_margin(mut self, margin: Duration) -> Self {
        self.clock_margin = margin.as_millis() as u64;
        self
    }

    /// The clock-skew margin in milliseconds.
    pub fn clock_margin(&self) -> u64 {
        self.clock_margin
    }

    /// The time by which a lease must have expired, at `now`, for another to
    /// take it (`:expiredBy`): `now` less the margin.
    pub(super) fn expired_by(&self, now: Timestamp) -> Timestamp {
        now.minus_millis(self.clock_margin)
    }

    /// Limits each tenant to `quota` lock names (`None`: no limit). An
    /// existing name is always acquirable, in one write; a new one beyond
    /// the quota is refused ([`super::Acquired::QuotaExceeded`]).
    pub fn with_quota(mut self, quota: Option<u32>) -> Self {
        self.quota = quota;
        self
    }

    /// Limits how many items each `Query` page of [`LockStore::list`] holds
    /// (default: DynamoDB's 1 MB pages).
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items);
        self
    }
}
