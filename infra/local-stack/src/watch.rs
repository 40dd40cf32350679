//! The functions: built with cargo, then run under `cargo lambda watch`,
//! whose output goes to a log file with the functions' own log lines and
//! build errors also shown on the terminal, readably.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::dynamodb::local_aws_env;
use crate::engine::{repo_root, tools_dir};
use crate::process::ProcessGroup;
use crate::stack::{io, StackError, StackOptions};
use crate::template::Template;

/// Where the output of cargo and of the functions goes.
#[derive(Clone, Debug)]
pub enum Output {
    /// All of it to the terminal, as it comes.
    Terminal,
    /// All of it to this file; the terminal shows cargo's build progress, the
    /// functions' log lines (readably) and build errors.
    LogFile {
        /// The log file.
        path: PathBuf,
        /// Show build progress and function log lines on the terminal.
        echo: bool,
    },
}

/// Builds every function binary, so `cargo lambda watch` starts them at once.
/// Selected with `--bin` (not `-p`), as `cargo lambda watch` does, so both see
/// the same workspace-wide features and neither rebuilds the other's work.
pub async fn build_functions(template: &Template, output: &Output) -> Result<(), StackError> {
    let mut command = cargo();
    command.current_dir(repo_root()).arg("build");
    for function in &template.functions {
        command.args(["--bin", function]);
    }
    match output {
        // cargo's own progress on the terminal (it goes to stderr).
        Output::Terminal | Output::LogFile { echo: true, .. } => command.stdout(Stdio::null()),
        Output::LogFile { path, echo: false } => {
            let log = open_log(path)?;
            command
                .stdout(log.try_clone().map_err(io("open the log"))?)
                .stderr(log)
        }
    };
    let status = tokio::process::Command::from(command)
        .status()
        .await
        .map_err(io("run cargo build"))?;
    status.success().then_some(()).ok_or(StackError::Build)
}

/// Starts `cargo lambda watch` on `port` in a process group of its own, so
/// that stopping it stops the `cargo run` and build processes it started.
pub fn start_watch(
    template: &Template,
    options: &StackOptions,
    port: u16,
    dynamodb_endpoint: &str,
    output: &Output,
) -> Result<ProcessGroup, StackError> {
    use std::os::unix::process::CommandExt;

    let path = format!(
        "{}:{}",
        tools_dir().join("venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = cargo();
    command
        .current_dir(repo_root())
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(["--concurrency", &options.concurrency.to_string()])
        .env("PATH", path)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
        .envs(local_aws_env())
        .envs(template.function_env())
        .stdin(Stdio::null())
        .process_group(0);
    if !options.reload {
        command.arg("--ignore-changes");
    }
    for (name, value) in &options.function_env {
        command.args(["--env-var", &format!("{name}={value}")]);
    }
    if let Output::LogFile { .. } = output {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = command
        .spawn()
        .map_err(io("start cargo lambda watch (run `make tools`)"))?;
    if let Output::LogFile { path, echo } = output {
        let log = open_log(path)?;
        if let Some(stdout) = child.stdout.take() {
            forward(stdout, log.try_clone().map_err(io("open the log"))?, *echo);
        }
        if let Some(stderr) = child.stderr.take() {
            forward(stderr, log, *echo);
        }
    }
    Ok(ProcessGroup::new(child))
}

/// Copies every line of `from` to `log` on a thread of its own, and shows
/// the lines a person needs on stderr when `echo` is on.
fn forward(from: impl std::io::Read + Send + 'static, mut log: std::fs::File, echo: bool) {
    std::thread::spawn(move || {
        // Until end of file whatever the bytes: a reader that stopped would
        // leave cargo-lambda and the functions blocked on a full pipe.
        let mut from = BufReader::new(from);
        let mut line = Vec::new();
        while matches!(from.read_until(b'\n', &mut line), Ok(read) if read > 0) {
            let _ = log.write_all(&line);
            let text = String::from_utf8_lossy(&line);
            if let Some(shown) = echo.then(|| readable(text.trim_end())).flatten() {
                eprintln!("{shown}");
            }
            line.clear();
        }
    });
}

/// The form in which a line of `cargo lambda watch` output is shown to a
/// person: a function's JSON log line as `  LEVEL message key=value…`, a
/// build error as it is; `None` for the rest (cargo-lambda's own bookkeeping,
/// cargo's progress), which stays in the log file.
pub fn readable(line: &str) -> Option<String> {
    let plain = strip_ansi(line);
    if plain.starts_with("error") || plain.trim_start().starts_with("--> ") {
        return Some(plain);
    }
    let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(&plain) else {
        return None;
    };
    let level = entry.get("level")?.as_str()?;
    let fields = entry.get("fields").and_then(Value::as_object);
    let text = |value: &Value| {
        value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned)
    };
    let mut shown = format!("  {level:<5}");
    if let Some(message) = fields.and_then(|fields| fields.get("message")) {
        shown = format!("{shown} {}", text(message));
    }
    for (name, value) in fields.into_iter().flatten() {
        if name != "message" {
            shown = format!("{shown} {name}={}", text(value));
        }
    }
    Some(shown)
}

/// `text` without ANSI colour sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            plain.push(c);
        }
    }
    plain
}

/// `cargo`, without the variables cargo sets for a program it runs (a test,
/// say). Some build scripts (ring's) rebuild when `CARGO_MANIFEST_DIR`
/// changes, so passing them on would rebuild half the dependency tree.
fn cargo() -> Command {
    let mut command = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_a_run = name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_ref(),
                "CARGO"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_for_a_run {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// Opens `path` for appending, creating it and its folder if needed.
fn open_log(path: &PathBuf) -> Result<std::fs::File, StackError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("create the log folder"))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io("open the log file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_log_lines_and_build_errors_are_shown_readably() {
        let json =
            r#"{"level":"ERROR","fields":{"message":"store failure","error":"timeout"},"span":{}}"#;
        assert_eq!(
            readable(json).as_deref(),
            Some("  ERROR store failure error=timeout")
        );
        assert_eq!(
            readable("\u{1b}[31merror\u{1b}[0m[E0425]: cannot find value `x`").as_deref(),
            Some("error[E0425]: cannot find value `x`")
        );
        for hidden in [
            "\u{1b}[2m2026-11-26T10:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m spawning function instance",
            "    Blocking waiting for file lock on build directory",
            "    Finished `dev` profile [unoptimized + debuginfo] target(s) in 0.21s",
            "[1, 2]",
        ] {
            assert_eq!(readable(hidden), None, "{hidden}");
        }
    }
}
