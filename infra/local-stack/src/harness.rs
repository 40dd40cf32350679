//! What the custom test harnesses that drive the local stack (e2e, stress,
//! lockctl) print, in libtest's format, so `cargo test` and CI read them as
//! any other test binary.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Waits up to `limit` for the scenario `suite::name` running in `task` and
/// prints its line (`ok`, or `FAILED` with the panic or the timeout); true
/// if it passed.
pub async fn outcome(suite: &str, name: &str, task: JoinHandle<()>, limit: Duration) -> bool {
    let failure = match tokio::time::timeout(limit, task).await {
        Ok(Ok(())) => None,
        Ok(Err(panic)) => Some(panic.to_string()),
        Err(_) => Some(format!("timed out after {} s", limit.as_secs())),
    };
    match &failure {
        None => println!("test {suite}::{name} ... ok"),
        Some(why) => println!("test {suite}::{name} ... FAILED ({why})"),
    }
    failure.is_none()
}

/// Prints `test result: ...` and gives the binary's exit code (failure if
/// any test failed).
pub fn finish(passed: usize, failed: usize, filtered_out: usize, started: Instant) -> ExitCode {
    let status = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_or_a_timeout_fails_the_scenario() {
        let limit = Duration::from_millis(200);
        assert!(outcome("unit", "passes", tokio::spawn(async {}), limit).await);
        let panics = tokio::spawn(async { panic!("on purpose") });
        assert!(!outcome("unit", "panics", panics, limit).await);
        let hangs = tokio::spawn(tokio::time::sleep(Duration::from_secs(5)));
        assert!(!outcome("unit", "hangs", hangs, limit).await);
    }
}
