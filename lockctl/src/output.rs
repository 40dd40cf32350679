//! What `lockctl` prints: lines and tables for people, one JSON document on
//! stdout with `--output json`. Errors go to stderr either way. Printing
//! returns the write's error (a closed pipe ends `lockctl` quietly, as
//! `ripgrep` does) and the exit code the answer means.

use std::io::{self, Write};
use std::path::Path;

use lock_client::lock_wire::{
    KeyAnswer, LockView, ReleasePermitAnswer, RenewAnswer, SemaphoreView, Timestamp, UnlockAnswer,
};
use lock_client::{Error, Lease};
use serde_json::json;

use crate::exit::Exit;
use crate::Output;

/// A line on stderr; a closed stderr is not worth failing for.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("{}\n", format_args!($($arg)*)));
    }};
}
pub(crate) use note;

/// What printing an answer ends in: the exit code, or the write that failed.
pub type Printed = io::Result<Exit>;

/// Prints answers in one format.
pub struct Printer {
    output: Output,
}

impl Printer {
    pub fn new(output: Output) -> Self {
        Self { output }
    }

    fn json(&self) -> bool {
        self.output == Output::Json
    }

    /// One JSON document, on one line.
    fn document(&self, value: &impl serde::Serialize) -> io::Result<()> {
        let text = serde_json::to_string(value).map_err(io::Error::other)?;
        writeln!(io::stdout(), "{text}")
    }

    /// `document` with `--output json`, else the line(s) `text` makes.
    fn either(&self, document: serde_json::Value, text: impl FnOnce() -> String) -> io::Result<()> {
        if self.json() {
            self.document(&document)
        } else {
            writeln!(io::stdout(), "{}", text())
        }
    }

    pub fn error(&self, err: &Error) {
        note!("lockctl: {err}");
    }

    pub fn signed_up(&self, url: &str, answer: &KeyAnswer, saved: Option<&Path>) -> Printed {
        let document = json!({
            "url": url, "userId": answer.user_id, "apiKey": answer.api_key,
            "savedTo": saved.map(|p| p.display().to_string()),
        });
        let (user, key) = (&answer.user_id, &answer.api_key);
        self.either(document, || match saved {
            Some(path) => {
                let path = path.display();
                format!("signed up as user {user}; URL and key saved to {path}")
            }
            None => format!("LOCK_API_URL={url}\nLOCK_API_KEY={key}\n# user {user}"),
        })?;
        Ok(Exit::Success)
    }

    pub fn acquired(&self, lease: &Lease) -> Printed {
        let document = match lease.permit() {
            None => json!({
                "locked": true, "lockName": lease.name(), "leaseId": lease.lease_id(),
                "fencingToken": lease.fencing_token(), "expiresAt": lease.expires_at(),
            }),
            Some(permit) => json!({
                "acquired": true, "semaphoreName": lease.name(), "leaseId": lease.lease_id(),
                "permit": permit, "fencingToken": lease.fencing_token(),
                "expiresAt": lease.expires_at(),
            }),
        };
        self.either(document, || {
            let (name, id, token) = (lease.name(), lease.lease_id(), lease.fencing_token());
            let expires = when(lease.expires_at());
            let permit = lease
                .permit()
                .map_or_else(String::new, |p| format!(" permit {p},"));
            format!("acquired {name}:{permit} lease {id}, fencing token {token}, expires {expires}")
        })?;
        Ok(Exit::Success)
    }

    pub fn semaphore(&self, semaphore: &SemaphoreView) -> Printed {
        if self.json() {
            self.document(semaphore)?;
            return Ok(Exit::Success);
        }
        let (name, permits) = (&semaphore.semaphore_name, semaphore.permits);
        let available = semaphore.available;
        writeln!(
            io::stdout(),
            "{name}: {available} of {permits} permits available"
        )?;
        let rows = semaphore.holders.iter().map(|h| {
            [
                h.permit.to_string(),
                h.leased_by.clone(),
                h.lease_id.clone(),
                h.acquired_at.to_string(),
                when(h.expires_at),
                h.fencing_token.to_string(),
            ]
        });
        let header = ["PERMIT", "HOLDER", "LEASE", "SINCE", "EXPIRES", "TOKEN"];
        table(header, rows.collect())?;
        Ok(Exit::Success)
    }

    pub fn semaphores(&self, semaphores: &[SemaphoreView]) -> Printed {
        if self.json() {
            self.document(&json!({ "semaphores": semaphores }))?;
            return Ok(Exit::Success);
        }
        let rows = semaphores.iter().map(|s| {
            let next = s.holders.iter().filter_map(|h| h.expires_at).min();
            let next = next.map_or_else(|| "-".to_owned(), |at| at.to_string());
            [
                s.semaphore_name.clone(),
                s.permits.to_string(),
                s.available.to_string(),
                s.holders.len().to_string(),
                next,
            ]
        });
        table(
            ["NAME", "PERMITS", "AVAILABLE", "HELD", "NEXT EXPIRY"],
            rows.collect(),
        )?;
        Ok(Exit::Success)
    }

    pub fn released(&self, name: &str, answer: &ReleasePermitAnswer) -> Printed {
        if self.json() {
            self.document(answer)?;
        } else if answer.released {
            writeln!(io::stdout(), "released {name}")?;
        }
        Ok(refused_unless(
            answer.released,
            name,
            "released",
            answer.message.as_deref(),
        ))
    }

