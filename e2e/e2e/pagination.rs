//! Pages of many locks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use testkit::api::{lease_of, Api};

/// 2 500 locks listed in pages of 100: every lock exactly once, in name
/// order; the last page has no cursor; without `limit`, the first 1 000 and
/// a cursor; a tampered cursor is a 400; a cursor
/// never reaches another tenant's locks.
pub async fn pagination_lists_every_lock_once_in_order(api: Api) {
    const LOCKS: usize = 2500;
    let (_, key) = api.new_user().await;
    let (_, other) = api.new_user().await;
    lease_of(&api.acquire(&other, "zzz-not-yours", "r").await);
    let names: Vec<String> = (0..LOCKS).map(|n| format!("lock-{n:05}")).collect();
    create(&api, &key, &names).await;
    let (listed, pages) = list_in_pages_of_100(&api, &key).await;
    assert_eq!(pages, LOCKS / 100, "no empty last page");
    assert_eq!(
        listed, names,
        "every lock once, in name order, none of another tenant"
    );

    // Without limit: one page of the default size, and the way on.
    let first_page = api.locks(&key).await;
    assert_eq!(
        names_on(&first_page.body),
        names[..1000],
        "no limit: the first 1 000"
    );
    let next = first_page.body["nextCursor"]
        .as_str()
        .expect("a cursor: more follow");
    let rest = api
        .send(api.get(&format!("/v0/locks?cursor={next}"), Some(&key)))
        .await;
    let rest = rest.body["locks"].as_array().unwrap();
    assert_eq!(rest[0]["lockName"], names[1000].as_str());
    let first = api.send(api.get("/v0/locks?limit=1", Some(&key))).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone();
    tampered.push('0');
    for bad in [tampered.as_str(), "zz", "c1zz", "", &cursor[2..]] {
        let path = format!("/v0/locks?limit=10&cursor={bad}");
        let answer = api.send(api.get(&path, Some(&key))).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad:?}: {answer:?}"
        );
    }
    for bad in ["0", "1001", "-1", "ten", ""] {
        let answer = api
            .send(api.get(&format!("/v0/locks?limit={bad}"), Some(&key)))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "limit={bad}");
    }
    // Her cursor past his own last lock shows her nothing of his.
    let after_his = api
        .send(api.get(&format!("/v0/locks?limit=10&cursor={cursor}"), Some(&other)))
        .await;
    assert_eq!(names_on(&after_his.body), ["zzz-not-yours"]);
}

/// Acquires each of `names` for `key`, 25 clients at once.
async fn create(api: &Api, key: &str, names: &[String]) {
    let created = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = names
        .chunks(names.len() / 25)
        .map(|chunk| {
            let (api, key, chunk, created) =
                (api.clone(), key.to_owned(), chunk.to_vec(), created.clone());
            tokio::spawn(async move {
                for name in chunk {
                    lease_of(&api.acquire(&key, &name, "r").await);
                    created.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(created.load(Ordering::SeqCst), names.len());
}

/// Every page of `key`'s locks, 100 at a time: the names, and how many pages.
async fn list_in_pages_of_100(api: &Api, key: &str) -> (Vec<String>, usize) {
    let (mut listed, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v0/locks?limit=100&cursor={cursor}"),
            None => "/v0/locks?limit=100".to_owned(),
        };
        let page = api.send(api.get(&path, Some(key))).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        assert!(page.body["locks"].as_array().unwrap().len() <= 100);
        listed.extend(names_on(&page.body));
        pages += 1;
        match page.body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    (listed, pages)
}

/// The lock names on a page.
fn names_on(page: &Value) -> Vec<String> {
    let locks = page["locks"].as_array().unwrap();
    locks
        .iter()
        .map(|lock| lock["lockName"].as_str().unwrap().to_owned())
        .collect()
}
