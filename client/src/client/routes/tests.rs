//! Each route of the registry has a method that calls it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::*;
use crate::Error;

/// A fake deployment: it answers every request with the JSON it was
/// told last, `delay` after it came, and keeps the method and path of the
/// last request and when each request came and was answered.
#[derive(Clone, Default)]
struct Fake {
    answer: Arc<Mutex<Value>>,
    asked: Arc<Mutex<Option<(String, String)>>>,
    delay: Duration,
    served: Arc<Mutex<Vec<(Instant, Instant)>>>,
}

impl Fake {
    /// Serves on a free port; the URL.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let fake = fake.clone();
                let service = service_fn(move |request| fake.clone().serve(request));
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        url
    }

    async fn serve(self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let asked = (
            request.method().to_string(),
            request.uri().path().to_owned(),
        );
        *self.asked.lock().unwrap() = Some(asked);
        let came = Instant::now();
        tokio::time::sleep(self.delay).await;
        self.served.lock().unwrap().push((came, Instant::now()));
        let answer = self.answer.lock().unwrap().to_string();
        Ok(Response::new(Full::new(Bytes::from(answer))))
    }

    /// Answers `answer` from now on; forgets the last request.
    fn answers(&self, answer: Value) {
        *self.answer.lock().unwrap() = answer;
        *self.asked.lock().unwrap() = None;
    }

    fn asked(&self) -> Option<(String, String)> {
        self.asked.lock().unwrap().clone()
    }
}

/// Each route of the registry has a method that sends its method and
/// path and reads its answer; a route added without one does not
/// compile (the match names it).
#[tokio::test]
async fn every_route_has_a_method_that_calls_it() {
    let fake = Fake::default();
    let url = fake.start().await;
    let client = Client::new(&url, "550e8400-e29b-41d4-a716-446655440000")
        .unwrap()
        .with_retry(RetryPolicy::never());
    for route in Route::ALL {
        let called = match route {
            Route::SignUp | Route::RotateKey | Route::RevokeKey | Route::RevokeOtherKeys => {
                key_route(&client, &fake, route).await
            }
            Route::Acquire
            | Route::GetLock
            | Route::Unlock
            | Route::Renew
            | Route::DeleteLock
            | Route::ListLocks => lock_route(&client, &fake, route).await,
            Route::AcquirePermit
            | Route::GetSemaphore
            | Route::ReleasePermit
            | Route::RenewPermit
            | Route::DeleteSemaphore
            | Route::ListSemaphores => semaphore_route(&client, &fake, route).await,
        };
        called.unwrap_or_else(|err| panic!("{route:?}: {err}"));
        let expected = (route.method().to_owned(), route.path().to_owned());
        assert_eq!(fake.asked(), Some(expected), "{route:?}");
    }
}

const LEASE: &str = "6f1c2a9e-3b7d-4c51-9f0e-2d8a4b6c1e37";

/// Calls key route `route`'s method, the fake answering for it.
async fn key_route(client: &Client, fake: &Fake, route: Route) -> Result<(), Error> {
    let key = json!({ "userId": "u", "apiKey": "k" });
    match route {
        Route::SignUp => {
            fake.answers(key);
            client.sign_up().await.map(drop)
        }
        Route::RotateKey => {
            fake.answers(key);
            client.rotate_key(None).await.map(drop)
        }
        Route::RevokeKey => {
            fake.answers(json!({ "revoked": true }));
            client.revoke_key().await
        }
        Route::RevokeOtherKeys => {
            fake.answers(json!({ "revokedKeys": 2 }));
            client.revoke_other_keys().await.map(drop)
        }
        other => unreachable!("{other:?} is not a key route"),
    }
}

/// Calls lock route `route`'s method, the fake answering for it.
async fn lock_route(client: &Client, fake: &Fake, route: Route) -> Result<(), Error> {
    let view = json!({
        "lockName": "l", "locked": true, "leaseId": LEASE, "leasedBy": "r",
        "createdAt": "2026-12-01T00:00:00.000Z", "updatedAt": "2026-12-01T00:00:00.000Z",
        "fencingToken": 1
    });
    match route {
        Route::Acquire => {
            let granted = json!({ "locked": true, "leaseId": LEASE, "message": "lock acquired", "fencingToken": 1 });
            fake.answers(granted);
            let options = AcquireOptions::default();
            client.acquire("l", &options).await.map(drop)
        }
        Route::GetLock => {
            fake.answers(view);
            client.get("l").await.map(drop)
        }
        Route::Unlock => {
            fake.answers(json!({ "unlocked": true }));
            client.unlock("l", LEASE, None).await.map(drop)
        }
        Route::Renew => {
            fake.answers(json!({ "renewed": true, "message": "lease renewed" }));
            client.renew("l", LEASE, None, None).await.map(drop)
        }
        Route::DeleteLock => {
            fake.answers(json!({ "deleted": true }));
            client.delete("l").await
        }
        Route::ListLocks => {
            fake.answers(json!({ "locks": [view] }));
            client.list_page(10, None).await.map(drop)
        }
        other => unreachable!("{other:?} is not a lock route"),
    }
}

