//! [`Client`]: one method per endpoint, typed answers and errors, safe retries.

use std::time::{Duration, Instant};

use lock_wire::{
    routes, AcquireAnswer, AcquireRequest, DeleteAnswer, DeleteRequest, KeyAnswer, LockList,
    LockView, RenewAnswer, RenewRequest, RevokeAnswer, RotateRequest, UnlockAnswer, UnlockRequest,
    IDEMPOTENCY_KEY_HEADER,
};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Config;
use crate::lease::Lease;
use crate::{Error, RetryPolicy};

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("lockctl/", env!("CARGO_PKG_VERSION"));
/// Longest wait the service grants one acquire; longer waits ask again.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(20);
/// Largest page of `GET /v0/locks`.
const MAX_PAGE: u32 = 1000;

/// A client of one Lock API deployment, with one key. Cheap to clone (the
/// connection pool is shared).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// How to acquire: who asks, for how long, how long to wait.
#[derive(Clone, Debug)]
pub struct AcquireOptions {
    /// Shown as the lock's `leasedBy` (default: `host/pid`).
    pub requester: String,
    /// The lease's time to live (whole seconds, rounded up); `None`: the
    /// service's default, which may be no expiry.
    pub ttl: Option<Duration>,
    /// How long to wait for a held lock. Beyond the service's 20 s, the
    /// client asks again until the wait is over.
    pub wait: Duration,
    /// Makes retries return the same lease; one is made if absent.
    pub idempotency_key: Option<String>,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        Self {
            requester: default_requester(),
            ttl: None,
            wait: Duration::ZERO,
            idempotency_key: None,
        }
    }
}

/// `host/pid`: who holds a lock, for people reading `get` or `list`.
pub fn default_requester() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}/{}", std::process::id())
}

/// One request, rebuilt for every attempt.
struct Call<'a> {
    method: Method,
    path: &'static str,
    query: Vec<(&'static str, String)>,
    body: Option<String>,
    idempotency_key: Option<&'a str>,
    timeout: Duration,
    /// No retry starts after this (a lease's expiry).
    deadline: Option<Instant>,
}

impl<'a> Call<'a> {
    fn new(method: Method, path: &'static str, timeout: Duration) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            timeout,
            deadline: None,
        }
    }

    fn json(mut self, body: &impl Serialize) -> Self {
        self.body = Some(serde_json::to_string(body).expect("wire types serialise"));
        self
    }
}

impl Client {
    /// A client of the deployment at `url` (the stage URL) with API key `key`.
    pub fn new(url: &str, key: &str) -> Result<Self, Error> {
        let mut client = Self::anonymous(url)?;
        client.key = Some(key.trim().to_owned());
        Ok(client)
    }

