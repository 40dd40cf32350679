//! The lock service on one machine, with no AWS account: a DynamoDB-API
//! engine, the tables and routes of `template.yaml`, every function under
//! `cargo lambda watch`, and a local stand-in for API Gateway's REST API.
//! `make dev` runs it; the end-to-end tests start it on free ports.

pub mod dynamodb;
pub mod engine;
pub mod gateway;
pub mod process;
pub mod stack;
pub mod template;
pub mod watch;

pub use engine::{Engine, EngineKind};
pub use stack::{EngineChoice, Stack, StackOptions, Verbosity};
