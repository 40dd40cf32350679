//! One module per endpoint: its input (the request, parsed into wire types
//! of validated values), its handler (input in, answer or [`ApiError`] out)
//! and its answer. [`respond`] is the one adapter between a Lambda request
//! and an endpoint; [`dispatch`] serves any route of the registry
//! ([`Route`]) from one set of states, for tests.

mod acquire;
mod acquire_permit;
mod delete_lock;
mod delete_semaphore;
mod example;
mod get_lock;
mod get_semaphore;
mod list_locks;
mod list_semaphores;
mod release_permit;
mod renew;
mod renew_permit;
mod revoke_key;
mod revoke_other_keys;
mod rotate_key;
mod sign_up;
mod unlock;
mod view;
mod waiting;

pub use acquire::{Acquire, AcquireInput, Acquirer};
pub use acquire_permit::AcquirePermit;
pub use delete_lock::DeleteLock;
pub use delete_semaphore::DeleteSemaphore;
pub use example::{Example, Scene, FREED, HELD, POOL, POOL_PERMITS, RENEWED, SPENT};
pub use get_lock::GetLock;
pub use get_semaphore::GetSemaphore;
pub use list_locks::ListLocks;
pub use list_semaphores::ListSemaphores;
pub use release_permit::{ReleaseInput, ReleasePermit};
pub use renew::Renew;
pub use renew_permit::RenewPermit;
pub use revoke_key::RevokeKey;
pub use revoke_other_keys::RevokeOtherKeys;
pub use rotate_key::{RotateInput, RotateKey};
pub use sign_up::SignUp;
pub use unlock::{Unlock, UnlockBy};
pub use waiting::{MAX_LOOKS, PLACE_LAPSE_MARGIN};

use std::future::Future;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use lock_wire::Route;
use serde::Serialize;

use crate::error::ApiError;
use crate::http::{error, json};
use crate::input::{body_bytes, FromRequest};
use crate::store::{KeyStore, LockStore};

/// A DynamoDB table of the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// `LocksTable`: locks, semaphores, and each user's names and waiting items.
    Locks,
    /// `ApiKeysTable`: keys by hash, and each user's record of keys.
    ApiKeys,
}

/// What a function may do in DynamoDB: exactly the actions its store calls
/// make, on its one table (the template's policy is checked against it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// The one table.
    pub table: Table,
    /// The actions, as the template's policy lists them.
    pub actions: &'static [&'static str],
}

impl Permissions {
    /// `actions` on the locks table.
    pub const fn locks(actions: &'static [&'static str]) -> Self {
        Self {
            table: Table::Locks,
            actions,
        }
    }

    /// `actions` on the API-keys table.
    pub const fn api_keys(actions: &'static [&'static str]) -> Self {
        Self {
            table: Table::ApiKeys,
            actions,
        }
    }
}

/// The authorizer's: one consistent read of the calling key.
pub const AUTHORIZER_PERMISSIONS: Permissions = Permissions::api_keys(&["dynamodb:GetItem"]);

/// An endpoint: the route it serves, what it works with, its input and answer.
pub trait Endpoint {
    /// Its row in the route registry.
    const ROUTE: Route;
    /// What its function may do in DynamoDB.
    const PERMISSIONS: Permissions;
    /// Whether the answer carries a secret key (no cache may keep it).
    const SECRET: bool = false;
    /// What the handler works with, built once at cold start.
    type State: Send + Sync + 'static;
    /// The request, parsed into validated values.
    type Input: FromRequest + Send + std::fmt::Debug;
    /// The body of a `200` answer.
    type Answer: Serialize;

    /// Reads the request; a request that does not parse changes nothing. A
    /// body over [`MAX_BODY_BYTES`](crate::input::MAX_BODY_BYTES) is refused
    /// on every route, even one that reads none.
    fn parse(request: &Request) -> Result<Self::Input, ApiError> {
        body_bytes(request)?;
        Self::Input::from_request(request)
    }

    /// A valid request in `scene`, and what its answer shows (the handler
    /// tests and the bench send it).
    fn example(scene: &Scene) -> Example;

