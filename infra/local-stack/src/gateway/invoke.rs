//! Calling functions through the Lambda invoke API of `cargo lambda watch`,
//! with a bound on the invocations of each function in flight.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

/// Most invocations of one function the gateway lets wait on `cargo lambda
/// watch` at once; the others wait in the gateway (within the integration
/// timeout). cargo-lambda 1.9 queues a function's invocations in a channel of
/// 100; once one is full it blocks while holding the lock every function's
/// queue shares, and no function answers again (seen at 128 clients).
pub const MAX_INVOCATIONS_PER_FUNCTION: usize = 64;

/// What invoking a function gave.
pub enum Invoked {
    /// The function's result.
    Ok(Value),
    /// The function failed, with this `errorMessage`.
    FunctionError(String),
    /// No answer within the integration timeout.
    TimedOut,
    /// The invoke API could not be reached or answered garbage.
    Unreachable,
}

/// A client of the invoke API.
pub struct Invoker {
    endpoint: String,
    timeout: Duration,
    client: reqwest::Client,
    /// One permit per invocation in flight, per function.
    in_flight: HashMap<String, Semaphore>,
}

impl Invoker {
    /// An invoker of `functions` at `endpoint`, each call bounded by `timeout`.
    pub fn new<'a>(
        endpoint: String,
        timeout: Duration,
        functions: impl IntoIterator<Item = &'a String>,
    ) -> Self {
        let in_flight = functions
            .into_iter()
            .map(|function| {
                let permits = Semaphore::new(MAX_INVOCATIONS_PER_FUNCTION);
                (function.clone(), permits)
            })
            .collect();
        Self {
            endpoint,
            timeout,
            client: reqwest::Client::new(),
            in_flight,
        }
    }

    /// Invokes `function`, waiting for a free slot first; the timeout covers
    /// the wait and the call.
    pub async fn invoke(&self, function: &str, event: &Value) -> Invoked {
        let call = async {
            let _permit = match self.in_flight.get(function) {
                Some(slots) => Some(slots.acquire().await),
                None => None,
            };
            self.call(function, event).await
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Invoked::TimedOut)
    }

    /// One call of the invoke API; [`Self::invoke`] bounds its time.
    async fn call(&self, function: &str, event: &Value) -> Invoked {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.endpoint
        );
        let response = match self.client.post(url).json(event).send().await {
            Ok(response) => response,
            Err(err) => {
                eprintln!("gateway: cannot invoke {function}: {err}");
                return Invoked::Unreachable;
            }
        };
        let function_error = response.headers().contains_key("x-amz-function-error");
        let status = response.status();
        let Ok(payload) = response.json::<Value>().await else {
            return Invoked::Unreachable;
        };
        if function_error || !status.is_success() || payload.get("errorType").is_some() {
            let message = payload
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if message != "Unauthorized" {
                eprintln!("gateway: {function} failed: {payload}");
            }
            return Invoked::FunctionError(message);
        }
        Invoked::Ok(payload)
    }
}
