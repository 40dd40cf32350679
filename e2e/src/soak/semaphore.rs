//! The soak's checks of one semaphore's history.

use std::collections::HashMap;

use super::check::by_lease;
use super::entry::{Entry, Kind};
use crate::permits::{permit_overlaps, slot_order, PermitHold};

/// A semaphore's history: at most `permits` live, each slot in order, no
/// renewal of a surely live permit refused.
pub(super) fn semaphore(history: &[&Entry], permits: u64) -> Vec<String> {
    let renews = by_lease(history, Kind::PermitRenew);
    let releases = by_lease(history, Kind::PermitRelease);
    let mut held: HashMap<&str, PermitHold> = HashMap::new();
    let mut violations = Vec::new();
    for grant in history
        .iter()
        .filter(|e| e.kind == Kind::PermitAcquire && e.ok)
    {
        let (Some(lease), Some(permit), Some(ttl)) =
            (grant.lease.as_deref(), grant.permit, grant.ttl)
        else {
            continue;
        };
        let token = grant.token.unwrap_or_default();
        if let Some(first) = held.get(lease) {
            if first.token != token || first.permit != permit {
                violations.push(format!(
                    "lease {lease} granted twice, differently: {grant:?}"
                ));
            }
            continue;
        }
        let lease_renews = renews.get(lease).into_iter().flatten();
        let renewed = lease_renews.filter(|e| e.ok).map(|e| e.call).max();
        let mut until = renewed.unwrap_or(grant.call).max(grant.call) + ttl * 1_000_000;
        if let Some(release) = releases.get(lease).and_then(|r| r.first()) {
            until = until.min(release.call);
        }
        let hold = PermitHold {
            lease: lease.to_owned(),
            permit,
            token,
            from: grant.ret,
            until,
        };
        held.insert(lease, hold);
    }
    let held: Vec<PermitHold> = held.into_values().collect();
    violations.extend(permit_overlaps(&held, permits));
    violations.extend(slot_order(&held));
    let by_id: HashMap<&str, &PermitHold> = held.iter().map(|h| (h.lease.as_str(), h)).collect();
    for renew in renews
        .values()
        .flatten()
        .filter(|e| !e.ok && e.error.is_none())
    {
        let hold = renew.lease.as_deref().and_then(|l| by_id.get(l));
        if hold.is_some_and(|h| h.from <= renew.call && renew.ret <= h.until) {
            violations.push(format!(
                "a renewal of a surely live permit refused: {renew:?}"
            ));
        }
    }
    violations
}
