//! A lock as `GET /v0/lock` and `GET /v0/locks` show it, and a semaphore
//! as `GET /v0/semaphore` and `GET /v0/semaphores` do.

use lock_wire::{LockView, PermitHolder, SemaphoreView};

use crate::store::Semaphore;
use crate::types::{Lock, Timestamp};

/// `lock` as the API shows it at `now`: held while nobody else can take it,
/// which is until the clock-skew margin (`margin`, ms) past its expiry.
pub(super) fn view(lock: Lock, now: Timestamp, margin: u64) -> LockView {
    LockView {
        locked: lock.is_held(now.minus_millis(margin)),
        lock_name: lock.lock_name.into(),
        lease_id: lock.lease_id.into(),
        leased_by: lock.leased_by.into(),
        created_at: lock.created_at,
        acquired_at: lock.acquired_at,
        updated_at: lock.updated_at,
        fencing_token: lock.fencing_token,
        expires_at: lock.expires_at,
        reserved_until: lock.reserved_until.filter(|until| *until > now),
    }
}

/// `semaphore` as the API shows it (its holders: the live leases when read).
pub(super) fn semaphore_view(semaphore: Semaphore) -> SemaphoreView {
    let holders: Vec<PermitHolder> = semaphore
        .holders
        .into_iter()
        .map(|permit| PermitHolder {
            lease_id: permit.lease_id.into(),
            leased_by: permit.leased_by.into(),
            permit: permit.slot,
            acquired_at: permit.acquired_at,
            expires_at: Some(permit.expires_at),
            fencing_token: permit.fencing_token,
        })
        .collect();
    SemaphoreView {
        semaphore_name: semaphore.name.into(),
        permits: semaphore.permits,
        available: semaphore.permits.saturating_sub(holders.len() as u8),
        holders,
        created_at: semaphore.created_at,
        updated_at: semaphore.updated_at,
    }
}
