//! The stores a test of DynamoDB semantics starts with, and the suites'
//! calls on them.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::Client;
use local_stack::dynamodb::local_config;
use lock_service::error::StoreError;
use lock_service::keys::KeyHash;
use lock_service::store::{Acquired, Grant, KeyStanding, KeyStore, LockStore, Released, Renewed};
use lock_service::types::{IdempotencyKey, LeaseId, LeaseTtl, Lock, Requester, Timestamp, UserId};

use crate::proxy::Proxy;
use crate::{engine_with_tables, lock_name as name, CallCounter, Engine, EngineKind};
use crate::{API_KEYS_TABLE, LOCKS_TABLE};

/// What a store test starts with: an engine with both tables (stopped on
/// drop), the two stores on it, and the count of its calls.
pub struct Stores {
    pub kind: EngineKind,
    pub client: Client,
    pub locks: LockStore,
    pub keys: KeyStore,
    pub calls: CallCounter,
    _engine: Engine,
}

impl Stores {
    /// Starts `kind` with both tables.
    pub async fn start(kind: EngineKind) -> Self {
        let (engine, client, calls) = engine_with_tables(kind).await;
        Self::over(engine, client, calls)
    }

    /// Both stores on `client` (counting its calls in `calls`) to `engine`.
    fn over(engine: Engine, client: Client, calls: CallCounter) -> Self {
        Stores {
            kind: engine.kind,
            locks: LockStore::new(client.clone(), LOCKS_TABLE),
            keys: KeyStore::new(client.clone(), API_KEYS_TABLE),
            client,
            calls,
            _engine: engine,
        }
    }

    /// Starts `kind` with both tables, the stores reaching it through a
    /// fault [`Proxy`] (returned with them). Their client makes the SDK's
    /// usual three attempts, but retries after ~10 ms instead of ~1 s.
    pub async fn behind_proxy(kind: EngineKind) -> (Self, Proxy) {
        let (engine, _, calls) = engine_with_tables(kind).await;
        let proxy = Proxy::start(&engine.endpoint).await.expect("a proxy");
        let retries = RetryConfig::standard().with_initial_backoff(Duration::from_millis(10));
        let config = local_config(&proxy.endpoint)
            .interceptor(calls.clone())
            .retry_config(retries);
        let client = Client::from_conf(config.build());
        (Self::over(engine, client, calls), proxy)
    }

    /// Calls a lost race costs: one write, plus one read where the engine
    /// does not return the old item.
    pub fn calls_for_lost_race(&self) -> usize {
        if self.kind.returns_old_item_on_failed_condition() {
            1
        } else {
            2
        }
    }
}

/// The suites' calls, each of which must reach the engine.
impl Stores {
    /// Acquires without TTL or idempotency key, which must grant.
    pub async fn grant(
        &self,
        user: &UserId,
        lock: &str,
        requester: &str,
        lease: &LeaseId,
        now: Timestamp,
    ) -> Lock {
        granted(
            try_take(&self.locks, user, lock, requester, lease, now)
                .await
                .unwrap(),
        )
    }

    /// Acquires with a TTL (seconds) and an optional idempotency key.
    pub async fn take_leased(
        &self,
        user: &UserId,
        lock: &str,
        lease: &LeaseId,
        ttl_seconds: u64,
        key: Option<&IdempotencyKey>,
        now: Timestamp,
    ) -> Acquired {
        let requester = requester("leased");
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

    pub async fn release(
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

    pub async fn renew(
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

    /// Force-releases `lock`, with the calls that took.
    pub async fn forced(&self, user: &UserId, lock: &str, now: Timestamp) -> (Released, usize) {
        let name = name(lock);
        let (released, calls) = self
            .calls
            .during(self.locks.force_release(user, &name, now))
            .await;
        (released.unwrap().0, calls)
    }

    /// Asserts that `lease` of `lock` is dead at `now`: it can neither
    /// unlock nor renew.
    pub async fn assert_dead(&self, user: &UserId, lock: &str, lease: &LeaseId, now: Timestamp) {
        let released = self.release(user, lock, lease, now).await;
        assert_eq!(released, Released::NotHolder, "a dead lease unlocked");
        let renewed = self.renew(user, lock, lease, None, now).await;
        assert_eq!(renewed, Renewed::NotLive, "a dead lease renewed");
    }

    /// The lock as stored, if it is.
    pub async fn stored(&self, user: &UserId, lock: &str) -> Option<Lock> {
        self.locks.get(user, &name(lock)).await.unwrap()
    }

    /// The user of `key` if the key is live at `now` (what the authorizer
    /// allows).
    pub async fn live_user(&self, key: &KeyHash, now: Timestamp) -> Option<UserId> {
        let record = self.keys.record(key).await.unwrap();
        record
            .filter(|record| record.standing(now) == KeyStanding::Live)
            .map(|record| record.user)
    }
}

/// `s` as a requester (which it must be).
pub fn requester(s: &str) -> Requester {
    Requester::parse(s).unwrap()
}

/// A TTL of `seconds` (which must be valid).
pub fn ttl(seconds: u64) -> Option<LeaseTtl> {
    Some(LeaseTtl::from_seconds(seconds).unwrap())
}

/// The granted lock of `outcome`, which must be a grant.
pub fn granted(outcome: Acquired) -> Lock {
    match outcome {
        Acquired::Granted(lock) => lock,
        other => panic!("expected the lock to be granted, got {other:?}"),
    }
}

/// Acquires on `locks` without TTL or idempotency key (for tasks that hold a
/// store, not the fixture).
pub async fn try_take(
    locks: &LockStore,
    user: &UserId,
    lock: &str,
    requester: &str,
    lease: &LeaseId,
    now: Timestamp,
) -> Result<Acquired, StoreError> {
    let requester = self::requester(requester);
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: None,
        idempotency_key: None,
    };
    locks.acquire(user, &name(lock), &grant, now).await
}
