//! The soak's checks over a whole history, one name of one tenant at a
//! time. Every bound comes from the clients' own clock readings, so each
//! check is sound: it reports only what no correct service can answer.
//!
//! A lease *surely lives* from its grant's answer until the earliest of:
//! its unlock's sending, a force release's sending, its expiry at the
//! earliest (the TTL from the sending of its grant or last acknowledged
//! renewal). It *may live* from its acquire's sending until the earliest
//! of: its unlock's answer, the answer of a force release sent after the
//! grant's answer, a replay granted another lease, or its last
//! `expiresAt` plus the clock-skew margin (until then the service reads it
//! as held).
//!
//! - mutual exclusion: no two leases of a lock surely live at once, and a
//!   semaphore never has more than `permits`, nor a permit slot two;
//! - fencing order: a lock's tokens strictly rise in grant order, all
//!   distinct; a slot's too;
//! - no lost acknowledged release or grant: a refused acquire, or a get
//!   showing a lease, overlaps a time when that lease (some lease) may have
//!   lived; a get showing the lock free, a delete, an unlock or renew
//!   answered `false` never falls wholly inside a time a lease surely lived;
//!   an idempotent replay gives the same lease and token while it lives;
//! - tenant isolation: no get or list page shows another tenant's holder;
//! - every request got a clear, expected answer in time.

use std::collections::HashMap;

use super::entry::{is_tenants, Entry, Kind};
use super::semaphore::semaphore;
use super::spans::{LeastAfter, Reach};
use crate::history::{overlapping_holds, token_regressions, Hold};

/// The clock-skew margin of the local functions (the template's default).
const MARGIN_US: u64 = 1_000_000;
/// `expiresAt` is given in milliseconds: its rounding, and a little more.
const ROUNDING_US: u64 = 50_000;

/// Every violation in `entries` (a semaphore has `permits` permits).
pub fn violations(entries: &[Entry], permits: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut names: HashMap<(usize, bool, &str), Vec<&Entry>> = HashMap::new();
    for entry in entries {
        if let Some(error) = &entry.error {
            out.push(format!(
                "{} of {:?}: {error}",
                entry.kind.name(),
                entry.name
            ));
        }
        if entry.foreign > 0 {
            out.push(format!(
                "a list page of tenant {} showed {} locks of others",
                entry.tenant, entry.foreign
            ));
        }
        if let Some(holder) = entry
            .holder
            .as_deref()
            .filter(|h| !is_tenants(h, entry.tenant))
        {
            out.push(format!(
                "tenant {}'s {:?} showed holder {holder:?}",
                entry.tenant, entry.name
            ));
        }
        if entry.kind != Kind::List {
            let permit = matches!(
                entry.kind,
                Kind::PermitAcquire | Kind::PermitRenew | Kind::PermitRelease
            );
            names
                .entry((entry.tenant, permit, &entry.name))
                .or_default()
                .push(entry);
        }
    }
    for ((tenant, permit, name), mut history) in names {
        history.sort_by_key(|e| e.call);
        let found = if permit {
            semaphore(&history, permits)
        } else {
            lock(&history)
        };
        out.extend(
            found
                .into_iter()
                .map(|v| format!("tenant {tenant}, {name:?}: {v}")),
        );
    }
    out
}

/// One lease of a lock, with the bounds of its life.
struct Lease<'a> {
    grant: &'a Entry,
    start: u64,
    /// Where it surely lived to without its unlock: its earliest expiry,
    /// a force release's sending.
    bound: u64,
    sure_end: u64,
    may_end: u64,
}

/// A lock's entries of one kind by lease id, in the order they were sent.
pub(super) fn by_lease<'a>(history: &[&'a Entry], kind: Kind) -> HashMap<&'a str, Vec<&'a Entry>> {
    let mut map: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in history.iter().filter(|e| e.kind == kind) {
        if let Some(lease) = e.lease.as_deref() {
            map.entry(lease).or_default().push(e);
        }
    }
    map
}

