//! A history of lock operations as clients saw them, and the checks that a
//! correct lock service must pass on it.
//!
//! Times are microseconds on one monotonic clock shared by every client.

use std::collections::HashSet;

/// What a client asked and what it was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acquire answered `locked: true` with this fencing token.
    Granted(u64),
    /// Acquire answered `locked: false`.
    Refused,
    /// Unlock answered `unlocked: true`.
    Released,
    /// Unlock answered `unlocked: false`.
    NotReleased,
}

/// One operation: who, when it was sent, when its answer arrived, and the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// The client.
    pub client: usize,
    /// When the request was sent.
    pub call: u64,
    /// When the answer arrived.
    pub ret: u64,
    /// The answer.
    pub outcome: Outcome,
}

/// A client's hold: from the grant's arrival to the unlock's sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The client.
    pub client: usize,
    /// When the client learnt it holds the lock.
    pub start: u64,
    /// When the client sent its unlock.
    pub end: u64,
    /// The grant's fencing token.
    pub token: u64,
}

/// Pairs of holds that overlap in time. The server's hold contains the
/// client's (grant before the answer arrives, release after the unlock is
/// sent), so any overlap here is a double grant.
pub fn overlapping_holds(holds: &[Hold]) -> Vec<(Hold, Hold)> {
    let mut sorted = holds.to_vec();
    sorted.sort_by_key(|h| h.start);
    let mut overlaps = Vec::new();
    let mut latest: Option<Hold> = None;
    for hold in sorted {
        if let Some(previous) = latest {
            if hold.start < previous.end {
                overlaps.push((previous, hold));
            }
        }
        if latest.is_none_or(|p| hold.end > p.end) {
            latest = Some(hold);
        }
    }
    overlaps
}

/// Consecutive holds (in grant order) whose tokens do not strictly increase.
pub fn token_regressions(holds: &[Hold]) -> Vec<(Hold, Hold)> {
    let mut sorted = holds.to_vec();
    sorted.sort_by_key(|h| h.start);
    sorted
        .windows(2)
        .filter(|pair| pair[1].token <= pair[0].token)
        .map(|pair| (pair[0], pair[1]))
        .collect()
}

/// The mutex model: who holds the lock.
type State = Option<usize>;

fn step(state: State, op: &Op) -> Option<State> {
    match op.outcome {
        Outcome::Granted(_) => state.is_none().then_some(Some(op.client)),
        Outcome::Refused => state.is_some().then_some(state),
        Outcome::Released => (state == Some(op.client)).then_some(None),
        Outcome::NotReleased => (state != Some(op.client)).then_some(state),
    }
}

/// Whether the history is linearizable against a mutex that starts free.
///
/// The operations that change the mutex (grants, releases, failed releases)
/// go through the Wing & Gong search with Lowe's memoisation of (linearized
/// set, state), as in Porcupine. Refused acquires change nothing, but dozens
/// of them overlap at once under load, and putting them in the search makes
/// it explode (2^k orders of k overlapping refusals). They are checked
/// apart: each must overlap a window in which the lock was possibly held,
/// from a grant's call to its holder's next release's return. That is the
/// condition for a refusal to have a linearization point, taken per refusal
/// rather than jointly with the others, which is slightly weaker.
pub fn is_linearizable(ops: &[Op]) -> bool {
    let (refusals, changes): (Vec<Op>, Vec<Op>) =
        ops.iter().partition(|op| op.outcome == Outcome::Refused);
    let windows = held_windows(&changes);
    search(&changes)
        && refusals.iter().all(|r| {
            windows
                .iter()
                .any(|&(start, end)| r.call <= end && start <= r.ret)
        })
}

/// For every grant: from its call to the return of its holder's next release
/// (or for ever, if it was never released).
fn held_windows(ops: &[Op]) -> Vec<(u64, u64)> {
    let mut sorted = ops.to_vec();
    sorted.sort_by_key(|op| op.call);
    sorted
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op.outcome, Outcome::Granted(_)))
        .map(|(i, grant)| {
            let release = sorted[i + 1..]
                .iter()
                .find(|op| op.client == grant.client && op.outcome == Outcome::Released);
            (grant.call, release.map_or(u64::MAX, |r| r.ret))
        })
        .collect()
}

/// A doubly linked list over the events, so linearized ops can be lifted
/// out and put back; `n` is its end.
struct Linked {
    next: Vec<usize>,
    prev: Vec<Option<usize>>,
    head: usize,
}

impl Linked {
    fn new(n: usize) -> Self {
        Linked {
            next: (1..=n).collect(),
            prev: (0..n).map(|i| i.checked_sub(1)).collect(),
            head: if n == 0 { n } else { 0 },
        }
    }

