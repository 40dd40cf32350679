//! The scripts a worker picks from: a lock's acquire → hold → renew →
//! unlock or walk away, a permit's, a force release, a delete, a get, a
//! list page. Every tenant uses the same names, so a view of another
//! tenant's lock would show a foreign holder.

use std::time::Duration;

use serde_json::{json, Value};

use e2e::soak::entry::{is_tenants, requester, Entry, Kind};

use super::workload::{Soak, Worker};

impl Soak {
    /// One script, picked by the shares in RELIABILITY.md.
    pub(crate) async fn script(&self, me: &Worker) {
        match fastrand::u8(..100) {
            0..3 => self.force(me).await,
            3..6 => self.delete(me).await,
            6..16 => {
                let name = self.lock_name(fastrand::usize(..self.shape.lock_names));
                self.look(me, me.tenant, &name).await;
            }
            16..21 => self.list_page(me).await,
            21..41 => self.permit_cycle(me).await,
            _ => self.lock_cycle(me).await,
        }
    }

    /// Acquire (try or wait, with a TTL or without, with an
    /// `Idempotency-Key` or without, sometimes replayed), hold, maybe look,
    /// maybe renew, then unlock or walk away.
    async fn lock_cycle(&self, me: &Worker) {
        let name = self.lock_name(fastrand::usize(..self.shape.lock_names));
        let ttl = (fastrand::u8(..4) > 0).then(|| fastrand::u64(2..=6));
        // Only an acquire with a key can be retried safely; one without a
        // key is sent once, and only with a TTL, so a grant whose answer
        // was lost ends by itself.
        let keyed = ttl.is_none() || fastrand::bool();
        let mut body = json!({ "lockName": name, "requester": requester(me.tenant, me.id) });
        if let Some(ttl) = ttl {
            body["ttlSeconds"] = json!(ttl);
        }
        if fastrand::u8(..100) < 15 {
            body["waitSeconds"] = json!(1);
        }
        let key = keyed.then(|| uuid::Uuid::new_v4().to_string());
        let acquire = |replay_of| self.acquire(me, &name, &body, key.as_deref(), ttl, replay_of);
        let granted = acquire(None).await;
        let Some(mut lease) = granted.ok.then_some(granted.lease).flatten() else {
            tokio::time::sleep(Duration::from_millis(fastrand::u64(5..40))).await;
            return;
        };
        if keyed && fastrand::u8(..8) == 0 {
            let replay = acquire(Some(lease.clone())).await;
            match replay.ok.then_some(replay.lease) {
                Some(Some(again)) => lease = again,
                _ => return,
            }
        }
        tokio::time::sleep(Duration::from_millis(fastrand::u64(..20))).await;
        if fastrand::u8(..6) == 0 {
            self.look(me, me.tenant, &name).await;
        }
        if let Some(ttl) = ttl {
            if fastrand::u8(..3) == 0 {
                let body = json!({ "lockName": name, "leaseId": lease, "ttlSeconds": ttl });
                let mut entry = Self::entry(me, Kind::Renew, &name);
                (entry.lease, entry.ttl) = (Some(lease.clone()), Some(ttl));
                let request = || self.post(me, "/v0/lock/renew", &body, None);
                let renewed = self
                    .op(me, entry, request, true, &[404], |e, a| {
                        e.ok = a["renewed"] == true;
                        e.expires_ms = millis(&a["expiresAt"]);
                    })
                    .await;
                if !renewed.ok {
                    return;
                }
            }
            if fastrand::u8(..12) == 0 {
                return; // walks away: the lease ends at its expiry
            }
        }
        let body = json!({ "lockName": name, "leaseId": lease });
        let mut entry = Self::entry(me, Kind::Unlock, &name);
        entry.lease = Some(lease);
        let request = || self.post(me, "/v0/unlock", &body, None);
        self.op(me, entry, request, true, &[404], |e, a| {
            e.ok = a["unlocked"] == true;
        })
        .await;
    }

    /// One acquire; its entry, with the lease it asked about.
    async fn acquire(
        &self,
        me: &Worker,
        name: &str,
        body: &Value,
        key: Option<&str>,
        ttl: Option<u64>,
        replay_of: Option<String>,
    ) -> Entry {
        let mut entry = Self::entry(me, Kind::Acquire, name);
        (entry.ttl, entry.replay_of) = (ttl, replay_of);
        let request = || self.post(me, "/v0/lock", body, key);
        self.op(me, entry, request, key.is_some(), &[429], |e, a| {
            e.ok = a["locked"] == true;
            e.lease = a["leaseId"].as_str().map(str::to_owned);
            e.token = a["fencingToken"].as_u64();
            e.expires_ms = millis(&a["expiresAt"]);
            e.reserved = a.get("reservedUntil").is_some();
        })
        .await
    }

    async fn force(&self, me: &Worker) {
        let name = self.lock_name(fastrand::usize(..self.shape.lock_names));
        let body = json!({ "lockName": name, "force": true });
        self.op(
            me,
            Self::entry(me, Kind::Force, &name),
            || self.post(me, "/v0/unlock", &body, None),
            true,
            &[404],
            |e, a| {
                e.ok = a["unlocked"] == true;
            },
        )
        .await;
    }

