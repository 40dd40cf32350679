//! The end of the custom test harnesses that drive the local stack (e2e,
//! stress, lockctl): libtest's summary line, so `cargo test` and CI read
//! them as any other test binary.

use std::process::ExitCode;
use std::time::Instant;

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
