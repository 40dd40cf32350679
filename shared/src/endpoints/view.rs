//! A lock as `GET /v0/lock` and `GET /v0/locks` show it.

use lock_wire::LockView;

use crate::types::{Lock, Timestamp};

/// `lock` as the API shows it at `now`.
pub(super) fn view(lock: Lock, now: Timestamp) -> LockView {
    LockView {
        locked: lock.is_held(now),
        lock_name: lock.lock_name.into(),
        lease_id: lock.lease_id.into(),
        leased_by: lock.leased_by.into(),
        created_at: lock.created_at,
        updated_at: lock.updated_at,
        fencing_token: lock.fencing_token,
        expires_at: lock.expires_at,
    }
}
