//! One method per route: the keys (sign up, rotate, revoke, revoke the
//! others) and the locks (acquire, waiting past the service's 20 s by asking
//! again; get, list, renew, unlock, force unlock, delete); and the test that
//! each route of the registry has its method, which calls it.

use std::time::{Duration, Instant};

use lock_wire::{
    AcquireAnswer, AcquireRequest, Cursor, DeleteAnswer, DeleteRequest, KeyAnswer, KeyGrace,
    LeaseId, LeaseTtl, LockList, LockName, LockView, PageLimit, RenewAnswer, RenewRequest,
    Requester, RevokeAnswer, RevokeOthersAnswer, RotateRequest, Route, UnlockAnswer, UnlockRequest,
    WaitTime, MAX_PAGE_LIMIT,
};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{whole_seconds, Call, Client};
use crate::lease::Lease;
use crate::{Error, RetryPolicy};

/// An acquire's answer: granted, or refused until when.
pub(super) trait Granting {
    fn granted(&self) -> bool;
    fn expires_at(&self) -> Option<lock_wire::Timestamp>;
}

impl Granting for AcquireAnswer {
    fn granted(&self) -> bool {
        self.locked
    }
    fn expires_at(&self) -> Option<lock_wire::Timestamp> {
        self.expires_at
    }
}

/// Longest wait the service grants one acquire; longer waits ask again.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(20);
/// A waiting acquire answered sooner than this was not waited for by the
/// service (a deployment whose `MaxWaitSeconds` is 0).
const NO_SERVICE_WAIT: Duration = Duration::from_millis(500);

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
        let lock_name = LockName::parse(name)?;
        let requester = Requester::parse(&options.requester)?;
        let ttl_seconds = options.ttl.map(ttl).transpose()?;
        let body = |wait_seconds| AcquireRequest {
            lock_name: lock_name.clone(),
            requester: requester.clone(),
            ttl_seconds,
            wait_seconds,
        };
        let (answer, asked_at): (AcquireAnswer, _) = self
            .ask_until_granted(Route::Acquire, options, body)
            .await?;
        Lease::granted(self.clone(), name, answer, options.ttl, asked_at)
    }

    /// Sends `route` with `body(waitSeconds)` until an answer grants, or
    /// `options.wait` is over ([`Error::Held`]): every attempt with one
    /// `Idempotency-Key`. The grant, and when it was asked for.
    pub(super) async fn ask_until_granted<A, B>(
        &self,
        route: Route,
        options: &AcquireOptions,
        body: impl Fn(Option<WaitTime>) -> B,
    ) -> Result<(A, Instant), Error>
    where
        A: DeserializeOwned + Granting,
        B: Serialize,
    {
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
            // Rounded up: the tail of a wait is spent waiting in the service
            // too (where the longest waiter reserves the lock), not in tries
            // that any looping client outruns.
            let wait_seconds = (!wait.is_zero())
                .then(|| WaitTime::from_seconds(whole_seconds(wait)))
                .transpose()?;
            let mut call = Call::new(route, self.timeout + wait).json(&body(wait_seconds));
            call.idempotency_key = Some(&key);
            let answer: A = match self.send(call).await {
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
            if answer.granted() {
                return Ok((answer, asked_at));
            }
            if Instant::now() >= give_up {
                return Err(Error::Held {
                    expires_at: answer.expires_at(),
                });
            }
            // The service waited as long as it may (its `MaxWaitSeconds`):
            // ask again at once, so that the lock is not left to tries in
            // between. One that did not wait at all is asked again shortly.
            if asked_at.elapsed() < NO_SERVICE_WAIT {
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

    /// `POST /v0/lock/delete`: deletes a lock no live lease holds (else
    /// [`Error::Held`]). A retry of a delete that landed answers
    /// [`Error::NotFound`].
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
pub(super) fn ttl(ttl: Duration) -> Result<LeaseTtl, Error> {
    Ok(LeaseTtl::from_seconds(whole_seconds(ttl))?)
}

impl Client {
    /// `POST /v0/users/anonymous`: a new user and its key (needs no key).
    /// Not retried: a retry after a lost answer would make a second user.
    pub async fn sign_up(&self) -> Result<KeyAnswer, Error> {
        let call = Call::new(Route::SignUp, self.timeout);
        self.clone()
            .with_retry(RetryPolicy::never())
            .send(call)
            .await
    }

    /// `POST /v0/keys/rotate`: a new key for this user; this client's key
    /// keeps working for `old_key_valid_for` (default: stops at once). Every
    /// attempt carries one `Idempotency-Key`, so a retry after a lost answer
    /// gets the same new key; the service answers any other call of a
    /// rotated key with [`Error::KeyRotated`].
    pub async fn rotate_key(
        &self,
        old_key_valid_for: Option<Duration>,
    ) -> Result<KeyAnswer, Error> {
        let grace = old_key_valid_for.map(|grace| KeyGrace::from_seconds(whole_seconds(grace)));
        let body = RotateRequest {
            old_key_valid_for_seconds: grace.transpose()?,
        };
        let key = uuid::Uuid::new_v4().to_string();
        let mut call = Call::new(Route::RotateKey, self.timeout).json(&body);
        call.idempotency_key = Some(&key);
        self.send(call).await
    }

    /// `POST /v0/keys/revoke-others`: every other key of this user stops
    /// working; this client's key stays. How many were revoked (a retry
    /// after a lost answer finds none left: 0).
    pub async fn revoke_other_keys(&self) -> Result<u64, Error> {
        let call = Call::new(Route::RevokeOtherKeys, self.timeout);
        let answer: RevokeOthersAnswer = self.send(call).await?;
        Ok(answer.revoked_keys)
    }

    /// `POST /v0/keys/revoke`: this client's key stops working. A retry
    /// after an attempt whose answer was lost may find the key already
    /// revoked (`401`): that is the success it was retrying for.
    pub async fn revoke_key(&self) -> Result<(), Error> {
        let call = Call::new(Route::RevokeKey, self.timeout);
        match self.send_counting::<RevokeAnswer>(call).await {
            Ok(_) => Ok(()),
            Err((Error::Unauthorized, attempts)) if attempts > 1 => Ok(()),
            Err((err, _)) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests;
