//! The harness of the test binaries that drive one local stack through many
//! scenarios (e2e, lockctl, the stress runs), on libtest-mimic: `cargo test
//! NAME`, `--exact`, `--list` and libtest's summary work as for any test
//! binary. What the scenarios share (the stack, and whatever else a suite
//! starts with it) starts when the first selected scenario runs (never for
//! `--list`, nor when a filter selects none) and stops when the run ends.
//! A scenario that panics or outlives its time limit fails; the failure
//! says where the functions' output is.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use local_stack::{Stack, StackOptions};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

/// A future that may borrow what it was made from.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the scenarios of a suite share.
pub trait Shared: Send + Sync + 'static {
    /// The file the functions' output goes to, if any.
    fn log_path(&self) -> Option<&Path>;
}

impl Shared for Stack {
    fn log_path(&self) -> Option<&Path> {
        self.log_path.as_deref()
    }
}

/// What a suite shares, started on first use, and the runtime it runs on.
pub struct Harness<S: Shared> {
    // Declared before the runtime, so it is dropped (stopped) while the
    // runtime still runs.
    shared: OnceCell<Arc<S>>,
    start: Box<dyn Fn() -> BoxFuture<'static, S> + Send + Sync>,
    runtime: Runtime,
}

impl Harness<Stack> {
    /// A harness whose stack starts with `options`, then runs `warm_up` once.
    pub fn new(
        options: StackOptions,
        warm_up: Option<fn(&Stack) -> BoxFuture<'_, ()>>,
    ) -> Arc<Self> {
        Self::starting(move || {
            let options = options.clone();
            Box::pin(async move {
                println!("\nstarting the local stack (dynalite, cargo lambda watch, gateway)...");
                let stack = Stack::start(options)
                    .await
                    .unwrap_or_else(|err| panic!("the local stack did not start: {err}"));
                if let Some(warm_up) = warm_up {
                    warm_up(&stack).await;
                }
                println!("stack ready at {}", stack.base_url);
                stack
            })
        })
    }
}

impl<S: Shared> Harness<S> {
    /// A harness that starts what its scenarios share with `start`.
    pub fn starting(
        start: impl Fn() -> BoxFuture<'static, S> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            shared: OnceCell::new(),
            start: Box::new(start),
            runtime: Runtime::new().expect("a tokio runtime"),
        })
    }

    /// What the scenarios share, started on first use.
    fn shared(&self) -> Arc<S> {
        let started = self
            .shared
            .get_or_init(|| async { Arc::new((self.start)().await) });
        self.runtime.block_on(started).clone()
    }

    /// A test named `name` that runs the future `scenario` makes from what
    /// the scenarios share, failing after `limit`.
    pub fn trial<F, Fut>(self: &Arc<Self>, name: &str, limit: Duration, scenario: F) -> Trial
    where
        F: FnOnce(Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let harness = self.clone();
        Trial::test(name, move || {
            let shared = harness.shared();
            settle(&harness.runtime, scenario(shared.clone()), limit).map_err(|failure| {
                let log = shared.log_path().map_or(String::new(), |log| {
                    format!("; function and build output: {}", log.display())
                });
                Failed::from(format!("{failure}{log}"))
            })
        })
    }

    /// Runs `trials` as the command line says (one at a time unless it asks
    /// for more threads: scenarios time what they do), then stops what they
    /// shared.
    pub fn run(self: Arc<Self>, trials: Vec<Trial>) -> ExitCode {
        self.run_with(Arguments::from_args(), trials)
    }

    /// [`Harness::run`] with libtest's arguments already read (by a binary
    /// that takes more of its own).
    pub fn run_with(self: Arc<Self>, mut args: Arguments, trials: Vec<Trial>) -> ExitCode {
        args.test_threads.get_or_insert(1);
        let conclusion = libtest_mimic::run(&args, trials);
        // The trials are gone: this is the last handle, and dropping it
        // stops what they shared.
        drop(self);
        conclusion.exit_code()
    }
}

/// Runs `scenario` on `runtime` for at most `limit`: why it failed (its
/// panic, or the timeout), if it did.
fn settle(
    runtime: &Runtime,
    scenario: impl Future<Output = ()> + Send + 'static,
    limit: Duration,
) -> Result<(), String> {
    let running = runtime.spawn(scenario);
    // The timer is made inside the runtime: it needs its clock.
    match runtime.block_on(async { tokio::time::timeout(limit, running).await }) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(panic)) => Err(panic.to_string()),
        Err(_) => Err(format!("timed out after {} s", limit.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_or_a_timeout_fails_the_scenario() {
        let runtime = Runtime::new().unwrap();
        // Generous for the panic: with RUST_BACKTRACE set, the panic hook
        // symbolizes a debug binary's backtrace first, which can take
        // seconds on a loaded machine (it once took over 200 ms).
        let ample = Duration::from_secs(60);
        assert_eq!(settle(&runtime, async {}, ample), Ok(()));
        let panics = settle(&runtime, async { panic!("on purpose") }, ample);
        assert!(panics.unwrap_err().contains("on purpose"));
        let hangs = settle(
            &runtime,
            async { tokio::time::sleep(Duration::from_secs(5)).await },
            Duration::from_millis(200),
        );
        assert!(hangs.unwrap_err().contains("timed out"));
    }

    #[test]
    fn building_trials_starts_nothing() {
        let harness = Harness::new(StackOptions::default(), None);
        let _trial = harness.trial("unrun", Duration::from_secs(1), |_| async {});
        assert!(harness.shared.get().is_none());
    }
}
