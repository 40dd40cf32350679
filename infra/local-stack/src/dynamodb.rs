//! Reaching a local DynamoDB-API engine: the one place that decides the
//! region and credentials used locally, and table creation, which on AWS is
//! the SAM template's job (so the Lambdas' crate does not carry it).

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use lock_service::schema::TableSpec;

/// Region and credentials for a local engine: each from the environment
/// where set, else a placeholder (a local engine accepts any).
pub fn local_aws_env() -> [(&'static str, String); 3] {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ]
    .map(|(variable, placeholder)| {
        let value = std::env::var(variable).unwrap_or_else(|_| placeholder.to_owned());
        (variable, value)
    })
}

/// A client configuration for the engine at `endpoint`, with [`local_aws_env`].
pub fn local_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    let [(_, region), (_, key_id), (_, secret)] = local_aws_env();
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region))
        .credentials_provider(Credentials::new(key_id, secret, None, None, "local"))
}

/// Creates table `name` (on-demand billing) as `spec` says, waits until it is
/// active, and enables TTL where the engine supports it (dynalite does not;
/// the attribute only garbage-collects, so its absence is fine).
pub async fn create_table(
    client: &Client,
    name: &str,
    spec: &TableSpec<'_>,
) -> Result<(), BoxError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    let key_attributes = [(spec.partition, KeyType::Hash)]
        .into_iter()
        .chain(spec.sort.map(|sort| (sort, KeyType::Range)));
    for (attribute, key_type) in key_attributes {
        let definition = AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()?;
        let key = KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(key_type)
            .build()?;
        request = request.attribute_definitions(definition).key_schema(key);
    }
    request.send().await?;
    wait_until_active(client, name).await?;
    if let Some(attribute) = spec.ttl_attribute {
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()?;
        // dynalite has no TTL API; the result is ignored for that reason.
        let _ = client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await;
    }
    Ok(())
}

/// Waits until table `name` is `ACTIVE` (engines create tables asynchronously).
async fn wait_until_active(client: &Client, name: &str) -> Result<(), BoxError> {
    loop {
        let described = client.describe_table().table_name(name).send().await?;
        if described.table.and_then(|table| table.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Creates each of `tables` (name, spec) that the engine does not have yet.
pub async fn create_missing_tables(
    client: &Client,
    tables: &[(String, TableSpec<'_>)],
) -> Result<(), BoxError> {
    let existing = client
        .list_tables()
        .send()
        .await?
        .table_names
        .unwrap_or_default();
    for (name, spec) in tables {
        if !existing.contains(name) {
            create_table(client, name, spec)
                .await
                .map_err(|err| format!("cannot create table {name}: {err}"))?;
        }
    }
    Ok(())
}
