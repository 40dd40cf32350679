//! Many clients on one lock: one winner, and no two inside at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lock_client::Error;
use testkit::api::Api;

use super::{as_requester, new_client};

/// 16 simultaneous acquirers of one free lock: exactly one wins (three rounds).
pub async fn sixteen_acquirers_one_winner(api: Api) {
    let client = new_client(&api).await;
    for round in 0..3 {
        let lock = format!("contended-{round}");
        let attempts: Vec<_> = (0..16)
            .map(|i| {
                let (client, lock) = (client.clone(), lock.clone());
                let options = as_requester(format!("worker-{i}"));
                tokio::spawn(async move { client.acquire(&lock, &options).await })
            })
            .collect();
        let mut winners = Vec::new();
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(lease) => winners.push(lease.lease_id().to_owned()),
                Err(Error::Held { .. }) => {}
                Err(err) => panic!("round {round}: {err}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(client.get(&lock).await.unwrap().lease_id, winners[0]);
    }
}

/// 8 workers loop acquire → critical section → unlock; no two are ever inside at once.
pub async fn critical_section_never_overlaps(api: Api) {
    let client = new_client(&api).await;
    let inside = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let entries = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let client = client.clone();
            let (inside, overlaps, entries) = (inside.clone(), overlaps.clone(), entries.clone());
            tokio::spawn(async move {
                let options = as_requester(format!("worker-{w}"));
                for _ in 0..5 {
                    let lease = loop {
                        match client.acquire("critical", &options).await {
                            Ok(lease) => break lease,
                            Err(Error::Held { .. }) => {}
                            Err(err) => panic!("worker {w}: {err}"),
                        }
                        tokio::time::sleep(Duration::from_millis(5 + (w as u64 * 3) % 11)).await;
                    };
                    if inside.swap(true, Ordering::SeqCst) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    entries.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    inside.store(false, Ordering::SeqCst);
                    assert!(lease.release().await.unwrap(), "worker {w}: not released");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "two holders were inside at once"
    );
    assert_eq!(entries.load(Ordering::SeqCst), 40);
}
