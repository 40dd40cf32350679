//! `lockctl`: the Lock API from the shell, and `lockctl run NAME -- CMD`,
//! which runs a command under a lock the way `flock` and `etcdctl lock` do.

mod commands;
mod config;
mod exit;
mod output;
mod run;

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use lock_client::Error;

use commands::execute;
use exit::Exit;
use output::{note, Printer};

const EXIT_CODES: &str = "\
Semaphores: --permits N on acquire and run takes one of N permits of a
semaphore (a name space of its own); --semaphore on get, renew, unlock and
delete, and list --semaphores, reach them.

Exit codes: 0 success; 1 the service said no (unlock or renew answered false,
too many keys to rotate);
2 usage; 65 bad request (or --permits other than the semaphore's); 66 lock or
semaphore not found; 69 service unreachable or failing; 73 lock quota exceeded; 74 output could not be written (a closed pipe is 0);
75 lock held: not granted, or not deleted (run: --conflict-exit-code);
76 run: lease lost while the command ran; 77 unauthorized; 78 not configured.
run otherwise exits with the command's code, or 128 + the signal that ended it.

Configuration: LOCK_API_URL and LOCK_API_KEY, else the file lockctl signup
writes, $XDG_CONFIG_HOME/lockctl/config.toml (default ~/.config/lockctl).";

/// The Lock API from the shell; `lockctl run NAME -- CMD` runs a command
/// holding a lock.
#[derive(Parser)]
#[command(name = "lockctl", version, after_help = EXIT_CODES)]
struct Cli {
    /// The service's URL (default: LOCK_API_URL, then the config file).
    #[arg(long, global = true)]
    url: Option<String>,
    /// Output format.
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Human)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Human,
    /// One JSON document on stdout, for scripts.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create a user; save the URL and its key in the config file (mode 0600).
    Signup {
        /// Only print the URL and key; save nothing.
        #[arg(long)]
        print: bool,
    },
    /// Acquire a lock: print the lease id and fencing token.
    Acquire {
        /// The lock's name.
        name: String,
        /// Who holds it, shown by get and list (default: host/pid).
        #[arg(long)]
        requester: Option<String>,
        /// Lease time to live, e.g. 30s, 5m (default: the service's).
        #[arg(long, value_parser = duration)]
        ttl: Option<Duration>,
        /// Wait this long for a held lock (default: do not wait).
        #[arg(long, value_parser = duration, default_value = "0s")]
        wait: Duration,
        /// Retry key: the same key gets the same lease back.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Take one of this many permits of semaphore NAME instead (1 to 64).
        #[arg(long, value_parser = permits)]
        permits: Option<u8>,
    },
    /// Show a lock (or, with --semaphore, a semaphore).
    Get {
        /// The lock's name.
        name: String,
        #[command(flatten)]
        semaphore: Semaphore,
    },
    /// List every lock of this user (or, with --semaphores, every semaphore).
    List {
        /// List the semaphores instead.
        #[arg(long)]
        semaphores: bool,
    },
    /// Extend a live lease.
    Renew {
        /// The lock's name.
        name: String,
        /// The lease id acquire printed.
        lease: String,
        /// New time to live from now (default: the lease's own).
        #[arg(long, value_parser = duration)]
        ttl: Option<Duration>,
        #[command(flatten)]
        semaphore: Semaphore,
    },
    /// Release a lease, or with --force whatever lease holds the lock.
    Unlock {
        /// The lock's name.
        name: String,
        /// The lease id acquire printed.
        #[arg(required_unless_present = "force")]
        lease: Option<String>,
        /// Release it whoever holds it (a semaphore: every permit, or --permit).
        #[arg(long, conflicts_with = "lease")]
        force: bool,
        #[command(flatten)]
        semaphore: Semaphore,
    },
    /// Delete a lock no lease holds, freeing its quota slot.
    Delete {
        /// The lock's name.
        name: String,
        #[command(flatten)]
        semaphore: Semaphore,
    },
    /// Rotate or revoke this key, or revoke this user's other keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run a command holding a lock, renewing it while the command runs.
    Run(run::RunArgs),
}

/// Whether NAME is a semaphore's, and which permit.
#[derive(clap::Args, Clone, Copy)]
struct Semaphore {
    /// NAME is a semaphore's.
    #[arg(long)]
    semaphore: bool,
    /// The permit (0-based) the lease holds, as acquire printed (one call fewer).
    #[arg(long, requires = "semaphore", value_parser = clap::value_parser!(u8).range(0..64))]
    permit: Option<u8>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// A new key for this user (saved in the config file if the old one was there).
    Rotate {
        /// How long the old key keeps working, e.g. 10m (default: it stops now).
        #[arg(long, value_parser = duration)]
        old_key_valid_for: Option<Duration>,
    },
    /// This key stops working (and leaves the config file).
    Revoke,
    /// Every other key of this user stops working (a leaked old key, say);
    /// this one stays. A rotated-out key may not.
    RevokeOthers,
}

/// A count of permits: 1 to 64.
fn permits(text: &str) -> Result<u8, String> {
    match text.trim().parse::<u8>() {
        Ok(permits @ 1..=64) => Ok(permits),
        _ => Err("must be a whole number from 1 to 64".into()),
    }
}

/// `30s`, `5m`, `1h 30m`, or a bare number of seconds.
fn duration(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => humantime::parse_duration(text).map_err(|e| e.to_string()),
    }
}

/// Why a command did not end as asked: the service's answer, or the output.
enum Failure {
    Api(Error),
    Output(io::Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Self::Api(err)
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Self::Output(err)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            let exit = if err.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            return ExitCode::from(exit.code());
        }
    };
    let printer = Printer::new(cli.output);
    let code = match execute(cli.command, cli.url, &printer).await {
        Ok(code) => code,
        Err(Failure::Api(err)) => {
            printer.error(&err);
            Exit::from(&err).code()
        }
        // `lockctl list | head -1`: the reader has what it wanted.
        Err(Failure::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(Failure::Output(err)) => {
            note!("lockctl: cannot write the output: {err}");
            Exit::Output.code()
        }
    };
    ExitCode::from(code)
}
