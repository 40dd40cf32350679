//! The lock endpoints: acquire (waiting past the service's 20 s by asking
//! again), get, list, renew, unlock, force unlock, delete.

use std::time::{Duration, Instant};

use lock_wire::{
    AcquireAnswer, AcquireRequest, Cursor, DeleteAnswer, DeleteRequest, LeaseId, LeaseTtl,
    LockList, LockName, LockView, PageLimit, RenewAnswer, RenewRequest, Requester, Route,
    UnlockAnswer, UnlockRequest, WaitTime, MAX_PAGE_LIMIT,
};

use super::{whole_seconds, Call, Client};
use crate::lease::Lease;
use crate::Error;

/// Longest wait the service grants one acquire; longer waits ask again.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(20);

/// How to acquire: who asks, for how long, how long to wait.
#[derive(Clone, Debug)]
pub struct AcquireOptions {
    /// Shown as the lock's `leasedBy` (default: `host/pid`).
    pub requester: String,
    /// The lease's time to live (whole seconds, rounded up); `None`: the
    /// service's default, which may be no expiry.
    pub ttl: Option<Duration>,
    /// How long to wait for a held lock. Beyond the service's 20 s, the
    /// client asks again until the wait is over.
    pub wait: Duration,
    /// Makes retries return the same lease; one is made if absent.
    pub idempotency_key: Option<String>,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        Self {
            requester: default_requester(),
            ttl: None,
            wait: Duration::ZERO,
            idempotency_key: None,
        }
    }
}

/// `host/pid`: who holds a lock, for people reading `get` or `list`.
pub fn default_requester() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}/{}", std::process::id())
}

impl Client {
    /// `POST /v0/lock`: a lease on `name`, waiting up to `options.wait`.
    /// Every attempt and every renewed ask carries the same
    /// `Idempotency-Key`, so an answer lost on the way gives the same lease
    /// on the retry. Not granted in time: [`Error::Held`].
    pub async fn acquire(&self, name: &str, options: &AcquireOptions) -> Result<Lease, Error> {
        let key = options
            .idempotency_key
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let give_up = Instant::now() + options.wait;
        loop {
            let asked_at = Instant::now();
            let wait = give_up
                .saturating_duration_since(asked_at)
                .min(MAX_SERVER_WAIT);
            let body = AcquireRequest {
                lock_name: LockName::parse(name)?,
                requester: Requester::parse(&options.requester)?,
                ttl_seconds: options.ttl.map(ttl).transpose()?,
                wait_seconds: (wait.as_secs() > 0)
                    .then(|| WaitTime::from_seconds(wait.as_secs()))
                    .transpose()?,
            };
            let mut call = Call::new(Route::Acquire, self.timeout + wait).json(&body);
            call.idempotency_key = Some(&key);
            let answer: AcquireAnswer = match self.send(call).await {
                // As many of this user's acquires wait as may: wait as told
                // (past the retries) while this wait lasts.
                Err(Error::Throttled {
                    retry_after: Some(after),
                    ..
                }) if wait > Duration::ZERO && Instant::now() + after < give_up => {
                    tokio::time::sleep(after).await;
                    continue;
                }
                answer => answer?,
            };
            if answer.locked {
                return Lease::granted(self.clone(), name, answer, options.ttl, asked_at);
            }
            if Instant::now() >= give_up {
                return Err(Error::Held {
                    expires_at: answer.expires_at,
                });
            }
            // The service answered before the wait was over (it bounds its
            // attempts): ask again shortly.
            if asked_at.elapsed() < wait {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }

    /// `GET /v0/lock`: the lock's current (or last) lease.
    pub async fn get(&self, name: &str) -> Result<LockView, Error> {
        let mut call = Call::new(Route::GetLock, self.timeout);
        call.query.push(("lockName", LockName::parse(name)?.into()));
        self.send(call).await
    }

    /// `GET /v0/locks?limit=&cursor=`: one page of the caller's locks.
    pub async fn list_page(&self, limit: u32, cursor: Option<&str>) -> Result<LockList, Error> {
        let mut call = Call::new(Route::ListLocks, self.timeout);
        call.query
            .push(("limit", PageLimit::new(limit)?.get().to_string()));
        if let Some(cursor) = cursor {
            call.query
                .push(("cursor", Cursor::parse(cursor)?.to_string()));
        }
        self.send(call).await
    }

    /// Every lock of the caller, in name order (pages of 1 000).
    pub async fn list(&self) -> Result<Vec<LockView>, Error> {
        let mut locks = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list_page(MAX_PAGE_LIMIT, cursor.as_deref()).await?;
            locks.extend(page.locks);
            match page.next_cursor {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(locks),
            }
        }
    }

    /// `POST /v0/lock/renew`: extends lease `lease_id` by `ttl` (or its own
    /// TTL) from now. Retries stop at `deadline` (the lease's expiry).
    pub async fn renew(
        &self,
        name: &str,
        lease_id: &str,
        ttl: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Result<RenewAnswer, Error> {
        let body = RenewRequest {
            lock_name: LockName::parse(name)?,
            lease_id: LeaseId::parse(lease_id)?,
            ttl_seconds: ttl.map(self::ttl).transpose()?,
        };
        let mut call = Call::new(Route::Renew, self.timeout).json(&body);
        call.deadline = deadline;
        self.send(call).await
    }

    /// `POST /v0/unlock` with a lease: ends it if it is live. Retries (with
    /// the same lease) stop at `deadline`, the lease's expiry.
    pub async fn unlock(
        &self,
        name: &str,
        lease_id: &str,
        deadline: Option<Instant>,
    ) -> Result<UnlockAnswer, Error> {
        let body = UnlockRequest {
            lock_name: LockName::parse(name)?,
            lease_id: Some(LeaseId::parse(lease_id)?),
            force: None,
        };
        let mut call = Call::new(Route::Unlock, self.timeout).json(&body);
        call.deadline = deadline;
        self.send(call).await
    }

    /// `POST /v0/unlock` with `force: true`: ends whatever lease holds it.
    pub async fn force_unlock(&self, name: &str) -> Result<UnlockAnswer, Error> {
        let body = UnlockRequest {
            lock_name: LockName::parse(name)?,
            lease_id: None,
            force: Some(true),
        };
        let call = Call::new(Route::Unlock, self.timeout).json(&body);
        self.send(call).await
    }

    /// `POST /v0/lock/delete`: deletes a lock no live lease holds. A retry
    /// of a delete that landed answers [`Error::NotFound`].
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let body = DeleteRequest {
            lock_name: LockName::parse(name)?,
        };
        let call = Call::new(Route::DeleteLock, self.timeout).json(&body);
        let _: DeleteAnswer = self.send(call).await?;
        Ok(())
    }
}

/// A lease's time to live in whole seconds (rounded up, so it is never
/// shortened), refused as the service would refuse it.
fn ttl(ttl: Duration) -> Result<LeaseTtl, Error> {
    Ok(LeaseTtl::from_seconds(whole_seconds(ttl))?)
}
