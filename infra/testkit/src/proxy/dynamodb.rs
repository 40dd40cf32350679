//! What the proxy reads of DynamoDB's requests (the operation), the answer
//! it makes up for a write conflict, and its call counts as text.

use super::Calls;

/// The DynamoDB operations that write an item.
pub(super) const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

/// The DynamoDB operation (`x-amz-target: DynamoDB_20120810.<Operation>`)
/// of the HTTP request whose head is in `chunk`.
pub(super) fn operation(chunk: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(chunk);
    let (head, _) = text.split_once("\r\n\r\n")?;
    head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("x-amz-target").then(|| {
            value
                .trim()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    })
}

/// DynamoDB's answer to a write that conflicts with one from another
/// Region, as multi-Region strongly consistent tables send it; the
/// connection closes after it (the request's body may not all be read).
pub fn replicated_write_conflict() -> Vec<u8> {
    let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException","message":"One or more items in this request are being modified by a request in another Region."}"#;
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amzn-errortype: ReplicatedWriteConflictException\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The total of `calls`.
pub fn total(calls: &Calls) -> u64 {
    calls.values().sum()
}

/// `PutItem + 2×UpdateItem` style text for a table cell.
pub fn describe(calls: &Calls) -> String {
    if calls.is_empty() {
        return "none".into();
    }
    let parts: Vec<String> = calls
        .iter()
        .map(|(op, n)| {
            if *n == 1 {
                op.clone()
            } else {
                format!("{n}×{op}")
            }
        })
        .collect();
    parts.join(" + ")
}
