//! A grant that took over an expired lease: counted ([`Metric::Takeover`],
//! and how long the lease had been expired) and written to the audit trail.
//! Judged from the item as it stood just before the grant, which the grant
//! write itself returns (`ALL_OLD`): no call more.
//!
//! Every grant condition lets a write land on a `locked` item only past its
//! `expiresAt`, so a landed grant whose old item was locked took over.

use super::item::{is_true, optional_string, optional_time, Item};
use super::item::{EXPIRES_AT, LEASED_BY, LEASE_ID, LOCKED};
use super::outcomes::Grant;
use crate::audit::{Act, Entry};
use crate::metrics::{self, Metric};
use crate::types::{Timestamp, UserId};

/// What was taken over: a lock, or one permit slot of a semaphore.
pub(super) struct Taken<'a> {
    /// The lock's or semaphore's name.
    pub name: &'a str,
    /// The permit slot, for a semaphore's.
    pub permit: Option<u8>,
}

/// Reports the takeover if `old`, the item before `grant` landed at `now`,
/// held a lease (then necessarily expired).
pub(super) fn report_takeover(
    old: Option<&Item>,
    user: &UserId,
    taken: Taken<'_>,
    grant: &Grant<'_>,
    now: Timestamp,
) {
    let Some(old) = old.filter(|old| is_true(old, LOCKED)) else {
        return;
    };
    let Ok(Some(expired_at)) = optional_time(old, EXPIRES_AT) else {
        return;
    };
    let expired_for_ms = now.millis().saturating_sub(expired_at.millis());
    metrics::count(Metric::Takeover);
    metrics::value(Metric::TakeoverExpiredFor, expired_for_ms as f64);
    let displaced = (
        optional_string(old, LEASE_ID),
        optional_string(old, LEASED_BY),
    );
    let granted = (grant.lease.as_str(), grant.requester.as_str());
    let mut entry = Entry::new(Act::Takeover, user, now)
        .on(taken.name)
        .taking_over(displaced, expired_for_ms, granted);
    entry.permit = taken.permit;
    entry.write();
}
