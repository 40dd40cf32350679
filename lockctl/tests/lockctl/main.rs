//! `lockctl` and the client library against the local stack (dynalite, the
//! real function binaries under `cargo lambda watch`, the gateway), over
//! HTTP: every subcommand and its exit codes, `lockctl run` (exit codes and
//! signals passed through, conflicts, waiting past the service's 20 s,
//! renewal, a lost lease, Ctrl-C), and the library's retry rules through a
//! proxy that loses answers.
//!
//! One stack for all scenarios, each with its own user, on libtest-mimic
//! (like `e2e/e2e/`): `cargo test -p lockctl --test lockctl -- NAME`.

mod retries;
mod run;
mod shell;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use local_stack::{Stack, StackOptions};
use lock_client::{AcquireOptions, Client, Lease};
use testkit::api::Api;
use testkit::harness::{BoxFuture, Harness};

/// What every scenario gets: the stack's URL and a user of its own.
#[derive(Clone)]
pub struct Ctx {
    pub url: String,
    pub key: String,
    /// `XDG_CONFIG_HOME` of this scenario's `lockctl` runs (empty at first).
    pub config_home: PathBuf,
}

/// A finished `lockctl` run.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stdout as JSON (for `--output json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

impl Ctx {
    async fn new(url: &str, scratch: &Path, name: &str) -> Self {
        let key = Client::anonymous(url)
            .unwrap()
            .sign_up()
            .await
            .unwrap()
            .api_key;
        let config_home = scratch.join(name);
        std::fs::create_dir_all(&config_home).unwrap();
        Self {
            url: url.to_owned(),
            key,
            config_home,
        }
    }

    /// A library client with this scenario's key.
    pub fn client(&self) -> Client {
        Client::new(&self.url, &self.key).unwrap()
    }

    /// A lease of `lock` without TTL, by the library client.
    pub async fn hold(&self, lock: &str) -> Lease {
        let options = AcquireOptions::default();
        self.client().acquire(lock, &options).await.unwrap()
    }

    /// Another user's client (a second tenant).
    pub async fn other_user(&self) -> Client {
        let key = Client::anonymous(&self.url)
            .unwrap()
            .sign_up()
            .await
            .unwrap()
            .api_key;
        Client::new(&self.url, &key).unwrap()
    }

    /// `lockctl ARGS` with this scenario's URL and key in the environment.
    pub fn lockctl(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = self.bare_lockctl(args);
        command
            .env(lock_client::URL_ENV, &self.url)
            .env(lock_client::KEY_ENV, &self.key);
        command
    }

    /// `lockctl ARGS` with only the config file (no URL or key variables).
    pub fn bare_lockctl(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lockctl"));
        command
            .args(args)
            .env_remove(lock_client::URL_ENV)
            .env_remove(lock_client::KEY_ENV)
            .env("XDG_CONFIG_HOME", &self.config_home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `lockctl ARGS` to the end.
    pub async fn run(&self, args: &[&str]) -> Out {
        finish(self.lockctl(args)).await
    }
}

/// Runs a prepared command to the end (at most 90 s).
pub async fn finish(mut command: tokio::process::Command) -> Out {
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("lockctl finished within 90 s")
        .unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Polls `check` every 50 ms until it holds; panics after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each scenario as a test, with a user and a config folder of its own (an
/// unlisted one is dead code, which the lints refuse).
macro_rules! scenarios {
    ($harness:expr; $($module:ident::$name:ident),* $(,)?) => {
        vec![$($harness.trial(stringify!($name), Duration::from_secs(180), |stack| {
            let url = stack.base_url.clone();
            async move {
                let ctx = Ctx::new(&url, &scratch(), stringify!($name)).await;
                $module::$name(ctx).await
            }
        })),*]
    };
}

/// Where the scenarios' config folders go (removed at the end).
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("lockctl-test-{}", std::process::id()))
}

fn main() -> std::process::ExitCode {
    let options = StackOptions {
        // A revoked or rotated-out key answers 401 at once.
        auth_cache_ttl: Some(Duration::ZERO),
        ..StackOptions::default()
    };
    let harness = Harness::new(options, Some(warm_up));
    // One at a time: a 2 s lease must not wait behind other scenarios'
    // requests for a function instance to start.
    let trials = scenarios![harness;
        shell::signup_saves_the_config_0600_and_print_only_prints,
        shell::lock_subcommands_answer_with_their_exit_codes,
        shell::list_shows_a_table_and_json,
        shell::list_into_a_closed_pipe_ends_quietly,
        shell::keys_rotate_and_revoke_update_the_config,
        run::run_passes_the_exit_code_and_signal_death_through,
        run::run_exits_with_the_conflict_code_without_running,
        run::run_keeps_a_two_second_lease_for_ten_seconds,
        run::lost_lease_stops_the_command_and_leaves_the_new_holder,
        run::ctrl_c_reaches_the_command_and_releases_the_lock,
        run::run_waits_past_the_service_maximum_until_released,
        run::run_permits_two_lets_two_of_three_in,
        retries::lost_acquire_answer_gives_the_same_lease_on_retry,
        retries::bad_gateway_is_retried_and_unlock_keeps_its_lease,
        retries::kept_lease_renews_and_reports_loss,
        retries::kept_permit_renews_and_reports_loss,
    ];
    let exit = harness.run(trials);
    let _ = std::fs::remove_dir_all(scratch());
    exit
}

/// Two concurrent requests to every route, so two processes of each
/// function have started before any scenario times anything.
fn warm_up(stack: &Stack) -> BoxFuture<'_, ()> {
    Box::pin(async move { Api::of(stack).warm_up(stack, 2).await })
}