    pub fn held(&self, name: &str, expires_at: Option<Timestamp>) -> Printed {
        if self.json() {
            self.document(&json!({ "locked": false, "lockName": name, "expiresAt": expires_at }))?;
        }
        note!(
            "lockctl: {name} is held by another lease (expires {})",
            when(expires_at)
        );
        Ok(Exit::Held)
    }

    pub fn lock(&self, lock: &LockView) -> Printed {
        if self.json() {
            self.document(lock)?;
            return Ok(Exit::Success);
        }
        let rows = [
            ("lockName", lock.lock_name.clone()),
            ("state", state(lock).into()),
            ("leasedBy", lock.leased_by.clone()),
            ("leaseId", lock.lease_id.clone()),
            ("fencingToken", lock.fencing_token.to_string()),
            ("createdAt", lock.created_at.to_string()),
            ("updatedAt", lock.updated_at.to_string()),
            ("expiresAt", when(lock.expires_at)),
        ];
        for (field, value) in rows {
            writeln!(io::stdout(), "{field:<13} {value}")?;
        }
        Ok(Exit::Success)
    }

    pub fn locks(&self, locks: &[LockView]) -> Printed {
        if self.json() {
            self.document(&json!({ "locks": locks }))?;
            return Ok(Exit::Success);
        }
        let rows: Vec<[String; 6]> = locks
            .iter()
            .map(|l| {
                [
                    l.lock_name.clone(),
                    state(l).into(),
                    l.leased_by.clone(),
                    l.updated_at.to_string(),
                    when(l.expires_at),
                    l.fencing_token.to_string(),
                ]
            })
            .collect();
        table(
            ["NAME", "STATE", "HOLDER", "SINCE", "EXPIRES", "TOKEN"],
            rows,
        )?;
        Ok(Exit::Success)
    }

    pub fn renewed(&self, name: &str, answer: &RenewAnswer) -> Printed {
        if self.json() {
            self.document(answer)?;
        } else if answer.renewed {
            writeln!(
                io::stdout(),
                "renewed {name} until {}",
                when(answer.expires_at)
            )?;
        }
        Ok(refused_unless(
            answer.renewed,
            name,
            "renewed",
            answer.message.as_deref(),
        ))
    }

    pub fn unlocked(&self, name: &str, answer: &UnlockAnswer) -> Printed {
        if self.json() {
            self.document(answer)?;
        } else if answer.unlocked {
            writeln!(io::stdout(), "unlocked {name}")?;
        }
        Ok(refused_unless(
            answer.unlocked,
            name,
            "unlocked",
            answer.message.as_deref(),
        ))
    }

    pub fn deleted(&self, name: &str) -> Printed {
        let document = json!({ "deleted": true, "lockName": name });
        self.either(document, || format!("deleted {name}"))?;
        Ok(Exit::Success)
    }

    pub fn rotated(&self, answer: &KeyAnswer, saved: Option<&Path>) -> Printed {
        let old_key = match answer.old_key_expires_at {
            Some(at) => format!("the old key works until {at}"),
            None => "the old key no longer works".into(),
        };
        let document = json!({
            "userId": answer.user_id, "apiKey": answer.api_key,
            "oldKeyExpiresAt": answer.old_key_expires_at,
            "savedTo": saved.map(|p| p.display().to_string()),
        });
        self.either(document, || match saved {
            Some(path) => format!("rotated: new key saved to {}; {old_key}", path.display()),
            None => format!("LOCK_API_KEY={}\n# {old_key}", answer.api_key),
        })?;
        Ok(Exit::Success)
    }

    pub fn revoked_others(&self, revoked: u64) -> Printed {
        let document = json!({ "revokedKeys": revoked });
        self.either(document, || {
            format!("revoked {revoked} other key(s); this key still works")
        })?;
        Ok(Exit::Success)
    }

    pub fn revoked(&self, saved: Option<&Path>) -> Printed {
        self.either(json!({ "revoked": true }), || match saved {
            Some(path) => format!("revoked; removed the key from {}", path.display()),
            None => "revoked".into(),
        })?;
        Ok(Exit::Success)
    }
}

/// `held`, `free`: whether a live lease holds the lock.
fn state(lock: &LockView) -> &'static str {
    if lock.locked {
        "held"
    } else {
        "free"
    }
}

/// A timestamp, or `never` for a lease without expiry.
/// `rows` under `header`, in columns as wide as their widest cell.
fn table<const N: usize>(header: [&str; N], rows: Vec<[String; N]>) -> io::Result<()> {
    let header = header.map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(io::stdout(), "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

pub fn when(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "never".into(), |t| t.to_string())
}

/// Success if `done`; otherwise says on stderr why `name` was not `what`
/// (the server's message, or that the lease is not the live one) and gives
/// [`Exit::Refused`].
fn refused_unless(done: bool, name: &str, what: &str, message: Option<&str>) -> Exit {
    if done {
        return Exit::Success;
    }
    note!(
        "lockctl: {name} not {what}: {}",
        message.unwrap_or("not the live lease")
    );
    Exit::Refused
}
