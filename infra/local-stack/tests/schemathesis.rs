//! schemathesis (installed by `make tools` into `.tools/schemathesis`) against
//! the whole local stack: requests generated from `openapi.yaml`, valid and
//! invalid, and every check it has on the answers: no 5xx, documented status
//! codes, content types, headers and bodies, invalid input refused, valid
//! input accepted, and requests without the key refused.
//!
//! One check is left out: `unsupported_method` wants 405 for a method a path
//! does not have, where API Gateway's REST API (and the template's Gateway
//! Responses) answer 404 `NOT_FOUND`, as the e2e suite checks.

use std::time::{Duration, Instant};

use local_stack::engine::{repo_root, tools_dir};
use local_stack::{Stack, StackOptions};

#[tokio::test(flavor = "multi_thread")]
async fn the_api_answers_as_openapi_yaml_describes() {
    let stack = Stack::start(StackOptions::default())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
    let key = stack.new_api_key().await.unwrap();

    let workdir = repo_root().join("target/schemathesis");
    std::fs::create_dir_all(&workdir).unwrap();
    let started = Instant::now();
    let run = tokio::process::Command::new(tools_dir().join("schemathesis/bin/schemathesis"))
        .current_dir(&workdir)
        .arg("run")
        .arg(repo_root().join("openapi.yaml"))
        .args(["--url", &stack.base_url])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "all", "--exclude-checks", "unsupported_method"])
        // Rotating or revoking ends the very key this run authenticates
        // with, so every later case would be a 401. The key routes are
        // checked over HTTP by the end-to-end suite (`keys_rotate_and_revoke`)
        // and their parsers line by line in `shared/src/requests/tests.rs`.
        .args(["--exclude-path-regex", "^/v0/keys/"])
        // One worker: with several, Python 3.11's `ast` (which hypothesis
        // uses to describe its filters) fails now and then across threads.
        .args(["--max-examples", "20", "--workers", "1"])
        // waitSeconds may be 20; the gateway gives up at 29 s.
        .args(["--request-timeout", "35", "--max-response-time", "30"])
        // ASCII strings only: JSON Schema's `maxLength` counts characters and
        // the service counts UTF-8 bytes (255 at most), which agree on ASCII
        // alone. Unicode input is fuzzed by `shared/tests/fuzz.rs`.
        .args(["--generation-codec", "ascii"])
        .args(["--generation-database", "none", "--no-color"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(1200), run)
        .await
        .expect("schemathesis finished within 20 minutes")
        .expect("schemathesis runs (`make tools` installs it)");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}{}", String::from_utf8_lossy(&output.stderr));
    println!("schemathesis took {:.0} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "schemathesis found failures (report above)"
    );
    let (tested, total) = operations_outside_key_routes();
    assert!(
        report.contains(&format!("{tested} selected / {total} total")),
        "every operation but the key routes' was tested"
    );
}

/// How many operations `openapi.yaml` describes outside `/v0/keys/`, and in all.
fn operations_outside_key_routes() -> (usize, usize) {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).unwrap();
    let spec: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut counts = (0, 0);
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        let operations = item.as_mapping().unwrap().len();
        counts.1 += operations;
        if !path.as_str().unwrap().starts_with("/v0/keys/") {
            counts.0 += operations;
        }
    }
    assert!(counts.0 >= 6, "{counts:?}");
    counts
}
