//! Leases on a lock or on one permit of a semaphore: [`Lease`] renews when
//! told to (for short-lived callers), and [`KeptLease`] renews itself in
//! the background and says when it is lost.

use std::time::{Duration, Instant};

use lock_wire::{AcquireAnswer, PermitAnswer, Timestamp};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::retry::jittered;
use crate::{Client, Error};

/// Pause before trying a renewal again after its retries failed, while the
/// lease has not expired yet.
const RENEW_AGAIN_AFTER: Duration = Duration::from_millis(500);

/// A granted lease, renewed only by [`Lease::renew`]: for callers that are
/// themselves short-lived (a Lambda, a cron step) and renew between steps.
#[derive(Debug)]
pub struct Lease {
    client: Client,
    name: String,
    /// The permit slot, for a lease on a semaphore's permit.
    permit: Option<u8>,
    lease_id: String,
    fencing_token: u64,
    expires_at: Option<Timestamp>,
    ttl: Option<Duration>,
    /// When the lease expires at the latest by this machine's clock: the
    /// moment the grant or renewal was asked for, plus its TTL.
    local_expiry: Option<Instant>,
}

impl Lease {
    /// The lease of a granted acquire asked for at `asked_at`.
    pub(crate) fn granted(
        client: Client,
        name: &str,
        answer: AcquireAnswer,
        ttl: Option<Duration>,
        asked_at: Instant,
    ) -> Result<Self, Error> {
        let incomplete = |field: &str| Error::Server {
            status: 200,
            code: String::new(),
            message: format!("a granted acquire without {field}"),
        };
        // Without a TTL of ours, the service's default TTL shows in expiresAt.
        let ttl = ttl.or_else(|| {
            answer
                .expires_at
                .map(|at| at.duration_since(Timestamp::now()))
        });
        Ok(Self {
            client,
            name: name.to_owned(),
            permit: None,
            lease_id: answer.lease_id.ok_or_else(|| incomplete("leaseId"))?,
            fencing_token: answer
                .fencing_token
                .ok_or_else(|| incomplete("fencingToken"))?,
            expires_at: answer.expires_at,
            ttl,
            local_expiry: answer.expires_at.and(ttl).map(|ttl| asked_at + ttl),
        })
    }

    /// The lease of a granted permit of semaphore `name`, asked for at `asked_at`.
    pub(crate) fn granted_permit(
        client: Client,
        name: &str,
        answer: PermitAnswer,
        ttl: Option<Duration>,
        asked_at: Instant,
    ) -> Result<Self, Error> {
        let as_lock = AcquireAnswer {
            locked: answer.acquired,
            lease_id: answer.lease_id,
            message: answer.message,
            fencing_token: answer.fencing_token,
            expires_at: answer.expires_at,
            reserved_until: None,
        };
        let mut lease = Self::granted(client, name, as_lock, ttl, asked_at)?;
        lease.permit = Some(answer.permit.ok_or_else(|| Error::Server {
            status: 200,
            code: String::new(),
            message: "a granted permit without permit".into(),
        })?);
        Ok(lease)
    }

    /// The lock's (or semaphore's) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The permit slot of a lease on a semaphore's permit; `None` for a lock.
    pub fn permit(&self) -> Option<u8> {
        self.permit
    }

    /// The lease's id (what unlock and renew name).
    pub fn lease_id(&self) -> &str {
        &self.lease_id
    }

    /// The fencing token: pass it to the resource the lock protects, which
    /// refuses writes carrying a smaller token than one it has seen.
    pub fn fencing_token(&self) -> u64 {
        self.fencing_token
    }

    /// When the lease expires, by the service's clock; `None`: never.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// The lease's time to live, if it has one.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// Extends the lease by its TTL from now. [`Error::LeaseLost`] if it is
    /// no longer the lock's live lease; retries stop when it expires.
    pub async fn renew(&mut self) -> Result<(), Error> {
        let asked_at = Instant::now();
        let (name, lease, ttl, until) = (&self.name, &self.lease_id, self.ttl, self.local_expiry);
        let renewed = match self.permit {
            Some(permit) => {
                let client = &self.client;
                client
                    .renew_permit(name, lease, Some(permit), ttl, until)
                    .await
            }
            None => self.client.renew(name, lease, ttl, until).await,
        };
        match renewed {
            Ok(answer) if answer.renewed => {
                self.expires_at = answer.expires_at;
                self.local_expiry = self.ttl.map(|ttl| asked_at + ttl);
                Ok(())
            }
            Ok(answer) => Err(Error::LeaseLost(
                answer
                    .message
                    .unwrap_or_else(|| "not the live lease".into()),
            )),
            Err(Error::NotFound) => Err(Error::LeaseLost("the lock no longer exists".into())),
            Err(err) => Err(err),
        }
    }

    /// Ends the lease: `true` if this call released the lock (or permit),
    /// `false` if the lease had already ended. Retries stop when the lease
    /// expires.
    pub async fn release(self) -> Result<bool, Error> {
        let (name, lease, until) = (&self.name, &self.lease_id, self.local_expiry);
        Ok(match self.permit {
            Some(permit) => {
                let client = &self.client;
                let answer = client.release_permit(name, lease, Some(permit), until);
                answer.await?.released
            }
            None => self.client.unlock(name, lease, until).await?.unlocked,
        })
    }

