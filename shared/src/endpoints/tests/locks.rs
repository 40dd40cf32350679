//! Acquire, get, unlock, renew and delete: bad fields refused, good ones parsed.

use super::*;

#[test]
fn acquire_refuses_bad_fields_naming_them() {
    let long = "a".repeat(256);
    let cases = [
        (
            r#"{"lockName":"a","requester":"r","lockName":"b"}"#.to_owned(),
            "lockName is given more than once",
        ),
        ("{}".into(), "lockName is required"),
        (r#"{"lockName":"x"}"#.into(), "requester is required"),
        (
            r#"{"lockName":null,"requester":"r"}"#.into(),
            "lockName is required",
        ),
        (
            r#"{"lockName":7,"requester":"r"}"#.into(),
            "lockName must be a string",
        ),
        (
            r#"{"lockName":"x","requester":["r"]}"#.into(),
            "requester must be a string",
        ),
        (
            r#"{"lockName":"","requester":"r"}"#.into(),
            "lockName must not be blank",
        ),
        (
            r#"{"lockName":"x","requester":"  "}"#.into(),
            "requester must not be blank",
        ),
        (
            format!(r#"{{"lockName":"{long}","requester":"r"}}"#),
            "lockName must be at most 255 bytes",
        ),
        (
            format!(r#"{{"lockName":"x","requester":"{long}"}}"#),
            "requester must be at most 255 bytes",
        ),
        (
            r#"{"lockName":"a\u0000b","requester":"r"}"#.into(),
            "lockName must not contain control characters",
        ),
        (
            r#"{"lockName":"x","requester":"r\n"}"#.into(),
            "requester must not contain control characters",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(ACQUIRE, &body), message, "{body}");
    }
}

#[test]
fn acquire_refuses_durations_out_of_range_naming_them() {
    let cases: [(String, &str); 7] = [
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":0}"#.into(),
            "ttlSeconds must be from 1 to 86400",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":86401}"#.into(),
            "ttlSeconds must be from 1 to 86400",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":-5}"#.into(),
            "ttlSeconds must be a whole number of seconds",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":1.5}"#.into(),
            "ttlSeconds must be a whole number of seconds",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":"10"}"#.into(),
            "ttlSeconds must be a number",
        ),
        (
            r#"{"lockName":"x","requester":"r","waitSeconds":21}"#.into(),
            "waitSeconds must be from 0 to 20",
        ),
        (
            r#"{"lockName":"x","requester":"r","waitSeconds":true}"#.into(),
            "waitSeconds must be a number",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(ACQUIRE, &body), message, "{body}");
    }
}

#[test]
fn unlock_refuses_bad_fields_naming_them() {
    let cases = [
        (
            format!(r#"{{"leaseId":"{LEASE}"}}"#),
            "lockName is required",
        ),
        (r#"{"lockName":"x"}"#.into(), "leaseId is required"),
        (
            r#"{"lockName":"x","leaseId":"abc"}"#.into(),
            "leaseId must be a UUID",
        ),
        (
            r#"{"lockName":"x","leaseId":42}"#.into(),
            "leaseId must be a string",
        ),
        (
            format!(r#"{{"lockName":"","leaseId":"{LEASE}"}}"#),
            "lockName must not be blank",
        ),
        (
            r#"{"lockName":"a","force":false,"force":true}"#.into(),
            "force is given more than once",
        ),
        (
            r#"{"lockName":"x","force":"yes"}"#.into(),
            "force must be true or false",
        ),
        (
            format!(r#"{{"lockName":"x","force":true,"leaseId":"{LEASE}"}}"#),
            "leaseId must not be given with force",
        ),
        (
            r#"{"lockName":"x","force":false}"#.into(),
            "leaseId is required",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(Unlock::parse, &body), message, "{body}");
    }
}

#[test]
fn renew_refuses_bad_fields_naming_them() {
    let cases = [
        (r#"{"lockName":"x"}"#.to_owned(), "leaseId is required"),
        (
            format!(r#"{{"leaseId":"{LEASE}"}}"#),
            "lockName is required",
        ),
        (
            r#"{"lockName":"x","leaseId":"nope"}"#.into(),
            "leaseId must be a UUID",
        ),
        (
            format!(r#"{{"lockName":"x","leaseId":"{LEASE}","ttlSeconds":0}}"#),
            "ttlSeconds must be from 1 to 86400",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(Renew::parse, &body), message, "{body}");
    }
}

#[test]
fn get_refuses_a_missing_repeated_or_bad_lock_name() {
    let long = "a".repeat(256);
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[], "lockName query parameter is required"),
        (&[("other", "x")], "lockName query parameter is required"),
        (
            &[("lockName", "a"), ("lockName", "b")],
            "lockName query parameter is given more than once",
        ),
        (&[("lockName", "")], "lockName must not be blank"),
        (&[("lockName", &long)], "lockName must be at most 255 bytes"),
        (
            &[("lockName", "a\u{1}")],
            "lockName must not contain control characters",
        ),
    ];
    for (query, message) in cases {
        let err = GetLock::parse(&request(None, query)).unwrap_err();
        assert_eq!(err.to_string(), message, "{query:?}");
    }
}

#[test]
fn valid_requests_parse_into_checked_values() {
    let body = r#"{"lockName":"job","requester":"r","ttlSeconds":30,"waitSeconds":2,"extra":1}"#;
    let parsed = ACQUIRE(&request(Some(body), &[])).unwrap().request;
    assert_eq!(parsed.lock_name.as_str(), "job");
    assert_eq!(parsed.ttl_seconds.map(LeaseTtl::millis), Some(30_000));
    assert_eq!(parsed.wait_seconds.unwrap().duration().as_secs(), 2);
    let (_, Query(get)) = GetLock::parse(&request(None, &[("lockName", "job")])).unwrap();
    assert_eq!(get.lock_name.as_str(), "job");
    let force = Unlock::parse(&request(Some(r#"{"lockName":"job","force":true}"#), &[]));
    assert_eq!(force.unwrap().2, UnlockBy::Force);
}

#[test]
fn delete_needs_a_valid_lock_name() {
    let cases = [
        ("{}", "lockName is required"),
        (r#"{"lockName":7}"#, "lockName must be a string"),
        (r#"{"lockName":" "}"#, "lockName must not be blank"),
        (
            r#"{"lockName":"a\u202eb"}"#,
            "lockName must not contain bidirectional controls or zero-width characters",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(DeleteLock::parse, body), message, "{body}");
    }
    let (_, Json(parsed)) =
        DeleteLock::parse(&request(Some(r#"{"lockName":"job"}"#), &[])).unwrap();
    assert_eq!(parsed.lock_name.as_str(), "job");
}
