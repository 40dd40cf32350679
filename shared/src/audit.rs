//! The audit trail: one JSON line on stdout (CloudWatch Logs) for each act
//! an operator may have to account for — a force release, a delete, a key
//! rotated or revoked, an expired lease taken over — with `"audit": true`,
//! what, the user id, the name, the lease displaced and its holder, the new
//! one, and the time. Written whatever
//! `RUST_LOG` says. Lease ids and user ids may appear (the tenant's own
//! `GET` shows lease ids); an API key, its hash or a sealed successor never
//! does: no entry has a field that could hold one.

use std::io::Write;

use serde::Serialize;

use crate::types::{Lock, Timestamp, UserId};

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Act {
    /// A lock freed whatever lease held it.
    ForceRelease,
    /// A semaphore's permits (one, or every live one) freed by force.
    ForceReleasePermits,
    /// A lock deleted.
    DeleteLock,
    /// A semaphore deleted.
    DeleteSemaphore,
    /// The calling key rotated (a successor made).
    RotateKey,
    /// The calling key revoked.
    RevokeKey,
    /// Every other key of the user revoked.
    RevokeOtherKeys,
    /// A lock or permit granted over a lease that had expired unreleased.
    Takeover,
}

/// One line of the trail.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry<'a> {
    /// Always `true`: what a Logs Insights query filters on.
    audit: bool,
    /// What was done.
    pub what: Act,
    /// Whose: the tenant, from the authorizer.
    pub user_id: &'a str,
    /// The lock or semaphore, if the act was on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// The permit slot, for a semaphore's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permit: Option<u8>,
    /// The lease it ended, if one was live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub displaced_lease: Option<&'a str>,
    /// Who held that lease (its `requester`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub displaced_holder: Option<&'a str>,
    /// How long the displaced lease had been expired, for a takeover (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_for_ms: Option<u64>,
    /// The lease granted in its place, for a takeover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<&'a str>,
    /// Who asked for that lease (its `requester`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<&'a str>,
    /// How many keys or permits it ended, where it may be several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// When (RFC 3339, milliseconds).
    pub time: Timestamp,
}

impl<'a> Entry<'a> {
    /// `what` by `user` at `time`, nothing else said yet.
    pub fn new(what: Act, user: &'a UserId, time: Timestamp) -> Self {
        Self {
            audit: true,
            what,
            user_id: user.as_str(),
            name: None,
            permit: None,
            displaced_lease: None,
            displaced_holder: None,
            expired_for_ms: None,
            lease: None,
            holder: None,
            count: None,
            time,
        }
    }

    /// On `name`.
    pub fn on(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// Ending `lock`'s lease, if it was live at `self.time`.
    pub fn displacing(mut self, lock: Option<&'a Lock>) -> Self {
        if let Some(lock) = lock.filter(|lock| lock.is_held(self.time)) {
            self.displaced_lease = Some(lock.lease_id.as_str());
            self.displaced_holder = Some(lock.leased_by.as_str());
        }
        self
    }

    /// Taking over `lease` of `holder`, expired for `expired_for_ms`, for
    /// `new_lease` of `new_holder`.
    pub fn taking_over(
        mut self,
        (lease, holder): (Option<&'a str>, Option<&'a str>),
        expired_for_ms: u64,
        (new_lease, new_holder): (&'a str, &'a str),
    ) -> Self {
        self.displaced_lease = lease;
        self.displaced_holder = holder;
        self.expired_for_ms = Some(expired_for_ms);
        self.lease = Some(new_lease);
        self.holder = Some(new_holder);
        self
    }

    /// Writes the line.
    pub fn write(&self) {
        if let Ok(line) = serde_json::to_string(self) {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LeaseId, Requester};

    #[test]
    fn a_force_release_names_the_lease_it_ended_and_nothing_secret() {
        let user = UserId::generate();
        let now = Timestamp::from_millis(1_764_000_000_000);
        let lock = Lock {
            lock_name: crate::types::LockName::parse("job").unwrap(),
            lease_id: LeaseId::generate(),
            leased_by: Requester::parse("worker-1").unwrap(),
            locked: true,
            created_at: now,
            acquired_at: Some(now),
            updated_at: now,
            expires_at: None,
            fencing_token: 7,
            reserved_until: None,
        };
        let entry = Entry::new(Act::ForceRelease, &user, now)
            .on("job")
            .displacing(Some(&lock));
        let line = serde_json::to_value(&entry).unwrap();
        assert_eq!(line["audit"], true);
        assert_eq!(line["what"], "forceRelease");
        assert_eq!(line["userId"], user.as_str());
        assert_eq!(line["name"], "job");
        assert_eq!(line["displacedLease"], lock.lease_id.as_str());
        assert_eq!(line["displacedHolder"], "worker-1");
        assert_eq!(line["time"], "2025-11-24T16:00:00.000Z");
        let fields: Vec<_> = line.as_object().unwrap().keys().cloned().collect();
        let allowed = [
            "audit",
            "what",
            "userId",
            "name",
            "displacedLease",
            "displacedHolder",
            "time",
        ];
        assert!(
            fields.iter().all(|f| allowed.contains(&f.as_str())),
            "{fields:?}"
        );

        let expired = Lock {
            expires_at: Some(Timestamp::from_millis(1)),
            ..lock
        };
        let entry = Entry::new(Act::ForceRelease, &user, now).displacing(Some(&expired));
        assert_eq!(entry.displaced_lease, None, "an expired lease was not live");
    }

    #[test]
    fn a_takeover_names_the_expired_lease_and_the_new_one() {
        let user = UserId::generate();
        let now = Timestamp::from_millis(1_764_000_000_000);
        let entry = Entry::new(Act::Takeover, &user, now).on("job").taking_over(
            (Some("old-lease"), Some("worker-1")),
            1500,
            ("new-lease", "worker-2"),
        );
        let line = serde_json::to_value(&entry).unwrap();
        assert_eq!(line["what"], "takeover");
        assert_eq!(line["displacedLease"], "old-lease");
        assert_eq!(line["displacedHolder"], "worker-1");
        assert_eq!(line["expiredForMs"], 1500);
        assert_eq!(line["lease"], "new-lease");
        assert_eq!(line["holder"], "worker-2");
    }
}
