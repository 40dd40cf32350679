//! One method per semaphore route: acquire a permit (waiting past the
//! service's 20 s by asking again), get, list, renew, release, force
//! release, delete.

use std::time::{Duration, Instant};

use lock_wire::{
    Cursor, DeleteAnswer, DeleteSemaphoreRequest, LeaseId, PermitAnswer, PermitRequest, PermitSlot,
    Permits, ReleasePermitAnswer, ReleasePermitRequest, RenewAnswer, RenewPermitRequest, Requester,
    Route, SemaphoreList, SemaphoreName, SemaphorePageLimit, SemaphoreView, MAX_SEMAPHORE_PAGE,
};

use super::routes::{ttl, AcquireOptions, Granting};
use super::{Call, Client};
use crate::lease::Lease;
use crate::Error;

impl Granting for PermitAnswer {
    fn granted(&self) -> bool {
        self.acquired
    }
    fn expires_at(&self) -> Option<lock_wire::Timestamp> {
        self.expires_at
    }
}

impl Client {
    /// `POST /v0/semaphore`: a lease on one of `permits` permits of `name`,
    /// waiting up to `options.wait`, every attempt with one
    /// `Idempotency-Key`. Not granted in time: [`Error::Held`]; another
    /// count than the semaphore's: [`Error::PermitsMismatch`].
    pub async fn acquire_permit(
        &self,
        name: &str,
        permits: u8,
        options: &AcquireOptions,
    ) -> Result<Lease, Error> {
        let semaphore_name = SemaphoreName::parse(name)?;
        let requester = Requester::parse(&options.requester)?;
        let permits = Permits::new(u64::from(permits))?;
        let ttl_seconds = options.ttl.map(ttl).transpose()?;
        let body = |wait_seconds| PermitRequest {
            semaphore_name: semaphore_name.clone(),
            requester: requester.clone(),
            permits,
            ttl_seconds,
            wait_seconds,
        };
        let (answer, asked_at): (PermitAnswer, _) = self
            .ask_until_granted(Route::AcquirePermit, options, body)
            .await?;
        Lease::granted_permit(self.clone(), name, answer, options.ttl, asked_at)
    }

    /// `GET /v0/semaphore`: its permits and live holders.
    pub async fn get_semaphore(&self, name: &str) -> Result<SemaphoreView, Error> {
        let mut call = Call::new(Route::GetSemaphore, self.timeout);
        call.query
            .push(("semaphoreName", SemaphoreName::parse(name)?.into()));
        self.send(call).await
    }

    /// `GET /v0/semaphores?limit=&cursor=`: one page of the caller's semaphores.
    pub async fn list_semaphores_page(
        &self,
        limit: u8,
        cursor: Option<&str>,
    ) -> Result<SemaphoreList, Error> {
        let mut call = Call::new(Route::ListSemaphores, self.timeout);
        let limit = SemaphorePageLimit::new(u64::from(limit))?;
        call.query.push(("limit", limit.get().to_string()));
        if let Some(cursor) = cursor {
            call.query
                .push(("cursor", Cursor::parse(cursor)?.to_string()));
        }
        self.send(call).await
    }

    /// Every semaphore of the caller, in name order (pages of 50).
    pub async fn list_semaphores(&self) -> Result<Vec<SemaphoreView>, Error> {
        let (mut semaphores, mut cursor) = (Vec::new(), None);
        loop {
            let page = self
                .list_semaphores_page(MAX_SEMAPHORE_PAGE, cursor.as_deref())
                .await?;
            semaphores.extend(page.semaphores);
            match page.next_cursor {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(semaphores),
            }
        }
    }

    /// `POST /v0/semaphore/renew`: extends lease `lease_id` on `permit` by
    /// `ttl` (or its own TTL) from now. Retries stop at `deadline`.
    pub async fn renew_permit(
        &self,
        name: &str,
        lease_id: &str,
        permit: Option<u8>,
        ttl: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Result<RenewAnswer, Error> {
        let body = RenewPermitRequest {
            semaphore_name: SemaphoreName::parse(name)?,
            lease_id: LeaseId::parse(lease_id)?,
            permit: permit.map(slot).transpose()?,
            ttl_seconds: ttl.map(self::ttl).transpose()?,
        };
        let mut call = Call::new(Route::RenewPermit, self.timeout).json(&body);
        call.deadline = deadline;
        self.send(call).await
    }

    /// `POST /v0/semaphore/release` with a lease: ends it if it is live.
    /// Retries (with the same lease) stop at `deadline`.
    pub async fn release_permit(
        &self,
        name: &str,
        lease_id: &str,
        permit: Option<u8>,
        deadline: Option<Instant>,
    ) -> Result<ReleasePermitAnswer, Error> {
        let body = ReleasePermitRequest {
            semaphore_name: SemaphoreName::parse(name)?,
            lease_id: Some(LeaseId::parse(lease_id)?),
            permit: permit.map(slot).transpose()?,
            force: None,
        };
        let mut call = Call::new(Route::ReleasePermit, self.timeout).json(&body);
        call.deadline = deadline;
        self.send(call).await
    }

    /// `POST /v0/semaphore/release` with `force: true`: ends whatever lease
    /// holds `permit`, or every live permit.
    pub async fn force_release_permits(
        &self,
        name: &str,
        permit: Option<u8>,
    ) -> Result<ReleasePermitAnswer, Error> {
        let body = ReleasePermitRequest {
            semaphore_name: SemaphoreName::parse(name)?,
            lease_id: None,
            permit: permit.map(slot).transpose()?,
            force: Some(true),
        };
        let call = Call::new(Route::ReleasePermit, self.timeout).json(&body);
        self.send(call).await
    }

    /// `POST /v0/semaphore/delete`: deletes a semaphore no live lease holds
    /// a permit of (else [`Error::Held`]).
    pub async fn delete_semaphore(&self, name: &str) -> Result<(), Error> {
        let body = DeleteSemaphoreRequest {
            semaphore_name: SemaphoreName::parse(name)?,
        };
        let call = Call::new(Route::DeleteSemaphore, self.timeout).json(&body);
        let _: DeleteAnswer = self.send(call).await?;
        Ok(())
    }
}

fn slot(permit: u8) -> Result<PermitSlot, Error> {
    Ok(PermitSlot::new(u64::from(permit))?)
}