    /// Renews the lease in the background from now on.
    pub fn keep_alive(self) -> KeptLease {
        let (status_tx, status) = watch::channel(LeaseStatus::Live {
            expires_at: self.expires_at,
        });
        let (stop, stopped) = oneshot::channel();
        let name = self.name.clone();
        let lease_id = self.lease_id.clone();
        let fencing_token = self.fencing_token;
        let permit = self.permit;
        let task = tokio::spawn(renew_until_stopped(self, status_tx, stopped));
        KeptLease {
            name,
            permit,
            lease_id,
            fencing_token,
            status,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// When to renew next: every third of the TTL, jittered; `None` if the
    /// lease never expires.
    fn next_renewal(&self) -> Option<Duration> {
        self.ttl.map(|ttl| jittered(ttl / 3))
    }
}

/// Where a kept lease stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseStatus {
    /// The lease is live, as of its last renewal.
    Live {
        /// Its current expiry, by the service's clock.
        expires_at: Option<Timestamp>,
    },
    /// The lease is no longer the lock's: stop using the resource.
    Lost(String),
}

/// A lease renewed in the background every third of its TTL. It tells its
/// holder the moment it is lost ([`KeptLease::lost`]); [`KeptLease::release`]
/// ends it; dropping it releases it, best effort.
#[derive(Debug)]
pub struct KeptLease {
    name: String,
    permit: Option<u8>,
    lease_id: String,
    fencing_token: u64,
    status: watch::Receiver<LeaseStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Lease>>,
}

impl KeptLease {
    /// The lock's (or semaphore's) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The permit slot of a kept permit; `None` for a lock.
    pub fn permit(&self) -> Option<u8> {
        self.permit
    }

    /// The lease's id.
    pub fn lease_id(&self) -> &str {
        &self.lease_id
    }

    /// The fencing token to pass to the protected resource.
    pub fn fencing_token(&self) -> u64 {
        self.fencing_token
    }

    /// Where the lease stands now.
    pub fn status(&self) -> LeaseStatus {
        self.status.borrow().clone()
    }

    /// Whether the lease has been lost.
    pub fn is_lost(&self) -> bool {
        matches!(*self.status.borrow(), LeaseStatus::Lost(_))
    }

    /// Resolves when the lease is lost, with the reason; never while it is
    /// live. Use it in a `select!` beside the work the lease protects.
    pub async fn lost(&self) -> String {
        let mut status = self.status.clone();
        let lost = status
            .wait_for(|s| matches!(s, LeaseStatus::Lost(_)))
            .await
            .map(|lost| lost.clone());
        match lost {
            Ok(LeaseStatus::Lost(reason)) => reason,
            // The renewal task stopped without losing it: it never will.
            _ => std::future::pending().await,
        }
    }

    /// Stops renewing and ends the lease: `true` if this released the lock.
    /// A lost lease is not unlocked (the lock may be someone else's now):
    /// [`Error::LeaseLost`].
    pub async fn release(mut self) -> Result<bool, Error> {
        let lease = self.stop_renewing().await?;
        if let LeaseStatus::Lost(reason) = self.status() {
            return Err(Error::LeaseLost(reason));
        }
        lease.release().await
    }

    /// Stops the renewal task and takes the lease back from it.
    async fn stop_renewing(&mut self) -> Result<Lease, Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("the renewal task is taken once");
        task.await
            .map_err(|err| Error::LeaseLost(format!("renewal task failed: {err}")))
    }
}

impl Drop for KeptLease {
    /// Releases the lease in the background if it was neither released nor
    /// lost (needs a running tokio runtime; otherwise it expires).
    fn drop(&mut self) {
        let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) else {
            return;
        };
        let _ = stop.send(());
        let status = self.status.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Ok(lease) = task.await {
                    if matches!(*status.borrow(), LeaseStatus::Live { .. }) {
                        let _ = lease.release().await;
                    }
                }
            });
        }
    }
}

/// The renewal loop of a [`KeptLease`]: renews on time until stopped or
/// lost, then hands the lease back.
async fn renew_until_stopped(
    mut lease: Lease,
    status: watch::Sender<LeaseStatus>,
    mut stopped: oneshot::Receiver<()>,
) -> Lease {
    let Some(mut pause) = lease.next_renewal() else {
        let _ = stopped.await; // never expires: nothing to renew
        return lease;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return lease,
            () = tokio::time::sleep(pause) => {}
        }
        let outcome = tokio::select! {
            _ = &mut stopped => return lease,
            outcome = lease.renew() => outcome,
        };
        pause = match outcome {
            Ok(()) => {
                let _ = status.send(LeaseStatus::Live {
                    expires_at: lease.expires_at,
                });
                lease.next_renewal().unwrap_or(RENEW_AGAIN_AFTER)
            }
            Err(err) if err.is_transient() && !expired(&lease) => RENEW_AGAIN_AFTER,
            Err(err) => {
                let reason = match err {
                    Error::LeaseLost(reason) => reason,
                    err if err.is_transient() => format!("not renewed before it expired: {err}"),
                    err => format!("cannot renew: {err}"),
                };
                let _ = status.send(LeaseStatus::Lost(reason));
                return lease;
            }
        };
    }
}

/// Whether the lease may have expired by this machine's clock.
fn expired(lease: &Lease) -> bool {
    lease.local_expiry.is_some_and(|at| Instant::now() >= at)
}
