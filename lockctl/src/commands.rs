//! What each `lockctl` command does: the calls it makes and what it prints.

use lock_client::{AcquireOptions, Client, Error, KEY_ENV};

use crate::config::Config;
use crate::exit::Exit;
use crate::output::Printer;
use crate::{run, Command, Failure, KeysCommand, Semaphore};

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

pub async fn execute(
    command: Command,
    url: Option<String>,
    printer: &Printer,
) -> Result<u8, Failure> {
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
            acquire(client(url)?, &name, permits, &options, printer).await?
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
        } => renew(client(url)?, &name, &lease, ttl, semaphore, printer).await?,
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
        Command::Keys(command) => keys(command, url, printer).await?,
        Command::Run(args) => return Ok(run::run(client(url)?, args, printer).await),
    };
    Ok(exit.code())
}

/// `lockctl keys …`.
async fn keys(
    command: KeysCommand,
    url: Option<String>,
    printer: &Printer,
) -> Result<Exit, Failure> {
    Ok(match command {
        KeysCommand::Rotate { old_key_valid_for } => {
            let client = client(url)?;
            let answer = client.rotate_key(old_key_valid_for).await?;
            let saved = replace_saved_key(client.api_key(), Some(&answer.api_key))?;
            printer.rotated(&answer, saved.as_deref())?
        }
        KeysCommand::Revoke => {
            let client = client(url)?;
            client.revoke_key().await?;
            let saved = replace_saved_key(client.api_key(), None)?;
            printer.revoked(saved.as_deref())?
        }
        KeysCommand::RevokeOthers => {
            let revoked = client(url)?.revoke_other_keys().await?;
            printer.revoked_others(revoked)?
        }
    })
}

/// `lockctl renew`: a lock's lease, or a permit's.
async fn renew(
    client: Client,
    name: &str,
    lease: &str,
    ttl: Option<std::time::Duration>,
    semaphore: Semaphore,
    printer: &Printer,
) -> Result<Exit, Failure> {
    let answer = match semaphore.semaphore {
        true => {
            let permit = semaphore.permit;
            client.renew_permit(name, lease, permit, ttl, None).await?
        }
        false => client.renew(name, lease, ttl, None).await?,
    };
    Ok(printer.renewed(name, &answer)?)
}

/// `lockctl acquire`: a lease on the lock, or on one of `permits` permits.
async fn acquire(
    client: Client,
    name: &str,
    permits: Option<u8>,
    options: &AcquireOptions,
    printer: &Printer,
) -> Result<Exit, Failure> {
    let acquired = match permits {
        Some(permits) => client.acquire_permit(name, permits, options).await,
        None => client.acquire(name, options).await,
    };
    Ok(match acquired {
        Ok(lease) => printer.acquired(&lease)?,
        Err(Error::Held { expires_at }) => printer.held(name, expires_at)?,
        Err(err) => return Err(err.into()),
    })
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
