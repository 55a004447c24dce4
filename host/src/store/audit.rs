//! The governance audit log: every action an operator ran (or tried, or previewed),
//! append-only and hash-chained so that editing or deleting an entry is detectable.
//!
//! Tree `audit`:
//! - `e` + seq (u64 big-endian) → the entry's JSON *body* (everything but its hash);
//! - `h` → the head: the last entry's seq and hash.
//!
//! An entry's hash is SHA-256 over its stored body bytes, and every body carries the
//! previous entry's hash (`prev`; 64 zeros for the first). [`Store::verify_audit`]
//! recomputes the chain from the first entry to the head: an edited body no longer
//! matches the next entry's `prev` (or the head), a deleted entry leaves a gap in the
//! sequence, and a cut-off tail no longer reaches the head. Someone able to rewrite the
//! whole database can recompute every hash; to catch that, keep the head hash that
//! `sluice audit` prints somewhere else and compare later.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, from_json, to_json};
use crate::model::{ActionKind, Millis, SentWrite};

/// What an audit entry records: a governance action an operator asked for, or a write
/// the host let a connector send on its own (a declared scan write). Serialized as the
/// bare name (`suspend-user`, `scan-write`), so entries written before scan writes
/// were audited read, and hash, the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum AuditAction {
    Action(ActionKind),
    Host(HostWrite),
}

/// Writes the host audits without an operator asking (see [`AuditAction`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HostWrite {
    /// A write request a connector sent while scanning, as its `describe` declared.
    ScanWrite,
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditAction::Action(a) => a.fmt(f),
            AuditAction::Host(HostWrite::ScanWrite) => f.write_str("scan-write"),
        }
    }
}

const ENTRY_TAG: u8 = b'e';
const HEAD_KEY: &[u8] = b"h";
/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One action, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Position in the log, from 1; assigned when appended.
    #[serde(default)]
    pub seq: u64,
    pub at: Millis,
    /// Who asked: the API token's name, or `local:USER` for the CLI without a daemon.
    pub who: String,
    pub instance: String,
    pub instance_id: String,
    pub connector: String,
    pub connector_version: String,
    pub action: AuditAction,
    pub target: String,
    #[serde(default)]
    pub params: Vec<(String, String)>,
    pub reason: Option<String>,
    pub dry_run: bool,
    /// `done`, `already`, `planned` (dry run), `refused` (a guard rail stopped it
    /// before the connector ran) or `failed`.
    pub outcome: String,
    /// The connector's summary, or the reason it was refused or failed.
    pub message: String,
    /// The write requests the connector planned or reports sending.
    #[serde(default)]
    pub requests: Vec<String>,
    /// The write requests the host saw it send, with the provider's status.
    #[serde(default)]
    pub sent: Vec<SentWrite>,
    /// The provider's status for the last write request sent, if any.
    pub provider_status: Option<u16>,
    /// The previous entry's hash; set when appended.
    #[serde(default)]
    pub prev: String,
    /// SHA-256 of this entry's stored body: computed on read, never stored in the body.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

/// What [`Store::verify_audit`] found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditVerification {
    /// The chain is intact from the first entry to the head.
    pub ok: bool,
    /// Entries checked.
    pub entries: u64,
    /// The last entry's hash (compare it with a copy kept elsewhere).
    pub head: Option<String>,
    /// The first break found, e.g. `entry 3: its hash does not match entry 4's prev`.
    pub problem: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

fn entry_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = ENTRY_TAG;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Which entries [`Store::audit`] lists.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only this instance (name or id).
    pub instance: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

impl Store {
    /// Append `entry` (its `seq` and `prev` are assigned here) and flush it to disk
    /// before returning: an action is never reported without its audit entry.
    pub fn append_audit(&self, mut entry: AuditEntry) -> Result<AuditEntry, StoreError> {
        let _serial = self
            .audit_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let head: Option<Head> = match self.t()?.audit.get(HEAD_KEY)? {
            Some(v) => Some(from_json(&v)?),
            None => None,
        };
        entry.seq = head.as_ref().map_or(1, |h| h.seq + 1);
        entry.prev = head.map_or_else(|| GENESIS.to_string(), |h| h.hash);
        entry.hash = String::new();
        let body = to_json(&entry)?;
        let hash = sha256_hex(&body);
        let mut batch = sled::Batch::default();
        batch.insert(&entry_key(entry.seq)[..], body);
        batch.insert(
            HEAD_KEY,
            to_json(&Head {
                seq: entry.seq,
                hash: hash.clone(),
            })?,
        );
        self.t()?.audit.apply_batch(batch)?;
        self.t()?.audit.flush()?;
        entry.hash = hash;
        Ok(entry)
    }

    /// Audit entries, newest first, each with its hash.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for v in self.t()?.audit.scan_prefix([ENTRY_TAG]).values().rev() {
            if out.len() >= limit {
                break;
            }
            let body = v?;
            let mut e: AuditEntry = from_json(&body)?;
            if let Some(i) = &filter.instance
                && &e.instance != i
                && &e.instance_id != i
            {
                continue;
            }
            e.hash = sha256_hex(&body);
            out.push(e);
        }
        Ok(out)
    }

    /// Recompute the hash chain from the first entry to the head.
    pub fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let head: Option<Head> = match self.t()?.audit.get(HEAD_KEY)? {
            Some(v) => from_json(&v).ok(),
            None => None,
        };
        let mut prev = GENESIS.to_string();
        let mut entries = 0u64;
        let broken = |entries, problem: String| AuditVerification {
            ok: false,
            entries,
            head: None,
            problem: Some(problem),
        };
        for kv in self.t()?.audit.scan_prefix([ENTRY_TAG]) {
            let (k, body) = kv?;
            let expected = entries + 1;
            let seq = k
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            if seq != expected {
                return Ok(broken(
                    entries,
                    format!("entry {expected} is missing (the next stored entry is {seq})"),
                ));
            }
            let e: AuditEntry = match serde_json::from_slice(&body) {
                Ok(e) => e,
                Err(err) => {
                    return Ok(broken(entries, format!("entry {seq} is unreadable: {err}")));
                }
            };
            if e.seq != seq {
                return Ok(broken(
                    entries,
                    format!("entry {seq} says it is entry {}", e.seq),
                ));
            }
            if e.prev != prev {
                return Ok(broken(
                    entries,
                    format!(
                        "entry {seq} does not follow entry {}: its prev hash differs, so entry {} was changed",
                        seq - 1,
                        seq - 1
                    ),
                ));
            }
            prev = sha256_hex(&body);
            entries = seq;
        }
        match head {
            None if entries == 0 => Ok(AuditVerification {
                ok: true,
                entries: 0,
                head: None,
                problem: None,
            }),
            None => Ok(broken(entries, "the log's head record is missing".into())),
            Some(h) if h.seq != entries => Ok(broken(
                entries,
                format!(
                    "the log ends at entry {entries} but its head says {}: entries were removed",
                    h.seq
                ),
            )),
            Some(h) if h.hash != prev => Ok(broken(
                entries,
                format!("entry {entries} does not match the head hash: it was changed"),
            )),
            Some(h) => Ok(AuditVerification {
                ok: true,
                entries,
                head: Some(h.hash),
                problem: None,
            }),
        }
    }
}
