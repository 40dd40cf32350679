//! Rotate and revoke: the calling key and a grace in range.

use super::*;

#[test]
fn rotate_and_revoke_need_the_calling_key_and_a_grace_in_range() {
    let key = LEASE; // any UUID is a well-formed key
    let rotate = |body: Option<&str>| RotateRequest::parse(&with_key(body, &[], Some(key)));
    assert_eq!(rotate(None).unwrap().grace.millis(), 0);
    assert_eq!(rotate(Some(" ")).unwrap().grace.millis(), 0);
    let grace = rotate(Some(r#"{"oldKeyValidForSeconds":60}"#))
        .unwrap()
        .grace;
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
    let keyless = RotateRequest::parse(&request(None, &[])).unwrap_err();
    assert_eq!(keyless.to_string(), "Unauthorized");
    assert!(RevokeRequest::parse(&with_key(None, &[], Some(key))).is_ok());
    assert!(RevokeRequest::parse(&request(None, &[])).is_err());
}
