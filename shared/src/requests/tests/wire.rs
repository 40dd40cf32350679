//! The client's wire request types parse to what they say.

use super::*;

/// The client sends `lock_wire` request types: each, with and without its
/// optional fields, parses to the same values here (the two cannot drift).
#[test]
fn every_wire_request_parses_to_what_it_says() {
    let body = |value: &dyn erased::Json| Some(value.json());
    let name = LockName::parse("reports").unwrap();
    for (ttl, wait) in [(None, None), (Some(30), Some(5))] {
        let wire = lock_wire::AcquireRequest {
            lock_name: "reports".into(),
            requester: "cron@host".into(),
            ttl_seconds: ttl,
            wait_seconds: wait,
        };
        let parsed = AcquireRequest::parse(&request(body(&wire).as_deref(), &[]), None).unwrap();
        assert_eq!(parsed.name, name);
        assert_eq!(parsed.requester.as_str(), "cron@host");
        assert_eq!(parsed.ttl, ttl.map(|s| LeaseTtl::from_seconds(s).unwrap()));
        assert_eq!(parsed.wait.duration().as_secs(), wait.unwrap_or(0));
    }
    let unlock = |lease_id: Option<&str>, force| lock_wire::UnlockRequest {
        lock_name: "reports".into(),
        lease_id: lease_id.map(str::to_owned),
        force,
    };
    let by = |wire: &lock_wire::UnlockRequest| {
        UnlockRequest::parse(&request(body(wire).as_deref(), &[]))
            .unwrap()
            .by
    };
    assert!(matches!(by(&unlock(Some(LEASE), None)), UnlockBy::Lease(l) if l.as_str() == LEASE));
    assert_eq!(by(&unlock(None, Some(true))), UnlockBy::Force);
    for ttl in [None, Some(60)] {
        let wire = lock_wire::RenewRequest {
            lock_name: "reports".into(),
            lease_id: LEASE.into(),
            ttl_seconds: ttl,
        };
        let parsed = RenewRequest::parse(&request(body(&wire).as_deref(), &[])).unwrap();
        assert_eq!((parsed.name, parsed.lease.as_str()), (name.clone(), LEASE));
        assert_eq!(parsed.ttl, ttl.map(|s| LeaseTtl::from_seconds(s).unwrap()));
    }
    let wire = lock_wire::DeleteRequest {
        lock_name: "reports".into(),
    };
    let parsed = DeleteRequest::parse(&request(body(&wire).as_deref(), &[])).unwrap();
    assert_eq!(parsed.name, name);
    let key = "550e8400-e29b-41d4-a716-446655440001";
    for seconds in [None, Some(600)] {
        let wire = lock_wire::RotateRequest {
            old_key_valid_for_seconds: seconds,
        };
        let parsed =
            RotateRequest::parse(&with_key(body(&wire).as_deref(), &[], Some(key))).unwrap();
        assert_eq!(parsed.grace.millis(), seconds.unwrap_or(0) * 1000);
    }
}

/// Serialises any wire request (object-safe, for the table above).
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}
