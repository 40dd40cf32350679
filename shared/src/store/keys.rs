//! [`KeyStore`]: API keys by hash, in their own table.

use aws_sdk_dynamodb::Client;

use super::expressions::REGISTER_KEY_CONDITION;
use super::item::{attribute_names, number_value, string_attr, string_value, CREATED_AT, USER_ID};
use crate::error::StoreError;
use crate::keys::KeyHash;
use crate::schema::API_KEYS_PARTITION_KEY;
use crate::types::{Timestamp, UserId};

/// API keys, by hash, in their own table.
#[derive(Clone, Debug)]
pub struct KeyStore {
    client: Client,
    table: String,
}

impl KeyStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Records that `key` belongs to `user`; never overwrites an existing key.
    pub async fn register(
        &self,
        key: &KeyHash,
        user: &UserId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(API_KEYS_PARTITION_KEY, string_value(key.as_str()))
            .item(USER_ID, string_value(user.as_str()))
            .item(CREATED_AT, number_value(now.millis()))
            .condition_expression(REGISTER_KEY_CONDITION)
            .set_expression_attribute_names(Some(attribute_names(&[REGISTER_KEY_CONDITION])))
            .send()
            .await?;
        Ok(())
    }

    /// The user that owns `key`, if any (a strongly consistent read).
    pub async fn user_for(&self, key: &KeyHash) -> Result<Option<UserId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(API_KEYS_PARTITION_KEY, string_value(key.as_str()))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        UserId::parse(string_attr(&item, USER_ID)?)
            .map(Some)
            .map_err(|_| StoreError::MalformedItem(USER_ID))
    }
}
