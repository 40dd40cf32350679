//! The lock endpoints' requests: acquire, get, unlock, renew.

use lambda_http::Request;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::http::{
    json_object, optional_bool, optional_header, optional_u64, required_query, required_str, tenant,
};
use crate::types::{IdempotencyKey, LeaseId, LeaseTtl, LockName, Requester, UserId, WaitTime};

/// `POST /v0/lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcquireRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
    /// Who asks.
    pub requester: Requester,
    /// `ttlSeconds`, or the server's default.
    pub ttl: Option<LeaseTtl>,
    /// `waitSeconds` (0 if absent).
    pub wait: WaitTime,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl AcquireRequest {
    /// Parses an acquire; `default_ttl` applies when `ttlSeconds` is absent.
    pub fn parse(request: &Request, default_ttl: Option<LeaseTtl>) -> Result<Self, ApiError> {
        let (user, body, name) = lock_write(request)?;
        Ok(Self {
            user,
            name,
            requester: Requester::parse(required_str(&body, "requester")?)?,
            ttl: optional_u64(&body, "ttlSeconds")?
                .map(LeaseTtl::from_seconds)
                .transpose()?
                .or(default_ttl),
            wait: optional_u64(&body, "waitSeconds")?
                .map(WaitTime::from_seconds)
                .transpose()?
                .unwrap_or_default(),
            idempotency_key: optional_header(request, "idempotency-key")?
                .map(IdempotencyKey::parse)
                .transpose()?,
        })
    }
}

/// What every lock write starts from, in this order: the tenant, the body
/// as a JSON object, and its `lockName`.
fn lock_write(request: &Request) -> Result<(UserId, Map<String, Value>, LockName), ApiError> {
    let user = tenant(request)?;
    let body = json_object(request)?;
    let name = LockName::parse(required_str(&body, "lockName")?)?;
    Ok((user, body, name))
}

/// `GET /v0/lock?lockName=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
}

impl GetRequest {
    /// Parses a get.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        Ok(Self {
            user: tenant(request)?,
            name: LockName::parse(&required_query(request, "lockName")?)?,
        })
    }
}

/// Whose lease an unlock ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnlockBy {
    /// Only this lease, if it is live.
    Lease(LeaseId),
    /// Whatever lease holds the lock (`force: true`).
    Force,
}

/// `POST /v0/unlock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
    /// Whose lease ends.
    pub by: UnlockBy,
}

impl UnlockRequest {
    /// Parses an unlock: `{lockName, leaseId}` or `{lockName, force: true}`.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let (user, body, name) = lock_write(request)?;
        let by = if optional_bool(&body, "force")?.unwrap_or(false) {
            if body.get("leaseId").is_some_and(|v| !v.is_null()) {
                return Err(ApiError::invalid("leaseId", "must not be given with force"));
            }
            UnlockBy::Force
        } else {
            UnlockBy::Lease(LeaseId::parse(required_str(&body, "leaseId")?)?)
        };
        Ok(Self { user, name, by })
    }
}

/// `POST /v0/lock/renew`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
    /// The lease to extend.
    pub lease: LeaseId,
    /// New TTL from now; `None`: the lease's own.
    pub ttl: Option<LeaseTtl>,
}

impl RenewRequest {
    /// Parses a renew.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let (user, body, name) = lock_write(request)?;
        Ok(Self {
            user,
            name,
            lease: LeaseId::parse(required_str(&body, "leaseId")?)?,
            ttl: optional_u64(&body, "ttlSeconds")?
                .map(LeaseTtl::from_seconds)
                .transpose()?,
        })
    }
}

/// `POST /v0/lock/delete`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
}

impl DeleteRequest {
    /// Parses a delete: `{lockName}`.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let (user, _, name) = lock_write(request)?;
        Ok(Self { user, name })
    }
}
