//! The browser console in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `make browser`) driven through chromedriver by
//! `fantoccini`, against the whole local stack. It signs in with a wrong key
//! and is sent back, signs up through the page, sees the locks and the
//! semaphore made through the API with their holders, force-releases and
//! deletes through the page (the API agrees), renders a hostile lock name as
//! text with no script run, and fits 1280 px and a phone's width. It writes
//! the locks view to `target/console/locks.png` (`make screenshot` copies a
//! fresh one to `docs/`).
//!
//! `browser`: Chromium and chromedriver; `page`: waiting on the page,
//! reading its tables and clicking its buttons.

mod browser;
mod page;

use fantoccini::{Client, Locator};
use local_stack::engine::repo_root;
use local_stack::{Stack, StackOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::api::Api;

use browser::{browser, programs, Chromedriver};
use page::{button_in_row, click, confirm, fits, names, row, run, shown, text_of, until};

/// A lock name that is markup: it must show as these characters.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";
/// Where the page keeps the key.
const KEY_STORAGE: &str = "lock-service-api-key";

/// Where the screenshots go (`make screenshot` copies `locks.png`).
fn screenshots() -> std::path::PathBuf {
    let dir = repo_root().join("target/console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_signs_in_shows_the_locks_and_force_releases_and_deletes() {
    let (chromium, driver) = programs();
    let stack = Stack::start(StackOptions::default())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
    let api = Api::of(&stack);
    let console = format!("{}/console", stack.base_url);
    the_answer_carries_a_strict_policy(&api, &console).await;

    let chromedriver = Chromedriver::start(&driver);
    let page = browser(&chromedriver, &chromium).await;
    page.goto(&console).await.unwrap();
    let key = a_wrong_key_is_refused_and_sign_up_keeps_the_key_in_the_tab(&page).await;
    it_shows_what_the_api_made_as_text(&page, &api, &key).await;
    it_acts_only_when_confirmed(&page, &api, &key).await;
    it_filters_pages_and_refreshes(&page, &api, &key).await;
    it_fits_a_phone_and_signs_out(&page).await;
    page.close().await.unwrap();
}

/// The page's answer carries the strict policy.
async fn the_answer_carries_a_strict_policy(api: &Api, console: &str) {
    let answer = api.http.get(console).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let header = |name: &str| answer.headers()[name].to_str().unwrap().to_owned();
    let policy = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("cache-control"), "no-store");
}

/// A well-formed key nobody has: back to sign-in, saying why. Then sign
/// up through the page: the new key is shown once and kept in the tab.
async fn a_wrong_key_is_refused_and_sign_up_keeps_the_key_in_the_tab(page: &Client) -> String {
    until("the sign-in form", || shown(page, "#api-key")).await;
    let key_input = page.find(Locator::Css("#api-key")).await.unwrap();
    key_input
        .send_keys("550e8400-e29b-41d4-a716-446655440000")
        .await
        .unwrap();
    click(page, "Sign in").await;
    until("the refused key's message", || async {
        text_of(page, "#status").await.contains("refused")
    })
    .await;
    assert!(shown(page, "#api-key").await, "sign-in is shown again");
    assert!(!shown(page, "#locks").await, "no locks without a key");

    // Sign up through the page: the new key is shown once and kept in the tab.
    click(page, "Sign up").await;
    until("the new key", || async {
        text_of(page, "#new-api-key").await.len() == 36
    })
    .await;
    let key = text_of(page, "#new-api-key").await;
    assert!(text_of(page, "#new-key").await.contains("Save it now"));
    until("the locks view", || shown(page, "#locks")).await;
    let stored = run(
        page,
        &format!("return [sessionStorage.getItem('{KEY_STORAGE}'), localStorage.length];"),
    )
    .await;
    assert_eq!(stored, json!([key, 0]), "the key is in sessionStorage only");
    assert!(!page.current_url().await.unwrap().as_str().contains(&key));
    key
}

/// Locks and a semaphore made through the API show with their holders,
/// hostile markup as text; every control is labelled; the screenshot.
async fn it_shows_what_the_api_made_as_text(page: &Client, api: &Api, key: &str) {
    // Locks and a semaphore made through the API, with the page's key.
    let held = api
        .acquire_with(
            key,
            json!({"lockName": "job-1", "requester": "worker-7", "ttlSeconds": 600}),
        )
        .await;
    assert_eq!(held.body["locked"], true, "{held:?}");
    let token = held.body["fencingToken"].as_u64().unwrap();
    let free = api.acquire(key, "free-1", "worker-8").await;
    let freed = api
        .unlock(key, "free-1", free.body["leaseId"].as_str().unwrap())
        .await;
    assert_eq!(freed.body["unlocked"], true, "{freed:?}");
    let hostile = api.acquire(key, HOSTILE, "<b>bold</b>").await;
    assert_eq!(hostile.body["locked"], true, "{hostile:?}");
    let permit = api
        .post_json(
            "/v0/semaphore",
            key,
            json!({"semaphoreName": "pool", "requester": "batch-3", "permits": 3, "ttlSeconds": 600}),
        )
        .await;
    assert_eq!(permit.body["acquired"], true, "{permit:?}");

    // Until the refresh has landed: an earlier load, answered between the
    // calls above, may show free-1 still held.
    click(page, "Refresh").await;
    until("job-1, free-1 freed and the semaphore", || async {
        let free = row(page, "locks", "free-1").await;
        row(page, "locks", "job-1").await.is_some()
            && free.is_some_and(|free| free[1] == "free")
            && row(page, "semaphores", "pool").await.is_some()
    })
    .await;
    let job = row(page, "locks", "job-1").await.unwrap();
    assert_eq!(job[1..3], ["held", "worker-7"], "{job:?}");
    assert!(job[3].ends_with(" UTC"), "since: {job:?}");
    assert!(job[4].starts_with("in "), "a live countdown: {job:?}");
    assert_eq!(job[5], token.to_string(), "{job:?}");
    let free_row = row(page, "locks", "free-1").await.unwrap();
    assert_eq!(free_row[1..3], ["free", "—"], "{free_row:?}");

    // The hostile name and holder are text: no element, no script.
    let hostile_row = row(page, "locks", HOSTILE).await.expect("the hostile row");
    assert_eq!(hostile_row[2], "<b>bold</b>");
    let injected = run(
        page,
        "return document.querySelectorAll('#locks img, #locks b').length;",
    )
    .await;
    assert_eq!(injected, json!(0), "markup in a name became elements");
    assert!(
        page.get_alert_text().await.is_err(),
        "a script of the name ran"
    );

    let pool = row(page, "semaphores", "pool")
        .await
        .expect("the semaphore");
    assert_eq!(pool[1], "1 of 3 held", "{pool:?}");
    let slot = permit.body["permit"].as_u64().unwrap();
    assert!(
        pool[2].contains(&format!("permit {slot}: batch-3")),
        "{pool:?}"
    );

    // The new key's notice goes once dismissed, taking the key off the page.
    click(page, "I have saved it").await;
    assert!(!shown(page, "#new-key").await);
    assert!(!run(page, "return document.body.textContent;")
        .await
        .as_str()
        .unwrap()
        .contains(key));

    // Every control has a label; the view fits 1280 px; the screenshot.
    let unlabelled = run(
        page,
        "return [...document.querySelectorAll('input')]\
         .filter(i => i.labels.length === 0).map(i => i.id);",
    )
    .await;
    assert_eq!(unlabelled, json!([]), "inputs without a label");
    assert!(fits(page).await, "horizontal scroll at 1280 px");
    let shot = screenshots().join("locks.png");
    std::fs::write(&shot, page.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", shot.display());
}

/// Force release, delete and release permit through the page, each
/// confirmed, and the API agrees; cancelling changes nothing.
async fn it_acts_only_when_confirmed(page: &Client, api: &Api, key: &str) {
    // Force release through the page; the API agrees.
    let force = button_in_row(page, "locks", "job-1", "Force release").await;
    confirm(page, force, "force-released").await;
    let after = api.lock(key, "job-1").await;
    assert_eq!(after.body["locked"], false, "{after:?}");
    until("job-1 free", || async {
        row(page, "locks", "job-1")
            .await
            .is_some_and(|r| r[1] == "free")
    })
    .await;

    // Delete a free lock through the page; the API agrees.
    let delete = button_in_row(page, "locks", "free-1", "Delete").await;
    confirm(page, delete, "deleted").await;
    assert_eq!(api.lock(key, "free-1").await.status, StatusCode::NOT_FOUND);
    until("free-1 gone", || async {
        row(page, "locks", "free-1").await.is_none()
    })
    .await;

    // Release the semaphore's permit through the page; the API agrees.
    let release = button_in_row(page, "semaphores", "pool", "Release permit").await;
    confirm(page, release, "released").await;
    let pool = api
        .send(
            api.get("/v0/semaphore", Some(key))
                .query(&[("semaphoreName", "pool")]),
        )
        .await;
    assert_eq!(pool.body["holders"], json!([]), "{pool:?}");
    until("pool's permit gone", || async {
        row(page, "semaphores", "pool")
            .await
            .is_some_and(|r| r[1] == "0 of 3 held")
    })
    .await;

    // Cancelling changes nothing.
    let force = button_in_row(page, "locks", HOSTILE, "Force release").await;
    force.click().await.unwrap();
    until("the confirmation dialog", || shown(page, "#confirm")).await;
    page.find(Locator::XPath(
        "//dialog[@id='confirm']//button[text()='Cancel']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    until("the cancel", || async {
        text_of(page, "#status").await == "Cancelled."
    })
    .await;
    assert_eq!(api.lock(key, HOSTILE).await.body["locked"], true);
}

/// The filter, paging through `nextCursor`, and auto-refresh.
async fn it_filters_pages_and_refreshes(page: &Client, api: &Api, key: &str) {
    // The filter narrows the loaded rows; emptied, it shows them all again.
    let filter = page.find(Locator::Css("#filter")).await.unwrap();
    filter.send_keys("JOB").await.unwrap();
    until("only job-1", || async { names(page).await == ["job-1"] }).await;
    run(
        page,
        "const f = document.getElementById('filter'); f.value = ''; \
         f.dispatchEvent(new Event('input')); return null;",
    )
    .await;
    until("both locks again", || async {
        names(page).await.len() == 2
    })
    .await;

    // A hundred more locks: a page of 100 rows, then the rest on demand.
    let mut acquires = tokio::task::JoinSet::new();
    for n in 0..100 {
        let (api, key) = (api.clone(), key.to_owned());
        acquires.spawn(async move { api.acquire(&key, &format!("bulk-{n:03}"), "bulk").await });
    }
    while let Some(answer) = acquires.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.body["locked"], true, "{answer:?}");
    }
    click(page, "Refresh").await;
    until("a first page of 100", || async {
        names(page).await.len() == 100
    })
    .await;
    assert!(shown(page, "#more-locks").await, "no way to the next page");
    click(page, "Load more locks").await;
    until("the second page", || async {
        names(page).await.len() == 102
    })
    .await;
    assert_eq!(names(page).await.last().unwrap(), "job-1");
    assert!(!shown(page, "#more-locks").await, "a third page of nothing");

    // Auto-refresh shows a lock made meanwhile, without a click.
    page.find(Locator::Css("#auto-refresh"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    api.acquire(key, "late-1", "late").await;
    until("late-1, by auto-refresh", || async {
        row(page, "locks", "late-1").await.is_some()
    })
    .await;
}

/// A phone's width, then sign-out.
async fn it_fits_a_phone_and_signs_out(page: &Client) {
    // A phone's width: still no horizontal scroll.
    page.set_window_size(390, 844).await.unwrap();
    assert!(fits(page).await, "horizontal scroll at a phone's width");
    std::fs::write(
        screenshots().join("locks-phone.png"),
        page.screenshot().await.unwrap(),
    )
    .unwrap();

    // Sign out forgets the key.
    click(page, "Sign out").await;
    until("the sign-in form", || shown(page, "#api-key")).await;
    let forgotten = run(
        page,
        &format!("return sessionStorage.getItem('{KEY_STORAGE}');"),
    )
    .await;
    assert_eq!(forgotten, Value::Null);
}
