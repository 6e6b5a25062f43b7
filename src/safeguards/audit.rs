//! The tamper-evident audit log (safeguards.md S16, S17).
//!
//! Every processing operation (collection, alteration, consultation, disclosure, combination,
//! erasure, and reads of this log) writes one [`AuditEvent`] in the style of DPA 2018 s.62
//! (S16), including denied attempts. Events are appended to a hash-chained, append-only
//! JSON Lines file (S17), signed at checkpoints, by the [`AuditLog`] of each process that
//! writes it, and [`verify_with`] checks the whole chain, the signatures and the witness.
//!
//! # File format (S17)
//!
//! The log is the file `<dir>/audit.jsonl` ([`AUDIT_FILE_NAME`]); the server passes
//! `$SAFERPLACES_DATA_DIR/audit/` as `<dir>`. Each line is exactly
//!
//! ```text
//! {"seq":N,"prev_hash":"P","event":E,"hash":"H"}\n
//! ```
//!
//! with no other whitespace and the keys in that order, where
//!
//! - `N` is the sequence number in decimal: 1 on the first line, then increasing by 1;
//! - `P` is the previous line's `H`; on the first line it is [`GENESIS_HASH`], the lower-case
//!   hex SHA-256 of the ASCII string `saferplaces-audit-genesis-v1` ([`GENESIS_PREIMAGE`]);
//! - `E` is `canonical_json(event)` (below), byte for byte;
//! - `H = hex(SHA-256(P ‖ "\n" ‖ N ‖ "\n" ‖ E))`: the 64 ASCII bytes of `P`, a line feed, `N`
//!   in decimal ASCII, a line feed and the UTF-8 bytes of `E`; `hex` is lower-case.
//!
//! `canonical_json(v)` is JSON with no insignificant whitespace, object keys sorted by their
//! UTF-8 bytes at every level, array order kept, integers in decimal, floats in `serde_json`'s
//! shortest round-trip form, and strings escaped as `serde_json` does: `\"`, `\\`, `\b`, `\f`,
//! `\n`, `\r`, `\t`, any other byte below `0x20` as `\u00xx` (lower-case hex), and everything
//! else (including `/`, DEL and non-ASCII) as literal UTF-8. This equals
//! `serde_json::to_string` of a `serde_json::Value` while `serde_json`'s `preserve_order` feature
//! is off (it is off in this crate: its map is a `BTreeMap`), but [`canonical_json`] sorts keys
//! itself so enabling that feature elsewhere in the dependency graph cannot change the hashes.
//!
//! An external verifier does not need to re-serialise anything: `E` is the bytes between the
//! prefix `{"seq":N,"prev_hash":"P","event":` and the suffix `,"hash":"H"}` of each line. It
//! checks `N`, `P` and `H` as above, line by line. [`verify`] additionally requires every line
//! to be in exactly this canonical form, so a change to any byte of any line is detected at
//! that line.
//!
//! # Checkpoints (S17)
//!
//! The chain alone does not prove completeness: removing whole lines from the end, emptying or
//! deleting the file, or rewriting it with a recomputed chain (for example after deleting every
//! record of one user) leaves a chain that verifies. So a log opened with
//! [`CheckpointOptions`] appends a *checkpoint line* every `every` records or `interval` after
//! the first unsigned record (defaults 1,000 and 60 s, `SAFERPLACES_AUDIT_CHECKPOINT_EVERY`
//! and `SAFERPLACES_AUDIT_CHECKPOINT_SECS`), when it is closed (dropped) and, at open, when
//! lines were appended since the last checkpoint, so a short CLI import leaves its records
//! signed. A checkpoint line is an ordinary line of the chain (same `seq`, `prev_hash` and
//! `hash` rules) whose event is
//!
//! ```text
//! {"checkpoint":{"count":C,"head_hash":"P","public_key":"K","seq":N,"signature":"S","ts_utc":"T"},"event_type":"checkpoint"}
//! ```
//!
//! where `N` is the line's own `seq`, `C = N - 1` the lines it covers, `P` the line's
//! `prev_hash` (the chain head it signs), and `S` an Ed25519 signature by the key `K` over the
//! statement defined in [`crate::safeguards::audit_checkpoint`]. The key lives outside the data
//! directory (`SAFERPLACES_AUDIT_KEY_FILE`, refused inside it); verifiers use its public half,
//! `<key file>.pub`. Each checkpoint also replaces the *witness*,
//! `$SAFERPLACES_AUDIT_WITNESS_DIR/audit-head.json`, a copy of the latest checkpoint kept apart
//! from the log. Records keep their format and the genesis value is unchanged, so a log written
//! before checkpoints still verifies as far as its chain goes (with no signed checkpoint).
//!
//! [`verify_with`] then checks every checkpoint (its `seq` and `count`, that `head_hash` is the
//! chain before it, the signature, by the trusted key) and that the witness's checkpoint (and a
//! head an auditor kept from `audit head`) is a line of the file, naming each failure
//! ([`FailureKind`]): an edited, deleted, inserted or reordered record (`Chain`); a chain
//! recomputed over changed records (`Checkpoint`: the signed head no longer matches, or a
//! re-signed checkpoint is not by the trusted key; `Rewritten`: the witness's line is not its
//! checkpoint); lines removed from the end (`Truncated`), an emptied (`Emptied`) or deleted
//! (`Deleted`) file; a missing or forged witness (`Witness`). A writer refuses to open a log
//! behind its witness or off it, so a fresh chain never overwrites the evidence.
//!
//! # What the checkpoints do not prove
//!
//! - Lines after the last checkpoint are not signed: removing them from the end (by someone
//!   who can write the file) is not detected. The window is at most `every` records or
//!   `interval` seconds of a running server; a process killed before it signs leaves its last
//!   lines unsigned until the next writer opens the log.
//! - Whoever holds the signing key can forge checkpoints; keep it readable only by the service
//!   account, ideally on other storage than the data directory.
//! - Deleting the log and the witness together, or rolling both back to an earlier consistent
//!   state, is detected only against a head kept elsewhere (`audit verify --head FILE`): put
//!   the witness directory on other storage or another host, and have auditors keep heads.
//! - A running writer that finds the file truncated, replaced or deleted under it refuses
//!   every further append ([`AuditError::Unusable`]) rather than continue a damaged chain, so
//!   tampering with a live log stops the audited operations until someone looks.
//!
//! # Several writers
//!
//! Any number of processes (the server, `import people|links`, `retention sweep`, `audit head`)
//! may append to one log. Each append takes an exclusive advisory lock on the file (`flock`),
//! reads only what other processes appended since its last known end (a seek, not a re-read),
//! checks that those lines continue its chain, appends, syncs and releases the lock; so the
//! chain never forks and sequence numbers stay continuous.
//!
//! # The log in PostgreSQL (issue 16)
//!
//! [`AuditLog::open_database`] keeps the same lines in the table `audit.log (seq, line)` of a
//! PostgreSQL database (migration `0005_audit`): row `seq` holds line `seq` above, byte for
//! byte, without its line feed, so every server on the database appends to one chain. An
//! append is one transaction holding a transaction-level advisory lock (the database's
//! `flock`): it checks that the last row this process saw is unchanged, takes the rows other
//! servers appended since, inserts the next line and commits. Checkpoints and the witness
//! work as for the file (the witness is written after the commit; at open, a witness behind
//! the last row must still be the checkpoint at its row). [`verify_database_with`] runs the
//! same line verifier as [`verify_with`] over the rows in `seq` order. The application role
//! may only SELECT and INSERT; triggers refuse UPDATE, DELETE and TRUNCATE for everyone.
//!
//! # Reading the log
//!
//! Reading the log is itself a processing operation: callers of [`AuditLog::read`] (only the
//! `auditor` role, for the s.62(4) purposes) must append an [`AuditEventType::AuditRead`]
//! event (S17).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{SigningKey, VerifyingKey};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::{PersonRef, SubjectCategory};
use crate::safeguards::audit_checkpoint::{
    Checkpoint, CheckpointError, read_witness, write_witness,
};

#[path = "audit_pg.rs"]
mod pg;

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "audit_checkpoint_tests.rs"]
mod checkpoint_tests;

#[cfg(test)]
#[path = "audit_pg_tests.rs"]
mod pg_tests;

/// The name of the log file inside the audit directory (S17).
pub const AUDIT_FILE_NAME: &str = "audit.jsonl";

/// The ASCII string whose SHA-256 is the genesis value of the chain (S17).
pub const GENESIS_PREIMAGE: &str = "saferplaces-audit-genesis-v1";

/// The `prev_hash` of the first line: lower-case hex SHA-256 of [`GENESIS_PREIMAGE`] (S17).
pub const GENESIS_HASH: &str = "2c5f86aa783944e6b2b8df29e3fe75f3e3da33e4d8f67ac739a90c7d76fc8335";

/// The longest line, in bytes without its line feed, that the log writes or accepts. A bound
/// on memory for [`verify`] and [`AuditLog::read`] on hostile files.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The `actor_role` of events written by the service itself, such as erasures at expiry (S18).
pub const SYSTEM_ACTOR_ROLE: &str = "system";

/// Length of a lower-case hex SHA-256.
const HASH_HEX_LEN: usize = 64;