/// Calls semaphore route `route`'s method, the fake answering for it.
async fn semaphore_route(client: &Client, fake: &Fake, route: Route) -> Result<(), Error> {
    let semaphore = json!({
        "semaphoreName": "s", "permits": 2, "available": 2, "holders": [],
        "createdAt": "2026-12-01T00:00:00.000Z", "updatedAt": "2026-12-01T00:00:00.000Z"
    });
    match route {
        Route::AcquirePermit => {
            let granted = json!({ "acquired": true, "leaseId": LEASE, "permit": 1, "fencingToken": 1, "permits": 2, "message": "permit acquired" });
            fake.answers(granted);
            let options = AcquireOptions::default();
            let permit = client.acquire_permit("s", 2, &options).await;
            permit.map(|lease| assert_eq!(lease.permit(), Some(1)))
        }
        Route::GetSemaphore => {
            fake.answers(semaphore);
            client.get_semaphore("s").await.map(drop)
        }
        Route::ReleasePermit => {
            fake.answers(json!({ "released": true }));
            client
                .release_permit("s", LEASE, Some(1), None)
                .await
                .map(drop)
        }
        Route::RenewPermit => {
            fake.answers(json!({ "renewed": true }));
            let renewed = client.renew_permit("s", LEASE, Some(1), None, None);
            renewed.await.map(drop)
        }
        Route::DeleteSemaphore => {
            fake.answers(json!({ "deleted": true }));
            client.delete_semaphore("s").await
        }
        Route::ListSemaphores => {
            fake.answers(json!({ "semaphores": [semaphore] }));
            client.list_semaphores_page(10, None).await.map(drop)
        }
        other => unreachable!("{other:?} is not a semaphore route"),
    }
}

#[test]
fn a_wait_is_asked_of_the_service_in_whole_seconds_rounded_up() {
    let seconds = |ms| whole_seconds(Duration::from_millis(ms));
    assert_eq!(
        [
            seconds(1),
            seconds(999),
            seconds(1_000),
            seconds(1_001),
            seconds(20_000)
        ],
        [1, 1, 1, 2, 20]
    );
}

/// The pauses between one answer of `fake` and the next request.
fn pauses_between_asks(fake: &Fake) -> Vec<Duration> {
    let served = fake.served.lock().unwrap();
    served
        .windows(2)
        .map(|pair| pair[1].0.duration_since(pair[0].1))
        .collect()
}

/// A service that waited (as long as its `MaxWaitSeconds` lets it) and
/// refused is asked again at once, so a longer wait leaves no gap in which
/// tries take the lock; one that answered at once is asked again after a
/// pause, not in a hot loop.
#[tokio::test]
async fn a_wait_beyond_the_services_is_asked_again_at_once_after_a_waited_answer() {
    const KEY: &str = "550e8400-e29b-41d4-a716-446655440000";
    let held = json!({ "locked": false, "message": "lock is held by another lease" });
    let options = AcquireOptions {
        wait: Duration::from_millis(1_500),
        ..AcquireOptions::default()
    };
    let waited = Fake {
        delay: Duration::from_millis(600),
        ..Fake::default()
    };
    waited.answers(held.clone());
    let client = Client::new(&waited.start().await, KEY).unwrap();
    let refused = client.acquire("l", &options).await;
    assert!(matches!(refused, Err(Error::Held { .. })), "{refused:?}");
    let pauses = pauses_between_asks(&waited);
    assert!(!pauses.is_empty(), "asked once");
    assert!(
        pauses.iter().all(|p| *p < Duration::from_millis(250)),
        "{pauses:?}"
    );
    let at_once = Fake::default();
    at_once.answers(held);
    let client = Client::new(&at_once.start().await, KEY).unwrap();
    let refused = client.acquire("l", &options).await;
    assert!(matches!(refused, Err(Error::Held { .. })), "{refused:?}");
    let pauses = pauses_between_asks(&at_once);
    assert!(
        !pauses.is_empty() && pauses.iter().all(|p| *p >= Duration::from_millis(250)),
        "{pauses:?}"
    );
}
