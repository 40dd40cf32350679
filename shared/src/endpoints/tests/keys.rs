//! Rotate and revoke: the calling key and a grace in range.

use super::*;
use crate::keys::ApiKey;

#[test]
fn rotate_and_revoke_need_the_calling_key_and_a_grace_in_range() {
    let key = LEASE; // any UUID is a well-formed key
    let rotate = |body: Option<&str>| RotateKey::parse(&with_key(body, &[], Some(key)));
    let grace_of = |input: RotateInput| input.request.old_key_valid_for_seconds.unwrap_or_default();
    assert_eq!(grace_of(rotate(None).unwrap()).millis(), 0);
    assert_eq!(grace_of(rotate(Some(" ")).unwrap()).millis(), 0);
    let grace = grace_of(rotate(Some(r#"{"oldKeyValidForSeconds":60}"#)).unwrap());
    assert_eq!(grace.millis(), 60_000);
    let cases = [
        (
            r#"{"oldKeyValidForSeconds":86401}"#,
            "oldKeyValidForSeconds must be from 0 to 86400",
        ),
        (
            r#"{"oldKeyValidForSeconds":-1}"#,
            "oldKeyValidForSeconds must be a whole number of seconds",
        ),
        (
            r#"{"oldKeyValidForSeconds":"1"}"#,
            "oldKeyValidForSeconds must be a number",
        ),
        ("[]", "request body must be a JSON object"),
    ];
    for (body, message) in cases {
        assert_eq!(
            rotate(Some(body)).unwrap_err().to_string(),
            message,
            "{body}"
        );
    }
    let keyless = RotateKey::parse(&request(None, &[])).unwrap_err();
    assert_eq!(keyless.to_string(), "Unauthorized");
    assert!(RevokeKey::parse(&request(None, &[])).is_err());
}

#[test]
fn key_routes_act_on_the_key_the_authorizer_validated() {
    let (a, b) = (ApiKey::generate(), ApiKey::generate());
    // Revoke: the context's key, whatever the header says.
    let revoke = RevokeKey::parse(&with_keys(None, &[], Some(&b.reveal()), Some(a.hash())));
    assert_eq!(revoke.unwrap().1, a.hash());
    let unvalidated = RevokeKey::parse(&with_keys(None, &[], Some(&a.reveal()), None));
    assert_eq!(unvalidated.unwrap_err().to_string(), "Unauthorized");
    // Rotate needs the key itself (it seals the new one), and it must be the validated one.
    let other = RotateKey::parse(&with_keys(None, &[], Some(&b.reveal()), Some(a.hash())));
    assert_eq!(other.unwrap_err().to_string(), "Unauthorized");
    let same = RotateKey::parse(&with_keys(None, &[], Some(&a.reveal()), Some(a.hash())));
    assert_eq!(same.unwrap().key, a);
}

#[test]
fn a_rotation_takes_a_well_formed_idempotency_key() {
    let key = ApiKey::generate().reveal();
    let rotate = |value: &str| {
        let mut request = with_key(None, &[], Some(&key));
        let value = lambda_http::http::HeaderValue::from_str(value).unwrap();
        request.headers_mut().insert("idempotency-key", value);
        RotateKey::parse(&request)
    };
    let parsed = rotate("rotation-7").unwrap();
    assert_eq!(parsed.idempotency_key.unwrap().as_str(), "rotation-7");
    for bad in ["", "two words", &"k".repeat(256)] {
        assert_eq!(
            rotate(bad).unwrap_err().to_string(),
            "Idempotency-Key header must be 1 to 255 visible ASCII characters",
            "{bad:?}"
        );
    }
}
