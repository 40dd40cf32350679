//! The browser console in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `make browser`) driven through chromedriver by
//! `fantoccini`, against the whole local stack. It signs in with a wrong key
//! and is sent back, signs up through the page, sees the locks and the
//! semaphore made through the API with their holders, force-releases and
//! deletes through the page (the API agrees), renders a hostile lock name as
//! text with no script run, and fits 1280 px and a phone's width. It writes
//! the locks view to `target/console/locks.png` (`make screenshot` copies a
//! fresh one to `docs/`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use local_stack::engine::{free_port, repo_root, wait_for_port};
use local_stack::process::ProcessGroup;
use local_stack::{Stack, StackOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::api::Api;

/// A lock name that is markup: it must show as these characters.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";
/// Where the page keeps the key.
const KEY_STORAGE: &str = "lock-service-api-key";
/// How long the page may take to show what the test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// The first program of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn version(program: &Path) -> String {
    let output = Command::new(program).arg("--version").output();
    output.map_or_else(
        |e| format!("{}: {e}", program.display()),
        |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
    )
}

/// chromedriver on a free port, stopped (with the browsers it started) on drop.
struct Chromedriver {
    url: String,
    _process: ProcessGroup,
}

impl Chromedriver {
    fn start(driver: &Path) -> Self {
        use std::os::unix::process::CommandExt;
        let port = free_port().unwrap();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", driver.display()));
        let process = ProcessGroup::new(child);
        assert!(
            wait_for_port(port, Duration::from_secs(20)),
            "chromedriver did not listen on {port}"
        );
        Self {
            url: format!("http://127.0.0.1:{port}"),
            _process: process,
        }
    }
}

/// A headless Chromium session at 1280×800.
async fn browser(driver: &Chromedriver, chromium: &Path) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,800"],
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

