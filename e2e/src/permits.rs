//! Checks over a semaphore's leases as clients saw them: at most `permits`
//! live at once, and each permit slot's leases never overlapping, their
//! tokens rising. Times are wall-clock milliseconds or microseconds, one
//! unit throughout.

use std::collections::HashMap;

/// One lease as a client saw it: its permit, token, and where it surely lived.
#[derive(Clone, Debug)]
pub struct PermitHold {
    pub lease: String,
    pub permit: u64,
    pub token: u64,
    /// When the grant's answer arrived.
    pub from: u64,
    /// The earliest the lease can have ended: its release sent, or its
    /// expiry at the earliest.
    pub until: u64,
}

/// Instants when more than `permits` leases were live at once.
pub fn permit_overlaps(held: &[PermitHold], permits: u64) -> Vec<String> {
    // Ends before starts at one instant: an interval ends where it ends.
    let mut events: Vec<(u64, i64, &PermitHold)> = held
        .iter()
        .filter(|h| h.from < h.until)
        .flat_map(|h| [(h.from, 1, h), (h.until, -1, h)])
        .collect();
    events.sort_by_key(|(at, change, _)| (*at, *change));
    let (mut live, mut violations) = (0i64, Vec::new());
    for (at, change, held) in events {
        live += change;
        if live > permits as i64 {
            violations.push(format!(
                "{live} leases live at {at} (permits {permits}), {held:?}"
            ));
        }
    }
    violations
}

/// Each slot's leases in token order: tokens strictly rise and intervals
/// never overlap.
pub fn slot_order(held: &[PermitHold]) -> Vec<String> {
    let mut slots: HashMap<u64, Vec<&PermitHold>> = HashMap::new();
    for h in held {
        slots.entry(h.permit).or_default().push(h);
    }
    let mut violations = Vec::new();
    for leases in slots.values_mut() {
        leases.sort_by_key(|h| h.token);
        for pair in leases.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let both = a.from < a.until && b.from < b.until;
            if a.token == b.token || (both && b.from < a.until && a.from < b.until) {
                violations.push(format!("permit {}: {a:?} then {b:?}", a.permit));
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(permit: u64, token: u64, from: u64, until: u64) -> PermitHold {
        PermitHold {
            lease: format!("{permit}-{token}"),
            permit,
            token,
            from,
            until,
        }
    }

    #[test]
    fn more_live_leases_than_permits_are_found() {
        let held = [hold(0, 1, 0, 10), hold(1, 1, 5, 15), hold(2, 1, 8, 20)];
        assert!(permit_overlaps(&held, 3).is_empty());
        assert_eq!(permit_overlaps(&held, 2).len(), 1);
    }

    #[test]
    fn a_slot_s_leases_must_not_overlap_and_tokens_must_rise() {
        assert!(slot_order(&[hold(0, 1, 0, 10), hold(0, 2, 10, 20)]).is_empty());
        assert_eq!(slot_order(&[hold(0, 1, 0, 10), hold(0, 2, 5, 20)]).len(), 1);
        assert_eq!(
            slot_order(&[hold(0, 3, 0, 10), hold(0, 3, 20, 30)]).len(),
            1
        );
    }
}
