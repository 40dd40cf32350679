//! One line of the soak's history file: an operation as its client saw it.
//! The file is JSON lines, written as the run goes and read back whole by
//! the checker (`--check FILE` reads one again).

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Acquire,
    Renew,
    Unlock,
    Force,
    Delete,
    Get,
    List,
    PermitAcquire,
    PermitRenew,
    PermitRelease,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Self::Acquire,
        Self::Renew,
        Self::Unlock,
        Self::Force,
        Self::Delete,
        Self::Get,
        Self::List,
        Self::PermitAcquire,
        Self::PermitRenew,
        Self::PermitRelease,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Acquire => "acquire",
            Self::Renew => "renew",
            Self::Unlock => "unlock",
            Self::Force => "force release",
            Self::Delete => "delete",
            Self::Get => "get",
            Self::List => "list page",
            Self::PermitAcquire => "permit acquire",
            Self::PermitRenew => "permit renew",
            Self::PermitRelease => "permit release",
        }
    }
}

/// One operation. Times are wall-clock microseconds (the functions run on
/// this machine's clock): `call` when its first attempt was sent, `ret`
/// when its clear answer arrived.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub tenant: usize,
    pub worker: usize,
    pub kind: Kind,
    /// The lock's or semaphore's name (empty for a list page).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub call: u64,
    pub ret: u64,
    /// The HTTP status of the clear answer (0: none).
    pub status: u16,
    /// Attempts after the first (unclear answers: a 5xx, a broken connection).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Attempts whose answer was unclear and that may have landed, and
    /// landed late: every one of `retries` (histories written before 4 Dec
    /// 2026 counted only a 504 or a broken connection here; see
    /// [`Entry::unseen_attempts`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: u32,
    /// `locked`, `unlocked`, `renewed`, `deleted`, `acquired`, `released`.
    #[serde(default)]
    pub ok: bool,
    /// The lease asked about or granted (for a get: the one shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit: Option<u64>,
    /// The TTL asked for, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// `expiresAt` in the answer, wall-clock ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// The answer named a waiter's reservation (`reservedUntil`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reserved: bool,
    /// An acquire sent again with its `Idempotency-Key` after its grant:
    /// the lease that grant gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<String>,
    /// An acquire without an `Idempotency-Key` whose answer was unclear: it
    /// is not retried, and may have granted a lease nobody knows.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unclear: bool,
    /// The holder a get or list page showed (`leasedBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// Lock views of other tenants on a list page (must be 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub foreign: u32,
    /// What was wrong: no clear answer in time, or an answer no correct
    /// service gives (a violation in itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Entry {
    /// An entry of `kind` on `name` by tenant `tenant`'s worker `worker`,
    /// called at `call`; the rest is filled from the answer.
    pub fn new(kind: Kind, tenant: usize, worker: usize, name: &str, call: u64) -> Self {
        Self {
            tenant,
            worker,
            kind,
            name: name.to_owned(),
            call,
            ret: call,
            status: 0,
            retries: 0,
            lost: 0,
            ok: false,
            lease: None,
            token: None,
            permit: None,
            ttl: None,
            expires_ms: None,
            reserved: false,
            replay_of: None,
            unclear: false,
            holder: None,
            foreign: 0,
            error: None,
        }
    }

    /// Whether an attempt answered unclearly may have landed unseen. Any
    /// `5xx` may follow a write that landed, not only a `504`: a function
    /// whose DynamoDB answer was lost (a dropped answer, the engine
    /// restarted) and whose retries then failed answers `500` or `503`.
    pub fn unseen_attempts(&self) -> bool {
        self.retries > 0 || self.lost > 0
    }
}

/// Now, in wall-clock microseconds.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_micros() as u64
}

/// The requester string of tenant `tenant`'s worker `worker`: the tenant is
/// in it, so a view of another tenant's lock shows itself.
pub fn requester(tenant: usize, worker: usize) -> String {
    format!("t{tenant}-w{worker}")
}

/// Whether `holder` is one of tenant `tenant`'s requesters.
pub fn is_tenants(holder: &str, tenant: usize) -> bool {
    holder
        .strip_prefix(&format!("t{tenant}-"))
        .is_some_and(|rest| rest.starts_with('w'))
}

/// Writes entries to `path` as JSON lines until the channel closes.
pub fn write_all(path: &Path, entries: std::sync::mpsc::Receiver<Entry>) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut written = 0;
    for entry in entries {
        serde_json::to_writer(&mut out, &entry)?;
        out.write_all(b"\n")?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}

/// Every entry of a history file.
pub fn read_all(path: &Path) -> Result<Vec<Entry>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.map_err(|e| e.to_string())?;
            serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect()
}
