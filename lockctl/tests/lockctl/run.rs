//! `lockctl run`: exit codes and signals passed through, conflicts, waiting,
//! renewal, a lost lease, Ctrl-C.

use std::time::{Duration, Instant};

use lock_client::{AcquireOptions, Error};

use crate::{eventually, Ctx};

/// `sh -c SCRIPT` run under `lockctl run NAME OPTIONS...`.
fn run_sh<'a>(name: &'a str, options: &[&'a str], script: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", name];
    args.extend_from_slice(options);
    args.extend(["--", "sh", "-c", script]);
    args
}

/// Whether a live lease holds `name`.
async fn locked(ctx: &Ctx, name: &str) -> bool {
    ctx.client().get(name).await.is_ok_and(|lock| lock.locked)
}

pub async fn run_passes_the_exit_code_and_signal_death_through(ctx: Ctx) {
    let ok = ctx
        .run(&run_sh("job", &[], r#"test "$LOCK_NAME" = job && test -n "$LOCK_LEASE_ID" && echo "token=$LOCK_FENCING_TOKEN""#))
        .await;
    let token = ctx.client().get("job").await.unwrap().fencing_token;
    assert_eq!(
        (ok.code, ok.stdout.trim()),
        (0, format!("token={token}").as_str()),
        "{ok:?}"
    );
    assert!(!locked(&ctx, "job").await, "not released after exit 0");
    let three = ctx.run(&run_sh("job", &[], "exit 3")).await;
    assert_eq!(three.code, 3, "{three:?}");
    assert!(!locked(&ctx, "job").await, "not released after exit 3");
    let killed = ctx.run(&run_sh("job", &[], "kill -TERM $$")).await;
    assert_eq!(killed.code, 128 + 15, "{killed:?}");
    assert!(
        !locked(&ctx, "job").await,
        "not released after a signal death"
    );
    let missing = ctx.run(&["run", "job", "--", "/no/such/command"]).await;
    assert_eq!(missing.code, 127, "{missing:?}");
    assert!(
        !locked(&ctx, "job").await,
        "not released after a command that did not start"
    );
}

pub async fn run_exits_with_the_conflict_code_without_running(ctx: Ctx) {
    let holder = ctx.hold("deploy").await;
    let marker = ctx.config_home.join("ran");
    let script = format!("touch {}", marker.display());
    let default = ctx.run(&run_sh("deploy", &[], &script)).await;
    assert_eq!(default.code, 75, "{default:?}");
    let custom = ctx
        .run(&run_sh(
            "deploy",
            &["--conflict-exit-code", "9", "--wait", "1s"],
            &script,
        ))
        .await;
    assert_eq!(custom.code, 9, "{custom:?}");
    assert!(!marker.exists(), "the command ran without the lock");
    let lock = ctx.client().get("deploy").await.unwrap();
    assert_eq!(
        lock.lease_id,
        holder.lease_id(),
        "the holder's lease changed"
    );
}

pub async fn run_waits_past_the_service_maximum_until_released(ctx: Ctx) {
    // The service waits at most 20 s per request; the holder lets go after
    // 22 s, so only a client that asks again gets it.
    let holder = ctx.hold("migrate").await;
    let holder_token = holder.fencing_token();
    let waiter = ctx
        .lockctl(&run_sh(
            "migrate",
            &["--wait", "60s"],
            "echo $LOCK_FENCING_TOKEN",
        ))
        .spawn()
        .unwrap();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(22)).await;
    assert!(holder.release().await.unwrap());
    let out = waiter.wait_with_output().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let token: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(token > holder_token, "token {token} after {holder_token}");
    assert!(
        waited < Duration::from_secs(35),
        "granted {waited:?} after start, 22 s after release"
    );
}

pub async fn run_keeps_a_two_second_lease_for_ten_seconds(ctx: Ctx) {
    let child = ctx
        .lockctl(&run_sh("long", &["--ttl", "2s"], "sleep 10"))
        .spawn()
        .unwrap();
    let client = ctx.client();
    eventually(Duration::from_secs(10), "run acquires", || {
        locked(&ctx, "long")
    })
    .await;
    let lease = client.get("long").await.unwrap().lease_id;
    let start = Instant::now();
    // Every half second for 9 s (4.5 TTLs): still that lease, and taken.
    while start.elapsed() < Duration::from_secs(9) {
        let lock = client.get("long").await.unwrap();
        assert!(
            lock.locked && lock.lease_id == lease,
            "lease lapsed after {:?}: {lock:?}",
            start.elapsed()
        );
        let other = client.acquire("long", &AcquireOptions::default()).await;
        assert!(matches!(other, Err(Error::Held { .. })), "{other:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!locked(&ctx, "long").await, "not released");
}

pub async fn lost_lease_stops_the_command_and_leaves_the_new_holder(ctx: Ctx) {
    let (child, marker) = run_trapping(&ctx, "cron", "3s", "TERM", 0).await;
    let client = ctx.client();
    assert!(client.force_unlock("cron").await.unwrap().unlocked);
    let forced_at = Instant::now();
    let thief = client
        .acquire("cron", &AcquireOptions::default())
        .await
        .unwrap();
    let out = finish_child(child).await;
    assert_eq!(out.status.code(), Some(76), "{out:?}");
    assert!(
        forced_at.elapsed() < Duration::from_secs(3) + Duration::from_millis(1500),
        "stopped after {:?}",
        forced_at.elapsed()
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "TERM",
        "the command got no SIGTERM"
    );
    let lock = client.get("cron").await.unwrap();
    assert!(
        lock.locked && lock.lease_id == thief.lease_id(),
        "the new holder's lock was touched: {lock:?}"
    );
}

pub async fn ctrl_c_reaches_the_command_and_releases_the_lock(ctx: Ctx) {
    let (child, marker) = run_trapping(&ctx, "shell", "30s", "INT", 130).await;
    // Let the shell install its trap, then interrupt lockctl (only it).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = finish_child(child).await;
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "INT");
    assert!(!locked(&ctx, "shell").await, "not released after Ctrl-C");
}

/// `lockctl run --ttl TTL LOCK` of a command that loops until `signal`,
/// then writes the signal's name to the returned marker file and exits
/// with `code`; once the lock is held.
async fn run_trapping(
    ctx: &Ctx,
    lock: &str,
    ttl: &str,
    signal: &str,
    code: u8,
) -> (tokio::process::Child, std::path::PathBuf) {
    let marker = ctx.config_home.join(format!("got-{signal}"));
    let script = format!(
        "trap 'echo {signal} > {}; exit {code}' {signal}; while true; do sleep 0.1; done",
        marker.display()
    );
    let child = ctx
        .lockctl(&run_sh(lock, &["--ttl", ttl], &script))
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(10), "run acquires", || {
        locked(ctx, lock)
    })
    .await;
    (child, marker)
}

async fn finish_child(child: tokio::process::Child) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(15), child.wait_with_output())
        .await
        .expect("lockctl ended")
        .unwrap()
}

