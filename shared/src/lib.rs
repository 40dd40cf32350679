//! Everything the lock service's Lambdas share: validated domain types, the
//! DynamoDB store, API keys, the authorizer, and the HTTP mapping of every
//! endpoint. Each function binary is a thin `main` over [`handlers`] or
//! [`authorizer`]. Only what runs in AWS lives here; table creation for local
//! engines and tests lives in `infra/local-stack`.

pub mod authorizer;
pub mod config;
pub mod error;
pub mod handlers;
pub mod http;
pub mod keys;
pub mod requests;
pub mod schema;
pub mod store;
pub mod time;
pub mod types;

use aws_config::BehaviorVersion;

/// A DynamoDB client from the standard AWS configuration chain (region,
/// credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for a local engine).
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// Log directives every function applies on top of `RUST_LOG`, whatever
/// level the operator sets: at `TRACE` the runtime logs each raw event, and
/// events carry API keys (the `Authorization` header, the authorizer's
/// token), so that target never goes below `DEBUG`.
pub const SECRET_SAFE_DIRECTIVES: &[&str] = &["lambda_runtime::layers::api_response=debug"];

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`),
/// never logging a raw event ([`SECRET_SAFE_DIRECTIVES`]).
pub fn init_tracing() {
    init_tracing_with(&[]);
}

/// [`init_tracing`], with `directives` (e.g. `some::target=off`) applied on
/// top of `RUST_LOG` as well, so they hold whatever level the operator sets.
pub fn init_tracing_with(directives: &[&str]) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for directive in SECRET_SAFE_DIRECTIVES.iter().chain(directives) {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .init();
}
