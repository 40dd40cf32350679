//! Handoffs: how soon a released lock reaches the next of 1, 4 or 8
//! waiters on one name.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lock_client::{Client, Error};
use serde::Serialize;

use super::{options, random_below};
use crate::stats::Spread;

/// Handoffs with `waiters` clients waiting while one holds.
#[derive(Clone, Debug, Serialize)]
pub struct Handoffs {
    pub waiters: usize,
    /// From the release's answer to the next holder's grant answer.
    pub handoff: Spread,
    pub max_ms: f64,
    /// Grants that went back to the client that had just released (not
    /// handoffs, so not in the spread).
    pub regrabbed: usize,
}

/// One grant or release, as its client saw it answered.
#[derive(Clone, Copy, Debug)]
struct Event {
    client: usize,
    token: u64,
    at: Instant,
}

/// `waiters + 1` clients loop acquire (waiting up to 20 s) → hold 50–250 ms
/// → release on one name, a releaser asking again only once another client
/// holds, so one holds while `waiters` wait, until `handoffs` grants have
/// been made. A grant of token t + 1 follows the release of token t: the
/// handoff is the time between their answers.
pub(super) async fn handoffs_with(client: &Client, waiters: usize, handoffs: usize) -> Handoffs {
    let name = format!("handoff-{waiters}");
    let grants: Arc<Mutex<Vec<Event>>> = Arc::default();
    let releases: Arc<Mutex<Vec<Event>>> = Arc::default();
    let granted = Arc::new(tokio::sync::watch::channel(0usize).0);
    let tasks: Vec<_> = (0..=waiters)
        .map(|id| {
            let (client, name) = (client.clone(), name.clone());
            let (grants, releases) = (grants.clone(), releases.clone());
            let granted = granted.clone();
            tokio::spawn(async move {
                let mut seen = granted.subscribe();
                // The first holder starts alone, the others once it holds.
                if id > 0 {
                    let _ = seen.wait_for(|n| *n > 0).await;
                }
                while grants.lock().expect("grants").len() < handoffs + 1 {
                    let wait = options(Duration::from_secs(20));
                    let lease = match client.acquire(&name, &wait).await {
                        Ok(lease) => lease,
                        Err(Error::Held { .. }) => continue,
                        Err(e) => panic!("a waiting acquire failed: {e}"),
                    };
                    let (token, at) = (lease.fencing_token(), Instant::now());
                    let grant = Event {
                        client: id,
                        token,
                        at,
                    };
                    grants.lock().expect("grants").push(grant);
                    granted.send_modify(|n| *n += 1);
                    let mine = *granted.borrow();
                    tokio::time::sleep(Duration::from_millis(50 + random_below(200))).await;
                    assert!(lease.release().await.expect("a release"), "released");
                    let at = Instant::now();
                    let release = Event {
                        client: id,
                        token,
                        at,
                    };
                    releases.lock().expect("releases").push(release);
                    if grants.lock().expect("grants").len() > handoffs {
                        break;
                    }
                    // Back in the queue once another client holds the lock.
                    let handed = seen.wait_for(|n| *n > mine);
                    let _ = tokio::time::timeout(Duration::from_secs(25), handed).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a handoff task");
    }
    let grants = grants.lock().expect("grants").clone();
    let releases = releases.lock().expect("releases").clone();
    let (times, regrabbed) = pair_handoffs(&grants, &releases);
    let max_ms = times
        .iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .fold(0.0, f64::max);
    Handoffs {
        waiters,
        handoff: Spread::of(&times),
        max_ms,
        regrabbed,
    }
}

/// Each grant after a release of the token before it by another client: the
/// time from that release's answer to the grant's (zero if the grant was
/// answered first); and how many grants went back to the releaser.
fn pair_handoffs(grants: &[Event], releases: &[Event]) -> (Vec<Duration>, usize) {
    let mut times = Vec::new();
    let mut regrabbed = 0;
    for grant in grants {
        let Some(release) = releases.iter().find(|r| r.token + 1 == grant.token) else {
            continue;
        };
        if release.client == grant.client {
            regrabbed += 1;
        } else {
            times.push(grant.at.saturating_duration_since(release.at));
        }
    }
    (times, regrabbed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoffs_pair_a_grant_with_the_release_before_it() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let grants = [
            Event {
                client: 0,
                token: 1,
                at: at(0),
            },
            Event {
                client: 1,
                token: 2,
                at: at(130),
            },
            Event {
                client: 1,
                token: 3,
                at: at(300),
            },
            Event {
                client: 2,
                token: 4,
                at: at(395),
            },
        ];
        let releases = [
            Event {
                client: 0,
                token: 1,
                at: at(100),
            },
            Event {
                client: 1,
                token: 2,
                at: at(290),
            },
            Event {
                client: 1,
                token: 3,
                at: at(400),
            },
        ];
        let (times, regrabbed) = pair_handoffs(&grants, &releases);
        let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
        assert_eq!((ms, regrabbed), (vec![30, 0], 1));
    }
}
