//! Each check of `check.rs` on a small history it must pass, and on the
//! same history broken in the one way that check exists for.

use super::check::violations;
use super::entry::{requester, Entry, Kind};

fn entry(kind: Kind, worker: usize, call: u64, ret: u64) -> Entry {
    let mut e = Entry::new(kind, 0, worker, "lock-0", call * 1000);
    (e.ret, e.status) = (ret * 1000, 200);
    e
}

fn grant(worker: usize, call: u64, ret: u64, lease: &str, token: u64) -> Entry {
    let mut e = entry(Kind::Acquire, worker, call, ret);
    (e.ok, e.lease, e.token) = (true, Some(lease.into()), Some(token));
    e
}

fn unlock(worker: usize, call: u64, ret: u64, lease: &str) -> Entry {
    let mut e = entry(Kind::Unlock, worker, call, ret);
    (e.ok, e.lease) = (true, Some(lease.into()));
    e
}

fn refusal(worker: usize, call: u64, ret: u64) -> Entry {
    entry(Kind::Acquire, worker, call, ret)
}

fn get(worker: usize, call: u64, ret: u64, held_by: Option<(&str, usize)>) -> Entry {
    let mut e = entry(Kind::Get, worker, call, ret);
    if let Some((lease, holder)) = held_by {
        (e.ok, e.lease, e.holder) = (true, Some(lease.into()), Some(requester(0, holder)));
    }
    e
}

/// Times in ms: worker 0 holds `a` from 10 to 100; worker 1 is refused at
/// 50, then holds `b` from 120 to 200; gets agree.
fn clean() -> Vec<Entry> {
    vec![
        grant(0, 0, 10, "a", 1),
        get(2, 20, 30, Some(("a", 0))),
        refusal(1, 50, 60),
        unlock(0, 100, 110, "a"),
        grant(1, 115, 120, "b", 2),
        unlock(1, 200, 210, "b"),
        get(2, 220, 230, None),
    ]
}

fn found(history: &[Entry], what: &str) -> bool {
    violations(history, 2).iter().any(|v| v.contains(what))
}

#[test]
fn a_correct_history_passes() {
    assert_eq!(violations(&clean(), 2), Vec::<String>::new());
}

#[test]
fn a_double_grant_is_found() {
    let mut history = clean();
    history.push(grant(3, 40, 50, "c", 3));
    history.push(unlock(3, 60, 70, "c"));
    assert!(found(&history, "two leases surely live at once"));
}

#[test]
fn tokens_out_of_grant_order_are_found() {
    let mut history = clean();
    history[4].token = Some(1);
    assert!(found(&history, "same fencing token") || found(&history, "did not rise"));
    history[4].token = Some(0);
    assert!(found(&history, "fencing token did not rise"));
}

#[test]
fn a_refusal_after_an_acknowledged_release_is_found() {
    let mut history = clean();
    history.push(refusal(3, 111, 114));
    assert!(found(&history, "refused while no lease may have lived"));
}

#[test]
fn a_released_lease_shown_as_holder_is_found() {
    let mut history = clean();
    history.push(get(3, 112, 114, Some(("a", 0))));
    assert!(found(&history, "shows a lease that cannot be live"));
}

#[test]
fn a_lock_shown_free_while_held_is_found() {
    let mut history = clean();
    history.push(get(3, 130, 140, None));
    assert!(found(
        &history,
        "shows the lock free while a lease surely lived"
    ));
}

#[test]
fn a_delete_of_a_held_lock_is_found() {
    let mut history = clean();
    let mut delete = entry(Kind::Delete, 3, 130, 140);
    delete.ok = true;
    history.push(delete);
    assert!(found(&history, "deleted while a lease surely lived"));
}

#[test]
fn a_refused_unlock_of_a_live_lease_is_found() {
    let mut history = clean();
    history[5].ok = false;
    assert!(found(
        &history,
        "answered false while its lease surely lived"
    ));
}

#[test]
fn a_replay_that_got_another_lease_is_found() {
    let mut history = clean();
    let mut replay = grant(0, 40, 45, "d", 9);
    replay.replay_of = Some("a".into());
    history.push(replay);
    assert!(found(&history, "a replay while its lease surely lived"));
}

#[test]
fn another_tenant_s_holder_is_found() {
    let mut history = clean();
    history[1].holder = Some(requester(1, 4));
    assert!(found(&history, "showed holder"));
    let mut page = Entry::new(Kind::List, 0, 2, "", 0);
    (page.status, page.ok, page.foreign) = (200, true, 1);
    assert!(found(&[page], "locks of others"));
}

#[test]
fn an_expired_lease_bounds_both_ways() {
    // `a` with a 1 s TTL, never unlocked: taken over after its expiry
    // plus the margin is fine, before its expiry is a double grant.
    let mut a = grant(0, 0, 10, "a", 1);
    (a.ttl, a.expires_ms) = (Some(1), Some(1_000));
    let late = grant(1, 2_100, 2_110, "b", 2);
    let early = grant(1, 500, 510, "b", 2);
    assert_eq!(violations(&[a.clone(), late], 2), Vec::<String>::new());
    assert!(found(&[a, early], "two leases surely live at once"));
}

#[test]
fn a_semaphore_over_its_permits_is_found() {
    let permit = |worker: usize, slot: u64, lease: &str| {
        let mut e = Entry::new(Kind::PermitAcquire, 0, worker, "pool-0", 0);
        (e.ret, e.status, e.ok) = (10 * 1000, 200, true);
        (e.lease, e.permit, e.token, e.ttl) = (Some(lease.into()), Some(slot), Some(1), Some(5));
        e
    };
    let two = [permit(0, 0, "p"), permit(1, 1, "q")];
    assert_eq!(violations(&two, 2), Vec::<String>::new());
    let three = [permit(0, 0, "p"), permit(1, 1, "q"), permit(2, 1, "r")];
    assert!(!violations(&three, 2).is_empty());
}