/// The leases of one lock's history, one per lease id, in grant order.
fn leases<'a>(history: &[&'a Entry]) -> (Vec<Lease<'a>>, Vec<String>) {
    let mut violations = Vec::new();
    let mut first_grant: HashMap<&str, &Entry> = HashMap::new();
    let mut leases: Vec<Lease> = Vec::new();
    for grant in history.iter().filter(|e| e.kind == Kind::Acquire && e.ok) {
        let Some(id) = grant.lease.as_deref() else {
            continue;
        };
        if let Some(first) = first_grant.get(id) {
            if first.token != grant.token {
                violations.push(format!(
                    "lease {id} granted with tokens {:?} and {:?}",
                    first.token, grant.token
                ));
            }
            continue;
        }
        first_grant.insert(id, grant);
        leases.push(Lease {
            grant,
            start: grant.ret,
            bound: u64::MAX,
            sure_end: u64::MAX,
            may_end: u64::MAX,
        });
    }
    let renews = by_lease(history, Kind::Renew);
    let unlocks = by_lease(history, Kind::Unlock);
    let mut replays: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in history.iter().filter(|e| e.replay_of.is_some()) {
        replays
            .entry(e.replay_of.as_deref().unwrap())
            .or_default()
            .push(e);
    }
    let forces: Vec<&&Entry> = history.iter().filter(|e| e.kind == Kind::Force).collect();
    // A force may have ended a lease granted before its answer, from its
    // sending on; one sent after a grant's answer surely ended it by its own.
    let force_sent = LeastAfter::new(forces.iter().map(|f| (f.ret, f.call)).collect());
    let force_answered = LeastAfter::new(forces.iter().map(|f| (f.call, f.ret)).collect());
    for lease in &mut leases {
        let id = lease.grant.lease.as_deref().unwrap_or_default();
        let mut last_sent = lease.grant.call;
        let mut expires_ms = lease.grant.expires_ms;
        for renew in renews.get(id).into_iter().flatten() {
            // An attempt that got no answer may have renewed it as late as
            // the clear answer.
            if renew.unseen_attempts() {
                let late = renew.ret / 1000 + renew.ttl.unwrap_or_default() * 1000 + 1;
                expires_ms = expires_ms.max(Some(late));
            }
            // A renewal refused tells nothing here: past `expiresAt` the
            // holder cannot renew, but others see it held for the margin.
            if renew.ok {
                last_sent = last_sent.max(renew.call);
                expires_ms = expires_ms.max(renew.expires_ms);
            }
        }
        if let Some(ttl) = lease.grant.ttl {
            lease.bound = last_sent + ttl * 1_000_000;
            let expires = expires_ms.map_or(u64::MAX, |ms| ms * 1000 + MARGIN_US + ROUNDING_US);
            lease.may_end = lease.may_end.min(expires);
        }
        lease.bound = lease.bound.min(force_sent.after(lease.grant.call));
        lease.may_end = lease.may_end.min(force_answered.after(lease.start));
        lease.sure_end = lease.bound;
        if let Some(unlock) = unlocks.get(id).and_then(|u| u.first()) {
            lease.sure_end = lease.sure_end.min(unlock.call);
            // Answered `false`, it was already over for its holder, which
            // proves nothing for others: an expired lease blocks them for
            // the margin.
            if unlock.ok {
                lease.may_end = lease.may_end.min(unlock.ret);
            }
        }
        // A replay granted another lease: the lock was free, so this one
        // was over. (A refused replay proves nothing: past `expiresAt` it
        // is refused, and the lease still blocks others for the margin.)
        let replaced = |e: &&&Entry| e.ok && e.lease.as_deref() != Some(id);
        for replay in replays.get(id).into_iter().flatten().filter(replaced) {
            lease.may_end = lease.may_end.min(replay.ret);
        }
    }
    leases.sort_by_key(|l| l.start);
    (leases, violations)
}