/// Errors of the audit log (S17).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The audit directory could not be created.
    #[error("cannot create audit directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The log file could not be opened, locked or inspected.
    #[error("cannot open audit log {path}")]
    Open {
        /// The log file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The signing key or the witness could not be used.
    #[error("audit checkpoint")]
    Checkpoint(#[from] CheckpointError),
    /// The witness records a checkpoint beyond the end of the log: the log was truncated,
    /// emptied or deleted. Keep the log and the witness as evidence, move both aside, then
    /// start again.
    #[error(
        "audit log {path} holds {file_lines} lines but the witness {witness} records a signed checkpoint at line {witness_seq}: the log was truncated, emptied or deleted; refusing to append"
    )]
    BehindWitness {
        /// The log file.
        path: PathBuf,
        /// The witness file.
        witness: PathBuf,
        /// The `seq` of the witness's checkpoint.
        witness_seq: u64,
        /// Lines in the log.
        file_lines: u64,
    },
    /// The last line of the log is not the checkpoint the witness records: the log was
    /// rewritten.
    #[error(
        "line {seq} of audit log {path} is not the checkpoint the witness {witness} records: the log was rewritten; refusing to append"
    )]
    WitnessMismatch {
        /// The log file.
        path: PathBuf,
        /// The witness file.
        witness: PathBuf,
        /// The line.
        seq: u64,
    },
    /// The last line of an existing log is not a valid entry, so appending would chain onto
    /// garbage. Run [`verify`] and repair the file by hand.
    #[error("audit log {path}: the last line is not a valid entry ({reason}); refusing to append")]
    LastLineInvalid {
        /// The log file.
        path: PathBuf,
        /// What is wrong with the last line.
        reason: String,
    },
    /// The log file could not be read.
    #[error("cannot read audit log {path}")]
    Read {
        /// The log file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A line could not be parsed while reading entries. Run [`verify`].
    #[error("audit log {path} is corrupt at line {line}: {reason}")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// An event could not be converted to JSON.
    #[error("cannot serialise audit event")]
    Serialize {
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An entry would be longer than [`MAX_LINE_BYTES`].
    #[error("audit entry of {bytes} bytes is longer than the limit for {path}")]
    TooLarge {
        /// The log file.
        path: PathBuf,
        /// The line length in bytes.
        bytes: usize,
    },
    /// Writing the entry failed; the partial line was removed and the log is still usable.
    #[error("cannot write to audit log {path}")]
    Write {
        /// The log file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The entry was written but could not be flushed to stable storage. The log refuses further
    /// appends until it is reopened, because the state of the file is unknown.
    #[error("cannot sync audit log {path} to disk")]
    Sync {
        /// The log file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An earlier write or sync failure left the file in an unknown state; reopen the log
    /// (which re-reads and checks the last line) before appending again.
    #[error("audit log {path} is unusable after an earlier failure: {reason}")]
    Unusable {
        /// The log file.
        path: PathBuf,
        /// The earlier failure.
        reason: String,
    },
    /// The log cannot be appended at all (a read-only data directory, issue 14 point 5):
    /// every audited operation is refused (fail closed).
    #[error("audit log {path} cannot be appended ({reason}); audited operations are refused")]
    NotWritable {
        /// The log file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The database log's database could not be reached, or refused a statement (issue 16).
    /// Nothing was written by the failed operation (its transaction was rolled back).
    #[error(
        "audit log {path}: PostgreSQL error while {context}{}",
        crate::store::postgres::server_message(source)
    )]
    Database {
        /// The table, described with the database's host and name.
        path: PathBuf,
        /// What the log was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
}

/// Result of audit log operations.
pub type AuditResult<T> = Result<T, AuditError>;

/// The kind of processing operation recorded (S16, DPA 2018 s.62(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEventType {
    /// Data was collected (imported or entered).
    Collection,
    /// Data was altered.
    Alteration,
    /// Data was consulted: a person-level view, an opened search hit, a map popup, a print or a
    /// report capture.
    Consultation,
    /// Data was disclosed: an export, an API pull or a MACE pack.
    Disclosure,
    /// Data was combined: a join across sources or controllers.
    Combination,
    /// Data was erased. The event holds ids only, never content (S16, S18).
    Erasure,
    /// The audit log itself was read (S17).
    AuditRead,
    /// An anomaly alert for auditors (issue 12, point 2): the rule, window and counts are in
    /// `query`, the user concerned in `actor_user_id`.
    Alert,
}

impl AuditEventType {
    /// Every event type.
    pub const ALL: &'static [AuditEventType] = &[
        Self::Collection,
        Self::Alteration,
        Self::Consultation,
        Self::Disclosure,
        Self::Combination,
        Self::Erasure,
        Self::AuditRead,
        Self::Alert,
    ];

    /// The `snake_case` code used in the log and the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Collection => "collection",
            Self::Alteration => "alteration",
            Self::Consultation => "consultation",
            Self::Disclosure => "disclosure",
            Self::Combination => "combination",
            Self::Erasure => "erasure",
            Self::AuditRead => "audit_read",
            Self::Alert => "alert",
        }
    }
}

impl fmt::Display for AuditEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The access decision recorded with an event (S16). Denied attempts are logged too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The operation was allowed.
    Allow,
    /// The operation was refused.
    Deny,
}

impl Decision {
    /// The `snake_case` code used in the log and the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One audit record (S16, in the style of DPA 2018 s.62).
///
/// Build one with [`AuditEvent::new`] (or [`AuditEvent::erasure`]) and set the other public
/// fields. In JSON, `Option` fields that are `None` and an empty `source_datasets` are left
/// out; every other field is always present. Fields hold identifiers, codes and names only:
/// never tokens, field values or the content of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Random UUID v4 of this event (s.62(1)).
    pub event_id: String,
    /// Which operation (s.62(1)).
    pub event_type: AuditEventType,
    /// When, as RFC 3339 UTC with milliseconds, e.g. `2026-03-01T09:30:00.123Z`, from the
    /// system clock (s.62(2)(a), (3)(a)). The chain's `seq`, not this time, orders events.
    pub ts_utc: String,
    /// The user; `None` for anonymous public requests (s.62(2)(b)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<String>,
    /// The user's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_org: Option<String>,
    /// The role the request was made in, e.g. `police_analyst`, `public` or
    /// [`SYSTEM_ACTOR_ROLE`].
    pub actor_role: String,
    /// A short, non-secret identifier of the credential used; never the token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_id: Option<String>,
    /// The client, e.g. a user agent or `cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The declared purpose code (S13), kept even if the justification duty is repealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_code: Option<String>,
    /// The case the operation is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_ref: Option<String>,
    /// The free-text justification (s.62(2)(a)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification_text: Option<String>,
    /// The lawful basis relied on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// Pseudonymous ids of the people whose data was processed; answers "was I on it?".
    #[serde(default)]
    pub subject_ids: Vec<String>,
    /// Their subject categories (S1 codes).
    #[serde(default)]
    pub subject_categories: Vec<String>,
    /// Whether any subject is or may be a child; `None` when no person is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_is_child: Option<bool>,
    /// Names (never values) of the fields returned (minimisation audit).
    #[serde(default)]
    pub fields_returned: Vec<String>,
    /// The request: filters, layer, bbox and so on; `null` when there is none.
    #[serde(default)]
    pub query: Value,
    /// How many records were returned or affected.
    #[serde(default)]
    pub record_count: u64,
    /// The access decision.
    pub decision: Decision,
    /// The version of the access policy that made the decision.
    pub policy_version: String,
    /// Why the operation was refused (stable code or short text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_reason: Option<String>,
    /// Disclosure: the named recipient (s.62(3)(b)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_person: Option<String>,
    /// Disclosure: the recipient organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_org: Option<String>,
    /// Disclosure: how it was sent, e.g. `download` or `api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Disclosure: the information sharing agreement reference (S19, S20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isa_ref: Option<String>,
    /// Disclosure: the handling code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_code: Option<String>,
    /// Disclosure: the hash of the file disclosed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_hash: Option<String>,
    /// Disclosure: the per-recipient watermark id (S19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_id: Option<String>,
    /// Combination: the datasets joined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_datasets: Vec<String>,
    /// Erasure: the id of the erased record, as `<kind>:<id>`. Never its content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// Erasure: the review decision that led to it, if any (S18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_decision_ref: Option<String>,
    /// `Some(true)` on a read made by break-glass declaration (issue 12, point 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<bool>,
    /// On a record standing for several identical refusals: how many it stands for
    /// (issue 12, point 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_count: Option<u64>,
}

impl AuditEvent {
    /// A new event with a fresh random `event_id`, `ts_utc` set to now, the given type, role and
    /// decision, and every other field empty: `None`, empty lists, `query` `null`,
    /// `record_count` 0 and an empty `policy_version`. Callers set the rest (S16).
    pub fn new(
        event_type: AuditEventType,
        actor_role: impl Into<String>,
        decision: Decision,
    ) -> Self {
        Self {
            event_id: uuid_v4(),
            event_type,
            ts_utc: rfc3339_millis(SystemTime::now()),
            actor_user_id: None,
            actor_org: None,
            actor_role: actor_role.into(),
            auth_token_id: None,
            client: None,
            purpose_code: None,
            case_ref: None,
            justification_text: None,
            legal_basis: None,
            subject_ids: Vec::new(),
            subject_categories: Vec::new(),
            subject_is_child: None,
            fields_returned: Vec::new(),
            query: Value::Null,
            record_count: 0,
            decision,
            policy_version: String::new(),
            deny_reason: None,
            recipient_person: None,
            recipient_org: None,
            channel: None,
            isa_ref: None,
            handling_code: None,
            artifact_hash: None,
            watermark_id: None,
            source_datasets: Vec::new(),
            record_id: None,
            review_decision_ref: None,
            break_glass: None,
            repeat_count: None,
        }
    }

