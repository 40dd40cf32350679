//! What each semaphore operation costs at the wire, on paths whose count
//! does not depend on which slot a grant tries first.

use lock_service::lock_wire::Route;
use serde_json::{json, Value};

use super::Counter;

/// A `POST /v0/semaphore` body.
fn permit(name: &str, permits: u8) -> Value {
    json!({ "semaphoreName": name, "requester": "bench", "permits": permits })
}

/// New, free, keyed and retried, refused; renew, get, list, force, delete.
pub async fn semaphores(c: &mut Counter<'_>) {
    let (lease, slot) = grants(c).await;
    let renew = json!({ "semaphoreName": "s", "leaseId": lease, "permit": slot, "ttlSeconds": 60 });
    let answer = count(
        c,
        "semaphore renew, given its permit",
        Route::RenewPermit,
        renew,
    )
    .await;
    assert_eq!(answer["renewed"], true, "renew: {answer}");
    let get = "?semaphoreName=s";
    let operation = "semaphore get (3 permits)";
    let (_, shown) = c
        .route(operation, Route::GetSemaphore, get, None, &[])
        .await;
    assert_eq!(shown["available"], 0, "get: {shown}");
    let operation = "semaphore list (3 semaphores)";
    let (_, listed) = c
        .route(operation, Route::ListSemaphores, "?limit=10", None, &[])
        .await;
    let count_listed = listed["semaphores"].as_array().map(Vec::len);
    assert_eq!(count_listed, Some(3), "list: {listed}");
    let force = json!({ "semaphoreName": "s", "force": true, "permit": slot });
    let operation = "semaphore force release, one permit";
    assert_eq!(
        count(c, operation, Route::ReleasePermit, force).await["released"],
        true
    );
    let force = json!({ "semaphoreName": "s", "force": true });
    let operation = "semaphore force release, every permit (2 live)";
    assert_eq!(
        count(c, operation, Route::ReleasePermit, force).await["released"],
        true
    );
    let delete = json!({ "semaphoreName": "s" });
    let operation = "semaphore delete (3 permits)";
    assert_eq!(
        count(c, operation, Route::DeleteSemaphore, delete).await["deleted"],
        true
    );
    // Not counted: the other two go, so that the quota's rows start from
    // the user's locks alone.
    let keyed = json!({ "semaphoreName": "keyed", "force": true });
    uncounted(c, Route::ReleasePermit, keyed).await;
    for name in ["one", "keyed"] {
        let delete = json!({ "semaphoreName": name });
        assert_eq!(
            uncounted(c, Route::DeleteSemaphore, delete).await["deleted"],
            true
        );
    }
}

/// New semaphores, a free permit, releases, an idempotent retry, a refusal;
/// a live lease of `s` and its permit.
async fn grants(c: &mut Counter<'_>) -> (Value, Value) {
    let acquire = Route::AcquirePermit;
    let operation = "semaphore acquire, new (3 permits)";
    let first = count(c, operation, acquire, permit("s", 3)).await;
    let operation = "semaphore acquire, new (1 permit)";
    let one = count(c, operation, acquire, permit("one", 1)).await;
    let release =
        json!({ "semaphoreName": "one", "leaseId": one["leaseId"], "permit": one["permit"] });
    let operation = "semaphore release, given its permit";
    assert_eq!(
        count(c, operation, Route::ReleasePermit, release).await["released"],
        true
    );
    let operation = "semaphore acquire, its one permit free";
    let again = count(c, operation, acquire, permit("one", 1)).await;
    let release = json!({ "semaphoreName": "one", "leaseId": again["leaseId"] });
    let operation = "semaphore release, without its permit";
    assert_eq!(
        count(c, operation, Route::ReleasePermit, release).await["released"],
        true
    );
    let keyed = [("Idempotency-Key", "bench-permit")];
    let operation = "semaphore acquire with Idempotency-Key, new (1 permit)";
    let (_, keyed_first) = c
        .route(operation, acquire, "", Some(permit("keyed", 1)), &keyed)
        .await;
    let operation = "semaphore acquire, idempotent retry";
    let (_, retry) = c
        .route(operation, acquire, "", Some(permit("keyed", 1)), &keyed)
        .await;
    assert_eq!(
        keyed_first["leaseId"], retry["leaseId"],
        "the retry got another lease"
    );
    for _ in 0..2 {
        let answer = uncounted(c, acquire, permit("s", 3)).await;
        assert_eq!(answer["acquired"], true, "fill: {answer}");
    }
    let operation = "semaphore acquire, refused (every permit held)";
    let (_, refused) = c
        .route(operation, acquire, "", Some(permit("s", 3)), &[])
        .await;
    assert_eq!(refused["acquired"], false, "{operation}: {refused}");
    (first["leaseId"].clone(), first["permit"].clone())
}

/// `route` with `body`, counted as `operation`, which must succeed: its answer.
async fn count(c: &mut Counter<'_>, operation: &str, route: Route, body: Value) -> Value {
    let (status, answer) = c.route(operation, route, "", Some(body), &[]).await;
    assert_eq!(status, 200, "{operation}: {answer}");
    if route == Route::AcquirePermit {
        assert_eq!(answer["acquired"], true, "{operation}: {answer}");
    }
    answer
}

/// `route` with `body` as the user, not counted: its answer.
async fn uncounted(c: &Counter<'_>, route: Route, body: Value) -> Value {
    let event = c
        .functions
        .event(route, "", Some(body), &[], c.user.as_deref());
    c.functions.call(route.function(), &event).await.1
}
