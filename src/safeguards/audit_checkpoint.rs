//! Signed checkpoints of the audit chain, the signing key and the witness (safeguards.md S17).
//!
//! A hash chain alone proves only that the lines it holds were not changed one at a time: a
//! rewrite that recomputes every hash, a removal of the last lines, an emptied or a deleted file
//! all leave a chain that verifies. A checkpoint is an Ed25519 signature, by a key kept outside
//! the data directory, over the chain head at one moment; the latest one is also written to a
//! witness directory apart from the log. See the module docs of [`super::audit`] for where
//! checkpoint lines go and what `audit verify` concludes from them.
//!
//! # The signed statement
//!
//! A checkpoint with sequence number `seq` (its own line in the chain), covering the `count`
//! lines before it (always `seq - 1`), whose last line has the hash `head_hash`, made at
//! `ts_utc`, signs the ASCII bytes
//!
//! ```text
//! saferplaces-audit-checkpoint-v1\n<seq>\n<count>\n<head_hash>\n<ts_utc>
//! ```
//!
//! (numbers in decimal, `head_hash` lower-case hex) with Ed25519 (RFC 8032). `public_key` is the
//! 32-byte verifying key and `signature` the 64-byte signature, both in lower-case hex.
//!
//! # The key file
//!
//! `SAFERPLACES_AUDIT_KEY_FILE` holds the 32-byte Ed25519 secret seed as 64 lower-case hex
//! digits and a line feed, mode `0600`; `<key file>.pub` holds the public key the same way and
//! is what verifiers need. A missing key is generated from the operating system's random source
//! the first time a log is opened for writing; the file is created atomically (written under a
//! temporary name, then hard-linked into place) so two processes starting together agree on one
//! key. A key file readable by group or others is refused.
//!
//! # The witness
//!
//! `<witness dir>/audit-head.json` ([`WITNESS_FILE_NAME`]) holds the latest checkpoint as one
//! JSON object (the fields of [`Checkpoint`]), replaced atomically (temporary file, `fsync`,
//! rename, `fsync` of the directory) each time a checkpoint is written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The first line of every signed statement: names the format so a signature over anything
/// else can never pass for a checkpoint.
pub const CHECKPOINT_DOMAIN: &str = "saferplaces-audit-checkpoint-v1";

/// The `event_type` of a checkpoint line's event (never an [`super::audit::AuditEventType`]).
pub const CHECKPOINT_EVENT_TYPE: &str = "checkpoint";

/// The witness file inside the witness directory.
pub const WITNESS_FILE_NAME: &str = "audit-head.json";

