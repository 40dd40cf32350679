//! Every endpoint's example: one valid request and what its answer shows.
//! The handler tests send each route's example through its handler, and
//! the bench through its release binary, so a new endpoint is tested and
//! measured by writing its example beside its handler.

use serde_json::Value;

/// The locks and semaphores an example may refer to, made for one user
/// before the examples run: `held` ([`HELD`], no expiry), `renewed`
/// ([`RENEWED`], a lease to renew), [`FREED`] (acquired, then released),
/// two leases on [`POOL`] (one to release, one to renew) and [`SPENT`]
/// (acquired, then released).
#[derive(Clone, Debug)]
pub struct Scene {
    /// The lease holding [`HELD`].
    pub held: String,
    /// The lease holding [`RENEWED`].
    pub renewed: String,
    /// A lease on a permit of [`POOL`], and the permit, to release.
    pub pool_held: (String, u8),
    /// A lease on a permit of [`POOL`], and the permit, to renew.
    pub pool_renewed: (String, u8),
}

/// A lock of the scene that a lease holds, without expiry.
pub const HELD: &str = "held";
/// A lock of the scene held by a lease to renew.
pub const RENEWED: &str = "renewed";
/// A lock of the scene that was acquired and released.
pub const FREED: &str = "freed";
/// A semaphore of the scene with [`POOL_PERMITS`] permits, two of them held.
pub const POOL: &str = "pool";
/// How many permits [`POOL`] has.
pub const POOL_PERMITS: u8 = 2;
/// A semaphore of the scene (one permit) that was acquired and released.
pub const SPENT: &str = "spent";

/// One valid request of an endpoint, and what its answer must show.
#[derive(Clone, Debug, Default)]
pub struct Example {
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// The query parameters.
    pub query: Vec<(&'static str, String)>,
    /// Whether it needs a user and key of its own (it rotates or revokes
    /// the key), rather than the scene's user.
    pub own_key: bool,
    /// A field of the `200` answer, and its value where the example
    /// fixes it.
    pub answer: (&'static str, Option<Value>),
}

impl Example {
    /// A request with JSON `body`.
    pub fn body(body: Value) -> Self {
        let body = Some(body);
        Self {
            body,
            ..Self::default()
        }
    }

    /// A request with query parameter `name` set to `value`.
    pub fn query(name: &'static str, value: &str) -> Self {
        let query = vec![(name, value.to_owned())];
        Self {
            query,
            ..Self::default()
        }
    }

    /// A request of a user and key of its own, with no body.
    pub fn own_key() -> Self {
        let own_key = true;
        Self {
            own_key,
            ..Self::default()
        }
    }

    /// This request, whose answer shows `field` (equal to `value`, if given).
    pub fn shows(self, field: &'static str, value: impl Into<Option<Value>>) -> Self {
        let answer = (field, value.into());
        Self { answer, ..self }
    }
}
