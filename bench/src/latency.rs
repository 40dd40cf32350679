//! Warm latency per operation: each function's binary (its handler, the
//! runtime client, the event and answer JSON, one DynamoDB round trip)
//! beside the raw engine round trip of the same DynamoDB request, made from
//! this process with the same store code. The difference is what the
//! function adds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use lock_service::config::DEFAULT_MAX_LOCKS;
use lock_service::keys::ApiKey;
use lock_service::lock_wire::{PermitSlot, Permits};
use lock_service::store::{Acquired, Grant, KeyStore, LockStore, Permit, PermitAcquired, Released};
use lock_service::types::{
    LeaseId, LeaseTtl, LockName, Requester, SemaphoreName, Timestamp, UserId,
};
use serde::Serialize;
use serde_json::{json, Value};

use lock_service::lock_wire::Route;

use crate::functions::token_event;
use crate::operations::{granted, Functions};
use crate::stats::Spread;

/// One operation's warm latency, through the function and raw.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub operation: &'static str,
    pub function: &'static str,
    pub through_function: Spread,
    pub raw_engine: Spread,
}

/// The floor's row: a bootstrap that answers at once (`src/bin/floor.rs`),
/// timed beside the others when the bench started it.
pub const FLOOR: (&str, &str) = ("floor: answered at once, no DynamoDB call", "floor");

/// Latency samples by operation.
pub type Samples = BTreeMap<&'static str, Vec<Duration>>;

/// The operations timed, and their functions.
const OPERATIONS: [(&str, &str); 9] = [
    ("acquire (granted, existing name)", "acquire"),
    ("acquire (refused)", "acquire"),
    ("get", "get-lock"),
    ("unlock", "unlock"),
    ("list (page of 100)", "list-locks"),
    ("authorize", "authorizer"),
    ("sign up", "create-user"),
    ("acquire a permit (granted, 1 of 1 free)", "acquire-permit"),
    ("release a permit (given its slot)", "release-permit"),
];

/// `iterations` of each operation through the functions, then raw.
pub async fn measure(
    functions: &Functions,
    engine: &Client,
    tables: (&str, &str),
    iterations: usize,
) -> Vec<Latency> {
    // As the acquire function runs it: with the template's default quota.
    let (through, user_id, names, key) =
        through_samples(functions, engine, tables, iterations).await;
    let locks = LockStore::new(engine.clone(), tables.0).with_quota(Some(DEFAULT_MAX_LOCKS));
    let keys = KeyStore::new(engine.clone(), tables.1);
    let raw = raw(&locks, &keys, &user_id, &names, &key).await;
    let floor = through.get(FLOOR.0).map(|samples| Latency {
        operation: FLOOR.0,
        function: FLOOR.1,
        through_function: Spread::of(samples),
        raw_engine: Spread::default(),
    });
    OPERATIONS
        .iter()
        .map(|(operation, function)| Latency {
            operation,
            function,
            through_function: Spread::of(&through[operation]),
            raw_engine: Spread::of(&raw[operation]),
        })
        .chain(floor)
        .collect()
}

/// The samples through the functions alone, for a fresh user and fresh
/// names: (samples by operation, the user, the names, its key).
pub async fn through_samples(
    functions: &Functions,
    engine: &Client,
    tables: (&str, &str),
    iterations: usize,
) -> (Samples, UserId, Vec<LockName>, String) {
    let locks = LockStore::new(engine.clone(), tables.0).with_quota(Some(DEFAULT_MAX_LOCKS));
    let signup = functions.event(Route::SignUp, "", None, &[], None);
    let (_, user) = functions.call("create-user", &signup).await;
    let key = user["apiKey"].as_str().expect("a key").to_owned();
    let user_id = UserId::parse(user["userId"].as_str().expect("a user")).expect("valid");
    let names: Vec<LockName> = (0..iterations)
        .map(|i| LockName::parse(&format!("warm-{i:05}")).expect("valid"))
        .collect();
    // Every name exists and is free: acquires below take the one-write
    // path; so does each semaphore of the same name (another name space).
    for name in &names {
        let lease = LeaseId::generate();
        acquire_raw(&locks, &user_id, name, &lease).await;
        locks
            .release(&user_id, name, &lease, Timestamp::now())
            .await
            .expect("released");
        let semaphore = semaphore_of(name);
        let permit = permit_raw(&locks, &user_id, &semaphore, &lease).await;
        release_permit_raw(&locks, &user_id, &semaphore, &permit).await;
    }
    let through = through_functions(functions, &user_id, &names, &key).await;
    (through, user_id, names, key)
}