/// Errors of the key and the witness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The key file (or its `.pub`) could not be read, created or written.
    #[error("cannot {operation} the audit key file {path}")]
    KeyIo {
        /// What was being done (`read`, `create`, `write`), issue 14 point 5.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The key file does not hold a key in the documented form.
    #[error("audit key file {path}: {reason}")]
    KeyInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The operating system's random source failed, so no key could be generated.
    #[error("cannot generate an audit key for {path}: {reason}")]
    Random {
        /// The key file that was to be created.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
    /// The witness could not be read or written.
    #[error("cannot {operation} the audit witness {path}")]
    WitnessIo {
        /// What was being done (`read`, `write`), issue 14 point 5.
        operation: &'static str,
        /// The witness file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The witness file is not a checkpoint.
    #[error("audit witness {path} is not a checkpoint: {reason}")]
    WitnessInvalid {
        /// The witness file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One signed checkpoint: the statement "the log's first `count` lines end in `head_hash`",
/// as the checkpoint line `seq` of the chain, in the witness and in `audit head`'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The `seq` of the checkpoint's own line in the chain.
    pub seq: u64,
    /// How many lines it covers: every line before it, so `seq - 1`.
    pub count: u64,
    /// The hash of line `count` (the checkpoint line's `prev_hash`).
    pub head_hash: String,
    /// When it was made, RFC 3339 UTC with milliseconds.
    pub ts_utc: String,
    /// The Ed25519 verifying key, lower-case hex (64 digits).
    pub public_key: String,
    /// The Ed25519 signature of [`Checkpoint::message`], lower-case hex (128 digits).
    pub signature: String,
}

impl Checkpoint {
    /// Signs a checkpoint at `seq` over the chain head `head_hash` (the hash of line `seq - 1`).
    pub fn sign(key: &SigningKey, seq: u64, head_hash: &str, ts_utc: &str) -> Self {
        let count = seq.saturating_sub(1);
        let signature = key.sign(message(seq, count, head_hash, ts_utc).as_bytes());
        Self {
            seq,
            count,
            head_hash: head_hash.to_owned(),
            ts_utc: ts_utc.to_owned(),
            public_key: super::audit::hex(key.verifying_key().as_bytes()),
            signature: super::audit::hex(&signature.to_bytes()),
        }
    }

    /// The signed bytes (module docs).
    pub fn message(&self) -> String {
        message(self.seq, self.count, &self.head_hash, &self.ts_utc)
    }

    /// Checks the checkpoint's own consistency and its signature. With `trusted`, the
    /// checkpoint must name that key; without, it is checked against the key it names (which
    /// proves nothing about who signed it: callers say so).
    ///
    /// # Errors
    ///
    /// What is wrong, as a sentence.
    pub fn check(&self, trusted: Option<&VerifyingKey>) -> Result<(), String> {
        if self.count + 1 != self.seq {
            return Err(format!(
                "checkpoint count {} does not equal its seq {} minus one",
                self.count, self.seq
            ));
        }
        let named = parse_public_key(&self.public_key)?;
        let key = match trusted {
            Some(t) if t.as_bytes() != named.as_bytes() => {
                return Err(format!(
                    "checkpoint signed by key {} instead of the trusted key {}",
                    self.public_key,
                    super::audit::hex(t.as_bytes())
                ));
            }
            Some(t) => t,
            None => &named,
        };
        let bytes: [u8; 64] = unhex(&self.signature)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| "checkpoint signature is not 128 hex digits".to_owned())?;
        key.verify_strict(self.message().as_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| "checkpoint signature does not verify".to_owned())
    }

    /// The event of the checkpoint's line: `{"checkpoint":{...},"event_type":"checkpoint"}`.
    pub fn to_event(&self) -> Value {
        serde_json::json!({
            "event_type": CHECKPOINT_EVENT_TYPE,
            "checkpoint": {
                "seq": self.seq,
                "count": self.count,
                "head_hash": self.head_hash,
                "ts_utc": self.ts_utc,
                "public_key": self.public_key,
                "signature": self.signature,
            },
        })
    }

    /// `None` when `event` is not a checkpoint event; otherwise the checkpoint or why it is
    /// malformed.
    pub fn from_event(event: &Value) -> Option<Result<Self, String>> {
        if event.get("event_type").and_then(Value::as_str) != Some(CHECKPOINT_EVENT_TYPE) {
            return None;
        }
        let Some(map) = event.as_object() else {
            return Some(Err("checkpoint event is not an object".to_owned()));
        };
        if map.len() != 2 {
            return Some(Err(
                "a checkpoint event holds exactly event_type and checkpoint".to_owned(),
            ));
        }
        Some(
            map.get("checkpoint")
                .cloned()
                .ok_or_else(|| "checkpoint event without its checkpoint".to_owned())
                .and_then(|v| {
                    serde_json::from_value(v).map_err(|e| format!("malformed checkpoint: {e}"))
                }),
        )
    }
}

fn message(seq: u64, count: u64, head_hash: &str, ts_utc: &str) -> String {
    format!("{CHECKPOINT_DOMAIN}\n{seq}\n{count}\n{head_hash}\n{ts_utc}")
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok()))
        .collect()
}

