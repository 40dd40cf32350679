//! Every `lockctl` subcommand but `run`, and its exit codes.

use std::os::unix::fs::PermissionsExt;

use lock_client::AcquireOptions;

/// The config file `lockctl signup` writes, as the tests read it back.
#[derive(serde::Deserialize)]
struct Config {
    url: Option<String>,
    api_key: Option<String>,
}

use crate::{finish, Ctx};

pub async fn signup_saves_the_config_0600_and_print_only_prints(ctx: Ctx) {
    // Nothing configured: a clear error and exit 78.
    let none = finish(ctx.bare_lockctl(&["list"])).await;
    assert_eq!(none.code, 78, "{none:?}");
    assert!(none.stderr.contains("lockctl signup"), "{none:?}");

    let printed = finish(ctx.bare_lockctl(&["--url", &ctx.url, "signup", "--print"])).await;
    assert_eq!(printed.code, 0, "{printed:?}");
    assert!(
        printed
            .stdout
            .contains(&format!("LOCK_API_URL={}", ctx.url)),
        "{printed:?}"
    );
    assert!(printed.stdout.contains("LOCK_API_KEY="), "{printed:?}");
    let file = ctx.config_home.join("lockctl/config.toml");
    assert!(!file.exists(), "--print saved a file");

    let saved = finish(ctx.bare_lockctl(&["--url", &ctx.url, "signup"])).await;
    assert_eq!(saved.code, 0, "{saved:?}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "config file mode");
    let config: Config = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(config.url.as_deref(), Some(ctx.url.as_str()));
    let saved_key = config.api_key.unwrap();
    assert!(
        !saved.stdout.contains(&saved_key),
        "the key is printed: {saved:?}"
    );

    // The file alone is enough; the environment overrides it.
    let acquired = finish(ctx.bare_lockctl(&["-o", "json", "acquire", "from-file"])).await;
    assert_eq!(acquired.code, 0, "{acquired:?}");
    let listed = finish(ctx.bare_lockctl(&["-o", "json", "list"])).await;
    assert_eq!(listed.json()["locks"][0]["lockName"], "from-file");
    let mut other = ctx.bare_lockctl(&["-o", "json", "list"]);
    other.env(lock_client::KEY_ENV, &ctx.key);
    let theirs = finish(other).await;
    assert_eq!(theirs.code, 0, "{theirs:?}");
    assert_eq!(
        theirs.json()["locks"],
        serde_json::json!([]),
        "LOCK_API_KEY did not override the file"
    );
    let mut bogus = ctx.bare_lockctl(&["list"]);
    bogus.env(lock_client::KEY_ENV, "550e8400-e29b-41d4-a716-446655440000");
    assert_eq!(finish(bogus).await.code, 77);
}

pub async fn lock_subcommands_answer_with_their_exit_codes(ctx: Ctx) {
    let acquired = ctx
        .run(&[
            "-o",
            "json",
            "acquire",
            "build",
            "--ttl",
            "1m",
            "--requester",
            "ci",
        ])
        .await;
    assert_eq!(acquired.code, 0, "{acquired:?}");
    let lease = acquired.json()["leaseId"].as_str().unwrap().to_owned();
    let first_token = acquired.json()["fencingToken"].as_u64().unwrap();

    let held = ctx.run(&["acquire", "build"]).await;
    assert_eq!(held.code, 75, "{held:?}");
    assert!(held.stderr.contains("held by another lease"), "{held:?}");

    let shown = ctx.run(&["-o", "json", "get", "build"]).await;
    assert_eq!(
        (
            shown.json()["locked"].clone(),
            shown.json()["leasedBy"].clone()
        ),
        (true.into(), "ci".into())
    );
    let human = ctx.run(&["get", "build"]).await;
    assert!(human.stdout.contains("state         held"), "{human:?}");

    let renewed = ctx
        .run(&["-o", "json", "renew", "build", &lease, "--ttl", "5m"])
        .await;
    assert_eq!(
        (renewed.code, renewed.json()["renewed"].clone()),
        (0, true.into()),
        "{renewed:?}"
    );
    let stranger = "550e8400-e29b-41d4-a716-446655440000";
    let refused = ctx.run(&["renew", "build", stranger]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    let not_theirs = ctx.run(&["unlock", "build", stranger]).await;
    assert_eq!(not_theirs.code, 1, "{not_theirs:?}");

    let unlocked = ctx.run(&["unlock", "build", &lease]).await;
    assert_eq!(
        (unlocked.code, unlocked.stdout.trim()),
        (0, "unlocked build"),
        "{unlocked:?}"
    );
    retries_across_processes_get_the_same_lease(&ctx, first_token).await;
    let still_held = ctx.run(&["delete", "build"]).await;
    assert_eq!(
        still_held.code, 75,
        "a held lock is not deleted: {still_held:?}"
    );
    let forced = ctx.run(&["unlock", "build", "--force"]).await;
    assert_eq!(forced.code, 0, "{forced:?}");

    let deleted = ctx.run(&["delete", "build"]).await;
    assert_eq!(deleted.code, 0, "{deleted:?}");
    assert_eq!(ctx.run(&["get", "build"]).await.code, 66);
    assert_eq!(ctx.run(&["unlock", "build", "--force"]).await.code, 66);

    let blank = ctx.run(&["acquire", " "]).await;
    assert_eq!(blank.code, 65, "{blank:?}");
    assert!(blank.stderr.contains("lockName"), "{blank:?}");
    let usage = ctx.run(&["acquire", "x", "--ttl", "soon"]).await;
    assert_eq!(usage.code, 2, "{usage:?}");
    let both = ctx.run(&["unlock", "x", stranger, "--force"]).await;
    assert_eq!(both.code, 2, "{both:?}");
}

/// `build` is free after `first_token`: a retry from another process with
/// the same Idempotency-Key gets the same lease, with another requester a 65.
async fn retries_across_processes_get_the_same_lease(ctx: &Ctx, first_token: u64) {
    // The same key and the same requester (the default requester,
    // host/pid, differs per process).
    let keyed = ["-o", "json", "acquire", "build", "--idempotency-key", "k-1"];
    let again = ctx
        .run(&[&keyed[..], &["--requester", "ci"]].concat())
        .await;
    assert!(
        again.json()["fencingToken"].as_u64().unwrap() > first_token,
        "{again:?}"
    );
    let retried = ctx
        .run(&[&keyed[..], &["--requester", "ci"]].concat())
        .await;
    assert_eq!(
        retried.json()["leaseId"],
        again.json()["leaseId"],
        "same key, same lease"
    );
    let reused = ctx
        .run(&[&keyed[..], &["--requester", "someone-else"]].concat())
        .await;
    assert_eq!(
        reused.code, 65,
        "the key was granted for another requester: {reused:?}"
    );
    assert!(reused.stderr.contains("Idempotency-Key"), "{reused:?}");
}

pub async fn list_shows_a_table_and_json(ctx: Ctx) {
    let client = ctx.client();
    let options = AcquireOptions {
        requester: "nightly".into(),
        ..AcquireOptions::default()
    };
    let held = client.acquire("b-held", &options).await.unwrap();
    let free = client.acquire("a-free", &options).await.unwrap();
    free.release().await.unwrap();
    let table = ctx.run(&["list"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{table:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATE", "HOLDER", "SINCE", "EXPIRES", "TOKEN"]
    );
    let row = |line: &str| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(row(lines[1])[..3], ["a-free", "free", "nightly"]);
    assert_eq!(row(lines[2])[..3], ["b-held", "held", "nightly"]);
    assert_eq!(
        row(lines[2])[4..],
        ["never".to_owned(), held.fencing_token().to_string()]
    );
    let json = ctx.run(&["-o", "json", "list"]).await.json();
    let names: Vec<&str> = json["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lockName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a-free", "b-held"]);
}

pub async fn keys_rotate_and_revoke_update_the_config(ctx: Ctx) {
    let signed = finish(ctx.bare_lockctl(&["--url", &ctx.url, "signup"])).await;
    assert_eq!(signed.code, 0, "{signed:?}");
    let file = ctx.config_home.join("lockctl/config.toml");
    let key_in_file = || {
        let config: Config = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        config.api_key
    };
    let first = key_in_file().unwrap();
    assert_eq!(finish(ctx.bare_lockctl(&["acquire", "mine"])).await.code, 0);

    let rotated = finish(ctx.bare_lockctl(&["keys", "rotate"])).await;
    assert_eq!(rotated.code, 0, "{rotated:?}");
    let second = key_in_file().unwrap();
    assert_ne!(first, second, "the new key was not saved");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut old = ctx.bare_lockctl(&["list"]);
    old.env(lock_client::KEY_ENV, &first);
    assert_eq!(finish(old).await.code, 77, "the old key still works");
    let same_user = finish(ctx.bare_lockctl(&["-o", "json", "get", "mine"])).await;
    assert_eq!(
        same_user.code, 0,
        "the new key is another user's: {same_user:?}"
    );

    let graced =
        finish(ctx.bare_lockctl(&["-o", "json", "keys", "rotate", "--old-key-valid-for", "10m"]))
            .await;
    assert!(graced.json()["oldKeyExpiresAt"].is_string(), "{graced:?}");
    let mut during_grace = ctx.bare_lockctl(&["list"]);
    during_grace.env(lock_client::KEY_ENV, &second);
    assert_eq!(
        finish(during_grace).await.code,
        0,
        "the old key stopped during its grace"
    );

    let revoked = finish(ctx.bare_lockctl(&["keys", "revoke"])).await;
    assert_eq!(revoked.code, 0, "{revoked:?}");
    assert_eq!(key_in_file(), None, "the revoked key stayed in the file");
    assert_eq!(finish(ctx.bare_lockctl(&["list"])).await.code, 78);
}

/// `lockctl list | head -1`: the reader closes the pipe before lockctl
/// writes; lockctl ends quietly with 0 (it used to panic, exit 101).
pub async fn list_into_a_closed_pipe_ends_quietly(ctx: Ctx) {
    for n in 0..3 {
        assert_eq!(ctx.run(&["acquire", &format!("piped-{n}")]).await.code, 0);
    }
    let mut list = ctx.lockctl(&["list"]).spawn().unwrap();
    // Closed now, before lockctl has asked the service for anything to print.
    drop(list.stdout.take());
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), list.wait_with_output())
        .await
        .expect("lockctl finished")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
}
