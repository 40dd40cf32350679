//! What a test's DynamoDB client sent: every HTTP attempt (retries
//! included), and every read with whether it was strongly consistent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

/// One read request as sent: its operation and `ConsistentRead`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// `GetItem`, `Query`, `Scan`, `BatchGetItem`.
    pub operation: String,
    /// Whether the request asked for a strongly consistent read.
    pub consistent: bool,
}

/// The DynamoDB operations that read.
const READS: [&str; 4] = ["GetItem", "Query", "Scan", "BatchGetItem"];

/// Counts the HTTP requests (attempts, retries included) a client sends,
/// and records its reads.
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Sent>);

#[derive(Debug, Default)]
struct Sent {
    attempts: AtomicUsize,
    reads: Mutex<Vec<Read>>,
}

impl CallCounter {
    /// Requests sent since creation or the last [`CallCounter::reset`].
    pub fn get(&self) -> usize {
        self.0.attempts.load(Ordering::SeqCst)
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        self.0.attempts.store(0, Ordering::SeqCst);
    }

    /// Requests sent while `f` ran. Only meaningful when nothing else uses the client.
    pub async fn during<T>(&self, f: impl std::future::Future<Output = T>) -> (T, usize) {
        let before = self.get();
        let out = f.await;
        (out, self.get() - before)
    }

    /// The reads sent while `f` ran. Only meaningful when nothing else uses the client.
    pub async fn reads_during<T>(&self, f: impl std::future::Future<Output = T>) -> (T, Vec<Read>) {
        let before = self.0.reads.lock().unwrap().len();
        let out = f.await;
        (out, self.0.reads.lock().unwrap()[before..].to_vec())
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.attempts.fetch_add(1, Ordering::SeqCst);
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .filter(|operation| READS.contains(operation));
        if let Some(operation) = operation {
            let body: serde_json::Value = request
                .body()
                .bytes()
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or_default();
            self.0.reads.lock().unwrap().push(Read {
                operation: operation.to_owned(),
                consistent: body["ConsistentRead"] == true,
            });
        }
        Ok(())
    }
}
