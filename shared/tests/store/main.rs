//! The store suite: the same DynamoDB semantics checked against every engine
//! (moto and dynalite, each started on a free port for each test).

mod grants;
mod leases;
mod listing;
mod retries;
mod tenants;

use lock_service::error::StoreError;
use lock_service::keys::KeyHash;
use lock_service::store::{Acquired, Grant, KeyStanding, LockStore, Released, Renewed};
use lock_service::types::{
    IdempotencyKey, LeaseId, LeaseTtl, Lock, LockName, Requester, Timestamp, UserId,
};
use testkit::{EngineKind, Stores};

/// What each test starts with: the engine and its stores, and the suite's
/// calls on them.
struct Fixture(Stores);

impl std::ops::Deref for Fixture {
    type Target = Stores;

    fn deref(&self) -> &Stores {
        &self.0
    }
}

async fn fixture(kind: EngineKind) -> Fixture {
    Fixture(Stores::start(kind).await)
}

/// The suite's clock: `offset` milliseconds after a fixed start.
fn at(offset: u64) -> Timestamp {
    Timestamp::from_millis(T0 + offset)
}

const T0: u64 = 1_795_678_800_000;

fn name(s: &str) -> LockName {
    LockName::parse(s).unwrap()
}

fn who(s: &str) -> Requester {
    Requester::parse(s).unwrap()
}

fn ttl(seconds: u64) -> Option<LeaseTtl> {
    Some(LeaseTtl::from_seconds(seconds).unwrap())
}

fn granted(outcome: Acquired) -> Lock {
    match outcome {
        Acquired::Granted(lock) => lock,
        other => panic!("expected the lock to be granted, got {other:?}"),
    }
}

impl Fixture {
    /// Acquires without TTL or idempotency key.
    async fn take(
        &self,
        user: &UserId,
        lock: &str,
        requester: &str,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Acquired {
        try_take(&self.locks, user, lock, requester, lease, now)
            .await
            .unwrap()
    }

    /// [`Fixture::take`], which must grant.
    async fn grant(
        &self,
        user: &UserId,
        lock: &str,
        requester: &str,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Lock {
        granted(self.take(user, lock, requester, lease, now).await)
    }

    /// Acquires with a TTL (seconds) and an optional idempotency key.
    async fn take_leased(
        &self,
        user: &UserId,
        lock: &str,
        lease: &LeaseId,
        ttl_seconds: u64,
        key: Option<&IdempotencyKey>,
        now: Timestamp,
    ) -> Acquired {
        let requester = who("leased");
        let grant = Grant {
            requester: &requester,
            lease,
            ttl: ttl(ttl_seconds),
            idempotency_key: key,
        };
        self.locks
            .acquire(user, &name(lock), &grant, now)
            .await
            .unwrap()
    }

    async fn release(
        &self,
        user: &UserId,
        lock: &str,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Released {
        self.locks
            .release(user, &name(lock), lease, now)
            .await
            .unwrap()
    }

    async fn renew(
        &self,
        user: &UserId,
        lock: &str,
        lease: &LeaseId,
        ttl: Option<LeaseTtl>,
        now: Timestamp,
    ) -> Renewed {
        self.locks
            .renew(user, &name(lock), lease, ttl, now)
            .await
            .unwrap()
    }

    /// The lock as stored, if it is.
    async fn stored(&self, user: &UserId, lock: &str) -> Option<Lock> {
        self.locks.get(user, &name(lock)).await.unwrap()
    }

    /// The user of `key` if the key is live at `now` (what the authorizer
    /// allows).
    async fn live_user(&self, key: &KeyHash, now: Timestamp) -> Option<UserId> {
        let record = self.keys.record(key).await.unwrap();
        record
            .filter(|record| record.standing(now) == KeyStanding::Live)
            .map(|record| record.user)
    }
}

/// Acquires on `locks` without TTL or idempotency key (for tasks that hold a
/// store, not the fixture).
async fn try_take(
    locks: &LockStore,
    user: &UserId,
    lock: &str,
    requester: &str,
    lease: &LeaseId,
    now: Timestamp,
) -> Result<Acquired, StoreError> {
    let requester = who(requester);
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: None,
        idempotency_key: None,
    };
    locks.acquire(user, &name(lock), &grant, now).await
}
