//! A semaphore's items as one `Query` read them, and what they show: each
//! slot's state (a lease holds it for others until the clock-skew margin
//! past its expiry), the live holders, the semaphore as the API shows it.

use std::collections::BTreeMap;

use super::{Permit, Semaphore};
use crate::error::StoreError;
use crate::schema::LOCKS_SORT_KEY;
use crate::store::item::{
    number_attr, optional_string, string_attr, Item, ACQUIRED_AT, CREATED_AT, DELETED_BY,
    EXPIRES_AT, FENCING_TOKEN, IDEMPOTENCY_KEY, LEASED_BY, LEASE_ID, LOCKED, PERMITS, UPDATED_AT,
};
use crate::types::{LeaseId, Requester, SemaphoreName, Timestamp};

/// A slot as one read found it.
#[derive(Debug)]
pub(super) enum SlotState {
    /// No item: a creation cut short (grantable, created by the grant).
    Missing,
    /// A delete's tombstone: not grantable.
    Closed,
    /// No live lease holds it.
    Free,
    /// A live lease holds it.
    Live(Permit),
}

/// A semaphore's items as one `Query` read them.
#[derive(Debug, Default)]
pub(super) struct Stored {
    pub(super) record: Option<Item>,
    pub(super) slots: BTreeMap<u8, Item>,
    /// The clock-skew margin (ms): a slot's lease holds it for others
    /// until this long past its `expiresAt`.
    pub(super) margin: u64,
}

impl Stored {
    /// No items yet, read with the clock-skew margin `margin` (ms).
    pub(super) fn with_margin(margin: u64) -> Self {
        Self {
            margin,
            ..Self::default()
        }
    }

    /// The count of permits its record holds (0 without a record).
    pub(super) fn permits(&self) -> Result<u8, StoreError> {
        match &self.record {
            None => Ok(0),
            Some(record) => Ok(number_attr(record, PERMITS)?.min(64) as u8),
        }
    }

    pub(super) fn state(&self, slot: u8, now: Timestamp) -> Result<SlotState, StoreError> {
        Ok(match self.slots.get(&slot) {
            None => SlotState::Missing,
            Some(item) if item.contains_key(DELETED_BY) || !item.contains_key(PERMITS) => {
                SlotState::Closed
            }
            Some(item) => match live_permit(item, slot, now.minus_millis(self.margin))? {
                Some(permit) => SlotState::Live(permit),
                None => SlotState::Free,
            },
        })
    }

    /// The live leases at `now`, by slot.
    pub(super) fn holders(&self, now: Timestamp) -> Result<Vec<Permit>, StoreError> {
        let mut holders = Vec::new();
        for slot in 0..self.permits()? {
            if let SlotState::Live(permit) = self.state(slot, now)? {
                holders.push(permit);
            }
        }
        Ok(holders)
    }

    /// The semaphore as it stood (`None`: it has no record).
    pub(super) fn semaphore(
        &self,
        name: &SemaphoreName,
        now: Timestamp,
    ) -> Result<Option<Semaphore>, StoreError> {
        let Some(record) = &self.record else {
            return Ok(None);
        };
        let created_at = Timestamp::from_millis(number_attr(record, CREATED_AT)?);
        let permits = self.permits()?;
        let updated_at = self
            .slots
            .range(..permits)
            .filter_map(|(_, item)| number_attr(item, UPDATED_AT).ok())
            .map(Timestamp::from_millis)
            .fold(created_at, Timestamp::max);
        Ok(Some(Semaphore {
            name: name.clone(),
            permits,
            created_at,
            updated_at,
            holders: self.holders(now)?,
        }))
    }

    /// When the first live lease ends, if any holds a slot.
    pub(super) fn earliest_expiry(&self, now: Timestamp) -> Option<Timestamp> {
        let holders = self.holders(now).ok()?;
        holders.iter().map(|permit| permit.expires_at).min()
    }

    /// When the first live lease may be taken over: its end plus the margin.
    pub(super) fn earliest_takeover(&self, now: Timestamp) -> Option<Timestamp> {
        let end = self.earliest_expiry(now)?;
        Some(end.plus_millis(self.margin))
    }
}

/// The lease of slot item `item` if one is live at `now`.
pub(super) fn live_permit(
    item: &Item,
    slot: u8,
    now: Timestamp,
) -> Result<Option<Permit>, StoreError> {
    let locked = item.get(LOCKED).and_then(|v| v.as_bool().ok()) == Some(&true);
    let expires_at = Timestamp::from_millis(number_attr(item, EXPIRES_AT).unwrap_or(0));
    if !locked || expires_at <= now {
        return Ok(None);
    }
    Ok(Some(permit_of(item, slot)?))
}

/// The lease a slot item holds (live or not).
pub(super) fn permit_of(item: &Item, slot: u8) -> Result<Permit, StoreError> {
    Ok(Permit {
        slot,
        lease_id: LeaseId::from_trusted(string_attr(item, LEASE_ID)?.to_owned()),
        leased_by: Requester::from_trusted(string_attr(item, LEASED_BY)?.to_owned()),
        acquired_at: Timestamp::from_millis(number_attr(item, ACQUIRED_AT)?),
        expires_at: Timestamp::from_millis(number_attr(item, EXPIRES_AT)?),
        fencing_token: number_attr(item, FENCING_TOKEN)?,
    })
}

impl Stored {
    /// Files `item` (of the semaphore whose record key is `prefix`) as its
    /// record or one of its slots.
    pub(super) fn add(&mut self, prefix: &str, item: Item) -> Result<(), StoreError> {
        let position = string_attr(&item, LOCKS_SORT_KEY)?;
        match position.strip_prefix(prefix) {
            Some("") => self.record = Some(item),
            Some(slot) => {
                if let Ok(slot) = slot.parse::<u8>() {
                    self.slots.insert(slot, item);
                }
            }
            None => {}
        }
        Ok(())
    }
}

/// The `Idempotency-Key` a slot item's lease was granted for, if any.
pub(super) fn key_of(item: &Item) -> Option<&str> {
    optional_string(item, IDEMPOTENCY_KEY)
}
