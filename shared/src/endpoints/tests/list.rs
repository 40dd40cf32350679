//! List: the limit and the cursor.

use super::*;

#[test]
fn list_takes_a_limit_from_1_to_1000_and_well_formed_cursors() {
    // (the page size, the position it continues after), as the handler reads them.
    let list = |query: &[(&str, &str)]| {
        ListLocks::parse(&request(None, query)).map(|(_, list)| {
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