async fn through_functions(
    functions: &Functions,
    user: &UserId,
    names: &[LockName],
    key: &str,
) -> Samples {
    let me = Some(user.as_str());
    let mut samples = Samples::new();
    let mut time =
        |operation: &'static str, took: Duration| samples.entry(operation).or_default().push(took);
    for name in names {
        let body = json!({ "lockName": name.as_str(), "requester": "bench" });
        let acquire = functions.event(Route::Acquire, "", Some(body), &[], me);
        let (answer, took) = timed(functions, "acquire", &acquire).await;
        let lease = granted(&answer, "warm acquire");
        time(OPERATIONS[0].0, took);
        let (answer, took) = timed(functions, "acquire", &acquire).await;
        assert_eq!(answer["locked"], false, "warm refused acquire: {answer}");
        time(OPERATIONS[1].0, took);
        let get = format!("?lockName={}", name.as_str());
        let get = functions.event(Route::GetLock, &get, None, &[], me);
        let (_, took) = timed(functions, "get-lock", &get).await;
        time(OPERATIONS[2].0, took);
        if functions.processes.contains_key(FLOOR.1) {
            let (_, took) = timed(functions, FLOOR.1, &get).await;
            time(FLOOR.0, took);
        }
        let body = json!({ "lockName": name.as_str(), "leaseId": lease });
        let unlock = functions.event(Route::Unlock, "", Some(body), &[], me);
        let (answer, took) = timed(functions, "unlock", &unlock).await;
        assert_eq!(answer["unlocked"], true, "warm unlock: {answer}");
        time(OPERATIONS[3].0, took);
        let list = functions.event(Route::ListLocks, "?limit=100", None, &[], me);
        let (_, took) = timed(functions, "list-locks", &list).await;
        time(OPERATIONS[4].0, took);
        let (_, took) = timed(functions, "authorizer", &token_event(key)).await;
        time(OPERATIONS[5].0, took);
        let signup = functions.event(Route::SignUp, "", None, &[], None);
        let (_, took) = timed(functions, "create-user", &signup).await;
        time(OPERATIONS[6].0, took);
        let body = json!({ "semaphoreName": name.as_str(), "requester": "bench", "permits": 1 });
        let acquire = functions.event(Route::AcquirePermit, "", Some(body), &[], me);
        let (answer, took) = timed(functions, "acquire-permit", &acquire).await;
        assert_eq!(answer["acquired"], true, "warm permit: {answer}");
        time(OPERATIONS[7].0, took);
        let release =
            json!({ "semaphoreName": name.as_str(), "leaseId": answer["leaseId"], "permit": 0 });
        let release = functions.event(Route::ReleasePermit, "", Some(release), &[], me);
        let (answer, took) = timed(functions, "release-permit", &release).await;
        assert_eq!(answer["released"], true, "warm permit release: {answer}");
        time(OPERATIONS[8].0, took);
    }
    samples
}

async fn timed(functions: &Functions, function: &str, event: &Value) -> (Value, Duration) {
    let (_, body, took) = functions.processes[function].call(event).await;
    (body, took)
}

