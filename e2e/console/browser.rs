//! Headless Chromium through chromedriver: finding both, starting the
//! driver on a free port, and a session at 1280×800.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use local_stack::engine::{free_port, wait_for_port};
use local_stack::process::ProcessGroup;
use serde_json::{json, Value};

/// Chromium and chromedriver from `PATH`, or a failure that says how to
/// install them (never a skip).
pub fn programs() -> (PathBuf, PathBuf) {
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
    (chromium, driver)
}

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
pub struct Chromedriver {
    url: String,
    _process: ProcessGroup,
}

impl Chromedriver {
    pub fn start(driver: &Path) -> Self {
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
pub async fn browser(driver: &Chromedriver, chromium: &Path) -> Client {
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