    fn unlink(&mut self, i: usize) {
        match self.prev[i] {
            Some(p) => self.next[p] = self.next[i],
            None => self.head = self.next[i],
        }
        if self.next[i] < self.next.len() {
            let next = self.next[i];
            self.prev[next] = self.prev[i];
        }
    }

    fn relink(&mut self, i: usize) {
        match self.prev[i] {
            Some(p) => self.next[p] = i,
            None => self.head = i,
        }
        if self.next[i] < self.next.len() {
            let next = self.next[i];
            self.prev[next] = Some(i);
        }
    }
}

/// The Wing & Gong search over `ops`, which must not contain refusals.
fn search(ops: &[Op]) -> bool {
    // Events: (time, is_return, op); calls sort before returns at equal times.
    let mut events: Vec<(u64, bool, usize)> = ops
        .iter()
        .enumerate()
        .flat_map(|(i, op)| [(op.call, false, i), (op.ret, true, i)])
        .collect();
    events.sort();
    let n = events.len();
    let mut list = Linked::new(n);
    let mut return_of = vec![0; ops.len()];
    for (i, &(_, is_return, op)) in events.iter().enumerate() {
        if is_return {
            return_of[op] = i;
        }
    }

    let mut state: State = None;
    let mut linearized = vec![0u64; ops.len().div_ceil(64)];
    let mut seen: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new(); // (call event, state before)
    let mut entry = list.head;
    while list.head < n {
        if entry >= n {
            return false; // nothing more to try at this level (cannot happen: a return stops us first)
        }
        let (_, is_return, op) = events[entry];
        if !is_return {
            if let Some(after) = step(state, &ops[op]) {
                let mut with = linearized.clone();
                with[op / 64] |= 1 << (op % 64);
                if seen.insert((with.clone(), after)) {
                    stack.push((entry, state));
                    state = after;
                    linearized = with;
                    let ret = return_of[op];
                    list.unlink(entry);
                    list.unlink(ret);
                    entry = list.head;
                    continue;
                }
            }
            entry = list.next[entry];
        } else {
            // An op returned before we linearized it: undo the last choice.
            let Some((call, before)) = stack.pop() else {
                return false;
            };
            let op = events[call].2;
            state = before;
            linearized[op / 64] &= !(1 << (op % 64));
            list.relink(return_of[op]);
            list.relink(call);
            entry = list.next[call];
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: usize, call: u64, ret: u64, outcome: Outcome) -> Op {
        Op {
            client,
            call,
            ret,
            outcome,
        }
    }

    #[test]
    fn a_serial_history_is_linearizable() {
        let ops = [
            op(0, 0, 10, Outcome::Granted(1)),
            op(1, 5, 15, Outcome::Refused),
            op(0, 20, 30, Outcome::Released),
            op(1, 25, 40, Outcome::Granted(2)),
            op(0, 35, 45, Outcome::NotReleased),
            op(1, 50, 60, Outcome::Released),
        ];
        assert!(is_linearizable(&ops));
    }

    #[test]
    fn overlapping_calls_may_be_ordered_either_way() {
        // Both acquires overlap; the one that waited got it after the release.
        let ops = [
            op(1, 0, 100, Outcome::Granted(2)),
            op(0, 1, 5, Outcome::Granted(1)),
            op(0, 10, 20, Outcome::Released),
            op(1, 110, 120, Outcome::Released),
        ];
        assert!(is_linearizable(&ops));
    }

    #[test]
    fn a_double_grant_is_not_linearizable() {
        let ops = [
            op(0, 0, 10, Outcome::Granted(1)),
            op(1, 20, 30, Outcome::Granted(2)),
            op(0, 40, 50, Outcome::Released),
        ];
        assert!(!is_linearizable(&ops));
        let holds = [
            Hold {
                client: 0,
                start: 10,
                end: 40,
                token: 1,
            },
            Hold {
                client: 1,
                start: 30,
                end: 60,
                token: 2,
            },
        ];
        assert_eq!(overlapping_holds(&holds).len(), 1);
    }

    #[test]
    fn a_refusal_while_free_is_not_linearizable() {
        let ops = [
            op(0, 0, 10, Outcome::Granted(1)),
            op(0, 20, 30, Outcome::Released),
            op(1, 40, 50, Outcome::Refused),
        ];
        assert!(!is_linearizable(&ops));
    }

    #[test]
    fn tokens_must_grow_in_grant_order() {
        let holds = [
            Hold {
                client: 0,
                start: 0,
                end: 10,
                token: 5,
            },
            Hold {
                client: 1,
                start: 20,
                end: 30,
                token: 4,
            },
            Hold {
                client: 0,
                start: 40,
                end: 50,
                token: 9,
            },
        ];
        assert_eq!(token_regressions(&holds).len(), 1);
        assert!(overlapping_holds(&holds).is_empty());
    }
}
