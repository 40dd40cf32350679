//! What the client sends parses back to what it says.

use super::*;

/// The client sends the `lock_wire` request types the endpoints parse: each,
/// with and without its optional fields, serialised and parsed again, is
/// the same value (so the two cannot drift).
#[test]
fn every_wire_request_parses_to_what_it_says() {
    let body = |value: &dyn erased::Json| Some(value.json());
    let name = LockName::parse("reports").unwrap();
    let lease = lock_wire::LeaseId::parse(LEASE).unwrap();
    let ttl = |s: u64| LeaseTtl::from_seconds(s).unwrap();
    for (ttl, wait) in [
        (None, None),
        (
            Some(ttl(30)),
            Some(lock_wire::WaitTime::from_seconds(5).unwrap()),
        ),
    ] {
        let wire = lock_wire::AcquireRequest {
            lock_name: name.clone(),
            requester: lock_wire::Requester::parse("cron@host").unwrap(),
            ttl_seconds: ttl,
            wait_seconds: wait,
        };
        let parsed = Acquire::parse(&request(body(&wire).as_deref(), &[])).unwrap();
        assert_eq!(parsed.request, wire);
    }
    let unlock = |lease_id: Option<lock_wire::LeaseId>, force| lock_wire::UnlockRequest {
        lock_name: name.clone(),
        lease_id,
        force,
    };
    let by = |wire: &lock_wire::UnlockRequest| {
        Unlock::parse(&request(body(wire).as_deref(), &[]))
            .unwrap()
            .2
    };
    assert_eq!(
        by(&unlock(Some(lease.clone()), None)),
        UnlockBy::Lease(lease.clone())
    );
    assert_eq!(by(&unlock(None, Some(true))), UnlockBy::Force);
    for ttl in [None, Some(ttl(60))] {
        let wire = lock_wire::RenewRequest {
            lock_name: name.clone(),
            lease_id: lease.clone(),
            ttl_seconds: ttl,
        };
        let (_, Json(parsed)) = Renew::parse(&request(body(&wire).as_deref(), &[])).unwrap();
        assert_eq!(parsed, wire);
    }
    let wire = lock_wire::DeleteRequest {
        lock_name: name.clone(),
    };
    let (_, Json(parsed)) = DeleteLock::parse(&request(body(&wire).as_deref(), &[])).unwrap();
    assert_eq!(parsed, wire);
    let key = "550e8400-e29b-41d4-a716-446655440001";
    for seconds in [None, Some(600)] {
        let wire = lock_wire::RotateRequest {
            old_key_valid_for_seconds: seconds
                .map(|s| lock_wire::KeyGrace::from_seconds(s).unwrap()),
        };
        let parsed = RotateKey::parse(&with_key(body(&wire).as_deref(), &[], Some(key))).unwrap();
        assert_eq!(parsed.request, wire);
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
