//! What the test does with the page: wait for it, read its tables, click
//! its buttons and confirm in its dialog.

use std::future::Future;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

/// How long the page may take to show what the test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until `check` holds, or fails naming `what`.
pub async fn until<F, Fut>(what: &str, mut check: F)
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

pub async fn text_of(page: &Client, css: &str) -> String {
    match page.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub async fn shown(page: &Client, css: &str) -> bool {
    match page.find(Locator::Css(css)).await {
        Ok(element) => element.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

pub async fn run(page: &Client, script: &str) -> Value {
    page.execute(script, vec![]).await.expect(script)
}

/// The cells' text of each row of the table `#id`.
pub async fn rows(page: &Client, id: &str) -> Vec<Vec<String>> {
    let script = format!(
        "return [...document.querySelectorAll('#{id} tbody tr')]\
         .map(row => [...row.cells].map(cell => cell.textContent));"
    );
    serde_json::from_value(run(page, &script).await).unwrap()
}

/// The names in the locks table, in its order.
pub async fn names(page: &Client) -> Vec<String> {
    rows(page, "locks")
        .await
        .into_iter()
        .map(|row| row[0].clone())
        .collect()
}

/// Clicks the button labelled `label`.
pub async fn click(page: &Client, label: &str) {
    let button = format!("//button[text()='{label}']");
    page.find(Locator::XPath(&button))
        .await
        .unwrap_or_else(|e| panic!("no button {label:?}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The row of table `#id` whose first cell is `name`.
pub async fn row(page: &Client, id: &str, name: &str) -> Option<Vec<String>> {
    rows(page, id).await.into_iter().find(|row| row[0] == name)
}

/// The button `label` in the row of `#id` whose first cell is `name`.
pub async fn button_in_row(page: &Client, id: &str, name: &str, label: &str) -> Element {
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
pub async fn confirm(page: &Client, button: Element, outcome: &str) {
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
pub async fn fits(page: &Client) -> bool {
    run(
        page,
        "return document.documentElement.scrollWidth <= window.innerWidth;",
    )
    .await
        == json!(true)
}
