//! The lock service: everything its Lambdas run. One module per endpoint
//! ([`endpoints`]: input, handler, answer), the DynamoDB store ([`store`]),
//! API keys and the authorizer, the one mapping of errors to HTTP, and the
//! one bootstrap ([`lambda`]) every function's `main` calls. Only what runs
//! in AWS lives here; table creation for local engines and tests lives in
//! `infra/local-stack`.

pub mod audit;
pub mod authorizer;
pub mod config;
pub mod console;
pub mod dynamodb;
pub mod endpoints;
pub mod error;
pub mod http;
pub mod input;
pub mod keys;
pub mod lambda;
pub mod metrics;
pub mod schema;
pub mod store;
pub mod types;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use dynamodb::dynamodb_client;
pub use lock_wire;

/// Targets that never log below `DEBUG`, whatever level the operator sets
/// in `RUST_LOG`. At `TRACE` the runtime logs each raw event, and events
/// carry API keys (the `Authorization` header, the authorizer's token); the
/// AWS SDK and its HTTP stack log every DynamoDB request and answer, which
/// carry key hashes and sealed successors (checked by
/// `infra/local-stack/tests/secrets.rs`).
pub const SECRET_SAFE_TARGETS: &[&str] = &[
    "lambda_runtime::layers::api_response",
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_smithy_types",
    "aws_sdk_dynamodb",
    "aws_sigv4",
    "aws_config",
    "hyper",
];

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`),
/// never logging a raw event or a DynamoDB body ([`SECRET_SAFE_TARGETS`]).
pub fn init_tracing() {
    init_tracing_with(&[]);
}

/// [`init_tracing`], with `directives` (e.g. `some::target=off`) applied on
/// top of `RUST_LOG` as well, so they hold whatever level the operator sets.
pub fn init_tracing_with(directives: &[&str]) {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref(), directives);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE) // the filter below decides
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .finish()
        .with(filter)
        .init();
}

/// `RUST_LOG` read as `target=level` directives (`info`,
/// `acquire=debug,aws_smithy_runtime=warn`; `info` if unset or unreadable),
/// with every [`SECRET_SAFE_TARGETS`] target (and each target under one)
/// capped at `DEBUG`, then `directives` over it: a target's longest matching
/// prefix decides, so these hold whatever `RUST_LOG` says. (A plain target
/// filter rather than `EnvFilter`: no regex engine in the binaries; span and
/// field filters are not supported.)
fn log_filter(rust_log: Option<&str>, directives: &[&str]) -> Targets {
    let base = rust_log
        .and_then(|value| value.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let safe = |target: &str| SECRET_SAFE_TARGETS.iter().any(|t| target.starts_with(t));
    let mut filter = Targets::new().with_default(base.default_level().unwrap_or(LevelFilter::OFF));
    for (target, level) in base.iter() {
        let level = if safe(target) {
            level.min(LevelFilter::DEBUG)
        } else {
            level
        };
        filter = filter.with_target(target, level);
    }
    for target in SECRET_SAFE_TARGETS {
        if base.would_enable(target, &tracing::Level::TRACE) {
            filter = filter.with_target(*target, LevelFilter::DEBUG);
        }
    }
    directives
        .iter()
        .filter_map(|directive| directive.parse::<Targets>().ok())
        .fold(filter, |filter, extra| filter.with_targets(extra))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn rust_log_is_read_and_the_raw_event_never_goes_below_debug() {
        let trace = log_filter(Some("trace"), &[]);
        assert!(trace.would_enable("lock_service::handlers", &Level::TRACE));
        let raw_events = "lambda_runtime::layers::api_response";
        assert!(
            !trace.would_enable(raw_events, &Level::TRACE),
            "raw events at trace"
        );
        assert!(trace.would_enable(raw_events, &Level::DEBUG));
        let sdk_bodies = "aws_smithy_runtime::client::orchestrator";
        assert!(
            !trace.would_enable(sdk_bodies, &Level::TRACE),
            "SDK bodies at trace"
        );
        assert!(trace.would_enable(sdk_bodies, &Level::DEBUG));
        let targeted = log_filter(Some("warn,acquire=debug"), &["noisy::target=off"]);
        assert!(targeted.would_enable("acquire", &Level::DEBUG));
        assert!(!targeted.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(!targeted.would_enable("noisy::target::inner", &Level::ERROR));
        for unset_or_unreadable in [None, Some("acquire=loud")] {
            let filter = log_filter(unset_or_unreadable, &[]);
            assert!(filter.would_enable("acquire", &Level::INFO));
            assert!(!filter.would_enable("acquire", &Level::DEBUG));
        }
    }
}
