//! Listing a user's locks: whole partitions and pages.

use lock_service::types::{LeaseId, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, granted, try_take, Stores};

use super::at;

#[apply(engines)]
async fn list_reads_every_page_of_the_users_partition(f: Stores) {
    let locks = f.locks.clone().with_page_size(2);
    let user = UserId::generate();
    let mut expected = Vec::new();
    for i in [3, 0, 4, 1, 2] {
        let lock_name = format!("lock-{i}");
        let lease = LeaseId::generate();
        let outcome = try_take(&locks, &user, &lock_name, "a", &lease, at(0)).await;
        expected.push(granted(outcome.unwrap()));
    }
    expected.sort_by(|a, b| a.lock_name.cmp(&b.lock_name));
    let (listed, calls) = f.calls.during(locks.list(&user)).await;
    assert_eq!(listed.unwrap(), expected);
    assert_eq!(calls, 3, "5 locks in pages of 2 take 3 queries");
    assert!(locks.list(&UserId::generate()).await.unwrap().is_empty());
}

/// Pages of a user's locks: each lock once, in name order, `more` exactly
/// when locks follow, one call per page, never another user's locks.
#[apply(engines)]
async fn pages_list_each_lock_once_in_order(f: Stores) {
    let (user, neighbour) = (UserId::generate(), UserId::generate());
    let names: Vec<String> = (0..25).map(|n| format!("p-{n:02}")).collect();
    for lock in names.iter().map(String::as_str).chain(["p-99"]) {
        let owner = if lock == "p-99" { &neighbour } else { &user };
        f.grant(owner, lock, "r", &LeaseId::generate(), at(0)).await;
    }
    let (mut listed, mut after) = (Vec::new(), None);
    loop {
        let (page, calls) = f
            .calls
            .during(f.locks.list_page(&user, after.as_deref(), Some(10)))
            .await;
        let page = page.unwrap();
        assert_eq!(calls, 1, "one Query per page");
        listed.extend(
            page.locks
                .iter()
                .map(|lock| lock.lock_name.as_str().to_owned()),
        );
        after = page
            .locks
            .last()
            .map(|lock| lock.lock_name.as_str().to_owned());
        if !page.more {
            assert_eq!(page.locks.len(), 5);
            break;
        }
    }
    assert_eq!(listed, names);
    let exact = f.locks.list_page(&user, Some("p-14"), Some(10));
    let exact = exact.await.unwrap();
    assert_eq!(
        (exact.locks.len(), exact.more),
        (10, false),
        "a full last page"
    );
    let rest = f.locks.list_page(&user, Some("p-20"), None).await.unwrap();
    assert_eq!(rest.locks.len(), 4);
}
