//! The two tables: their key attributes and how to create them. `template.yaml`
//! declares the same keys; a test compares the two.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;

/// Environment variable that names the lock table.
pub const LOCKS_TABLE_ENV: &str = "LOCKS_TABLE";
/// Environment variable that names the API-key table.
pub const API_KEYS_TABLE_ENV: &str = "API_KEYS_TABLE";

/// Lock table partition key: the tenant.
pub const LOCKS_PARTITION_KEY: &str = "userId";
/// Lock table sort key: the lock's name.
pub const LOCKS_SORT_KEY: &str = "lockName";
/// API-key table partition key: SHA-256 of the key.
pub const API_KEYS_PARTITION_KEY: &str = "keyHash";
/// Attribute that DynamoDB TTL reads (epoch seconds) on both tables. It only
/// garbage-collects idle items; no decision of the service depends on it.
pub const TTL_ATTRIBUTE: &str = "gcAt";

/// The key schema and TTL attribute of one table (all keys are strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableSpec<'a> {
    /// Partition (hash) key attribute.
    pub partition: &'a str,
    /// Sort (range) key attribute, if any.
    pub sort: Option<&'a str>,
    /// Attribute DynamoDB TTL reads, if TTL is enabled.
    pub ttl_attribute: Option<&'a str>,
}

/// The lock table.
pub const LOCKS_SPEC: TableSpec<'static> = TableSpec {
    partition: LOCKS_PARTITION_KEY,
    sort: Some(LOCKS_SORT_KEY),
    ttl_attribute: Some(TTL_ATTRIBUTE),
};

/// The API-key table.
pub const API_KEYS_SPEC: TableSpec<'static> = TableSpec {
    partition: API_KEYS_PARTITION_KEY,
    sort: None,
    ttl_attribute: Some(TTL_ATTRIBUTE),
};

/// Waits until table `name` is `ACTIVE` (engines create tables asynchronously).
async fn wait_until_active(client: &Client, name: &str) -> Result<(), StoreError> {
    loop {
        let described = client.describe_table().table_name(name).send().await?;
        let status = described.table.and_then(|table| table.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Creates table `name` (on-demand billing) as `spec` says, waits until it is
/// active, and enables TTL where the engine supports it. For local engines and
/// tests; on AWS the SAM template creates the tables.
pub async fn create_table(
    client: &Client,
    name: &str,
    spec: &TableSpec<'_>,
) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    let key_attributes = [(spec.partition, KeyType::Hash)]
        .into_iter()
        .chain(spec.sort.map(|sort| (sort, KeyType::Range)));
    for (attribute, key_type) in key_attributes {
        request = request
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(aws_sdk_dynamodb::Error::from)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(attribute)
                    .key_type(key_type)
                    .build()
                    .map_err(aws_sdk_dynamodb::Error::from)?,
            );
    }
    request.send().await?;
    wait_until_active(client, name).await?;
    let Some(ttl_attribute) = spec.ttl_attribute else {
        return Ok(());
    };
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(ttl_attribute)
        .enabled(true)
        .build()
        .map_err(aws_sdk_dynamodb::Error::from)?;
    // dynalite has no TTL API; the attribute is advisory, so its absence is fine.
    if let Err(err) = client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        tracing::debug!(table = name, error = %aws_sdk_dynamodb::Error::from(err), "TTL not enabled");
    }
    Ok(())
}
