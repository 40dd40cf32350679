//! `lockctl run NAME [--permits N] -- CMD ARGS...`: acquire the lock (or one
//! of N permits of semaphore NAME, as `consul lock -n N`), waiting if asked;
//! run the command with the lease in its environment while the lease renews
//! itself, forward SIGINT and SIGTERM to it, and when it exits release the
//! lease and exit with its code. A lost lease stops the command instead.

use std::io::{IsTerminal, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use lock_client::lock_wire::LockView;
use lock_client::{AcquireOptions, Client, Error, KeptLease, Lease};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::duration;
use crate::exit::Exit;
use crate::output::note;
use crate::output::{when, Printer};

/// How often the waiting line asks who holds the lock.
const HOLDER_REFRESH: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct RunArgs {
    /// The lock's name.
    name: String,
    /// Lease time to live; the lease is renewed every third of it.
    #[arg(long, value_parser = duration, default_value = "30s")]
    ttl: Duration,
    /// Wait this long for a held lock, asking again past the service's 20 s
    /// (default: do not wait).
    #[arg(long, value_parser = duration, default_value = "0s")]
    wait: Duration,
    /// Who holds it, shown by get and list (default: host/pid).
    #[arg(long)]
    requester: Option<String>,
    /// Hold one of this many permits of semaphore NAME (1 to 64) instead of
    /// the lock NAME.
    #[arg(long, value_parser = crate::permits)]
    permits: Option<u8>,
    /// Exit code when the lock is held and not granted.
    #[arg(long, default_value_t = Exit::Held.code())]
    conflict_exit_code: u8,
    /// After a lost lease, SIGKILL the command this long after SIGTERM.
    #[arg(long, value_parser = duration, default_value = "10s")]
    kill_after: Duration,
    /// The command and its arguments.
    #[arg(last = true, required = true, num_args = 1..)]
    command: Vec<String>,
}

/// Runs `args.command` under the lock; the exit code.
pub async fn run(client: Client, args: RunArgs, printer: &Printer) -> u8 {
    let options = AcquireOptions {
        requester: args
            .requester
            .clone()
            .unwrap_or_else(lock_client::default_requester),
        ttl: Some(args.ttl),
        wait: args.wait,
        idempotency_key: None,
    };
    let lease = match acquire_showing_wait(&client, &args.name, args.permits, &options).await {
        Ok(lease) => lease,
        Err(Error::Held { expires_at }) => {
            note!(
                "lockctl: {} is held by another lease (expires {})",
                args.name,
                when(expires_at)
            );
            return args.conflict_exit_code;
        }
        Err(err) => {
            printer.error(&err);
            return Exit::from(&err).code();
        }
    };
    // Listening before the command starts: a signal from now on reaches it.
    let (Ok(interrupts), Ok(terminations)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        note!("lockctl: cannot handle signals");
        let _ = lease.release().await;
        return Exit::Unavailable.code();
    };
    let mut command = tokio::process::Command::new(&args.command[0]);
    command
        .args(&args.command[1..])
        .env("LOCK_NAME", lease.name())
        .env("LOCK_LEASE_ID", lease.lease_id())
        .env("LOCK_FENCING_TOKEN", lease.fencing_token().to_string());
    if let Some(permit) = lease.permit() {
        command.env("LOCK_PERMIT", permit.to_string());
    }
    let spawned = command.spawn();
    let kept = lease.keep_alive();
    let child = match spawned {
        Ok(child) => child,
        Err(err) => {
            note!("lockctl: cannot run {:?}: {err}", args.command[0]);
            let _ = kept.release().await;
            // The shell's codes: 127 not found, 126 found but not runnable.
            return if err.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
        }
    };
    supervise(child, kept, (interrupts, terminations), &args).await
}

/// What ended the wait on the command.
enum Ended {
    Exited(std::io::Result<ExitStatus>),
    LeaseLost(String),
}

/// Waits for the command while forwarding signals; then releases the lock
/// (command exited) or stops the command (lease lost).
async fn supervise(
    mut child: tokio::process::Child,
    kept: KeptLease,
    (mut interrupts, mut terminations): (Signal, Signal),
    args: &RunArgs,
) -> u8 {
    let pid = child.id().and_then(|id| i32::try_from(id).ok());
    let ended = loop {
        tokio::select! {
            biased;
            status = child.wait() => break Ended::Exited(status),
            reason = kept.lost() => break Ended::LeaseLost(reason),
            _ = interrupts.recv() => send(pid, libc::SIGINT),
            _ = terminations.recv() => send(pid, libc::SIGTERM),
        }
    };
    match ended {
        Ended::Exited(status) => release_after(status, kept, args).await,
        Ended::LeaseLost(reason) => stop_after_loss(child, pid, &reason, args).await,
    }
}

/// The command exited with `status`: releases the lock; the exit code.
async fn release_after(status: std::io::Result<ExitStatus>, kept: KeptLease, args: &RunArgs) -> u8 {
    let code = match status {
        Ok(status) => exit_code(status),
        Err(err) => {
            note!("lockctl: lost track of the command: {err}");
            Exit::Unavailable.code()
        }
    };
    match kept.release().await {
        Ok(_) => code,
        Err(Error::LeaseLost(reason)) => {
            note!(
                "lockctl: the lease on {} was lost before the command ended ({reason})",
                args.name
            );
            Exit::LeaseLost.code()
        }
        Err(err) => {
            // The command's work is done; the lease will expire.
            note!(
                "lockctl: could not release {} (it expires within {:?}): {err}",
                args.name,
                args.ttl
            );
            code
        }
    }
}

/// The lease was lost (`reason`): stops the command, SIGTERM then, after
/// `--kill-after`, SIGKILL; leaves the lock alone (it may be someone
/// else's now).
async fn stop_after_loss(
    mut child: tokio::process::Child,
    pid: Option<i32>,
    reason: &str,
    args: &RunArgs,
) -> u8 {
    note!(
        "lockctl: lost the lease on {} ({reason}); stopping the command",
        args.name
    );
    send(pid, libc::SIGTERM);
    if tokio::time::timeout(args.kill_after, child.wait())
        .await
        .is_err()
    {
        note!(
            "lockctl: the command outlived --kill-after {:?}; sending SIGKILL",
            args.kill_after
        );
        send(pid, libc::SIGKILL);
        let _ = child.wait().await;
    }
    Exit::LeaseLost.code()
}

/// Sends `signal` to the command (if it is still ours to signal).
fn send(pid: Option<i32>, signal: i32) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// The command's code, or 128 + the signal that ended it (as shells report).
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(u8::MAX),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(u8::MAX),
        (None, None) => Exit::Unavailable.code(),
    }
}