    /// Serves a parsed request.
    fn handle(
        state: &Self::State,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Answer, ApiError>> + Send;
}

/// Serves `request` with endpoint `E`: its JSON answer, or the JSON error.
pub async fn respond<E: Endpoint>(state: &E::State, request: Request) -> Response<Body> {
    let answer = match E::parse(&request) {
        Ok(input) => E::handle(state, input).await,
        Err(err) => Err(err),
    };
    match answer {
        Ok(answer) => {
            let mut response = json(StatusCode::OK, &answer);
            if E::SECRET {
                let no_store = HeaderValue::from_static("no-store");
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, no_store);
            }
            response
        }
        Err(err) => error(&err),
    }
}

/// What every endpoint works with, for serving any route from one place.
#[derive(Clone, Debug)]
pub struct States {
    /// The acquire endpoint's.
    pub acquirer: Acquirer,
    /// The other lock endpoints'.
    pub locks: LockStore,
    /// The key endpoints'.
    pub keys: KeyStore,
}

/// What the registry knows of an endpoint.
#[derive(Clone, Copy, Debug)]
pub struct EndpointOf {
    /// The route it says it serves (the one asked for).
    pub route: Route,
    /// What its function may do in DynamoDB.
    pub permissions: Permissions,
    /// Its example.
    pub example: fn(&Scene) -> Example,
}

/// The endpoint of `route` (the registry's exhaustive map: a route without
/// an endpoint does not compile).
pub const fn endpoint_of(route: Route) -> EndpointOf {
    macro_rules! of {
        ($endpoint:ty) => {
            EndpointOf {
                route: <$endpoint>::ROUTE,
                permissions: <$endpoint>::PERMISSIONS,
                example: <$endpoint>::example,
            }
        };
    }
    match route {
        Route::SignUp => of!(SignUp),
        Route::RotateKey => of!(RotateKey),
        Route::RevokeKey => of!(RevokeKey),
        Route::RevokeOtherKeys => of!(RevokeOtherKeys),
        Route::Acquire => of!(Acquire),
        Route::GetLock => of!(GetLock),
        Route::Unlock => of!(Unlock),
        Route::Renew => of!(Renew),
        Route::DeleteLock => of!(DeleteLock),
        Route::ListLocks => of!(ListLocks),
        Route::AcquirePermit => of!(AcquirePermit),
        Route::GetSemaphore => of!(GetSemaphore),
        Route::ReleasePermit => of!(ReleasePermit),
        Route::RenewPermit => of!(RenewPermit),
        Route::DeleteSemaphore => of!(DeleteSemaphore),
        Route::ListSemaphores => of!(ListSemaphores),
    }
}

/// Serves `request` as `route` (the registry's exhaustive dispatch: a route
/// without an endpoint does not compile).
pub async fn dispatch(route: Route, states: &States, request: Request) -> Response<Body> {
    match route {
        Route::SignUp => respond::<SignUp>(&states.keys, request).await,
        Route::RotateKey => respond::<RotateKey>(&states.keys, request).await,
        Route::RevokeKey => respond::<RevokeKey>(&states.keys, request).await,
        Route::RevokeOtherKeys => respond::<RevokeOtherKeys>(&states.keys, request).await,
        Route::Acquire => respond::<Acquire>(&states.acquirer, request).await,
        Route::GetLock => respond::<GetLock>(&states.locks, request).await,
        Route::Unlock => respond::<Unlock>(&states.locks, request).await,
        Route::Renew => respond::<Renew>(&states.locks, request).await,
        Route::DeleteLock => respond::<DeleteLock>(&states.locks, request).await,
        Route::ListLocks => respond::<ListLocks>(&states.locks, request).await,
        Route::AcquirePermit => respond::<AcquirePermit>(&states.acquirer, request).await,
        Route::GetSemaphore => respond::<GetSemaphore>(&states.locks, request).await,
        Route::ReleasePermit => respond::<ReleasePermit>(&states.locks, request).await,
        Route::RenewPermit => respond::<RenewPermit>(&states.locks, request).await,
        Route::DeleteSemaphore => respond::<DeleteSemaphore>(&states.locks, request).await,
        Route::ListSemaphores => respond::<ListSemaphores>(&states.locks, request).await,
    }
}

#[cfg(test)]
mod tests;
