//! A new semaphore: its record ("if absent", with its element of the
//! quota), then every slot, the first granted to the acquire that created it.

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::join_all;

use super::acquire::PermitAcquired;
use super::ask::Ask;
use super::{record_position, with_values};
use crate::error::StoreError;
use crate::store::expressions::{FREE_SLOT_UPDATE, NEW_ITEM_CONDITION, NEW_PERMIT};
use crate::store::item::{
    landed, number_value, sort_key, string_value, token_base, CREATED_AT, GENERATION, PERMITS, SLOT,
};
use crate::store::quota::Slot;
use crate::store::LockStore;
use crate::types::{Timestamp, UserId};

impl LockStore {
    /// Creates semaphore `name` (its record, with an element of the quota,
    /// then every slot, `ask`'s first one granted to it): the outcome, or
    /// `None` if another acquire created it first (then read it again).
    pub(super) async fn create_semaphore(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        now: Timestamp,
    ) -> Result<Option<PermitAcquired>, StoreError> {
        let element = match self.quota {
            Some(quota) => {
                let element = Slot::new(now);
                if !self.reserve_slot(user, &element, quota, now).await? {
                    return Ok(Some(PermitAcquired::QuotaExceeded));
                }
                Some(element)
            }
            None => None,
        };
        let generation = crate::types::LeaseId::generate();
        let mut record = sort_key(user, &record_position(ask.name.as_str()));
        record.insert(PERMITS.into(), number_value(u64::from(ask.permits)));
        record.insert(CREATED_AT.into(), number_value(now.millis()));
        record.insert(GENERATION.into(), string_value(generation.as_str()));
        if let Some(element) = &element {
            record.insert(SLOT.into(), element.value());
        }
        if !self.table.create(record, NEW_ITEM_CONDITION).await? {
            if let Some(element) = &element {
                self.give_back_slot(user, element).await?;
            }
            return Ok(None);
        }
        let first = ask
            .home_slot()
            .unwrap_or_else(|| fastrand::u8(..ask.permits));
        let creator = Ask {
            created: Some(generation.to_string()),
            ..ask.clone()
        };
        let granted = self
            .try_slot(user, &creator, first, NEW_PERMIT, now)
            .await?;
        let others = (0..ask.permits).filter(|slot| *slot != first);
        let writes =
            others.map(|slot| self.new_free_slot(user, ask, slot, generation.as_str(), now));
        for written in join_all(writes).await {
            written?;
        }
        Ok(granted)
    }

    /// Creates free slot `slot` of a semaphore just created (a slot taken
    /// meanwhile, by a grant that read the record, is left as it is).
    async fn new_free_slot(
        &self,
        user: &UserId,
        ask: &Ask<'_>,
        slot: u8,
        generation: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let values = vec![
            (":permits", number_value(u64::from(ask.permits))),
            (":now", number_value(now.millis())),
            (":false", AttributeValue::Bool(false)),
            (":tokenBase", number_value(token_base(now))),
            (":generation", string_value(generation)),
        ];
        let request = self.slot_update(user, ask.name, slot, NEW_PERMIT, FREE_SLOT_UPDATE);
        let result = with_values(request, &[NEW_PERMIT, FREE_SLOT_UPDATE], values)
            .send()
            .await;
        landed(result).map(drop)
    }
}
