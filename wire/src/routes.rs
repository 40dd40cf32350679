//! The route registry: every route of the API and of the console, its
//! method and path, the Lambda function that serves it and who may call it,
//! in one table. `template.yaml`, `openapi.yaml`, the local gateway, the
//! handler tests, the bench and the client are checked against it, and the
//! client reads its paths from it. The routes' JSON is in `locks`, `keys`
//! and `semaphores`.

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// `Authorization: Bearer <apiKey>`, checked by the authorizer.
    ApiKey,
    /// Sign-up: open, AWS IAM, or no route at all, per the template's
    /// `SignupMode` (open by default).
    SignUp,
    /// Anyone, always: the console's page and assets, which hold nothing
    /// secret (the key a user types stays in their browser).
    Public,
}

/// A route of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `POST /v0/users/anonymous`: a new user and its API key.
    SignUp,
    /// `POST /v0/keys/rotate`: a new key for the caller.
    RotateKey,
    /// `POST /v0/keys/revoke`: the calling key stops working.
    RevokeKey,
    /// `POST /v0/keys/revoke-others`: every other key of the caller stops working.
    RevokeOtherKeys,
    /// `POST /v0/lock`: acquire.
    Acquire,
    /// `GET /v0/lock?lockName=`: inspect.
    GetLock,
    /// `POST /v0/unlock`: release a lease, or force-release.
    Unlock,
    /// `POST /v0/lock/renew`: extend a live lease.
    Renew,
    /// `POST /v0/lock/delete`: delete a lock no lease holds.
    DeleteLock,
    /// `GET /v0/locks?limit=&cursor=`: the caller's locks.
    ListLocks,
    /// `POST /v0/semaphore`: acquire one of a semaphore's permits.
    AcquirePermit,
    /// `GET /v0/semaphore?semaphoreName=`: inspect a semaphore.
    GetSemaphore,
    /// `POST /v0/semaphore/release`: end a permit's lease, or force.
    ReleasePermit,
    /// `POST /v0/semaphore/renew`: extend a live permit's lease.
    RenewPermit,
    /// `POST /v0/semaphore/delete`: delete a semaphore no lease holds.
    DeleteSemaphore,
    /// `GET /v0/semaphores?limit=&cursor=`: the caller's semaphores.
    ListSemaphores,
}

/// One row of the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: &'static str,
    /// The path, relative to the stage URL.
    pub path: &'static str,
    /// The Lambda function (and binary) that serves it.
    pub function: &'static str,
    /// Who may call it.
    pub access: Access,
}

impl Route {
    /// Every route, in the order the API documents them.
    pub const ALL: [Route; 16] = [
        Route::SignUp,
        Route::RotateKey,
        Route::RevokeKey,
        Route::RevokeOtherKeys,
        Route::Acquire,
        Route::GetLock,
        Route::Unlock,
        Route::Renew,
        Route::DeleteLock,
        Route::ListLocks,
        Route::AcquirePermit,
        Route::GetSemaphore,
        Route::ReleasePermit,
        Route::RenewPermit,
        Route::DeleteSemaphore,
        Route::ListSemaphores,
    ];