    /// A client without a key: it can only sign up.
    pub fn anonymous(url: &str) -> Result<Self, Error> {
        let base = url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::Config(format!(
                "the URL must start with https:// or http://, not {base:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(Error::Transport)?;
        Ok(Self {
            http,
            base,
            key: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(15),
        })
    }

    /// A client from `LOCK_API_URL` and `LOCK_API_KEY`, else the config
    /// file `lockctl signup` writes ([`Config`]).
    pub fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let url = config.url.ok_or_else(|| {
            Error::Config("no URL: set LOCK_API_URL or run `lockctl signup --url URL`".into())
        })?;
        let key = config.api_key.ok_or_else(|| {
            Error::Config("no API key: set LOCK_API_KEY or run `lockctl signup`".into())
        })?;
        Self::new(&url, &key)
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same client with another time limit per attempt (a waiting
    /// acquire adds its wait).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The deployment's URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The API key, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// `POST /v0/users/anonymous`: a new user and its key (needs no key).
    /// Not retried: a retry after a lost answer would make a second user.
    pub async fn sign_up(&self) -> Result<KeyAnswer, Error> {
        let call = Call::new(Method::POST, routes::SIGN_UP, self.timeout);
        self.clone()
            .with_retry(RetryPolicy::never())
            .send(call)
            .await
    }

    /// `POST /v0/lock`: a lease on `name`, waiting up to `options.wait`.
    /// Every attempt and every renewed ask carries the same
    /// `Idempotency-Key`, so an answer lost on the way gives the same lease
    /// on the retry. Not granted in time: [`Error::Held`].
    pub async fn acquire(&self, name: &str, options: &AcquireOptions) -> Result<Lease, Error> {
        let key = options
            .idempotency_key
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let give_up = Instant::now() + options.wait;
        loop {
            let asked_at = Instant::now();
            let wait = give_up
                .saturating_duration_since(asked_at)
                .min(MAX_SERVER_WAIT);
            let body = AcquireRequest {
                lock_name: name.to_owned(),
                requester: options.requester.clone(),
                ttl_seconds: options.ttl.map(whole_seconds),
                wait_seconds: (wait.as_secs() > 0).then_some(wait.as_secs()),
            };
            let mut call = Call::new(Method::POST, routes::LOCK, self.timeout + wait).json(&body);
            call.idempotency_key = Some(&key);
            let answer: AcquireAnswer = self.send(call).await?;
            if answer.locked {
                return Lease::granted(self.clone(), name, answer, options.ttl, asked_at);
            }
            if Instant::now() >= give_up {
                return Err(Error::Held {
                    expires_at: answer.expires_at,
                });
            }
            // The service answered before the wait was over (it bounds its
            // attempts): ask again shortly.
            if asked_at.elapsed() < wait {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }

    /// `GET /v0/lock`: the lock's current (or last) lease.
    pub async fn get(&self, name: &str) -> Result<LockView, Error> {
        let mut call = Call::new(Method::GET, routes::LOCK, self.timeout);
        call.query.push(("lockName", name.to_owned()));
        self.send(call).await
    }

    /// `GET /v0/locks?limit=&cursor=`: one page of the caller's locks.
    pub async fn list_page(&self, limit: u32, cursor: Option<&str>) -> Result<LockList, Error> {
        let mut call = Call::new(Method::GET, routes::LOCKS, self.timeout);
        call.query.push(("limit", limit.to_string()));
        if let Some(cursor) = cursor {
            call.query.push(("cursor", cursor.to_owned()));
        }
        self.send(call).await
    }

    /// Every lock of the caller, in name order (pages of 1 000).
    pub async fn list(&self) -> Result<Vec<LockView>, Error> {
        let mut locks = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list_page(MAX_PAGE, cursor.as_deref()).await?;
            locks.extend(page.locks);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(locks),
            }
        }
    }

    /// `POST /v0/lock/renew`: extends lease `lease_id` by `ttl` (or its own
    /// TTL) from now. Retries stop at `deadline` (the lease's expiry).
    pub async fn renew(
        &self,
        name: &str,
        lease_id: &str,
        ttl: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Result<RenewAnswer, Error> {
        let body = RenewRequest {
            lock_name: name.to_owned(),
            lease_id: lease_id.to_owned(),
            ttl_seconds: ttl.map(whole_seconds),
        };
        let mut call = Call::new(Method::POST, routes::RENEW, self.timeout).json(&body);
        call.deadline = deadline;
        self.send(call).await
    }

    /// `POST /v0/unlock` with a lease: ends it if it is live. Retries (with
    /// the same lease) stop at `deadline`, the lease's expiry.
    pub async fn unlock(
        &self,
        name: &str,
        lease_id: &str,
        deadline: Option<Instant>,
    ) -> Result<UnlockAnswer, Error> {
        let body = UnlockRequest {
            lock_name: name.to_owned(),
            lease_id: Some(lease_id.to_owned()),
            force: None,
        };
        let mut call = Call::new(Method::POST, routes::UNLOCK, self.timeout).json(&body);
        call.deadline = deadline;
        self.send(call).await
    }

    /// `POST /v0/unlock` with `force: true`: ends whatever lease holds it.
    pub async fn force_unlock(&self, name: &str) -> Result<UnlockAnswer, Error> {
        let body = UnlockRequest {
            lock_name: name.to_owned(),
            lease_id: None,
            force: Some(true),
        };
        let call = Call::new(Method::POST, routes::UNLOCK, self.timeout).json(&body);
        self.send(call).await
    }

    /// `POST /v0/lock/delete`: deletes a lock no live lease holds. A retry
    /// of a delete that landed answers [`Error::NotFound`].
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let body = DeleteRequest {
            lock_name: name.to_owned(),
        };
        let call = Call::new(Method::POST, routes::DELETE, self.timeout).json(&body);
        let _: DeleteAnswer = self.send(call).await?;
        Ok(())
    }

    /// `POST /v0/keys/rotate`: a new key for this user; this client's key
    /// keeps working for `old_key_valid_for` (default: stops at once). A
    /// retry with the old key gets the same new key.
    pub async fn rotate_key(
        &self,
        old_key_valid_for: Option<Duration>,
    ) -> Result<KeyAnswer, Error> {
        let body = RotateRequest {
            old_key_valid_for_seconds: old_key_valid_for.map(whole_seconds),
        };
        let call = Call::new(Method::POST, routes::ROTATE_KEY, self.timeout).json(&body);
        self.send(call).await
    }

    /// `POST /v0/keys/revoke`: this client's key stops working. A retry
    /// after an attempt whose answer was lost may find the key already
    /// revoked (`401`): that is the success it was retrying for.
    pub async fn revoke_key(&self) -> Result<(), Error> {
        let call = Call::new(Method::POST, routes::REVOKE_KEY, self.timeout);
        match self.send_counting::<RevokeAnswer>(call).await {
            Ok(_) => Ok(()),
            Err((Error::Unauthorized, attempts)) if attempts > 1 => Ok(()),
            Err((err, _)) => Err(err),
        }
    }

    /// Sends `call`, retrying transient failures per the policy.
    async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, Error> {
        self.send_counting(call)
            .await
            .map(|(answer, _)| answer)
            .map_err(|(err, _)| err)
    }

    /// [`Self::send`], with the number of attempts made.
    async fn send_counting<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<(T, u32), (Error, u32)> {
        let mut attempt = 1;
        loop {
            match self.once(&call).await {
                Ok(answer) => return Ok((answer, attempt)),
                Err(err) => {
                    match self
                        .retry
                        .pause_after(attempt, &err, Instant::now(), call.deadline)
                    {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => return Err((err, attempt)),
                    }
                }
            }
            attempt += 1;
        }
    }

    async fn once<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, Error> {
        let url = format!("{}{}", self.base, call.path);
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .timeout(call.timeout);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(idempotency_key) = call.idempotency_key {
            request = request.header(IDEMPOTENCY_KEY_HEADER, idempotency_key);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = request.send().await.map_err(Error::Transport)?;
        let status = response.status();
        let text = response.text().await.map_err(Error::Transport)?;
        if !status.is_success() {
            return Err(Error::from_answer(status, &text));
        }
        serde_json::from_str(&text).map_err(|err| Error::Server {
            status: status.as_u16(),
            code: String::new(),
            message: format!("unreadable answer: {err}"),
        })
    }
}

/// A duration in whole seconds, rounded up (so a TTL is never shortened).
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}
