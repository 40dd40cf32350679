//! Everything the lock service's Lambdas share: validated domain types, the
//! DynamoDB store, API keys, the authorizer, and the HTTP mapping of every
//! endpoint. Each function binary is a thin `main` over [`handlers`] or
//! [`authorizer`].

pub mod authorizer;
pub mod error;
pub mod handlers;
pub mod http;
pub mod keys;
pub mod requests;
pub mod schema;
pub mod store;
pub mod types;

use aws_config::BehaviorVersion;

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required environment variable is unset or empty.
    #[error("environment variable {0} must name a DynamoDB table")]
    MissingTable(&'static str),
    /// A setting's environment variable holds a value out of its range.
    #[error("environment variable {var} {problem}")]
    InvalidSetting {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
}

/// The table named by environment variable `var`; fails fast when unset.
pub fn table_from_env(var: &'static str) -> Result<String, ConfigError> {
    std::env::var(var)
        .ok()
        .filter(|name| !name.trim().is_empty())
        .ok_or(ConfigError::MissingTable(var))
}

/// A DynamoDB client from the standard AWS configuration chain (region,
/// credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for a local engine).
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .init();
}