/// Parses a public key in lower-case hex.
///
/// # Errors
///
/// What is wrong, as a sentence.
pub fn parse_public_key(hex: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = unhex(hex.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("public key {hex:?} is not 64 lower-case hex digits"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("public key {hex:?} is invalid: {e}"))
}

/// The public key file beside a key file: `<key file>.pub`.
pub fn public_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Loads the signing key at `path`, generating it (and `<path>.pub`) when absent (module
/// docs). Creates the parent directory with mode `0700` if needed.
///
/// # Errors
///
/// [`CheckpointError::KeyIo`], [`CheckpointError::KeyInvalid`] (including a key readable by
/// group or others) or [`CheckpointError::Random`].
pub fn load_or_create_key(path: &Path) -> Result<SigningKey, CheckpointError> {
    let io_err = |source| CheckpointError::KeyIo {
        operation: "read",
        path: path.to_path_buf(),
        source,
    };
    match fs::metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_key(path)?,
        Err(e) => return Err(io_err(e)),
    }
    let meta = fs::metadata(path).map_err(io_err)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CheckpointError::KeyInvalid {
            path: path.to_path_buf(),
            reason: format!(
                "mode {:o} lets group or others read the key; chmod 600 it",
                meta.permissions().mode() & 0o777
            ),
        });
    }
    let text = fs::read_to_string(path).map_err(io_err)?;
    let seed: [u8; 32] = unhex(text.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CheckpointError::KeyInvalid {
            path: path.to_path_buf(),
            reason: "expected 64 lower-case hex digits (a 32-byte Ed25519 seed)".to_owned(),
        })?;
    let key = SigningKey::from_bytes(&seed);
    write_public_key(path, &key.verifying_key())?;
    Ok(key)
}

/// Creates the key file atomically; losing a race to another process is fine.
fn create_key(path: &Path) -> Result<(), CheckpointError> {
    let io_err = |p: &Path, source| CheckpointError::KeyIo {
        operation: "create",
        path: p.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| io_err(parent, e))?;
    }
    let mut seed = [0_u8; 32];
    getrandom::fill(&mut seed).map_err(|e| CheckpointError::Random {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let tmp = temporary_name(path);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{}\n", super::audit::hex(&seed)).as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&tmp, e));
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_parent(path);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(path, e)),
    }
}

/// Writes `<key file>.pub` when it is absent or differs.
fn write_public_key(key_file: &Path, key: &VerifyingKey) -> Result<(), CheckpointError> {
    let path = public_key_path(key_file);
    let text = format!("{}\n", super::audit::hex(key.as_bytes()));
    if fs::read_to_string(&path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    replace_file(&path, text.as_bytes(), 0o644).map_err(|source| CheckpointError::KeyIo {
        operation: "write",
        path: path.clone(),
        source,
    })
}

/// The trusted public key for verification: `<key file>.pub`, else derived from the key file
/// itself; `None` when neither exists.
///
/// # Errors
///
/// [`CheckpointError::KeyIo`] or [`CheckpointError::KeyInvalid`] when a file exists but cannot
/// be read or parsed.
pub fn trusted_public_key(key_file: &Path) -> Result<Option<VerifyingKey>, CheckpointError> {
    let pub_path = public_key_path(key_file);
    match fs::read_to_string(&pub_path) {
        Ok(text) => {
            return parse_public_key(&text).map(Some).map_err(|reason| {
                CheckpointError::KeyInvalid {
                    path: pub_path,
                    reason,
                }
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(CheckpointError::KeyIo {
                operation: "read",
                path: pub_path,
                source,
            });
        }
    }
    if !key_file.exists() {
        return Ok(None);
    }
    load_or_create_key(key_file).map(|k| Some(k.verifying_key()))
}

/// Reads the witness in `dir`: `None` when there is none.
///
/// # Errors
///
/// [`CheckpointError::WitnessIo`] or [`CheckpointError::WitnessInvalid`].
pub fn read_witness(dir: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
    let path = dir.join(WITNESS_FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckpointError::WitnessIo {
                operation: "read",
                path,
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| CheckpointError::WitnessInvalid {
            path,
            reason: e.to_string(),
        })
}

/// Replaces the witness in `dir` with `checkpoint`, atomically and durably (module docs).
///
/// # Errors
///
/// [`CheckpointError::WitnessIo`].
pub fn write_witness(dir: &Path, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
    let io_err = |path: &Path, source| CheckpointError::WitnessIo {
        operation: "write",
        path: path.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let path = dir.join(WITNESS_FILE_NAME);
    let mut text = serde_json::to_string(checkpoint).map_err(|e| io_err(&path, e.into()))?;
    text.push('\n');
    replace_file(&path, text.as_bytes(), 0o644).map_err(|e| io_err(&path, e))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, `fsync`, rename and
/// `fsync` of the directory.
fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = temporary_name(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_parent(path);
    Ok(())
}

/// `<path>.tmp.<pid>.<n>`: unique per process and call, so concurrent writers never share one.
fn temporary_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(tmp)
}

/// `fsync` of the directory holding `path`, so a rename or a new name survives a crash. Best
/// effort: not every filesystem lets a directory be opened for syncing.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}
