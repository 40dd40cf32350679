//! The two tables' key attributes. `template.yaml` declares the same keys; a
//! test compares the two, and the local stack creates tables from these specs.

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
