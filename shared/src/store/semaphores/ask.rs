//! One acquire of a permit, as the grant's writes need it: the key's home
//! slot and guard, the conditions, and what an item says of this acquire.

use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use super::acquire::PermitAcquired;
use super::{key_of, live_permit, Permit, SlotState, Stored};
use crate::error::StoreError;
use crate::store::expressions::{FREE_HOME_PERMIT, FREE_PERMIT};
use crate::store::item::{number_attr, Item, IDEMPOTENCY_TTL, MOVED, PERMITS, TO, UNTIL};
use crate::store::Grant;
use crate::types::{LeaseTtl, SemaphoreName, Timestamp};
use lock_wire::Permits;

/// One acquire of a permit.
#[derive(Clone)]
pub(super) struct Ask<'a> {
    pub(super) name: &'a SemaphoreName,
    pub(super) permits: u8,
    pub(super) grant: &'a Grant<'a>,
    pub(super) ttl: LeaseTtl,
    /// The key's home slot and the name of its guard attribute.
    pub(super) home: Option<(u8, String)>,
    /// The generation of the semaphore this acquire just created.
    pub(super) created: Option<String>,
}

impl<'a> Ask<'a> {
    pub(super) fn new(name: &'a SemaphoreName, permits: Permits, grant: &'a Grant<'a>) -> Self {
        let permits = permits.get();
        let ttl = grant.ttl.unwrap_or_else(|| {
            LeaseTtl::from_seconds(super::DEFAULT_PERMIT_TTL_SECONDS).expect("in range")
        });
        let home = grant.idempotency_key.map(|key| {
            let digest = Sha256::digest(key.as_str().as_bytes());
            let hash = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
            (
                (hash % u64::from(permits)) as u8,
                format!("{MOVED}{hash:016x}"),
            )
        });
        Self {
            name,
            permits,
            grant,
            ttl,
            home,
            created: None,
        }
    }

    pub(super) fn home_slot(&self) -> Option<u8> {
        self.home.as_ref().map(|(slot, _)| *slot)
    }

    /// `condition` with `#moved` naming this key's guard.
    pub(super) fn bind(&self, condition: &str) -> String {
        match &self.home {
            Some((_, guard)) => condition.replace(&format!("#{MOVED}"), &format!("#{guard}")),
            None => condition.to_owned(),
        }
    }

    /// The condition of a grant on existing slot `slot`.
    pub(super) fn free_condition(&self, slot: u8) -> &'static str {
        if self.home_slot() == Some(slot) {
            FREE_HOME_PERMIT
        } else {
            FREE_PERMIT
        }
    }

    pub(super) fn granted(&self, permit: Permit) -> PermitAcquired {
        PermitAcquired::Granted {
            permit,
            permits: self.permits,
        }
    }

    /// What slot item `item` (of slot `slot`) says if this acquire already
    /// holds it: granted to this lease (a retried write that landed) or to
    /// this key, for the same request or not.
    pub(super) fn own(&self, item: &Item, slot: u8, now: Timestamp) -> Option<PermitAcquired> {
        let permit = live_permit(item, slot, now).ok()??;
        if permit.lease_id == *self.grant.lease {
            return Some(self.granted(permit));
        }
        let key = self.grant.idempotency_key?;
        if key_of(item) != Some(key.as_str()) {
            return None;
        }
        let same_request = permit.leased_by == *self.grant.requester
            && number_attr(item, IDEMPOTENCY_TTL).ok() == Some(self.ttl.millis())
            && number_attr(item, PERMITS).ok() == Some(u64::from(self.permits));
        Some(match same_request {
            true => self.granted(permit),
            false => PermitAcquired::KeyReused,
        })
    }

    /// This acquire's live grant on any slot of `stored`, if there is one.
    pub(super) fn own_anywhere(&self, stored: &Stored, now: Timestamp) -> Option<PermitAcquired> {
        let mut slots = stored.slots.iter();
        slots.find_map(|(slot, item)| self.own(item, *slot, now))
    }

    /// A slot to grant: where a live guard of this key points, if that is
    /// free; else the key's home if it is free; else a random free one (a
    /// slot another waiter has reserved is not free).
    pub(super) fn choose(&self, stored: &Stored, now: Timestamp) -> Result<Option<u8>, StoreError> {
        let mut free = Vec::new();
        for slot in 0..self.permits {
            let open = matches!(
                stored.state(slot, now)?,
                SlotState::Missing | SlotState::Free
            );
            if open && !stored.reserved_for_other(slot, self.grant.lease, now) {
                free.push(slot);
            }
        }
        let pointed = self.guard_on_home(stored, now).map(|(to, _)| to);
        for preferred in [pointed, self.home_slot()].into_iter().flatten() {
            if free.contains(&preferred) {
                return Ok(Some(preferred));
            }
        }
        Ok((!free.is_empty()).then(|| free[fastrand::usize(..free.len())]))
    }

    /// This key's live guard on its home slot as `stored` shows it: where
    /// it points, and until when.
    pub(super) fn guard_on_home(&self, stored: &Stored, now: Timestamp) -> Option<(u8, u64)> {
        let (home, guard) = self.home.as_ref()?;
        let guards = guards_of(stored.slots.get(home)?);
        let live = guards
            .iter()
            .find(|(name, _, until)| name == guard && *until > now.millis());
        live.map(|(_, to, until)| (*to, *until))
    }

    /// Whether granting `slot` first needs this key's guard on its home
    /// slot set (or moved): the slot is not the home, or a live guard of
    /// this key points away from it.
    pub(super) fn needs_guard(&self, stored: &Stored, slot: u8, now: Timestamp) -> bool {
        let Some(home) = self.home_slot() else {
            return false;
        };
        let pointed = self.guard_on_home(stored, now).map(|(to, _)| to);
        slot != home || pointed.is_some_and(|to| to != home)
    }
}

/// The guards of slot item `item`: attribute, `to`, `until`.
pub(super) fn guards_of(item: &Item) -> Vec<(&str, u8, u64)> {
    let named = item.iter().filter(|(name, _)| name.starts_with(MOVED));
    named
        .filter_map(|(name, value)| guard_of(name, value))
        .collect()
}

/// One guard: attribute, `to`, `until` (`None`: not a guard).
fn guard_of<'a>(name: &'a str, value: &AttributeValue) -> Option<(&'a str, u8, u64)> {
    let entry = value.as_m().ok()?;
    let number = |field: &str| entry.get(field)?.as_n().ok()?.parse::<u64>().ok();
    let to = u8::try_from(number(TO)?).ok()?;
    Some((name, to, number(UNTIL)?))
}
