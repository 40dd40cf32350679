//! What each semaphore operation costs at the wire, on paths whose count
//! does not depend on which slot a grant tries first.

use lock_service::lock_wire::Route;
use serde_json::{json, Value};

use super::Counter;

/// A `POST /v0/semaphore` body.
fn permit(name: &str, permits: u8) -> Value {
    json!({ "semaphoreName": name, "requester": "bench", "permits": permits })
}

/// New, free, keyed and retried, refused; release, renew, force, get, list, delete.
pub async fn semaphores(c: &mut Counter<'_>) {
    let acquire = Route::AcquirePermit;
    let mut leases = Vec::new();
    for (operation, name, count) in [
        ("semaphore acquire, new (3 permits)", "s", 3),
        ("semaphore acquire, new (1 permit)", "one", 1),
    ] {
        let (_, answer) = c
            .route(operation, acquire, "", Some(permit(name, count)), &[])
            .await;
        assert_eq!(answer["acquired"], true, "{operation}: {answer}");
        leases.push((answer["leaseId"].clone(), answer["permit"].clone()));
    }
    let (lease, slot) = leases[1].clone();
    let release = json!({ "semaphoreName": "one", "leaseId": lease, "permit": slot });
    let (_, answer) = c
        .route(
            "semaphore release, given its permit",
            Route::ReleasePermit,
            "",
            Some(release),
            &[],
        )
        .await;
    assert_eq!(answer["released"], true, "release: {answer}");
    let operation = "semaphore acquire, its one permit free";
    let (_, answer) = c
        .route(operation, acquire, "", Some(permit("one", 1)), &[])
        .await;
    assert_eq!(answer["acquired"], true, "{operation}: {answer}");
    let release = json!({ "semaphoreName": "one", "leaseId": answer["leaseId"] });
    let (_, answer) = c
        .route(
            "semaphore release, without its permit",
            Route::ReleasePermit,
            "",
            Some(release),
            &[],
        )
        .await;
    assert_eq!(answer["released"], true, "release: {answer}");
    let keyed = [("Idempotency-Key", "bench-permit")];
    let operation = "semaphore acquire with Idempotency-Key, new (1 permit)";
    let (_, first) = c
        .route(operation, acquire, "", Some(permit("keyed", 1)), &keyed)
        .await;
    let operation = "semaphore acquire, idempotent retry";
    let (_, retry) = c
        .route(operation, acquire, "", Some(permit("keyed", 1)), &keyed)
        .await;
    assert_eq!(
        first["leaseId"], retry["leaseId"],
        "the retry got another lease"
    );
    for _ in 0..2 {
        let fill = c
            .functions
            .event(acquire, "", Some(permit("s", 3)), &[], c.user.as_deref());
        let (_, answer) = c.functions.call(acquire.function(), &fill).await;
        assert_eq!(answer["acquired"], true, "fill: {answer}");
    }
    let operation = "semaphore acquire, refused (every permit held)";
    let (_, answer) = c
        .route(operation, acquire, "", Some(permit("s", 3)), &[])
        .await;
    assert_eq!(answer["acquired"], false, "{operation}: {answer}");
    let (lease, slot) = leases[0].clone();
    let renew = json!({ "semaphoreName": "s", "leaseId": lease, "permit": slot, "ttlSeconds": 60 });
    let (_, answer) = c
        .route(
            "semaphore renew, given its permit",
            Route::RenewPermit,
            "",
            Some(renew),
            &[],
        )
        .await;
    assert_eq!(answer["renewed"], true, "renew: {answer}");
    let (_, shown) = c
        .route(
            "semaphore get (3 permits)",
            Route::GetSemaphore,
            "?semaphoreName=s",
            None,
            &[],
        )
        .await;
    assert_eq!(shown["available"], 0, "get: {shown}");
    let (_, listed) = c
        .route(
            "semaphore list (3 semaphores)",
            Route::ListSemaphores,
            "?limit=10",
            None,
            &[],
        )
        .await;
    assert_eq!(
        listed["semaphores"].as_array().map(Vec::len),
        Some(3),
        "list: {listed}"
    );
    let force = json!({ "semaphoreName": "s", "force": true, "permit": slot });
    let (_, answer) = c
        .route(
            "semaphore force release, one permit",
            Route::ReleasePermit,
            "",
            Some(force),
            &[],
        )
        .await;
    assert_eq!(answer["released"], true, "force: {answer}");
    let force = json!({ "semaphoreName": "s", "force": true });
    let (_, answer) = c
        .route(
            "semaphore force release, every permit (2 live)",
            Route::ReleasePermit,
            "",
            Some(force),
            &[],
        )
        .await;
    assert_eq!(answer["released"], true, "force: {answer}");
    let delete = json!({ "semaphoreName": "s" });
    let (status, answer) = c
        .route(
            "semaphore delete (3 permits)",
            Route::DeleteSemaphore,
            "",
            Some(delete),
            &[],
        )
        .await;
    assert_eq!(status, 200, "delete: {answer}");
}
