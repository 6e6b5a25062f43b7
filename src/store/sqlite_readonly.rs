//! Opening the store read-only, for a data directory that cannot be written: a read-only mount,
//! a copy handed to an auditor, `chmod 555` on the directory and `444` on the file (issue 14,
//! point 5).
//!
//! The store runs in WAL mode, and a WAL database needs its `-shm` file even to be read. When
//! the directory cannot be written and no `-shm` is there, `SQLite` cannot create one, so the
//! file is opened with `immutable=1`: no locks, no journal, read as it is on disk. That is
//! only right when nothing is waiting in the journal, so a non-empty `-wal` without a way to
//! read it is refused with a message saying what to do, never read past. `query_only` is set
//! on every read-only connection, and the schema must already be at this build's version (a
//! read-only store cannot be migrated).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{LATEST_SCHEMA_VERSION, SqliteStore, db, ensure_known_version, user_version};
use crate::store::cause::is_not_writable;
use crate::store::{StoreError, StoreResult};

impl SqliteStore {
    /// Opens the existing `data_dir/saferplaces.sqlite3` read-only: reads work, every write is
    /// refused with [`StoreError::ReadOnly`]. Works when neither the directory nor the file can
    /// be written.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] naming the file: it is missing or unreadable, its journal holds
    /// changes that cannot be read without write access, or its schema is older or newer than
    /// this build's.
    pub fn open_read_only(data_dir: &Path) -> StoreResult<Self> {
        let file = data_dir.join(Self::FILE_NAME);
        Self::open_read_only_because(&file, "opened read-only".to_owned())
    }

    /// [`SqliteStore::open_read_only`] of `file`, recording `reason` for the refusals.
    pub(super) fn open_read_only_because(file: &Path, reason: String) -> StoreResult<Self> {
        let open_err = |e: StoreError| StoreError::Open {
            file: file.to_path_buf(),
            source: Box::new(e),
        };
        std::fs::metadata(file)
            .map_err(|source| StoreError::DataDir {
                path: file.to_path_buf(),
                source,
            })
            .map_err(open_err)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let plain = Connection::open_with_flags(file, flags)
            .map_err(db("opening the database file read-only"))
            .and_then(|conn| user_version(&conn).map(|v| (conn, v)));
        let (conn, version) = match plain {
            Ok(found) => found,
            Err(StoreError::Database { source, .. }) if is_not_writable(&source) => {
                // No -shm and no way to create one: read the file as it is, if the journal
                // holds nothing that is not in it.
                let wal = wal_path(file);
                let pending = std::fs::metadata(&wal).map_or(0, |m| m.len());
                if pending > 0 {
                    return Err(open_err(StoreError::ReadOnly {
                        operation: "read the changes waiting in the journal",
                        file: wal,
                        reason: format!(
                            "{pending} bytes not yet copied into the database, and its \
                             shared-memory file cannot be created in the read-only directory; \
                             open the store once with write access so they are copied in"
                        ),
                    }));
                }
                let conn = Connection::open_with_flags(immutable_uri(file), flags)
                    .map_err(db("opening the database file as immutable"))
                    .map_err(open_err)?;
                let version = user_version(&conn).map_err(open_err)?;
                (conn, version)
            }
            Err(e) => return Err(open_err(e)),
        };
        ensure_known_version(version).map_err(open_err)?;
        super::row_checksum::register(&conn).map_err(open_err)?;
        if version != LATEST_SCHEMA_VERSION {
            return Err(open_err(StoreError::ReadOnly {
                operation: "bring the schema up to date",
                file: file.to_path_buf(),
                reason: format!(
                    "schema version {version}, this build needs {LATEST_SCHEMA_VERSION}; open it \
                     once with write access to migrate it"
                ),
            }));
        }
        for (pragma, value) in [
            ("query_only", "ON"),
            ("foreign_keys", "ON"),
            ("temp_store", "MEMORY"),
        ] {
            conn.pragma_update(None, pragma, value)
                .map_err(db("setting a read-only connection's pragmas"))
                .map_err(open_err)?;
        }
        Ok(Self {
            conn,
            file: file.to_path_buf(),
            read_only: Some(reason),
        })
    }
}

/// True when opening for writing failed only because the store cannot be written, so a
/// read-only open is worth trying.
pub(super) fn not_writable(e: &StoreError) -> bool {
    match e {
        StoreError::Database { source, .. } => is_not_writable(source),
        StoreError::DataDir { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
        ),
        _ => false,
    }
}

/// Why the store is read-only, from the error of the attempt to open it for writing: the
/// cause in words.
pub(super) fn reason(e: &StoreError) -> String {
    match e {
        StoreError::Database { source, .. } => {
            crate::store::cause::sqlite_cause(source).unwrap_or_else(|| source.to_string())
        }
        StoreError::DataDir { path, source } => format!("{}: {source}", path.display()),
        other => other.to_string(),
    }
}

/// The `-wal` journal beside `file`.
fn wal_path(file: &Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// A `file:` URI for `file` with `immutable=1`, percent-encoding every byte that is not
/// unreserved or a slash (so `?`, `#` and `%` in a path cannot change the URI's meaning).
fn immutable_uri(file: &Path) -> String {
    use std::fmt::Write as _;
    let mut uri = String::from("file:");
    for &b in file.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(char::from(b));
        } else {
            let _ = write!(uri, "%{b:02X}");
        }
    }
    uri.push_str("?immutable=1");
    uri
}

#[cfg(test)]
#[path = "storage_errors_tests.rs"]
mod tests;