/// Waits until `check` holds, or fails naming `what`.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "the page never showed {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(page: &Client, css: &str) -> String {
    match page.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn shown(page: &Client, css: &str) -> bool {
    match page.find(Locator::Css(css)).await {
        Ok(element) => element.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

async fn run(page: &Client, script: &str) -> Value {
    page.execute(script, vec![]).await.expect(script)
}

/// The cells' text of each row of the table `#id`.
async fn rows(page: &Client, id: &str) -> Vec<Vec<String>> {
    let script = format!(
        "return [...document.querySelectorAll('#{id} tbody tr')]\
         .map(row => [...row.cells].map(cell => cell.textContent));"
    );
    serde_json::from_value(run(page, &script).await).unwrap()
}

/// The names in the locks table, in its order.
async fn names(page: &Client) -> Vec<String> {
    rows(page, "locks")
        .await
        .into_iter()
        .map(|row| row[0].clone())
        .collect()
}

/// Clicks the button labelled `label`.
async fn click(page: &Client, label: &str) {
    let button = format!("//button[text()='{label}']");
    page.find(Locator::XPath(&button))
        .await
        .unwrap_or_else(|e| panic!("no button {label:?}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The row of table `#id` whose first cell is `name`.
async fn row(page: &Client, id: &str, name: &str) -> Option<Vec<String>> {
    rows(page, id).await.into_iter().find(|row| row[0] == name)
}

/// The button `label` in the row of `#id` whose first cell is `name`.
async fn button_in_row(page: &Client, id: &str, name: &str, label: &str) -> Element {
    let selector = format!("#{id} tbody tr");
    for row in page.find_all(Locator::Css(&selector)).await.unwrap() {
        let first = row.find(Locator::Css("td")).await.unwrap();
        if first.text().await.unwrap() == name {
            let button = format!(".//button[text()='{label}']");
            return row.find(Locator::XPath(&button)).await.unwrap();
        }
    }
    panic!("no row {name:?} in #{id}");
}

/// Clicks `button`, confirms in the page's dialog and waits for `outcome`.
async fn confirm(page: &Client, button: Element, outcome: &str) {
    button.click().await.unwrap();
    until("the confirmation dialog", || shown(page, "#confirm")).await;
    let yes = "//dialog[@id='confirm']//button[text()='Confirm']";
    page.find(Locator::XPath(yes))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(outcome, || async {
        text_of(page, "#status").await.contains(outcome)
    })
    .await;
}

/// Whether the page is no wider than its window (no horizontal scroll).
async fn fits(page: &Client) -> bool {
    run(
        page,
        "return document.documentElement.scrollWidth <= window.innerWidth;",
    )
    .await
        == json!(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_signs_in_shows_the_locks_and_force_releases_and_deletes() {
    let (Some(chromium), Some(driver)) = (
        on_path(&["chromium", "chromium-browser"]),
        on_path(&["chromedriver"]),
    ) else {
        panic!(
            "Chromium and chromedriver are needed: run `make browser` \
             (as root: apt-get install -y chromium chromium-driver)"
        );
    };
    println!("{}; {}", version(&chromium), version(&driver));
    let stack = Stack::start(StackOptions::default())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
    let api = Api::of(&stack);
    let console = format!("{}/console", stack.base_url);

    // The page's answer carries the strict policy.
    let answer = api.http.get(&console).send().await.unwrap();
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

    let chromedriver = Chromedriver::start(&driver);
    let page = browser(&chromedriver, &chromium).await;
    page.goto(&console).await.unwrap();

    // A well-formed key nobody has: back to sign-in, saying why.
    until("the sign-in form", || shown(&page, "#api-key")).await;
    let key_input = page.find(Locator::Css("#api-key")).await.unwrap();
    key_input
        .send_keys("550e8400-e29b-41d4-a716-446655440000")
        .await
        .unwrap();
    click(&page, "Sign in").await;
    until("the refused key's message", || async {
        text_of(&page, "#status").await.contains("refused")
    })
    .await;
    assert!(shown(&page, "#api-key").await, "sign-in is shown again");
    assert!(!shown(&page, "#locks").await, "no locks without a key");

    // Sign up through the page: the new key is shown once and kept in the tab.
    click(&page, "Sign up").await;
    until("the new key", || async {
        text_of(&page, "#new-api-key").await.len() == 36
    })
    .await;
    let key = text_of(&page, "#new-api-key").await;
    assert!(text_of(&page, "#new-key").await.contains("Save it now"));
    until("the locks view", || shown(&page, "#locks")).await;
    let stored = run(
        &page,
        &format!("return [sessionStorage.getItem('{KEY_STORAGE}'), localStorage.length];"),
    )
    .await;
    assert_eq!(stored, json!([key, 0]), "the key is in sessionStorage only");
    assert!(!page.current_url().await.unwrap().as_str().contains(&key));

    // Locks and a semaphore made through the API, with the page's key.
    let held = api
        .acquire_with(
            &key,
            json!({"lockName": "job-1", "requester": "worker-7", "ttlSeconds": 600}),
        )
        .await;
    assert_eq!(held.body["locked"], true, "{held:?}");
    let token = held.body["fencingToken"].as_u64().unwrap();
    let free = api.acquire(&key, "free-1", "worker-8").await;
    let freed = api
        .unlock(&key, "free-1", free.body["leaseId"].as_str().unwrap())
        .await;
    assert_eq!(freed.body["unlocked"], true, "{freed:?}");
    let hostile = api.acquire(&key, HOSTILE, "<b>bold</b>").await;
    assert_eq!(hostile.body["locked"], true, "{hostile:?}");
    let permit = api
        .post_json(
            "/v0/semaphore",
            &key,
            json!({"semaphoreName": "pool", "requester": "batch-3", "permits": 3, "ttlSeconds": 600}),
        )
        .await;
    assert_eq!(permit.body["acquired"], true, "{permit:?}");

    click(&page, "Refresh").await;
    until("lock job-1", || async {
        row(&page, "locks", "job-1").await.is_some()
    })
    .await;
    let job = row(&page, "locks", "job-1").await.unwrap();
    assert_eq!(job[1..3], ["held", "worker-7"], "{job:?}");
    assert!(job[3].ends_with(" UTC"), "since: {job:?}");
    assert!(job[4].starts_with("in "), "a live countdown: {job:?}");
    assert_eq!(job[5], token.to_string(), "{job:?}");
    let free_row = row(&page, "locks", "free-1").await.unwrap();
    assert_eq!(free_row[1..3], ["free", "—"], "{free_row:?}");

    // The hostile name and holder are text: no element, no script.
    let hostile_row = row(&page, "locks", HOSTILE).await.expect("the hostile row");
    assert_eq!(hostile_row[2], "<b>bold</b>");
    let injected = run(
        &page,
        "return document.querySelectorAll('#locks img, #locks b').length;",
    )
    .await;
    assert_eq!(injected, json!(0), "markup in a name became elements");
    assert!(
        page.get_alert_text().await.is_err(),
        "a script of the name ran"
    );

    let pool = row(&page, "semaphores", "pool")
        .await
        .expect("the semaphore");
    assert_eq!(pool[1], "1 of 3 held", "{pool:?}");
    let slot = permit.body["permit"].as_u64().unwrap();
    assert!(
        pool[2].contains(&format!("permit {slot}: batch-3")),
        "{pool:?}"
    );

    // The new key's notice goes once dismissed, taking the key off the page.
    click(&page, "I have saved it").await;
    assert!(!shown(&page, "#new-key").await);
    assert!(!run(&page, "return document.body.textContent;")
        .await
        .as_str()
        .unwrap()
        .contains(&key));

    // Every control has a label; the view fits 1280 px; the screenshot.
    let unlabelled = run(
        &page,
        "return [...document.querySelectorAll('input')]\
         .filter(i => i.labels.length === 0).map(i => i.id);",
    )
    .await;
    assert_eq!(unlabelled, json!([]), "inputs without a label");
    assert!(fits(&page).await, "horizontal scroll at 1280 px");
    let screenshots = repo_root().join("target/console");
    std::fs::create_dir_all(&screenshots).unwrap();
    let shot = screenshots.join("locks.png");
    std::fs::write(&shot, page.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", shot.display());

    // Force release through the page; the API agrees.
    let force = button_in_row(&page, "locks", "job-1", "Force release").await;
    confirm(&page, force, "force-released").await;
    let after = api.lock(&key, "job-1").await;
    assert_eq!(after.body["locked"], false, "{after:?}");
    until("job-1 free", || async {
        row(&page, "locks", "job-1")
            .await
            .is_some_and(|r| r[1] == "free")
    })
    .await;

    // Delete a free lock through the page; the API agrees.
    let delete = button_in_row(&page, "locks", "free-1", "Delete").await;
    confirm(&page, delete, "deleted").await;
    assert_eq!(api.lock(&key, "free-1").await.status, StatusCode::NOT_FOUND);
    until("free-1 gone", || async {
        row(&page, "locks", "free-1").await.is_none()
    })
    .await;

    // Release the semaphore's permit through the page; the API agrees.
    let release = button_in_row(&page, "semaphores", "pool", "Release permit").await;
    confirm(&page, release, "released").await;
    let pool = api
        .send(
            api.get("/v0/semaphore", Some(&key))
                .query(&[("semaphoreName", "pool")]),
        )
        .await;
    assert_eq!(pool.body["holders"], json!([]), "{pool:?}");
    until("pool's permit gone", || async {
        row(&page, "semaphores", "pool")
            .await
            .is_some_and(|r| r[1] == "0 of 3 held")
    })
    .await;

    // Cancelling changes nothing.
    let force = button_in_row(&page, "locks", HOSTILE, "Force release").await;
    force.click().await.unwrap();
    until("the confirmation dialog", || shown(&page, "#confirm")).await;
    page.find(Locator::XPath(
        "//dialog[@id='confirm']//button[text()='Cancel']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    until("the cancel", || async {
        text_of(&page, "#status").await == "Cancelled."
    })
    .await;
    assert_eq!(api.lock(&key, HOSTILE).await.body["locked"], true);

    // The filter narrows the loaded rows; emptied, it shows them all again.
    let filter = page.find(Locator::Css("#filter")).await.unwrap();
    filter.send_keys("JOB").await.unwrap();
    until("only job-1", || async { names(&page).await == ["job-1"] }).await;
    run(
        &page,
        "const f = document.getElementById('filter'); f.value = ''; \
         f.dispatchEvent(new Event('input')); return null;",
    )
    .await;
    until("both locks again", || async {
        names(&page).await.len() == 2
    })
    .await;

    // A hundred more locks: a page of 100 rows, then the rest on demand.
    let mut acquires = tokio::task::JoinSet::new();
    for n in 0..100 {
        let (api, key) = (api.clone(), key.clone());
        acquires.spawn(async move { api.acquire(&key, &format!("bulk-{n:03}"), "bulk").await });
    }
    while let Some(answer) = acquires.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.body["locked"], true, "{answer:?}");
    }
    click(&page, "Refresh").await;
    until("a first page of 100", || async {
        names(&page).await.len() == 100
    })
    .await;
    assert!(shown(&page, "#more-locks").await, "no way to the next page");
    click(&page, "Load more locks").await;
    until("the second page", || async {
        names(&page).await.len() == 102
    })
    .await;
    assert_eq!(names(&page).await.last().unwrap(), "job-1");
    assert!(
        !shown(&page, "#more-locks").await,
        "a third page of nothing"
    );

    // Auto-refresh shows a lock made meanwhile, without a click.
    page.find(Locator::Css("#auto-refresh"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    api.acquire(&key, "late-1", "late").await;
    until("late-1, by auto-refresh", || async {
        row(&page, "locks", "late-1").await.is_some()
    })
    .await;

    // A phone's width: still no horizontal scroll.
    page.set_window_size(390, 844).await.unwrap();
    assert!(fits(&page).await, "horizontal scroll at a phone's width");
    std::fs::write(
        screenshots.join("locks-phone.png"),
        page.screenshot().await.unwrap(),
    )
    .unwrap();

    // Sign out forgets the key.
    click(&page, "Sign out").await;
    until("the sign-in form", || shown(&page, "#api-key")).await;
    let forgotten = run(
        &page,
        &format!("return sessionStorage.getItem('{KEY_STORAGE}');"),
    )
    .await;
    assert_eq!(forgotten, Value::Null);
    page.close().await.unwrap();
}
