//! Client of the Lock API (the `lockctl` command, a package of its own, is
//! built on it).
//!
//! - [`Client`]: one method per endpoint, typed answers ([`lock_wire`]'s,
//!   the service's own types) and typed [`Error`]s; retries of transient
//!   failures that are safe by construction (an acquire keeps its
//!   `Idempotency-Key`, an unlock or renew its lease, and no retry starts
//!   after the lease expires).
//! - [`Lease`]: a granted lease you renew yourself, for short-lived callers.
//! - [`KeptLease`]: a lease that renews itself every third of its TTL and
//!   tells you the moment it is lost.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lock_client::Error> {
//! use std::time::Duration;
//! use lock_client::{AcquireOptions, Client};
//!
//! let client = Client::from_env()?; // LOCK_API_URL and LOCK_API_KEY
//! let options = AcquireOptions { ttl: Some(Duration::from_secs(30)), ..Default::default() };
//! let lease = client.acquire("nightly-report", &options).await?.keep_alive();
//! tokio::select! {
//!     reason = lease.lost() => eprintln!("stopped: lease lost ({reason})"),
//!     () = write_report(lease.fencing_token()) => {}
//! }
//! lease.release().await?;
//! # Ok(()) }
//! # async fn write_report(_token: u64) {}
//! ```

mod client;
mod error;
mod lease;
mod retry;

pub use client::{
    default_requester, AcquireOptions, Client, KEY_ENV, MAX_SERVER_WAIT, URL_ENV, USER_AGENT,
};
pub use error::Error;
pub use lease::{KeptLease, Lease, LeaseStatus};
pub use lock_wire;
pub use retry::RetryPolicy;
