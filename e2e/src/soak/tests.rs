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

#[test]
fn an_expired_lease_still_blocks_others_for_the_margin() {
    // `a` expires at 1 s. Its replay and renewal at 1.2 s are refused (it
    // has expired for its holder), yet a get at 1.5 s still shows it held
    // and another acquire is refused: others may take it only from 2 s.
    let mut a = grant(0, 0, 10, "a", 1);
    (a.ttl, a.expires_ms) = (Some(1), Some(1_000));
    let mut replay = refusal(0, 1_200, 1_210);
    (replay.replay_of, replay.ttl) = (Some("a".into()), Some(1));
    let mut renew = entry(Kind::Renew, 0, 1_220, 1_230);
    (renew.lease, renew.ttl) = (Some("a".into()), Some(1));
    let history = [
        a,
        replay,
        renew,
        get(1, 1_500, 1_510, Some(("a", 0))),
        refusal(1, 1_600, 1_610),
    ];
    assert_eq!(violations(&history, 2), Vec::<String>::new());
    let mut late = history.to_vec();
    late.push(get(1, 2_200, 2_210, Some(("a", 0))));
    assert!(found(&late, "shows a lease that cannot be live"));
}

#[test]
fn an_unlock_may_lose_its_answer_to_a_delete_or_a_grant() {
    // `a`'s unlock from 100 to 300 freed it at once, but its answer was
    // lost; the lock was then deleted (or granted again), and the retry
    // inside the service found it gone (or taken): `false`, yet no fault.
    let mut history = clean();
    history[3] = unlock(0, 100, 300, "a");
    history[3].ok = false;
    let mut delete = entry(Kind::Delete, 3, 150, 160);
    delete.ok = true;
    history.push(delete);
    history.retain(|e| e.lease.as_deref() != Some("b"));
    assert_eq!(violations(&history, 2), Vec::<String>::new());
    history.pop();
    assert!(found(
        &history,
        "answered false while its lease surely lived"
    ));
}

#[test]
fn an_unlock_refused_after_expiry_leaves_the_margin() {
    // `a` expired at 1 s before its slow grant's answer; its unlock is
    // refused, and others are still refused until 2 s.
    let mut a = grant(0, 0, 1_010, "a", 1);
    (a.ttl, a.expires_ms) = (Some(1), Some(1_000));
    let mut late_unlock = unlock(0, 1_020, 1_030, "a");
    late_unlock.ok = false;
    let history = [a, late_unlock, refusal(1, 1_100, 1_200)];
    assert_eq!(violations(&history, 2), Vec::<String>::new());
}

#[test]
fn a_5xx_may_hide_a_grant() {
    // Worker 0's keyed acquire got a `500` first (its grant landed, the
    // function lost DynamoDB's answer and then failed), and its retry was
    // refused by that very lease, expired but within the margin; worker 1
    // was refused meanwhile. A `5xx`, like a `504`, may hide a write.
    let mut hidden = refusal(0, 0, 3_000);
    (hidden.ttl, hidden.retries) = (Some(1), 1);
    let history = [hidden.clone(), refusal(1, 1_000, 1_050)];
    assert_eq!(violations(&history, 2), Vec::<String>::new());
    hidden.retries = 0;
    let history = [hidden, refusal(1, 1_000, 1_050)];
    assert!(found(
        &history,
        "acquire refused while no lease may have lived"
    ));
}

#[test]
fn a_hidden_grant_that_expired_before_its_retry_still_blocks_for_the_margin() {
    // Worker 0's keyed acquire with a 1 s TTL: its first attempt's grant
    // landed and lost its answer; its retry at 1 500 found that lease
    // expired and was refused (within the margin). Worker 1's acquire at
    // 2 000 is refused by the same lease, expired by less than the margin.
    let mut hidden = refusal(0, 0, 1_600);
    (hidden.ttl, hidden.retries, hidden.lost) = (Some(1), 1, 1);
    let history = [hidden.clone(), refusal(1, 2_000, 2_050)];
    assert_eq!(violations(&history, 2), Vec::<String>::new());
    let history = [hidden, refusal(1, 2_700, 2_750)];
    assert!(found(
        &history,
        "acquire refused while no lease may have lived"
    ));
}

#[test]
fn an_unlock_may_lose_its_answer_to_a_hidden_grant() {
    // `a`'s unlock from 100 to 300 freed it, its answer was lost, and a
    // keyed acquire whose answer was a `500` was granted before the retry:
    // `false`. Without that acquire, the refusal is a violation.
    let mut history = clean();
    history.retain(|e| e.lease.as_deref() != Some("b"));
    history[2] = unlock(0, 100, 300, "a");
    history[2].ok = false;
    history.truncate(3);
    let mut hidden = refusal(1, 150, 2_000);
    (hidden.ttl, hidden.status, hidden.unclear) = (Some(4), 500, true);
    assert!(found(
        &history,
        "answered false while its lease surely lived"
    ));
    history.push(hidden);
    assert_eq!(violations(&history, 2), Vec::<String>::new());
}