    async fn delete(&self, me: &Worker) {
        let name = self.lock_name(fastrand::usize(..self.shape.lock_names));
        let body = json!({ "lockName": name });
        self.op(
            me,
            Self::entry(me, Kind::Delete, &name),
            || self.post(me, "/v0/lock/delete", &body, None),
            true,
            &[404, 409],
            |e, a| {
                e.ok = a["deleted"] == true;
            },
        )
        .await;
    }

    /// `GET /v0/lock` of tenant `tenant`'s lock `name`.
    pub async fn look(&self, me: &Worker, tenant: usize, name: &str) {
        let query = [("lockName", name.to_owned())];
        self.op(
            me,
            Self::entry(me, Kind::Get, name),
            || self.get(tenant, "/v0/lock", &query),
            true,
            &[404],
            |e, a| {
                e.ok = a["locked"] == true;
                e.lease = a["leaseId"].as_str().map(str::to_owned);
                e.token = a["fencingToken"].as_u64();
                e.holder = a["leasedBy"].as_str().map(str::to_owned);
            },
        )
        .await;
    }

    /// One page of `GET /v0/locks`, from the start or from a cursor of one.
    async fn list_page(&self, me: &Worker) {
        let limit = fastrand::usize(1..=self.shape.lock_names);
        let first = self.list(me, vec![("limit", limit.to_string())]).await;
        if let Some(cursor) = first {
            self.list(me, vec![("limit", limit.to_string()), ("cursor", cursor)])
                .await;
        }
    }

    /// A list page; its `nextCursor`.
    async fn list(&self, me: &Worker, query: Vec<(&str, String)>) -> Option<String> {
        let mut cursor = None;
        self.op(
            me,
            Self::entry(me, Kind::List, ""),
            || self.get(me.tenant, "/v0/locks", &query),
            true,
            &[],
            |e, a| {
                let locks = a["locks"].as_array().cloned().unwrap_or_default();
                e.ok = true;
                e.foreign = locks
                    .iter()
                    .filter(|l| {
                        !l["leasedBy"]
                            .as_str()
                            .is_some_and(|h| is_tenants(h, me.tenant))
                    })
                    .count() as u32;
                cursor = a["nextCursor"].as_str().map(str::to_owned);
            },
        )
        .await;
        cursor
    }

    /// A permit: acquire (try or wait, always with a TTL and a key), hold,
    /// maybe renew, then release or walk away.
    async fn permit_cycle(&self, me: &Worker) {
        let name = self.semaphore_name(fastrand::usize(..self.shape.semaphores));
        let ttl = fastrand::u64(2..=5);
        let mut body = json!({
            "semaphoreName": name, "requester": requester(me.tenant, me.id),
            "permits": self.shape.permits, "ttlSeconds": ttl,
        });
        if fastrand::u8(..5) == 0 {
            body["waitSeconds"] = json!(1);
        }
        let key = uuid::Uuid::new_v4().to_string();
        let request = || self.post(me, "/v0/semaphore", &body, Some(&key));
        let mut entry = Self::entry(me, Kind::PermitAcquire, &name);
        entry.ttl = Some(ttl);
        let granted = self
            .op(me, entry, request, true, &[429], |e, a| {
                e.ok = a["acquired"] == true;
                e.lease = a["leaseId"].as_str().map(str::to_owned);
                e.permit = a["permit"].as_u64();
                e.token = a["fencingToken"].as_u64();
            })
            .await;
        let (Some(lease), Some(permit)) = (granted.lease.filter(|_| granted.ok), granted.permit)
        else {
            tokio::time::sleep(Duration::from_millis(fastrand::u64(5..40))).await;
            return;
        };
        tokio::time::sleep(Duration::from_millis(fastrand::u64(..30))).await;
        let body = json!({ "semaphoreName": name, "leaseId": lease, "permit": permit });
        if fastrand::u8(..3) == 0 {
            let mut renew = body.clone();
            renew["ttlSeconds"] = json!(ttl);
            let mut entry = Self::entry(me, Kind::PermitRenew, &name);
            (entry.lease, entry.permit, entry.ttl) = (Some(lease.clone()), Some(permit), Some(ttl));
            let request = || self.post(me, "/v0/semaphore/renew", &renew, None);
            let renewed = self
                .op(me, entry, request, true, &[404], |e, a| {
                    e.ok = a["renewed"] == true;
                })
                .await;
            if !renewed.ok {
                return;
            }
        }
        if fastrand::u8(..10) == 0 {
            return; // walks away: the permit comes back at its expiry
        }
        let mut entry = Self::entry(me, Kind::PermitRelease, &name);
        (entry.lease, entry.permit) = (Some(lease), Some(permit));
        let request = || self.post(me, "/v0/semaphore/release", &body, None);
        self.op(me, entry, request, true, &[404], |e, a| {
            e.ok = a["released"] == true;
        })
        .await;
    }
}

/// An RFC 3339 timestamp as wall-clock milliseconds.
fn millis(value: &Value) -> Option<u64> {
    let time = humantime::parse_rfc3339(value.as_str()?).ok()?;
    Some(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}
