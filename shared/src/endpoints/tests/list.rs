//! List: the limit and the cursor.

use super::*;

#[test]
fn list_takes_a_limit_from_1_to_1000_and_well_formed_cursors() {
    // (the page size, the position it continues after), as the handler reads them.
    let list = |query: &[(&str, &str)]| {
        ListLocks::parse(&request(None, query)).map(|(_, Query(list))| {
            let limit = list.limit.unwrap_or(PageLimit::DEFAULT).get();
            (limit, list.cursor.map(|cursor| cursor.position()))
        })
    };
    let first = list(&[]).unwrap();
    assert_eq!(first, (MAX_PAGE_LIMIT, None), "one default page");
    assert_eq!(list(&[("limit", "7")]).unwrap().0, 7);
    for bad in ["0", "1001", "-1", "1.5", "ten", ""] {
        let err = list(&[("limit", bad)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "limit must be a whole number from 1 to 1000",
            "{bad}"
        );
    }
    let name = LockName::parse("job-é").unwrap();
    let cursor = Cursor::after(&name).to_string();
    let after = list(&[("cursor", &cursor)]).unwrap().1;
    assert_eq!(after.as_deref(), Some("job-é"));
    // Well-formed but not given out: just another position.
    let position = list(&[("cursor", "c100")]).unwrap().1;
    assert_eq!(position.as_deref(), Some("\0"));
    let too_long = format!("c1{}", "61".repeat(256));
    let upper = format!("c1{}", cursor[2..].to_uppercase());
    let odd = format!("{cursor}0");
    for bad in [
        "",
        "c1",
        "c1z0",
        "c17",
        &cursor[2..],
        &odd,
        "c1+1",
        &too_long,
        &upper,
    ] {
        let err = list(&[("cursor", bad)]).unwrap_err();
        let message = "cursor must be a nextCursor from an earlier page";
        assert_eq!(err.to_string(), message, "{bad:?}");
    }
    let twice = list(&[("limit", "1"), ("limit", "2")]).unwrap_err();
    assert_eq!(
        twice.to_string(),
        "limit query parameter is given more than once"
    );
}

/// The default page of `GET /v0/locks` (the whole list of a user within
/// the default quota) fits Lambda's answer with room to spare, even with
/// names and requesters of the characters JSON escapes, escaped once in
/// the body and again in the proxy answer around it.
#[test]
fn a_full_page_of_the_longest_names_fits_lambdas_answer() {
    use aws_lambda_events::apigw::ApiGatewayProxyResponse;
    use lambda_http::http::StatusCode;
    use lambda_http::Body;
    use lock_wire::{LockList, MAX_LABEL_BYTES};

    use crate::endpoints::view::view;
    use crate::http::json;
    use crate::types::{LeaseId, Lock, Requester, Timestamp};

    /// Lambda's largest answer of a synchronous invocation, in bytes.
    const LAMBDA_MAX_ANSWER: usize = 6 * 1024 * 1024;
    let now = Timestamp::from_millis(1_795_678_800_000);
    let locks = (0..MAX_PAGE_LIMIT)
        .map(|n| {
            // Distinct names of 255 bytes, each `"` escaping to 4 bytes in the end.
            let name = format!("{n:04}{}", "\"".repeat(MAX_LABEL_BYTES - 4));
            let lock = Lock {
                lock_name: LockName::parse(&name).unwrap(),
                locked: true,
                lease_id: LeaseId::generate(),
                leased_by: Requester::parse(&"\\".repeat(MAX_LABEL_BYTES)).unwrap(),
                created_at: now,
                acquired_at: Some(now),
                updated_at: now,
                expires_at: Some(now),
                fencing_token: u64::MAX,
                reserved_until: Some(now.plus_millis(2_000)),
            };
            view(lock, now, 0)
        })
        .collect();
    let last = LockName::parse(&"\"".repeat(255)).unwrap();
    let page = LockList {
        locks,
        next_cursor: Some(Cursor::after(&last)),
    };
    let response = json(StatusCode::OK, &page);
    let Body::Text(body) = response.body() else {
        panic!("a text body")
    };
    let mut proxy = ApiGatewayProxyResponse::default();
    proxy.status_code = 200;
    proxy.headers = response.headers().clone();
    proxy.body = Some(aws_lambda_events::encodings::Body::Text(body.clone()));
    let answer = serde_json::to_vec(&proxy).unwrap().len();
    eprintln!("{MAX_PAGE_LIMIT} worst-case locks: {answer} bytes in the proxy answer");
    assert!(
        answer > 2 * 1024 * 1024,
        "the names are escaped twice: {answer}"
    );
    assert!(answer < LAMBDA_MAX_ANSWER / 2, "{answer} bytes");
}
