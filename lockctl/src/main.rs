//! `lockctl`: the Lock API from the shell, and `lockctl run NAME -- CMD`,
//! which runs a command under a lock the way `flock` and `etcdctl lock` do.

mod config;
mod exit;
mod output;
mod run;

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use lock_client::{AcquireOptions, Client, Error, KEY_ENV};

use config::Config;
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

/// The client for `url` (or the configured one) with the configured key.
fn client(url: Option<String>) -> Result<Client, Error> {
    let config = Config::from_env()?;
    let url = url.or(config.url).ok_or_else(|| {
        Error::Config(
            "no URL: pass --url, set LOCK_API_URL or run `lockctl signup --url URL`".into(),
        )
    })?;
    let key = config.api_key.ok_or_else(|| {
        Error::Config("no API key: set LOCK_API_KEY or run `lockctl signup`".into())
    })?;
    Client::new(&url, &key)
}

async fn execute(command: Command, url: Option<String>, printer: &Printer) -> Result<u8, Failure> {
    let exit = match command {
        Command::Signup { print } => signup(url, print, printer).await?,
        Command::Acquire {
            name,
            requester,
            ttl,
            wait,
            idempotency_key,
            permits,
        } => {
            let options = AcquireOptions {
                requester: requester.unwrap_or_else(lock_client::default_requester),
                ttl,
                wait,
                idempotency_key,
            };
            let client = client(url)?;
            let acquired = match permits {
                Some(permits) => client.acquire_permit(&name, permits, &options).await,
                None => client.acquire(&name, &options).await,
            };
            match acquired {
                Ok(lease) => printer.acquired(&lease)?,
                Err(Error::Held { expires_at }) => printer.held(&name, expires_at)?,
                Err(err) => return Err(err.into()),
            }
        }
        Command::Get { name, semaphore } if semaphore.semaphore => {
            printer.semaphore(&client(url)?.get_semaphore(&name).await?)?
        }
        Command::Get { name, .. } => printer.lock(&client(url)?.get(&name).await?)?,
        Command::List { semaphores: true } => {
            printer.semaphores(&client(url)?.list_semaphores().await?)?
        }
        Command::List { semaphores: false } => printer.locks(&client(url)?.list().await?)?,
        Command::Renew {
            name,
            lease,
            ttl,
            semaphore,
        } => {
            let client = client(url)?;
            let answer = match semaphore {
                Semaphore {
                    semaphore: true,
                    permit,
                } => {
                    client
                        .renew_permit(&name, &lease, permit, ttl, None)
                        .await?
                }
                _ => client.renew(&name, &lease, ttl, None).await?,
            };
            printer.renewed(&name, &answer)?
        }
        Command::Unlock {
            name,
            lease,
            force,
            semaphore,
        } => unlock(client(url)?, &name, lease, force, semaphore, printer).await?,
        Command::Delete { name, semaphore } => {
            let client = client(url)?;
            match semaphore.semaphore {
                true => client.delete_semaphore(&name).await?,
                false => client.delete(&name).await?,
            }
            printer.deleted(&name)?
        }
        Command::Keys(KeysCommand::Rotate { old_key_valid_for }) => {
            let client = client(url)?;
            let answer = client.rotate_key(old_key_valid_for).await?;
            let saved = replace_saved_key(client.api_key(), Some(&answer.api_key))?;
            printer.rotated(&answer, saved.as_deref())?
        }
        Command::Keys(KeysCommand::Revoke) => {
            let client = client(url)?;
            client.revoke_key().await?;
            let saved = replace_saved_key(client.api_key(), None)?;
            printer.revoked(saved.as_deref())?
        }
        Command::Keys(KeysCommand::RevokeOthers) => {
            let revoked = client(url)?.revoke_other_keys().await?;
            printer.revoked_others(revoked)?
        }
        Command::Run(args) => return Ok(run::run(client(url)?, args, printer).await),
    };
    Ok(exit.code())
}

/// `lockctl unlock`: a lock's lease or a permit's, or `--force`.
async fn unlock(
    client: Client,
    name: &str,
    lease: Option<String>,
    force: bool,
    semaphore: Semaphore,
    printer: &Printer,
) -> Result<Exit, Failure> {
    let lease = lease.filter(|_| !force);
    let permit = semaphore.permit;
    let exit = match (semaphore.semaphore, lease) {
        (true, Some(lease)) => {
            let answer = client.release_permit(name, &lease, permit, None).await?;
            printer.released(name, &answer)?
        }
        (true, None) => {
            printer.released(name, &client.force_release_permits(name, permit).await?)?
        }
        (false, Some(lease)) => {
            printer.unlocked(name, &client.unlock(name, &lease, None).await?)?
        }
        (false, None) => printer.unlocked(name, &client.force_unlock(name).await?)?,
    };
    Ok(exit)
}

/// `lockctl signup`: a new user; its URL and key saved (or only printed).
async fn signup(url: Option<String>, print: bool, printer: &Printer) -> Result<Exit, Failure> {
    let url = url
        .or(Config::from_env()?.url)
        .ok_or_else(|| Error::Config("no URL: pass --url or set LOCK_API_URL".into()))?;
    let client = Client::anonymous(&url)?;
    let answer = client.sign_up().await?;
    let saved = if print {
        None
    } else {
        let mut config = Config::load()?;
        config.url = Some(client.url().to_owned());
        config.api_key = Some(answer.api_key.clone());
        Some(config.save()?)
    };
    Ok(printer.signed_up(client.url(), &answer, saved.as_deref())?)
}

/// After a rotation or revocation of `old`: if the config file holds `old`
/// (and the environment does not override it), put `new` there instead (or
/// remove it). The file's path, if it was changed.
fn replace_saved_key(
    old: Option<&str>,
    new: Option<&str>,
) -> Result<Option<std::path::PathBuf>, Error> {
    let mut config = Config::load()?;
    let from_env = std::env::var(KEY_ENV).is_ok_and(|k| !k.is_empty());
    if from_env || config.api_key.as_deref() != old {
        return Ok(None);
    }
    config.api_key = new.map(str::to_owned);
    config.save().map(Some)
}