async fn raw(
    locks: &LockStore,
    keys: &KeyStore,
    user: &UserId,
    names: &[LockName],
    key: &str,
) -> Samples {
    let hash = ApiKey::from_authorization(&format!("Bearer {key}"))
        .expect("a key")
        .hash();
    let mut samples = Samples::new();
    for name in names {
        let lease = LeaseId::generate();
        let started = Instant::now();
        acquire_raw(locks, user, name, &lease).await;
        push(&mut samples, OPERATIONS[0].0, started);
        let started = Instant::now();
        let other = LeaseId::generate();
        let refused = try_acquire(locks, user, name, &other).await;
        assert!(
            matches!(refused, Acquired::Held { .. }),
            "raw refused: {refused:?}"
        );
        push(&mut samples, OPERATIONS[1].0, started);
        let started = Instant::now();
        locks
            .get(user, name)
            .await
            .expect("a get")
            .expect("the lock");
        push(&mut samples, OPERATIONS[2].0, started);
        let started = Instant::now();
        let released = locks.release(user, name, &lease, Timestamp::now()).await;
        assert!(
            matches!(released, Ok(Released::Freed)),
            "raw release: {released:?}"
        );
        push(&mut samples, OPERATIONS[3].0, started);
        let started = Instant::now();
        locks
            .list_page(user, None, Some(100))
            .await
            .expect("a page");
        push(&mut samples, OPERATIONS[4].0, started);
        let started = Instant::now();
        keys.record(&hash).await.expect("a read").expect("the key");
        push(&mut samples, OPERATIONS[5].0, started);
        let started = Instant::now();
        let new_key = ApiKey::generate();
        keys.register(&new_key.hash(), &UserId::generate(), Timestamp::now())
            .await
            .expect("registered");
        push(&mut samples, OPERATIONS[6].0, started);
        raw_permit(&mut samples, locks, user, name).await;
    }
    samples
}

/// One permit of the semaphore named as `name`, acquired and released raw.
async fn raw_permit(samples: &mut Samples, locks: &LockStore, user: &UserId, name: &LockName) {
    let semaphore = semaphore_of(name);
    let started = Instant::now();
    let permit = permit_raw(locks, user, &semaphore, &LeaseId::generate()).await;
    push(samples, OPERATIONS[7].0, started);
    let started = Instant::now();
    release_permit_raw(locks, user, &semaphore, &permit).await;
    push(samples, OPERATIONS[8].0, started);
}

/// The semaphore named as lock `name` is (a name space of its own).
fn semaphore_of(name: &LockName) -> SemaphoreName {
    SemaphoreName::parse(name.as_str()).expect("valid")
}

/// The one permit of semaphore `name` for `lease`, as the function grants it.
async fn permit_raw(
    locks: &LockStore,
    user: &UserId,
    name: &SemaphoreName,
    lease: &LeaseId,
) -> Permit {
    let requester = Requester::parse("bench").expect("valid");
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: LeaseTtl::from_seconds(300).ok(),
        idempotency_key: None,
    };
    let one = Permits::new(1).expect("valid");
    match locks
        .acquire_permit(user, name, one, &grant, Timestamp::now())
        .await
    {
        Ok(PermitAcquired::Granted { permit, .. }) => permit,
        other => panic!("raw permit: {other:?}"),
    }
}

async fn release_permit_raw(
    locks: &LockStore,
    user: &UserId,
    name: &SemaphoreName,
    permit: &Permit,
) {
    let slot = PermitSlot::new(u64::from(permit.slot)).ok();
    let released = locks
        .release_permit(user, name, &permit.lease_id, slot, Timestamp::now())
        .await;
    assert!(
        matches!(released, Ok(Released::Freed)),
        "raw permit release: {released:?}"
    );
}

fn push(samples: &mut Samples, operation: &'static str, started: Instant) {
    samples
        .entry(operation)
        .or_default()
        .push(started.elapsed());
}

async fn try_acquire(
    locks: &LockStore,
    user: &UserId,
    name: &LockName,
    lease: &LeaseId,
) -> Acquired {
    let requester = Requester::parse("bench").expect("valid");
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: None,
        idempotency_key: None,
    };
    locks
        .acquire(user, name, &grant, Timestamp::now())
        .await
        .expect("an acquire")
}

async fn acquire_raw(locks: &LockStore, user: &UserId, name: &LockName, lease: &LeaseId) {
    let acquired = try_acquire(locks, user, name, lease).await;
    assert!(
        matches!(acquired, Acquired::Granted(_)),
        "raw acquire: {acquired:?}"
    );
}
