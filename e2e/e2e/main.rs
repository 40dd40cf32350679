//! End-to-end tests: the real function binaries under `cargo lambda watch`,
//! dynalite, and the local gateway, all started here on free ports, driven
//! over HTTP exactly as a client of the deployed API would.
//!
//! One stack for every scenario (started for the first, stopped at the
//! end), on libtest-mimic: `cargo test -p e2e --test e2e -- NAME` runs one
//! scenario, `-- --list` lists them.

mod contention;
mod contract;
mod keys;
mod pagination;
mod refusals;
mod semaphores;
mod tenants;
mod waiting;

use std::time::Duration;

use local_stack::{Stack, StackOptions};
use lock_client::{AcquireOptions, Client};
use testkit::api::Api;
use testkit::harness::{BoxFuture, Harness};

/// A new user's client (`lock_client`), for scenarios about behaviour
/// rather than the wire.
async fn new_client(api: &Api) -> Client {
    let (_, key) = api.new_user().await;
    Client::new(&api.base, &key).unwrap()
}

/// Acquire options with `requester` (and no wait).
fn as_requester(requester: String) -> AcquireOptions {
    AcquireOptions {
        requester,
        ..AcquireOptions::default()
    }
}

/// Starts one process of every function, so no scenario's timing includes
/// a first `cargo run` (seconds on a cold machine).
fn warm_up(stack: &Stack) -> BoxFuture<'_, ()> {
    Box::pin(async move { Api::of(stack).warm_up(stack, 1).await })
}

/// Each scenario as a test named after its function (an unlisted one is
/// dead code, which the lints refuse).
macro_rules! scenarios {
    ($harness:expr; $($module:ident :: $name:ident),* $(,)?) => {
        vec![$($harness.trial(stringify!($name), Duration::from_secs(300), |stack| {
            $module::$name(Api::of(&stack))
        })),*]
    };
}

fn main() -> std::process::ExitCode {
    let options = StackOptions {
        concurrency: 8,
        // Revoked and rotated-out keys answer 401 at once.
        auth_cache_ttl: Some(Duration::ZERO),
        // Pagination lists more locks than the default quota holds.
        function_env: vec![("MAX_LOCKS_PER_USER".into(), "3000".into())],
        ..StackOptions::default()
    };
    let harness = Harness::new(options, Some(warm_up));
    let trials = scenarios![harness;
        contract::reference_flow,
        contract::contract_cases,
        refusals::authentication,
        tenants::tenant_isolation,
        refusals::bad_input_changes_nothing,
        refusals::gateway_answers,
        contention::sixteen_acquirers_one_winner,
        contention::critical_section_never_overlaps,
        contract::readme_walkthrough,
        waiting::waiter_granted_when_holder_unlocks,
        waiting::waiter_granted_when_lease_expires,
        waiting::waiter_gives_up,
        waiting::concurrent_waiters_each_answer_after_their_own_wait,
        waiting::a_reserved_lock_goes_to_its_waiter_not_to_a_looping_client,
        contract::idempotent_retry_and_force_release,
        keys::keys_rotate_and_revoke,
        keys::a_leaked_key_cannot_follow_or_lock_out_its_rotation,
        pagination::pagination_lists_every_lock_once_in_order,
        semaphores::semaphore_flow,
        semaphores::twelve_acquirers_three_permits,
        semaphores::semaphore_bad_input,
    ];
    harness.run(trials)
}
