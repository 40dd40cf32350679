//! The route registry: every route of the API, its method and path, the
//! Lambda function that serves it and who may call it, in one table.
//! `template.yaml`, `openapi.yaml`, the local gateway, the handler tests and
//! the bench are checked against it, and the client reads its paths from it.

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// `Authorization: Bearer <apiKey>`, checked by the authorizer.
    ApiKey,
    /// Sign-up: open, AWS IAM, or no route at all, per the template's
    /// `SignupMode` (open by default).
    SignUp,
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
    pub const ALL: [Route; 10] = [
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
    }
}
