//! [`Client`]: the connection, configuration and the one way every call is
//! sent (retries included). One method per route is in `routes` (locks and
//! keys) and `semaphores`.

mod routes;
mod semaphores;

pub use routes::{default_requester, AcquireOptions, MAX_SERVER_WAIT};

use std::time::{Duration, Instant};

use lock_wire::{Route, IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, RetryPolicy};

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("lockctl/", env!("CARGO_PKG_VERSION"));

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

/// Environment variable with the service's URL (the stage URL).
pub const URL_ENV: &str = "LOCK_API_URL";
/// Environment variable with the API key.
pub const KEY_ENV: &str = "LOCK_API_KEY";

/// One request, rebuilt for every attempt.
struct Call<'a> {
    route: Route,
    query: Vec<(&'static str, String)>,
    body: Option<String>,
    idempotency_key: Option<&'a str>,
    timeout: Duration,
    /// No retry starts after this (a lease's expiry).
    deadline: Option<Instant>,
}

impl<'a> Call<'a> {
    /// A call of `route` (its method and path from the route registry).
    fn new(route: Route, timeout: Duration) -> Self {
        Self {
            route,
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

    /// A client from [`URL_ENV`] (`LOCK_API_URL`) and [`KEY_ENV`]
    /// (`LOCK_API_KEY`). (`lockctl` also reads the config file its `signup`
    /// writes; the library reads only the environment.)
    pub fn from_env() -> Result<Self, Error> {
        let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let url = env(URL_ENV).ok_or_else(|| Error::Config(format!("no URL: set {URL_ENV}")))?;
        let key =
            env(KEY_ENV).ok_or_else(|| Error::Config(format!("no API key: set {KEY_ENV}")))?;
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
        let url = format!("{}{}", self.base, call.route.path());
        let method = Method::from_bytes(call.route.method().as_bytes()).expect("a method");
        let mut request = self.http.request(method, url).timeout(call.timeout);
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
        let retry_after = response
            .headers()
            .get(RETRY_AFTER_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(Error::Transport)?;
        if !status.is_success() {
            return Err(Error::from_answer(status, &text, retry_after.as_deref()));
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