/// A lock's history: every check but tenant isolation.
fn lock(history: &[&Entry]) -> Vec<String> {
    let (leases, mut violations) = leases(history);
    let holds: Vec<Hold> = leases
        .iter()
        .filter(|l| l.start < l.sure_end)
        .map(|l| Hold {
            client: l.grant.worker,
            start: l.start,
            end: l.sure_end,
            token: l.grant.token.unwrap_or_default(),
        })
        .collect();
    for (a, b) in overlapping_holds(&holds) {
        violations.push(format!("two leases surely live at once: {a:?} and {b:?}"));
    }
    for (a, b) in token_regressions(&holds) {
        violations.push(format!("fencing token did not rise: {a:?} then {b:?}"));
    }
    let mut tokens: Vec<u64> = leases.iter().filter_map(|l| l.grant.token).collect();
    tokens.sort_unstable();
    if tokens.windows(2).any(|pair| pair[0] == pair[1]) {
        violations.push("two leases got the same fencing token".into());
    }
    // Leases nobody may know of: granted by an attempt that got no answer.
    // Sent without a key (with a TTL), it lives until its TTL from the
    // answer at the latest; sent with one (the only acquires retried), it
    // ended before the clear answer (else that answer would have given
    // it), but with a TTL it may have ended by expiring, and then blocks
    // others for the margin past the answer; never answered clearly, it may
    // live for ever.
    let hidden = || {
        history.iter().filter(|e| {
            e.kind == Kind::Acquire && (e.unclear || e.unseen_attempts() || e.error.is_some())
        })
    };
    let unknown = Reach::new(
        hidden()
            .map(|e| {
                let end = match (e.error.is_some(), e.unclear, e.ttl) {
                    (true, _, _) | (false, true, None) => u64::MAX,
                    (false, true, Some(ttl)) => e.ret + ttl * 1_000_000 + MARGIN_US + ROUNDING_US,
                    (false, false, Some(_)) => e.ret + MARGIN_US + ROUNDING_US,
                    (false, false, None) => e.ret,
                };
                (e.call, end)
            })
            .collect(),
    );
    let by_id: HashMap<&str, &Lease> = leases
        .iter()
        .map(|l| (l.grant.lease.as_deref().unwrap_or_default(), l))
        .collect();
    let may_live = Reach::new(leases.iter().map(|l| (l.grant.call, l.may_end)).collect());
    let surely = Reach::new(holds.iter().map(|h| (h.start, h.end)).collect());
    // Grants made between an acquire's sending and its answer: the known
    // leases', and those an unclear attempt may have hidden.
    let granting = Reach::new(
        leases
            .iter()
            .map(|l| (l.grant.call, l.grant.ret))
            .chain(hidden().map(|e| (e.call, e.ret)))
            .collect(),
    );
    let deleting = Reach::new(
        history
            .iter()
            // A `404` too: a delete whose answer was lost inside the
            // service finds nothing on its retry.
            .filter(|e| e.kind == Kind::Delete && (e.ok || e.status == 404))
            .map(|e| (e.call, e.ret))
            .collect(),
    );
    let surely_over = |e: &Entry| surely.any(e.call, e.ret);
    for e in history
        .iter()
        .filter(|e| e.status == 200 || e.status == 404)
    {
        let free = e.status == 404 || !e.ok;
        let own = e.lease.as_deref().and_then(|id| by_id.get(id));
        let problem = match e.kind {
            Kind::Acquire if e.status == 200 && free && !e.reserved => {
                let explained = may_live.any(e.ret, e.call) || unknown.any(e.ret, e.call);
                (!explained).then_some("refused while no lease may have lived")
            }
            Kind::Get if !free => {
                let possible = match own {
                    Some(l) => l.grant.call <= e.ret && e.call <= l.may_end,
                    None => unknown.any(e.ret, e.call),
                };
                (!possible)
                    .then_some("shows a lease that cannot be live (released, or never granted)")
            }
            Kind::Get if surely_over(e) => Some("shows the lock free while a lease surely lived"),
            Kind::Delete if !free && surely_over(e) => Some("deleted while a lease surely lived"),
            Kind::Unlock | Kind::Renew if free => {
                // An unlock's retry inside the service answers `false` if
                // another acquire was granted between its attempts, and
                // `404` if the lock its first attempt freed was deleted.
                let raced = e.kind == Kind::Unlock
                    && (granting.any(e.ret, e.call) || deleting.any(e.ret, e.call));
                let until = |l: &Lease| {
                    if e.kind == Kind::Unlock {
                        l.bound
                    } else {
                        l.sure_end
                    }
                };
                let live = own.is_some_and(|l| l.start <= e.call && e.ret <= until(l));
                (live && !raced).then_some("answered false while its lease surely lived")
            }
            _ => None,
        };
        if let Some(problem) = problem {
            violations.push(format!("{} {problem}: {e:?}", e.kind.name()));
        }
        if let Some(original) = e.replay_of.as_deref() {
            let same = e.ok && e.lease.as_deref() == Some(original);
            let first = by_id.get(original);
            if !same && first.is_some_and(|l| l.start <= e.call && e.ret <= l.sure_end) {
                violations.push(format!(
                    "a replay while its lease surely lived got another answer: {e:?}"
                ));
            }
        }
    }
    violations
}