/// Three `lockctl run --permits 2` at once: two run together, the third
/// after one of them ends, each with its permit in `LOCK_PERMIT`; then the
/// semaphore subcommands see it free, delete it, and find it gone.
pub async fn run_permits_two_lets_two_of_three_in(ctx: Ctx) {
    let script = r#"echo "$LOCK_PERMIT $LOCK_FENCING_TOKEN $(date +%s%N)"; sleep 2; date +%s%N"#;
    let options = ["--permits", "2", "--ttl", "10s", "--wait", "30s"];
    let contenders: Vec<_> = (0..3)
        .map(|_| {
            let command = ctx.lockctl(&run_sh("pool", &options, script));
            tokio::spawn(crate::finish(command))
        })
        .collect();
    let mut runs = Vec::new();
    for contender in contenders {
        let out = contender.await.unwrap();
        assert_eq!(out.code, 0, "{out:?}");
        let words: Vec<&str> = out.stdout.split_whitespace().collect();
        let [permit, _token, start, end] = words[..] else {
            panic!("{out:?}")
        };
        let (start, end): (u128, u128) = (start.parse().unwrap(), end.parse().unwrap());
        assert!(permit == "0" || permit == "1", "{out:?}");
        runs.push((start, end, permit.to_owned()));
    }
    runs.sort();
    let overlaps = |a: &(u128, u128, String), b: &(u128, u128, String)| a.0 < b.1 && b.0 < a.1;
    assert!(overlaps(&runs[0], &runs[1]), "two ran at once: {runs:?}");
    assert!(
        !(overlaps(&runs[0], &runs[2]) && overlaps(&runs[1], &runs[2])),
        "three at once: {runs:?}"
    );
    assert_ne!(runs[0].2, runs[1].2, "two holders of one permit: {runs:?}");
    let seen = ctx.run(&["get", "--semaphore", "pool", "-o", "json"]).await;
    assert_eq!(
        (seen.code, seen.json()["available"].clone()),
        (0, 2.into()),
        "{seen:?}"
    );
    let listed = ctx.run(&["list", "--semaphores"]).await;
    assert!(listed.stdout.contains("pool"), "{listed:?}");
    let mismatch = ctx.run(&run_sh("pool", &["--permits", "3"], "true")).await;
    assert_eq!(mismatch.code, 65, "{mismatch:?}");
    assert_eq!(ctx.run(&["delete", "--semaphore", "pool"]).await.code, 0);
    let gone = ctx.run(&["get", "--semaphore", "pool"]).await;
    assert_eq!(gone.code, 66, "{gone:?}");
}