/// Acquires the lock (or one of `permits`); while waiting with stderr on a
/// terminal, keeps one status line there: who holds it, until when, how
/// long we have waited.
async fn acquire_showing_wait(
    client: &Client,
    name: &str,
    permits: Option<u8>,
    options: &AcquireOptions,
) -> Result<Lease, Error> {
    let acquiring = async {
        match permits {
            Some(permits) => client.acquire_permit(name, permits, options).await,
            None => client.acquire(name, options).await,
        }
    };
    if options.wait.is_zero() || !std::io::stderr().is_terminal() {
        return acquiring.await;
    }
    tokio::pin!(acquiring);
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let mut holder: Option<String> = None;
    let mut asked: Option<Instant> = None;
    loop {
        tokio::select! {
            result = &mut acquiring => {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
                return result;
            }
            _ = ticks.tick() => {
                if asked.is_none_or(|at| at.elapsed() >= HOLDER_REFRESH) {
                    asked = Some(Instant::now());
                    holder = holders(client, name, permits).await;
                }
                let held_by = holder.as_deref().unwrap_or("another lease");
                let _ = write!(
                    std::io::stderr(),
                    "\r\x1b[Klockctl: waiting for {name}: held by {held_by}; waited {}s of {}s",
                    started.elapsed().as_secs(),
                    options.wait.as_secs()
                );
                let _ = std::io::stderr().flush();
            }
        }
    }
}

/// Who holds `name` now, for the waiting line.
async fn holders(client: &Client, name: &str, permits: Option<u8>) -> Option<String> {
    if permits.is_none() {
        let lock: LockView = client.get(name).await.ok()?;
        return Some(format!(
            "{} until {}",
            lock.leased_by,
            when(lock.expires_at)
        ));
    }
    let semaphore = client.get_semaphore(name).await.ok()?;
    let next = semaphore.holders.iter().filter_map(|h| h.expires_at).min();
    let count = semaphore.holders.len();
    Some(format!("{count} leases, the first until {}", when(next)))
}
