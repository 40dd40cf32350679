//! One DynamoDB table: the client and the table's name, so that every
//! request a store sends names its table in one place, and every read is
//! strongly consistent: each one decides something (a grant, a refusal, a
//! key's standing), and an eventually consistent read could show a lease
//! or a key as it was up to a second ago (`shared/tests/store/reads.rs`
//! lists them and checks each at the wire).

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::Client;

use super::item::{attribute_names, landed, Item};
use crate::error::StoreError;

/// A table and the client that reaches it.
#[derive(Clone, Debug)]
pub(super) struct Table {
    client: Client,
    name: String,
}

impl Table {
    pub(super) fn new(client: Client, name: String) -> Self {
        Self { client, name }
    }

    /// A strongly consistent `GetItem` of `key`.
    pub(super) fn get(&self, key: Item) -> GetItemFluentBuilder {
        let request = self.client.get_item().table_name(&self.name);
        request.set_key(Some(key)).consistent_read(true)
    }

    /// An `UpdateItem` of `key`.
    pub(super) fn update(&self, key: Item) -> UpdateItemFluentBuilder {
        let request = self.client.update_item().table_name(&self.name);
        request.set_key(Some(key))
    }

    /// A `DeleteItem` of `key`.
    pub(super) fn delete(&self, key: Item) -> DeleteItemFluentBuilder {
        let request = self.client.delete_item().table_name(&self.name);
        request.set_key(Some(key))
    }

    /// A `PutItem`.
    pub(super) fn put(&self) -> PutItemFluentBuilder {
        self.client.put_item().table_name(&self.name)
    }

    /// A `PutItem` of `item` that lands only if `condition` (naming the
    /// item's key as absent) holds: `false` if it did not.
    pub(super) async fn create(&self, item: Item, condition: &str) -> Result<bool, StoreError> {
        let names = Some(attribute_names(&[condition]));
        let request = self
            .put()
            .set_item(Some(item))
            .condition_expression(condition);
        let result = request.set_expression_attribute_names(names).send().await;
        landed(result)
    }

    /// A strongly consistent `Query`.
    pub(super) fn query(&self) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.name)
            .consistent_read(true)
    }
}