    /// An erasure event (S16, S18) that records ids only: `record_id` is
    /// `<record_kind>:<record_id>` (for example `person:P0a1b2c3d`), `review_decision_ref` the
    /// review that decided it, `record_count` 1, the actor [`SYSTEM_ACTOR_ROLE`] and the decision
    /// `allow`. Callers pass identifiers, never the erased data: no subject ids, categories,
    /// field names or query are set, and none should be added. Set the actor fields when a
    /// person, not the retention job, erased the record, and set `policy_version`.
    pub fn erasure(
        record_kind: &str,
        record_id: &str,
        review_decision_ref: Option<String>,
    ) -> Self {
        let mut event = Self::new(AuditEventType::Erasure, SYSTEM_ACTOR_ROLE, Decision::Allow);
        event.record_id = Some(format!("{record_kind}:{record_id}"));
        event.review_decision_ref = review_decision_ref;
        event.record_count = 1;
        event
    }

    /// Adds a data subject: its pseudonymous id and categories (each recorded once), and marks
    /// the event as involving a child when `may_be_child` (S16 "whose data").
    #[must_use]
    pub fn with_subject(
        mut self,
        id: &PersonRef,
        categories: &[SubjectCategory],
        may_be_child: bool,
    ) -> Self {
        if !self.subject_ids.iter().any(|s| s == id.as_str()) {
            self.subject_ids.push(id.as_str().to_owned());
        }
        for category in categories {
            if !self.subject_categories.iter().any(|c| c == category.code()) {
                self.subject_categories.push(category.code().to_owned());
            }
        }
        self.subject_is_child = Some(self.subject_is_child.unwrap_or(false) || may_be_child);
        self
    }
}

/// One entry of the log as returned by [`AuditLog::append`] and [`AuditLog::read`] (S17).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The entry's chain hash (lower-case hex SHA-256, see the module docs).
    pub hash: String,
    /// The event.
    pub event: AuditEvent,
}

/// Which entries [`AuditLog::read`] returns. Every set condition must hold; the default
/// matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only entries with `seq` strictly greater than this (0 = from the start); pass the last
    /// `seq` received to read the next page.
    pub since_seq: u64,
    /// Only events of this type.
    pub event_type: Option<AuditEventType>,
    /// Only events whose `subject_ids` contain this id.
    pub subject_id: Option<String>,
    /// Only events by this user.
    pub actor_user_id: Option<String>,
    /// Only events with this decision.
    pub decision: Option<Decision>,
}

impl AuditFilter {
    /// True when the entry at `seq` holding `event` passes every condition.
    pub fn matches(&self, seq: u64, event: &AuditEvent) -> bool {
        seq > self.since_seq
            && self.event_type.is_none_or(|t| t == event.event_type)
            && self
                .subject_id
                .as_ref()
                .is_none_or(|id| event.subject_ids.contains(id))
            && self
                .actor_user_id
                .as_ref()
                .is_none_or(|u| event.actor_user_id.as_ref() == Some(u))
            && self.decision.is_none_or(|d| d == event.decision)
    }
}

/// When [`AuditLog`] writes signed checkpoints (module docs, "Checkpoints").
#[derive(Debug, Clone)]
pub struct CheckpointOptions {
    /// The Ed25519 signing key, kept outside the data directory.
    pub key: SigningKey,
    /// The directory of the witness file, apart from the log.
    pub witness_dir: PathBuf,
    /// A checkpoint follows at most this many records (at least 1).
    pub every: u64,
    /// A checkpoint follows at most this long after the first record it will cover.
    pub interval: Duration,
}

/// The append-only, hash-chained audit log (S17). Open one per process with
/// [`AuditLog::open_with`] (the file) or [`AuditLog::open_database`] (the table `audit.log` of
/// a PostgreSQL database, issue 16) and share it in an `Arc`. Appends are serialised by an
/// internal mutex within the process and, across processes, by an advisory lock held only
/// while an append catches up with the others' lines and writes: on the file (`flock`), or in
/// the database (`pg_advisory_xact_lock` in the append's transaction). A server, an import and
/// a retention sweep (or several servers on one database) can append to one log at the same
/// time without forking the chain.
#[derive(Debug)]
pub struct AuditLog {
    /// The log file, or for the database log a description of the table (for messages).
    path: PathBuf,
    writer: Mutex<Writer>,
    /// For the file log, a second handle on the same open file description, used only for the
    /// advisory lock, so the lock can be held while the writer state is changed. `None` for
    /// the database log, whose lock lives in the append's transaction.
    lock_file: Option<File>,
    checkpoints: Option<CheckpointOptions>,
    /// Why nothing can be appended, for a log opened with [`AuditLog::not_writable`].
    not_writable: Option<String>,
}

/// The mutable state behind the mutex: where the lines go and the chain as last seen.
#[derive(Debug)]
struct Writer {
    sink: Sink,
    chain: Chain,
}

/// Where the lines of the log are kept.
#[derive(Debug)]
enum Sink {
    /// The file `<dir>/audit.jsonl`.
    File(FileSink),
    /// The table `audit.log` of a PostgreSQL database, one row per line.
    Db(Box<pg::DbSink>),
}

/// The file of a file log.
#[derive(Debug)]
struct FileSink {
    /// The file, open for appending (and for reading its tail).
    file: File,
    /// Device and inode of the file, to notice it being replaced or deleted.
    id: (u64, u64),
    /// Length of the file in bytes: always the end of a complete line.
    len: u64,
}

/// The chain as this process last saw it.
#[derive(Debug, Clone)]
struct Chain {
    /// `seq` of the last line (0 for an empty log).
    seq: u64,
    /// `hash` of the last line ([`GENESIS_HASH`] for an empty log).
    hash: String,
    /// Set after a failure that left the log in an unknown state.
    broken: Option<String>,
    /// Lines after the last checkpoint.
    since_checkpoint: u64,
    /// When this process first saw a line not yet covered by a checkpoint.
    unsigned_since: Option<Instant>,
    /// The last checkpoint seen in or written to the log.
    last_checkpoint: Option<Checkpoint>,
    /// A checkpoint written but not yet copied to the witness: the copy follows once its line
    /// is durable (synced to the file, or committed to the database).
    pending_witness: Option<Checkpoint>,
}

