//! API Gateway's authorizer cache: a policy per `Authorization` value, kept
//! for the authorizer's TTL (`ReauthorizeEvery`). Refusals are never cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::policy::Policy;

/// Cached policies by token.
pub struct AuthCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Policy)>>,
}

impl AuthCache {
    /// A cache that keeps each policy for `ttl` (zero: keeps nothing).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The policy cached for `token`, if it has not expired.
    pub fn get(&self, token: &str) -> Option<Policy> {
        let entries = self.entries.lock().ok()?;
        let (expires, policy) = entries.get(token)?;
        (*expires > Instant::now()).then(|| policy.clone())
    }

    /// Keeps `policy` for `token` for the TTL, dropping expired entries.
    pub fn insert(&self, token: &str, policy: &Policy) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (until, _)| *until > now);
            entries.insert(token.to_owned(), (now + self.ttl, policy.clone()));
        }
    }
}
