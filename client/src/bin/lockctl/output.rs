//! What `lockctl` prints: lines and tables for people, one JSON document on
//! stdout with `--output json`. Errors go to stderr either way.

use std::path::Path;

use lock_client::lock_wire::{KeyAnswer, LockView, RenewAnswer, Timestamp, UnlockAnswer};
use lock_client::{Error, Lease};
use serde_json::json;

use crate::{exit, Output};

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
    fn document(&self, value: &impl serde::Serialize) {
        println!(
            "{}",
            serde_json::to_string(value).expect("answers serialise")
        );
    }

    pub fn error(&self, err: &Error) {
        eprintln!("lockctl: {err}");
    }

    pub fn signed_up(
        &self,
        url: &str,
        answer: &KeyAnswer,
        saved: Option<&Path>,
    ) -> Result<u8, Error> {
        if self.json() {
            self.document(&json!({
                "url": url, "userId": answer.user_id, "apiKey": answer.api_key,
                "savedTo": saved.map(|p| p.display().to_string()),
            }));
        } else if let Some(path) = saved {
            println!(
                "signed up as user {}; URL and key saved to {}",
                answer.user_id,
                path.display()
            );
        } else {
            println!(
                "LOCK_API_URL={url}\nLOCK_API_KEY={}\n# user {}",
                answer.api_key, answer.user_id
            );
        }
        Ok(0)
    }

    pub fn acquired(&self, lease: &Lease) -> Result<u8, Error> {
        if self.json() {
            self.document(&json!({
                "locked": true, "lockName": lease.name(), "leaseId": lease.lease_id(),
                "fencingToken": lease.fencing_token(), "expiresAt": lease.expires_at(),
            }));
        } else {
            println!(
                "acquired {}: lease {}, fencing token {}, expires {}",
                lease.name(),
                lease.lease_id(),
                lease.fencing_token(),
                when(lease.expires_at())
            );
        }
        Ok(0)
    }

    pub fn held(&self, name: &str, expires_at: Option<Timestamp>) -> Result<u8, Error> {
        if self.json() {
            self.document(&json!({ "locked": false, "lockName": name, "expiresAt": expires_at }));
        }
        eprintln!(
            "lockctl: {name} is held by another lease (expires {})",
            when(expires_at)
        );
        Ok(exit::HELD)
    }

    pub fn lock(&self, lock: &LockView) -> Result<u8, Error> {
        if self.json() {
            self.document(lock);
            return Ok(0);
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
            println!("{field:<13} {value}");
        }
        Ok(0)
    }

    pub fn locks(&self, locks: &[LockView]) -> Result<u8, Error> {
        if self.json() {
            self.document(&json!({ "locks": locks }));
            return Ok(0);
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
        let header = ["NAME", "STATE", "HOLDER", "SINCE", "EXPIRES", "TOKEN"].map(String::from);
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
            println!("{}", cells.join("  ").trim_end());
        }
        Ok(0)
    }

    pub fn renewed(&self, name: &str, answer: &RenewAnswer) -> Result<u8, Error> {
        if self.json() {
            self.document(answer);
        } else if answer.renewed {
            println!("renewed {name} until {}", when(answer.expires_at));
        }
        Ok(refused_unless(
            answer.renewed,
            name,
            "renewed",
            answer.message.as_deref(),
        ))
    }

    pub fn unlocked(&self, name: &str, answer: &UnlockAnswer) -> Result<u8, Error> {
        if self.json() {
            self.document(answer);
        } else if answer.unlocked {
            println!("unlocked {name}");
        }
        Ok(refused_unless(
            answer.unlocked,
            name,
            "unlocked",
            answer.message.as_deref(),
        ))
    }

    pub fn deleted(&self, name: &str) -> Result<u8, Error> {
        if self.json() {
            self.document(&json!({ "deleted": true, "lockName": name }));
        } else {
            println!("deleted {name}");
        }
        Ok(0)
    }

    pub fn rotated(&self, answer: &KeyAnswer, saved: Option<&Path>) -> Result<u8, Error> {
        let old_key = match answer.old_key_expires_at {
            Some(at) => format!("the old key works until {at}"),
            None => "the old key no longer works".into(),
        };
        if self.json() {
            self.document(&json!({
                "userId": answer.user_id, "apiKey": answer.api_key,
                "oldKeyExpiresAt": answer.old_key_expires_at,
                "savedTo": saved.map(|p| p.display().to_string()),
            }));
        } else if let Some(path) = saved {
            println!("rotated: new key saved to {}; {old_key}", path.display());
        } else {
            println!("LOCK_API_KEY={}\n# {old_key}", answer.api_key);
        }
        Ok(0)
    }

    pub fn revoked_others(&self, revoked: u64) -> Result<u8, Error> {
        if self.json() {
            self.document(&json!({ "revokedKeys": revoked }));
        } else {
            println!("revoked {revoked} other key(s); this key still works");
        }
        Ok(0)
    }

    pub fn revoked(&self, saved: Option<&Path>) -> Result<u8, Error> {
        if self.json() {
            self.document(&json!({ "revoked": true }));
        } else {
            match saved {
                Some(path) => println!("revoked; removed the key from {}", path.display()),
                None => println!("revoked"),
            }
        }
        Ok(0)
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
pub fn when(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "never".into(), |t| t.to_string())
}

/// 0 if `done`; otherwise says on stderr why `name` was not `what` (the
/// server's message, or that the lease is not the live one) and gives
/// [`exit::REFUSED`].
fn refused_unless(done: bool, name: &str, what: &str, message: Option<&str>) -> u8 {
    if done {
        return 0;
    }
    eprintln!(
        "lockctl: {name} not {what}: {}",
        message.unwrap_or("not the live lease")
    );
    exit::REFUSED
}