impl Chain {
    /// An empty chain (or one to be set from the log's last line).
    fn new() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
            broken: None,
            since_checkpoint: 0,
            unsigned_since: None,
            last_checkpoint: None,
            pending_witness: None,
        }
    }

    /// Refuses when an earlier failure left the log in an unknown state.
    fn usable(&self, path: &Path) -> AuditResult<()> {
        match &self.broken {
            Some(reason) => Err(AuditError::Unusable {
                path: path.to_path_buf(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Marks the writer unusable and returns the error to report.
    fn break_with(&mut self, path: &Path, reason: String) -> AuditError {
        self.broken = Some(reason.clone());
        AuditError::Unusable {
            path: path.to_path_buf(),
            reason,
        }
    }

    /// Takes the line `buf` (without its line feed) that another writer appended: it must be a
    /// valid entry continuing this chain (else the writer is unusable: an append then could
    /// hide the tampering). Counts it towards the next checkpoint, or notes the checkpoint.
    fn take_line(&mut self, path: &Path, buf: &[u8]) -> AuditResult<()> {
        let invalid = |reason: &str| AuditError::LastLineInvalid {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let entry = match parse_line(buf) {
            Ok(entry) => entry,
            Err((_, reason)) => return Err(invalid(&reason)),
        };
        check_entry(&entry, buf).map_err(|reason| invalid(&reason))?;
        if entry.seq != self.seq + 1 || entry.prev_hash != self.hash {
            let reason = format!(
                "line {} appended by another writer does not continue the chain at seq {}",
                entry.seq,
                self.seq + 1
            );
            return Err(self.break_with(path, reason));
        }
        match Checkpoint::from_event(&entry.event) {
            Some(Ok(checkpoint)) => {
                self.since_checkpoint = 0;
                self.unsigned_since = None;
                self.last_checkpoint = Some(checkpoint);
            }
            Some(Err(reason)) => return Err(invalid(&reason)),
            None => {
                self.since_checkpoint += 1;
                self.unsigned_since.get_or_insert_with(Instant::now);
            }
        }
        self.seq = entry.seq;
        self.hash = entry.hash;
        Ok(())
    }

    fn checkpoint_due(&self, options: &CheckpointOptions) -> bool {
        self.since_checkpoint > 0
            && (self.since_checkpoint >= options.every.max(1)
                || self
                    .unsigned_since
                    .is_some_and(|t| t.elapsed() >= options.interval))
    }

    /// Starts the chain from the log's last line `tail` when the log is opened, and with
    /// checkpoints checks it against the witness. Returns whether lines are not yet signed.
    fn start_from(
        &mut self,
        path: &Path,
        tail: Tail,
        checkpoints: Option<&CheckpointOptions>,
    ) -> AuditResult<bool> {
        self.seq = tail.seq;
        self.hash = tail.hash;
        self.since_checkpoint = if tail.checkpoint.is_some() {
            0
        } else {
            tail.seq
        };
        if let Some(options) = checkpoints
            && let Some(witness) = read_witness(&options.witness_dir)?
        {
            let witness_path = options
                .witness_dir
                .join(crate::safeguards::audit_checkpoint::WITNESS_FILE_NAME);
            if witness.seq > tail.seq {
                return Err(AuditError::BehindWitness {
                    path: path.to_path_buf(),
                    witness: witness_path,
                    witness_seq: witness.seq,
                    file_lines: tail.seq,
                });
            }
            if witness.seq == tail.seq && tail.checkpoint.as_ref() != Some(&witness) {
                return Err(AuditError::WitnessMismatch {
                    path: path.to_path_buf(),
                    witness: witness_path,
                    seq: tail.seq,
                });
            }
            if tail.checkpoint.is_none() {
                self.since_checkpoint = tail.seq - witness.seq;
            }
        }
        self.last_checkpoint = tail.checkpoint;
        Ok(checkpoints.is_some() && self.since_checkpoint > 0)
    }
}

/// The advisory lock on the log file, released on drop. Filesystems without locks hold none
/// (the mutex still serialises this process).
struct FileLock<'a>(Option<&'a File>);

impl<'a> FileLock<'a> {
    fn acquire(file: &'a File, path: &Path) -> AuditResult<Self> {
        match file.lock() {
            Ok(()) => Ok(Self(Some(file))),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(Self(None)),
            Err(source) => Err(AuditError::Open {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.0 {
            let _ = file.unlock();
        }
    }
}

/// Runs `f` on the writer under the lock across processes: the file's advisory lock, or a
/// database transaction holding the audit advisory lock (committed when `f` succeeds, rolled
/// back with the chain state otherwise). A checkpoint `f` wrote is copied to the witness once
/// its line is durable: under the file lock, or after the commit.
fn locked<T>(
    lock_file: Option<&File>,
    path: &Path,
    checkpoints: Option<&CheckpointOptions>,
    writer: &mut Writer,
    f: impl FnOnce(&mut Writer) -> AuditResult<T>,
) -> AuditResult<T> {
    let flush = |chain: &mut Chain| match (chain.pending_witness.take(), checkpoints) {
        (Some(checkpoint), Some(options)) => {
            write_witness(&options.witness_dir, &checkpoint).map_err(AuditError::from)
        }
        _ => Ok(()),
    };
    if matches!(writer.sink, Sink::Db(_)) {
        let value = pg::in_transaction(path, writer, f)?;
        flush(&mut writer.chain)?;
        return Ok(value);
    }
    let _flock = lock_file
        .map(|file| FileLock::acquire(file, path))
        .transpose()?;
    let result = f(writer);
    // The file's lines are durable once written, whatever `f` did after.
    let witness = flush(&mut writer.chain);
    let value = result?;
    witness?;
    Ok(value)
}

impl AuditLog {
    /// Opens the log without checkpoints: [`AuditLog::open_with`] with `None`. For tests,
    /// benchmarks and tools; the server and the CLI open it with checkpoints.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::open_with`].
    pub fn open(dir: &Path) -> AuditResult<Self> {
        Self::open_with(dir, None)
    }

    /// Opens (creating if needed) the log `<dir>/audit.jsonl` for appending, creating `dir` too.
    ///
    /// Under the file's advisory lock, reads the last line to continue the chain from its `seq`
    /// and `hash`. The rest of the file is not checked here; run [`verify`] for that. With
    /// `checkpoints`, also checks the log against the witness (a witness beyond the end of the
    /// log, or not matching its last line, is refused) and writes a checkpoint at once when
    /// lines were appended since the last one (for example by a process that crashed).
    ///
    /// # Errors
    ///
    /// [`AuditError::CreateDir`], [`AuditError::Open`] or [`AuditError::Read`] on I/O failure;
    /// [`AuditError::LastLineInvalid`] when the file does not end with a complete, valid entry,
    /// so the chain is never continued from garbage; [`AuditError::BehindWitness`],
    /// [`AuditError::WitnessMismatch`] or [`AuditError::Checkpoint`] with checkpoints.
    pub fn open_with(dir: &Path, checkpoints: Option<CheckpointOptions>) -> AuditResult<Self> {
        fs::create_dir_all(dir).map_err(|source| AuditError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(AUDIT_FILE_NAME);
        let open_err = |source| AuditError::Open {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(open_err)?;
        let lock_file = file.try_clone().map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        let sink = Sink::File(FileSink {
            file,
            id: (meta.dev(), meta.ino()),
            len: 0,
        });
        Self::start(path, sink, Some(lock_file), checkpoints)
    }

    /// Opens the log kept in the table `audit.log` of the PostgreSQL database at `url` (a
    /// libpq connection string or `postgres://` URL; migrated by `saferplaces migrate`), so
    /// every server on the database writes to one trail (issue 16, point 5). Each row's `line`
    /// is the line the file log would hold, without its line feed; the chain, the
    /// checkpoints and the witness are those of [`AuditLog::open_with`].
    ///
    /// # Errors
    ///
    /// [`AuditError::Database`] when the database cannot be reached or the table is missing;
    /// otherwise as [`AuditLog::open_with`].
    pub fn open_database(url: &str, checkpoints: Option<CheckpointOptions>) -> AuditResult<Self> {
        let (sink, path) = pg::DbSink::connect(url)?;
        Self::start(path, Sink::Db(Box::new(sink)), None, checkpoints)
    }

    /// Reads the last line under the lock, checks it against the witness and signs what is
    /// not yet signed.
    fn start(
        path: PathBuf,
        sink: Sink,
        lock_file: Option<File>,
        checkpoints: Option<CheckpointOptions>,
    ) -> AuditResult<Self> {
        let mut writer = Writer {
            sink,
            chain: Chain::new(),
        };
        locked(
            lock_file.as_ref(),
            &path,
            checkpoints.as_ref(),
            &mut writer,
            |w| {
                let tail = w.read_tail(&path)?;
                w.check_witness_row(&path, checkpoints.as_ref(), tail.seq)?;
                if w.chain.start_from(&path, tail, checkpoints.as_ref())?
                    && let Some(options) = &checkpoints
                {
                    w.write_checkpoint(&path, options)?;
                }
                Ok(())
            },
        )?;
        Ok(Self {
            path,
            writer: Mutex::new(writer),
            lock_file,
            checkpoints,
            not_writable: None,
        })
    }

    /// A log of `dir` that cannot be appended because `reason` (a read-only data directory):
    /// [`AuditLog::append`] and the checkpoints refuse with [`AuditError::NotWritable`], so
    /// every audited operation is refused (fail closed), reads of the log included (their
    /// own record cannot be written). Nothing is created or written.
    ///
    /// # Errors
    ///
    /// [`AuditError::Open`] when not even `/dev/null` can be opened as the idle handle.
    pub fn not_writable(dir: &Path, reason: String) -> AuditResult<Self> {
        let path = dir.join(AUDIT_FILE_NAME);
        // The writer's handles are never used: every writing method returns first.
        let idle = File::open("/dev/null").map_err(|source| AuditError::Open {
            path: path.clone(),
            source,
        })?;
        let mut chain = Chain::new();
        chain.broken = Some(reason.clone());
        let writer = Writer {
            sink: Sink::File(FileSink {
                file: idle,
                id: (0, 0),
                len: 0,
            }),
            chain,
        };
        Ok(Self {
            path,
            writer: Mutex::new(writer),
            lock_file: None,
            checkpoints: None,
            not_writable: Some(reason),
        })
    }

    /// Why the log cannot be appended, for one opened with [`AuditLog::not_writable`].
    pub fn not_writable_reason(&self) -> Option<&str> {
        self.not_writable.as_deref()
    }

    fn refuse_if_not_writable(&self) -> AuditResult<()> {
        match &self.not_writable {
            Some(reason) => Err(AuditError::NotWritable {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The path of the log file; for the database log, a description of the table.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the log is kept in a database ([`AuditLog::open_database`]).
    pub fn in_database(&self) -> bool {
        matches!(self.lock().sink, Sink::Db(_))
    }

    /// The `seq` and `hash` of the last line this process has seen: `(0, GENESIS_HASH)` for an
    /// empty log. Lines appended by other processes show after this one's next append.
    pub fn head(&self) -> (u64, String) {
        let writer = self.lock();
        (writer.chain.seq, writer.chain.hash.clone())
    }

    /// The last checkpoint this process has seen or written.
    pub fn last_checkpoint(&self) -> Option<Checkpoint> {
        self.lock().chain.last_checkpoint.clone()
    }

    /// Runs `f` under the lock across processes ([`locked`]).
    fn with_lock<T>(
        &self,
        writer: &mut Writer,
        f: impl FnOnce(&mut Writer) -> AuditResult<T>,
    ) -> AuditResult<T> {
        locked(
            self.lock_file.as_ref(),
            &self.path,
            self.checkpoints.as_ref(),
            writer,
            f,
        )
    }

    /// Appends `event` as the next entry of the chain and makes it durable before returning,
    /// so an acknowledged audit record survives a crash (S16, S17): the file is flushed to
    /// stable storage (`sync_data`), the database row committed. Under the lock across
    /// processes, first reads what other processes appended since (a seek to this process's
    /// last known end, or the rows after its last known `seq`), then writes the line (a single
    /// `write_all`, or one `INSERT` in the transaction holding the lock). With checkpoints,
    /// writes one after the record when one is due.
    ///
    /// # Errors
    ///
    /// [`AuditError::Serialize`] or [`AuditError::TooLarge`] for an unloggable event;
    /// [`AuditError::Write`] when writing fails (the partial line is truncated away and the log
    /// stays usable); [`AuditError::Sync`] when the flush fails, after which, like after a
    /// failed truncation or after the file was truncated, replaced or deleted under this
    /// process, every append returns [`AuditError::Unusable`] until the log is reopened;
    /// [`AuditError::LastLineInvalid`] when another writer left an incomplete line;
    /// [`AuditError::Database`] when the database refuses (nothing was written). Callers
    /// must treat any error as "not logged" and refuse the operation.
    pub fn append(&self, event: AuditEvent) -> AuditResult<AuditEntry> {
        let value =
            serde_json::to_value(&event).map_err(|source| AuditError::Serialize { source })?;
        let canonical = canonical_json(&value);
        self.refuse_if_not_writable()?;
        let mut writer = self.lock();
        writer.chain.usable(&self.path)?;
        let (seq, hash) = self.with_lock(&mut writer, |w| {
            w.refresh(&self.path)?;
            let seq = w.chain.seq + 1;
            let hash = w.write_line(&self.path, seq, &canonical)?;
            w.chain.since_checkpoint += 1;
            w.chain.unsigned_since.get_or_insert_with(Instant::now);
            Ok((seq, hash))
        })?;
        if let Some(options) = &self.checkpoints
            && writer.chain.checkpoint_due(options)
            && let Err(e) = self.with_lock(&mut writer, |w| {
                w.refresh(&self.path)?;
                if w.chain.checkpoint_due(options) {
                    w.write_checkpoint(&self.path, options)?;
                }
                Ok(())
            })
        {
            // The record itself is durable; the next append or checkpoint retries (or reports
            // the log unusable).
            tracing::error!(error = %e, path = %self.path.display(), "cannot write an audit checkpoint");
        }
        Ok(AuditEntry { seq, hash, event })
    }

    /// Writes a checkpoint when one is due (lines not yet covered, and `every` of them or
    /// `interval` since the first). The server calls this about once a second, so an idle log
    /// is checkpointed within `interval` of its last record. Without checkpoints, does nothing.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::checkpoint`].
    pub fn checkpoint_if_due(&self) -> AuditResult<Option<Checkpoint>> {
        let Some(options) = &self.checkpoints else {
            return Ok(None);
        };
        let mut writer = self.lock();
        if writer.chain.broken.is_some() || !writer.chain.checkpoint_due(options) {
            return Ok(None);
        }
        self.with_lock(&mut writer, |w| {
            w.refresh(&self.path)?;
            if !w.chain.checkpoint_due(options) {
                return Ok(None);
            }
            w.write_checkpoint(&self.path, options).map(Some)
        })
    }

    /// Writes a checkpoint now if any line is not yet covered by one; `Ok(None)` when there is
    /// nothing to sign or the log has no checkpoints. Called when the log is dropped; call it
    /// explicitly to see its errors.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unusable`], [`AuditError::Write`], [`AuditError::Sync`],
    /// [`AuditError::Database`] or [`AuditError::Checkpoint`] (the witness could not be
    /// written).
    pub fn checkpoint(&self) -> AuditResult<Option<Checkpoint>> {
        let Some(options) = &self.checkpoints else {
            return Ok(None);
        };
        let mut writer = self.lock();
        writer.chain.usable(&self.path)?;
        self.with_lock(&mut writer, |w| {
            w.refresh(&self.path)?;
            if w.chain.since_checkpoint == 0 {
                return Ok(None);
            }
            w.write_checkpoint(&self.path, options).map(Some)
        })
    }

    /// Reads the entries matching `filter`, oldest first and newest last, stopping after
    /// `limit` matches (so `limit` 0 returns nothing). Checkpoint lines are not entries and are
    /// skipped. Page through the log by passing the last `seq` received as
    /// [`AuditFilter::since_seq`]. Scans the log from the start (the database log: from
    /// `since_seq`); does not check the chain (use [`AuditLog::verify`]). The caller must log
    /// the read itself as an [`AuditEventType::AuditRead`] event (S17). The database log is
    /// read on the writer's connection, in pages of 10,000 rows, so this process's appends wait
    /// until the read ends.
    ///
    /// # Errors
    ///
    /// [`AuditError::Read`] on I/O failure, [`AuditError::Database`] when the database
    /// refuses, [`AuditError::Corrupt`] for a line that is not an entry.
    pub fn read(&self, filter: &AuditFilter, limit: usize) -> AuditResult<Vec<AuditEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let Some(mut writer) = self.db_snapshot() {
            let upto = writer.chain.seq;
            let Sink::Db(db) = &mut writer.sink else {
                return Ok(Vec::new());
            };
            let mut rows = db.lines(filter.since_seq, upto);
            return read_lines(&mut rows, &self.path, filter, limit, filter.since_seq);
        }
        let mut lines = FileLines(self.snapshot_reader()?);
        read_lines(&mut lines, &self.path, filter, limit, 0)
    }

    /// Verifies the chain and the checkpoints' own signatures as [`verify`] does, up to the
    /// last line seen when called, so concurrent appends cannot make it see a partial line.
    ///
    /// # Errors
    ///
    /// A [`VerifyFailure`] naming the first bad line.
    pub fn verify(&self) -> Result<VerifyReport, VerifyFailure> {
        if let Some(mut writer) = self.db_snapshot() {
            let upto = writer.chain.seq;
            let Sink::Db(db) = &mut writer.sink else {
                return Ok(VerifyReport::empty());
            };
            return verify_lines(&mut db.lines(0, upto), None, &[]);
        }
        let reader = self.snapshot_reader().map_err(|e| VerifyFailure {
            line: 1,
            seq: None,
            kind: FailureKind::Chain,
            reason: format!("cannot read the file: {e}"),
        })?;
        verify_reader(reader, None, &[])
    }

    /// For the database log, the writer (held, so its connection can read) after catching up
    /// with the rows other writers appended; `None` for the file log.
    fn db_snapshot(&self) -> Option<MutexGuard<'_, Writer>> {
        let mut writer = self.lock();
        if !matches!(writer.sink, Sink::Db(_)) {
            return None;
        }
        if writer.chain.broken.is_none() {
            // A failure here marks the writer broken; the read still shows what was seen.
            let _ = self.with_lock(&mut writer, |w| w.refresh(&self.path));
        }
        Some(writer)
    }

    /// A reader over the file up to the end of the last complete line, including lines other
    /// processes appended.
    fn snapshot_reader(&self) -> AuditResult<BufReader<io::Take<File>>> {
        let len = {
            let mut writer = self.lock();
            if writer.chain.broken.is_none() {
                // A failure here marks the writer broken; the read still shows what was seen.
                let _ = self.with_lock(&mut writer, |w| w.refresh(&self.path));
            }
            match &writer.sink {
                Sink::File(f) => f.len,
                Sink::Db(_) => 0,
            }
        };
        let file = File::open(&self.path).map_err(|source| AuditError::Read {
            path: self.path.clone(),
            source,
        })?;
        Ok(BufReader::new(file.take(len)))
    }

    /// The writer state. A poisoned mutex is recovered: the state is updated only after the
    /// line is in the log, and no code under the lock panics.
    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for AuditLog {
    /// Signs what this process (or another since) appended, so a short-lived import or sweep
    /// leaves its records covered by a checkpoint.
    fn drop(&mut self) {
        if let Err(e) = self.checkpoint() {
            tracing::warn!(error = %e, path = %self.path.display(), "no checkpoint written when closing the audit log");
        }
    }
}

impl Writer {
    /// The chain head at the end of the log, its last line checked on its own.
    fn read_tail(&mut self, path: &Path) -> AuditResult<Tail> {
        let tail = match &mut self.sink {
            Sink::File(f) => {
                let len = f
                    .file
                    .metadata()
                    .map_err(|source| AuditError::Read {
                        path: path.to_path_buf(),
                        source,
                    })?
                    .len();
                let tail = read_tail(&f.file, len);
                if tail.is_ok() {
                    f.len = len;
                }
                tail
            }
            Sink::Db(db) => db.read_tail(path)?,
        };
        tail.map_err(|e| match e {
            TailError::Io(source) => AuditError::Read {
                path: path.to_path_buf(),
                source,
            },
            TailError::Invalid(reason) => AuditError::LastLineInvalid {
                path: path.to_path_buf(),
                reason,
            },
        })
    }

    /// For the database log, when the witness lies behind the last row (as a server's witness
    /// on a shared database usually does): the row at its `seq` must be its checkpoint, or
    /// the log was rewritten and is refused, so this server never signs over the forgery. The
    /// file log checks its last line only ([`Chain::start_from`]), where its witness is.
    fn check_witness_row(
        &mut self,
        path: &Path,
        checkpoints: Option<&CheckpointOptions>,
        tail_seq: u64,
    ) -> AuditResult<()> {
        let (Sink::Db(db), Some(options)) = (&mut self.sink, checkpoints) else {
            return Ok(());
        };
        let Some(witness) = read_witness(&options.witness_dir)? else {
            return Ok(());
        };
        if witness.seq >= tail_seq {
            return Ok(());
        }
        let line = db.line_at(path, witness.seq)?;
        let found = line
            .as_deref()
            .and_then(|l| tail_of_line(l.as_bytes()).ok())
            .and_then(|t| t.checkpoint);
        if found.as_ref() == Some(&witness) {
            return Ok(());
        }
        Err(AuditError::WitnessMismatch {
            path: path.to_path_buf(),
            witness: options
                .witness_dir
                .join(crate::safeguards::audit_checkpoint::WITNESS_FILE_NAME),
            seq: witness.seq,
        })
    }

    /// Catches up with lines other processes appended since this one last wrote or read. Call
    /// with the lock held. The new lines must continue this process's chain; a file that
    /// shrank, was replaced or deleted, rows deleted or changed, or new lines that do not
    /// continue the chain, make the writer unusable (an append then could hide the tampering).
    fn refresh(&mut self, path: &Path) -> AuditResult<()> {
        match &mut self.sink {
            Sink::File(f) => refresh_file(f, &mut self.chain, path),
            Sink::Db(db) => db.refresh(&mut self.chain, path),
        }
    }

    /// Writes the line `seq` with the event `canonical` and makes it durable (the file's sync;
    /// the database's commit follows in [`locked`]); returns its hash. Call with the lock
    /// held, after [`Writer::refresh`].
    fn write_line(&mut self, path: &Path, seq: u64, canonical: &str) -> AuditResult<String> {
        self.chain.usable(path)?;
        let hash = entry_hash(&self.chain.hash, seq, canonical);
        let line = render_line(seq, &self.chain.hash, canonical, &hash);
        if line.len() > MAX_LINE_BYTES + 1 {
            return Err(AuditError::TooLarge {
                path: path.to_path_buf(),
                bytes: line.len() - 1,
            });
        }
        match &mut self.sink {
            Sink::File(f) => write_file_line(f, &mut self.chain, path, &line)?,
            Sink::Db(db) => db.insert(path, seq, &line)?,
        }
        self.chain.seq = seq;
        self.chain.hash.clone_from(&hash);
        if let Sink::File(f) = &self.sink
            && let Err(source) = f.file.sync_data()
        {
            self.chain.broken = Some(format!("sync_data failed ({source})"));
            return Err(AuditError::Sync {
                path: path.to_path_buf(),
                source,
            });
        }
        Ok(hash)
    }

    /// Signs the chain head and appends the checkpoint line; [`locked`] then replaces the
    /// witness. Call with the lock held, after [`Writer::refresh`].
    fn write_checkpoint(
        &mut self,
        path: &Path,
        options: &CheckpointOptions,
    ) -> AuditResult<Checkpoint> {
        let seq = self.chain.seq + 1;
        let checkpoint = Checkpoint::sign(
            &options.key,
            seq,
            &self.chain.hash,
            &rfc3339_millis(SystemTime::now()),
        );
        self.write_line(path, seq, &canonical_json(&checkpoint.to_event()))?;
        self.chain.since_checkpoint = 0;
        self.chain.unsigned_since = None;
        self.chain.last_checkpoint = Some(checkpoint.clone());
        self.chain.pending_witness = Some(checkpoint.clone());
        Ok(checkpoint)
    }
}

/// [`Writer::refresh`] of the file log: reads from the last known end (a seek).
fn refresh_file(f: &mut FileSink, chain: &mut Chain, path: &Path) -> AuditResult<()> {
    match fs::metadata(path) {
        Ok(m) if (m.dev(), m.ino()) == f.id => {}
        Ok(_) => {
            return Err(chain.break_with(
                path,
                "the log file was replaced while it was open".to_owned(),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(chain.break_with(
                path,
                "the log file was deleted while it was open".to_owned(),
            ));
        }
        Err(source) => {
            return Err(AuditError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = f.file.metadata().map_err(read_err)?.len();
    if len == f.len {
        return Ok(());
    }
    if len < f.len {
        let reason = format!(
            "the log file shrank from {} to {len} bytes while it was open (truncated)",
            f.len
        );
        return Err(chain.break_with(path, reason));
    }
    let mut file = &f.file;
    file.seek(SeekFrom::Start(f.len)).map_err(read_err)?;
    let mut reader = BufReader::new(file.take(len - f.len));
    let mut buf = Vec::new();
    loop {
        let invalid = |reason: &str| AuditError::LastLineInvalid {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        match read_line_limited(&mut reader, &mut buf).map_err(read_err)? {
            LineRead::Eof => return Ok(()),
            LineRead::TooLong => return Err(invalid("another writer left a line too long")),
            LineRead::Line { terminated: false } => {
                return Err(invalid("another writer left an incomplete line"));
            }
            LineRead::Line { terminated: true } => {}
        }
        chain.take_line(path, &buf)?;
        f.len += buf.len() as u64 + 1;
    }
}

/// Appends `line` (with its line feed) to the file; a failed write is rolled back.
fn write_file_line(
    f: &mut FileSink,
    chain: &mut Chain,
    path: &Path,
    line: &str,
) -> AuditResult<()> {
    if let Err(source) = f.file.write_all(line.as_bytes()) {
        // Never leave a partial line for the next entry to chain onto.
        if let Err(e) = f.file.set_len(f.len) {
            chain.broken = Some(format!(
                "a failed write could not be rolled back ({e}); the file may end in a partial line"
            ));
        }
        return Err(AuditError::Write {
            path: path.to_path_buf(),
            source,
        });
    }
    // The line is in the file whatever happens next, so the chain state follows it.
    f.len += line.len() as u64;
    Ok(())
}

/// A line as stored (for [`AuditLog::read`]); the event is typed after checkpoint lines are
/// skipped.
#[derive(Deserialize)]
struct StoredEntry {
    seq: u64,
    hash: String,
    event: Value,
}

/// The lines of a log, in order: the file's ([`FileLines`]) or the database's rows.
trait LineSource {
    /// Reads the next line into `buf` (cleared first), without its line feed.
    fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<LineRead>;
}

/// The lines of a file, each at most [`MAX_LINE_BYTES`] long.
struct FileLines<R>(R);

impl<R: BufRead> LineSource for FileLines<R> {
    fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<LineRead> {
        read_line_limited(&mut self.0, buf)
    }
}

/// [`AuditLog::read`] over the lines of `source`, the first of which is line `first_line` + 1
/// of the log (for messages).
fn read_lines(
    source: &mut dyn LineSource,
    path: &Path,
    filter: &AuditFilter,
    limit: usize,
    first_line: u64,
) -> AuditResult<Vec<AuditEntry>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = first_line;
    loop {
        let read = source
            .next_line(&mut buf)
            .map_err(|source| AuditError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let corrupt = |line: u64, reason: String| AuditError::Corrupt {
            path: path.to_path_buf(),
            line,
            reason,
        };
        match read {
            LineRead::Eof => break,
            LineRead::TooLong => {
                return Err(corrupt(line_no + 1, "line too long".to_owned()));
            }
            // A snapshot ends at a line boundary, so every line is terminated.
            LineRead::Line { .. } => line_no += 1,
        }
        let stored: StoredEntry =
            serde_json::from_slice(&buf).map_err(|e| corrupt(line_no, e.to_string()))?;
        if Checkpoint::from_event(&stored.event).is_some() {
            continue;
        }
        let event: AuditEvent =
            serde_json::from_value(stored.event).map_err(|e| corrupt(line_no, e.to_string()))?;
        if filter.matches(stored.seq, &event) {
            out.push(AuditEntry {
                seq: stored.seq,
                hash: stored.hash,
                event,
            });
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// A successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of lines checked, checkpoint lines included.
    pub entries: u64,
    /// `hash` of the last line, or [`GENESIS_HASH`] for an empty log.
    pub last_hash: String,
    /// Number of checkpoint lines, each with a valid signature.
    pub checkpoints: u64,
    /// The last checkpoint line.
    pub last_checkpoint: Option<Checkpoint>,
    /// Lines after the last checkpoint: not yet signed, so their removal from the end would
    /// not be seen (module docs).
    pub unsigned_entries: u64,
    /// The witness checked, if any.
    pub witness: Option<Checkpoint>,
    /// True when the signatures were checked against a trusted key (not only the key each
    /// checkpoint names).
    pub key_trusted: bool,
}

impl VerifyReport {
    fn empty() -> Self {
        Self {
            entries: 0,
            last_hash: GENESIS_HASH.to_owned(),
            checkpoints: 0,
            last_checkpoint: None,
            unsigned_entries: 0,
            witness: None,
            key_trusted: false,
        }
    }
}

/// What kind of damage [`verify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A line is not a valid link of the chain: edited, deleted, inserted, reordered or cut.
    Chain,
    /// A checkpoint line is malformed, does not match the chain before it (the lines before it
    /// were rewritten and the chain recomputed) or its signature does not verify.
    Checkpoint,
    /// The file holds fewer lines than a signed checkpoint (witness or kept head) covers.
    Truncated,
    /// The file is empty but a signed checkpoint covers lines.
    Emptied,
    /// The file does not exist but a signed checkpoint covers lines.
    Deleted,
    /// The line a signed checkpoint names is not that checkpoint: the log was rewritten.
    Rewritten,
    /// The witness is unreadable, unsigned, or missing while the log holds checkpoints.
    Witness,
    /// The kept head given to `audit verify --head` is invalid.
    Head,
}

impl FailureKind {
    /// Whether the failure is about one line (reported as "broken at line N").
    fn at_line(self) -> bool {
        matches!(self, Self::Chain | Self::Checkpoint | Self::Rewritten)
    }

    /// A short code, e.g. `truncated`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Chain => "chain",
            Self::Checkpoint => "checkpoint",
            Self::Truncated => "truncated",
            Self::Emptied => "emptied",
            Self::Deleted => "deleted",
            Self::Rewritten => "rewritten",
            Self::Witness => "witness",
            Self::Head => "head",
        }
    }
}

/// What [`verify_with`] checks besides the chain.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The key every checkpoint must be signed with. Without one, each checkpoint is checked
    /// against the key it names, and all must name the same key, which proves integrity of the
    /// signatures but not who made them.
    pub trusted_key: Option<VerifyingKey>,
    /// The witness directory: its checkpoint must be in the log, and must exist when the log
    /// holds checkpoints.
    pub witness_dir: Option<PathBuf>,
    /// A head an auditor kept (`audit head`): it must be in the log.
    pub head: Option<Checkpoint>,
}

/// Where and why [`verify`] found the log damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The 1-based line number of the first bad line; for a truncated, emptied or deleted log,
    /// the first missing line.
    pub line: u64,
    /// The `seq` written on that line, when it could be read.
    pub seq: Option<u64>,
    /// What kind of damage.
    pub kind: FailureKind,
    /// What is wrong, e.g. `hash mismatch`.
    pub reason: String,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.kind.at_line() {
            return write!(f, "audit log {}: {}", self.kind.code(), self.reason);
        }
        write!(f, "audit log broken at line {}", self.line)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for VerifyFailure {}

/// Verifies the chain of the audit log file at `path` and the checkpoints in it, against the
/// key each names ([`verify_with`] with no trusted key, witness or head). A missing or empty
/// file verifies with 0 entries.
///
/// # Errors
///
/// A [`VerifyFailure`] naming the first bad line, or line 1 when the file cannot be opened.
pub fn verify(path: &Path) -> Result<VerifyReport, VerifyFailure> {
    verify_with(path, &VerifyOptions::default())
}

/// Verifies the audit log file at `path` (S17): streams it line by line and checks that every
/// line is a canonical entry (module docs), that `seq` runs 1, 2, 3…, that each `prev_hash` is
/// the previous line's `hash` (the first is [`GENESIS_HASH`]) and that each `hash` is correct;
/// that every checkpoint line covers exactly the lines before it and is signed by the trusted
/// key; and that the witness's checkpoint and the kept head are lines of the file. Detects a
/// changed byte anywhere in a line, deleted, inserted, duplicated or reordered lines, truncated
/// or non-JSON lines, a chain recomputed over changed lines, and lines removed from the end,
/// an emptied or a deleted file as far as a signed checkpoint covers them (module docs, "What
/// the checkpoints prove"). Never panics; memory use is bounded by [`MAX_LINE_BYTES`]. On a
/// log that is being appended to, prefer [`AuditLog::verify`] for the chain alone.
///
/// # Errors
///
/// A [`VerifyFailure`] naming the first problem found.
pub fn verify_with(path: &Path, options: &VerifyOptions) -> Result<VerifyReport, VerifyFailure> {
    verify_log(options, |trusted, anchors| match File::open(path) {
        Ok(file) => verify_reader(BufReader::new(file), trusted, anchors),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some((who, cp)) = anchors.first() {
                return Err(VerifyFailure {
                    line: 1,
                    seq: None,
                    kind: FailureKind::Deleted,
                    reason: format!(
                        "{} does not exist, but {who} holds a signed checkpoint covering {} lines",
                        path.display(),
                        cp.count
                    ),
                });
            }
            Ok(VerifyReport::empty())
        }
        Err(e) => Err(VerifyFailure {
            line: 1,
            seq: None,
            kind: FailureKind::Chain,
            reason: format!("cannot open the file: {e}"),
        }),
    })
}

/// [`verify_with`] of the log kept in the table `audit.log` of the PostgreSQL database at
/// `url` ([`AuditLog::open_database`], issue 16): the same checks, by the same code, over the
/// rows' lines in `seq` order, each row's `seq` also required to be its position. A missing
/// table is [`FailureKind::Deleted`] while the witness or a kept head covers lines, like a
/// missing file. Reads only: nothing is created or written.
///
/// # Errors
///
/// A [`VerifyFailure`] naming the first problem found; line 1 ([`FailureKind::Chain`]) when
/// the database cannot be read.
pub fn verify_database_with(
    url: &str,
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyFailure> {
    verify_log(options, |trusted, anchors| {
        pg::verify_rows(url, trusted, anchors)
    })
}

/// The checks of [`verify_with`] around `lines`, which verifies the log's own lines against
/// the trusted key and the anchors (the witness, the kept head) that fall within it.
fn verify_log(
    options: &VerifyOptions,
    lines: impl FnOnce(
        Option<&VerifyingKey>,
        &[(&str, &Checkpoint)],
    ) -> Result<VerifyReport, VerifyFailure>,
) -> Result<VerifyReport, VerifyFailure> {
    let fail = |kind: FailureKind, line: u64, reason: String| VerifyFailure {
        line,
        seq: None,
        kind,
        reason,
    };
    let witness = match &options.witness_dir {
        Some(dir) => read_witness(dir)
            .map_err(|e| fail(FailureKind::Witness, 0, format!("{e}: {}", error_chain(&e))))?,
        None => None,
    };
    // A kept head is the auditor's own trust anchor when no key is configured.
    let head_key = match (&options.trusted_key, &options.head) {
        (Some(k), _) => Some(*k),
        (None, Some(h)) => Some(
            crate::safeguards::audit_checkpoint::parse_public_key(&h.public_key)
                .map_err(|r| fail(FailureKind::Head, 0, r))?,
        ),
        (None, None) => None,
    };
    let trusted = head_key.as_ref();
    let mut anchors: Vec<(&str, &Checkpoint)> = Vec::new();
    if let Some(w) = &witness {
        w.check(trusted).map_err(|r| {
            fail(
                FailureKind::Witness,
                0,
                format!("the witness checkpoint at line {} is invalid: {r}", w.seq),
            )
        })?;
        anchors.push(("the witness", w));
    }
    if let Some(h) = &options.head {
        h.check(trusted).map_err(|r| {
            fail(
                FailureKind::Head,
                0,
                format!("the kept head at line {} is invalid: {r}", h.seq),
            )
        })?;
        anchors.push(("the kept head", h));
    }
    let mut report = lines(trusted, &anchors)?;
    check_anchors_covered(report.entries, &anchors)?;
    if let (Some(dir), None, true) = (&options.witness_dir, &witness, report.checkpoints > 0) {
        return Err(fail(
            FailureKind::Witness,
            0,
            format!(
                "the log holds {} signed checkpoints but the witness {} is missing",
                report.checkpoints,
                dir.join(crate::safeguards::audit_checkpoint::WITNESS_FILE_NAME)
                    .display()
            ),
        ));
    }
    report.witness = witness;
    report.key_trusted = trusted.is_some();
    Ok(report)
}

/// Fails when the log holds fewer lines (`entries`) than a signed checkpoint of one of
/// `anchors` (the witness, the kept head) covers: the log was emptied or truncated.
fn check_anchors_covered(
    entries: u64,
    anchors: &[(&str, &Checkpoint)],
) -> Result<(), VerifyFailure> {
    for (who, cp) in anchors {
        if entries >= cp.seq {
            continue;
        }
        let (kind, what) = if entries == 0 {
            (FailureKind::Emptied, "the file is empty".to_owned())
        } else {
            (
                FailureKind::Truncated,
                format!(
                    "the file holds {entries} lines (lines were removed from the end, or the log was rewritten shorter)"
                ),
            )
        };
        return Err(VerifyFailure {
            line: entries + 1,
            seq: None,
            kind,
            reason: format!(
                "{what}, but {who} holds a signed checkpoint at line {} covering {} lines, made at {}",
                cp.seq, cp.count, cp.ts_utc
            ),
        });
    }
    Ok(())
}

/// The sources of an error, joined.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// [`verify_with`] over any reader: the chain, the checkpoint lines (against `trusted`, or
/// against the key the first one names) and the `anchors` that fall within the file.
fn verify_reader<R: BufRead>(
    reader: R,
    trusted: Option<&VerifyingKey>,
    anchors: &[(&str, &Checkpoint)],
) -> Result<VerifyReport, VerifyFailure> {
    verify_lines(&mut FileLines(reader), trusted, anchors)
}

/// [`verify_with`]'s checks of the lines themselves, over any [`LineSource`]: the file's
/// lines, or the database log's rows in `seq` order.
fn verify_lines(
    source: &mut dyn LineSource,
    trusted: Option<&VerifyingKey>,
    anchors: &[(&str, &Checkpoint)],
) -> Result<VerifyReport, VerifyFailure> {
    let mut report = VerifyReport::empty();
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut line_no = 0_u64;
    let mut buf = Vec::new();
    let mut first_key: Option<VerifyingKey> = None;
    loop {
        let fail = |line: u64, seq: Option<u64>, reason: String| VerifyFailure {
            line,
            seq,
            kind: FailureKind::Chain,
            reason,
        };
        let terminated = match source.next_line(&mut buf) {
            Err(e) => return Err(fail(line_no + 1, None, format!("read error: {e}"))),
            Ok(LineRead::Eof) => break,
            Ok(LineRead::TooLong) => {
                return Err(fail(
                    line_no + 1,
                    None,
                    format!("line longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            Ok(LineRead::Line { terminated }) => terminated,
        };
        line_no += 1;
        let entry = parse_line(&buf).map_err(|(seq, reason)| fail(line_no, seq, reason))?;
        let seq = Some(entry.seq);
        if entry.seq != line_no {
            return Err(fail(
                line_no,
                seq,
                format!("seq out of order: expected {line_no}"),
            ));
        }
        if entry.prev_hash != expected_prev {
            return Err(fail(
                line_no,
                seq,
                "prev_hash does not match the previous entry's hash".to_owned(),
            ));
        }
        check_entry(&entry, &buf).map_err(|reason| fail(line_no, seq, reason))?;
        if !terminated {
            return Err(fail(
                line_no,
                seq,
                "the last line has no line feed (incomplete write or truncation)".to_owned(),
            ));
        }
        let checkpoint = read_checkpoint(&entry, line_no, trusted, &mut first_key)?;
        for (who, anchor) in anchors {
            if anchor.seq == line_no && checkpoint.as_ref() != Some(*anchor) {
                return Err(VerifyFailure {
                    line: line_no,
                    seq,
                    kind: FailureKind::Rewritten,
                    reason: format!(
                        "this line is not the checkpoint {who} holds (signed at {}, head {}): the log was rewritten",
                        anchor.ts_utc, anchor.head_hash
                    ),
                });
            }
        }
        if let Some(cp) = checkpoint {
            report.checkpoints += 1;
            report.last_checkpoint = Some(cp);
            report.unsigned_entries = 0;
        } else {
            report.unsigned_entries += 1;
        }
        expected_prev = entry.hash;
    }
    report.entries = line_no;
    report.last_hash = expected_prev;
    Ok(report)
}

/// `canonical_json(value)` as defined in the module docs: compact JSON with object keys
/// sorted by their UTF-8 bytes at every level, independent of `serde_json`'s `preserve_order`
/// feature (S17).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // `Number`'s Display is `serde_json`'s serialised form (itoa, or shortest round-trip).
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

/// Writes `s` as a JSON string with `serde_json`'s escapes (module docs).
fn write_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let b = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `hex(SHA-256(prev_hash ‖ "\n" ‖ seq ‖ "\n" ‖ canonical_event))`, the chain hash of the
/// entry `seq` (module docs, S17). `prev_hash` is the previous entry's hex hash (or
/// [`GENESIS_HASH`]), `canonical_event` is [`canonical_json`] of the event.
pub fn entry_hash(prev_hash: &str, seq: u64, canonical_event: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(seq.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_event.as_bytes());
    hex(hasher.finalize().as_slice())
}

/// One line of the file, including its line feed.
fn render_line(seq: u64, prev_hash: &str, canonical_event: &str, hash: &str) -> String {
    format!(
        "{{\"seq\":{seq},\"prev_hash\":\"{prev_hash}\",\"event\":{canonical_event},\"hash\":\"{hash}\"}}\n"
    )
}

/// A parsed line, before its chain checks.
struct RawEntry {
    seq: u64,
    prev_hash: String,
    event: Value,
    hash: String,
}

/// The signed checkpoint `entry` (line `line_no`) holds, if any, checked: its seq, its head
/// against the chain, and its signature against `trusted` or else the key the first
/// checkpoint names (kept in `first_key`).
fn read_checkpoint(
    entry: &RawEntry,
    line_no: u64,
    trusted: Option<&VerifyingKey>,
    first_key: &mut Option<VerifyingKey>,
) -> Result<Option<Checkpoint>, VerifyFailure> {
    let checkpoint_fail = |reason: String| VerifyFailure {
        line: line_no,
        seq: Some(entry.seq),
        kind: FailureKind::Checkpoint,
        reason,
    };
    match Checkpoint::from_event(&entry.event) {
        None => Ok(None),
        Some(Err(reason)) => Err(checkpoint_fail(reason)),
        Some(Ok(cp)) => {
            if cp.seq != entry.seq {
                return Err(checkpoint_fail(format!(
                    "the checkpoint names seq {} on line {}",
                    cp.seq, entry.seq
                )));
            }
            if cp.head_hash != entry.prev_hash {
                return Err(checkpoint_fail(
                    "the signed head_hash does not match the chain before it: the lines before it were changed and the chain recomputed".to_owned(),
                ));
            }
            let key = match trusted {
                Some(k) => *k,
                None => *first_key.get_or_insert(
                    crate::safeguards::audit_checkpoint::parse_public_key(&cp.public_key)
                        .map_err(&checkpoint_fail)?,
                ),
            };
            cp.check(Some(&key)).map_err(checkpoint_fail)?;
            Ok(Some(cp))
        }
    }
}

/// Parses one line (without its line feed) into its four fields. On failure, returns the
/// `seq` if it could be read and the reason.
fn parse_line(line: &[u8]) -> Result<RawEntry, (Option<u64>, String)> {
    if line.is_empty() {
        return Err((None, "empty line".to_owned()));
    }
    let value: Value =
        serde_json::from_slice(line).map_err(|e| (None, format!("not a valid JSON line: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err((None, "not a JSON object".to_owned()));
    };
    let seq = map.get("seq").and_then(Value::as_u64);
    let Some(seq) = seq else {
        return Err((None, "missing or invalid seq".to_owned()));
    };
    let mut hex_field = |name: &str| match map.remove(name) {
        Some(Value::String(s)) if is_hash_hex(&s) => Ok(s),
        _ => Err((Some(seq), format!("missing or invalid {name}"))),
    };
    let prev_hash = hex_field("prev_hash")?;
    let hash = hex_field("hash")?;
    let Some(event @ Value::Object(_)) = map.remove("event") else {
        return Err((Some(seq), "missing or invalid event".to_owned()));
    };
    map.remove("seq");
    if let Some(key) = map.keys().next() {
        return Err((Some(seq), format!("unexpected field {key:?}")));
    }
    Ok(RawEntry {
        seq,
        prev_hash,
        event,
        hash,
    })
}

/// Checks an entry's own hash and that `line` (without its line feed) is exactly its
/// canonical rendering.
fn check_entry(entry: &RawEntry, line: &[u8]) -> Result<(), String> {
    let canonical = canonical_json(&entry.event);
    if entry_hash(&entry.prev_hash, entry.seq, &canonical) != entry.hash {
        return Err("hash mismatch".to_owned());
    }
    let rendered = render_line(entry.seq, &entry.prev_hash, &canonical, &entry.hash);
    if rendered.as_bytes().strip_suffix(b"\n") != Some(line) {
        return Err("line is not in canonical form".to_owned());
    }
    Ok(())
}

fn is_hash_hex(s: &str) -> bool {
    s.len() == HASH_HEX_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What [`read_line_limited`] found.
enum LineRead {
    /// End of input.
    Eof,
    /// A line (now in the buffer, without its line feed); `terminated` is false for a final
    /// line with no line feed.
    Line { terminated: bool },
    /// A line longer than [`MAX_LINE_BYTES`].
    TooLong,
}

/// Reads the next line into `buf` (cleared first), reading at most [`MAX_LINE_BYTES`] + 1
/// bytes.
fn read_line_limited<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<LineRead> {
    buf.clear();
    let n = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(LineRead::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(LineRead::Line { terminated: true });
    }
    if buf.len() > MAX_LINE_BYTES {
        return Ok(LineRead::TooLong);
    }
    Ok(LineRead::Line { terminated: false })
}

/// Why the tail of the file could not give the chain head.
enum TailError {
    Io(io::Error),
    Invalid(String),
}

/// The chain head at the end of the file.
struct Tail {
    seq: u64,
    hash: String,
    /// The last line's checkpoint, when it is one.
    checkpoint: Option<Checkpoint>,
}

/// The `seq` and `hash` of the last line of a file of `len` bytes, after checking that the
/// line is complete and a valid entry on its own (its hash and canonical form; its link to the
/// line before is left to [`verify`]). Reads only the last line: a seek to the end.
fn read_tail(mut file: &File, len: u64) -> Result<Tail, TailError> {
    if len == 0 {
        return Ok(Tail {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
            checkpoint: None,
        });
    }
    let mut window = 4096_u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start)).map_err(TailError::Io)?;
        let mut buf = vec![0_u8; (len - start) as usize];
        file.read_exact(&mut buf).map_err(TailError::Io)?;
        let Some(body) = buf.strip_suffix(b"\n") else {
            return Err(TailError::Invalid(
                "the file does not end with a line feed (incomplete write or truncation)"
                    .to_owned(),
            ));
        };
        let last = match body.iter().rposition(|&b| b == b'\n') {
            Some(pos) => body.get(pos + 1..).unwrap_or_default(),
            None if start == 0 => body,
            None if window > MAX_LINE_BYTES as u64 + 1 => {
                return Err(TailError::Invalid("the last line is too long".to_owned()));
            }
            None => {
                window *= 2;
                continue;
            }
        };
        return tail_of_line(last).map_err(TailError::Invalid);
    }
}

/// The chain head after the line `last` (without its line feed), checked to be a valid entry
/// on its own (its hash and canonical form; its link to the line before is left to
/// [`verify`]).
fn tail_of_line(last: &[u8]) -> Result<Tail, String> {
    let entry = parse_line(last).map_err(|(_, reason)| reason)?;
    check_entry(&entry, last)?;
    if entry.seq == 0 || entry.seq == u64::MAX {
        return Err(format!("seq {} is out of range", entry.seq));
    }
    let checkpoint = Checkpoint::from_event(&entry.event).transpose()?;
    Ok(Tail {
        seq: entry.seq,
        hash: entry.hash,
        checkpoint,
    })
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// A random UUID v4 in the 8-4-4-4-12 lower-case form (RFC 9562 §5.4), from the operating
/// system's generator. If that fails (it does not on supported platforms), the 122 bits come
/// from a SHA-256 of the time, process id, thread and a counter instead: still unique, though
/// not unpredictable, which is all an event id needs.
fn uuid_v4() -> String {
    let mut b = [0_u8; 16];
    if getrandom::fill(&mut b).is_err() {
        b = fallback_unique_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn fallback_unique_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(format!("{:?}", std::thread::current().id()).as_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let digest = hasher.finalize();
    let mut out = [0_u8; 16];
    for (o, d) in out.iter_mut().zip(digest.as_slice()) {
        *o = *d;
    }
    out
}

/// `t` as RFC 3339 UTC with milliseconds, e.g. `2026-03-01T09:30:00.123Z`. Times before 1970
/// (a badly set clock) are written as the epoch.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let ms = u64::try_from(ms).unwrap_or(u64::MAX);
    let secs = ms / 1000;
    let millis = ms % 1000;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian `(year, month, day)`: Howard Hinnant's
/// `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>), as in
/// `domain::time` but not limited to `Day`'s range.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (y + i64::from(m <= 2), m, d)
}