    /// The registry's row for this route.
    pub const fn spec(self) -> RouteSpec {
        use Access::{ApiKey, SignUp};
        let (method, path, function, access) = match self {
            Route::SignUp => ("POST", "/v0/users/anonymous", "create-user", SignUp),
            Route::RotateKey => ("POST", "/v0/keys/rotate", "rotate-key", ApiKey),
            Route::RevokeKey => ("POST", "/v0/keys/revoke", "revoke-key", ApiKey),
            Route::RevokeOtherKeys => (
                "POST",
                "/v0/keys/revoke-others",
                "revoke-other-keys",
                ApiKey,
            ),
            Route::Acquire => ("POST", "/v0/lock", "acquire", ApiKey),
            Route::GetLock => ("GET", "/v0/lock", "get-lock", ApiKey),
            Route::Unlock => ("POST", "/v0/unlock", "unlock", ApiKey),
            Route::Renew => ("POST", "/v0/lock/renew", "renew", ApiKey),
            Route::DeleteLock => ("POST", "/v0/lock/delete", "delete-lock", ApiKey),
            Route::ListLocks => ("GET", "/v0/locks", "list-locks", ApiKey),
            Route::AcquirePermit => ("POST", "/v0/semaphore", "acquire-permit", ApiKey),
            Route::GetSemaphore => ("GET", "/v0/semaphore", "get-semaphore", ApiKey),
            Route::ReleasePermit => ("POST", "/v0/semaphore/release", "release-permit", ApiKey),
            Route::RenewPermit => ("POST", "/v0/semaphore/renew", "renew-permit", ApiKey),
            Route::DeleteSemaphore => ("POST", "/v0/semaphore/delete", "delete-semaphore", ApiKey),
            Route::ListSemaphores => ("GET", "/v0/semaphores", "list-semaphores", ApiKey),
        };
        RouteSpec {
            method,
            path,
            function,
            access,
        }
    }

    /// The path, relative to the stage URL.
    pub const fn path(self) -> &'static str {
        self.spec().path
    }

    /// The HTTP method.
    pub const fn method(self) -> &'static str {
        self.spec().method
    }

    /// The Lambda function that serves it.
    pub const fn function(self) -> &'static str {
        self.spec().function
    }

    /// The route `method path` names, if any.
    pub fn find(method: &str, path: &str) -> Option<Route> {
        Route::ALL
            .into_iter()
            .find(|route| route.method() == method && route.path() == path)
    }
}

/// A route of the browser console: the one exception to "every answer is
/// JSON" (its page, style sheet and script), served by [`CONSOLE_FUNCTION`]
/// to anyone ([`Access::Public`]). Not an API route: no client calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Page {
    /// `GET /console`: the page.
    Console,
    /// `GET /console/{asset}`: its style sheet and script.
    ConsoleAsset,
}

/// The function that serves every [`Page`].
pub const CONSOLE_FUNCTION: &str = "console";

impl Page {
    /// Every console route.
    pub const ALL: [Page; 2] = [Page::Console, Page::ConsoleAsset];

    /// The registry's row for this route.
    pub const fn spec(self) -> RouteSpec {
        let path = match self {
            Page::Console => "/console",
            Page::ConsoleAsset => "/console/{asset}",
        };
        RouteSpec {
            method: "GET",
            path,
            function: CONSOLE_FUNCTION,
            access: Access::Public,
        }
    }
}

/// The whole registry: every API route, then every console route (what the
/// template, `openapi.yaml` and the local gateway serve).
pub fn every_route() -> impl Iterator<Item = RouteSpec> {
    Route::ALL
        .into_iter()
        .map(Route::spec)
        .chain(Page::ALL.into_iter().map(Page::spec))
}

/// The function that authorizes every [`Access::ApiKey`] route; it serves none.
pub const AUTHORIZER_FUNCTION: &str = "authorizer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_and_function_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for route in Route::ALL {
            let spec = route.spec();
            assert!(seen.insert((spec.method, spec.path)), "{route:?} twice");
            assert_eq!(Route::find(spec.method, spec.path), Some(route));
            assert_ne!(spec.function, AUTHORIZER_FUNCTION);
        }
        let functions: std::collections::HashSet<_> =
            Route::ALL.iter().map(|r| r.function()).collect();
        assert_eq!(functions.len(), Route::ALL.len(), "one function per route");
        assert_eq!(Route::find("GET", "/v0/unlock"), None);
        for page in Page::ALL {
            let spec = page.spec();
            assert!(seen.insert((spec.method, spec.path)), "{page:?} twice");
            assert!(!functions.contains(spec.function), "{page:?}");
        }
        assert_eq!(every_route().count(), seen.len());
    }
}
