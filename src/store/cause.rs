//! The operating system's or `SQLite`'s cause of a storage failure, in words a user understands
//! (issue 14, point 5): "the disk or the database is full" rather than "Error code 13".
//!
//! `SQLite` reports a primary result code and an extended code that says more (for example
//! `SQLITE_READONLY_DIRECTORY`: the database's directory cannot be written, so its journal
//! cannot be created). The words name the code too, so an operator can look it up.

use rusqlite::ffi;

/// What went wrong, in words, with the `SQLite` code name in brackets; `None` for errors that
/// are not about the file or the disk (constraint violations, SQL mistakes, type mismatches),
/// whose own text is clearer.
pub fn sqlite_cause(error: &rusqlite::Error) -> Option<String> {
    let e = error.sqlite_error()?;
    let words = match e.code {
        ffi::ErrorCode::DiskFull => "the disk or the database is full",
        ffi::ErrorCode::ReadOnly => match e.extended_code {
            ffi::SQLITE_READONLY_DIRECTORY => {
                "the database is read-only: its directory cannot be written (permissions or a \
                 read-only mount), so its journal cannot be created"
            }
            ffi::SQLITE_READONLY_CANTINIT | ffi::SQLITE_READONLY_CANTLOCK => {
                "the database is read-only: its shared-memory file (-shm) cannot be written"
            }
            ffi::SQLITE_READONLY_RECOVERY => {
                "the database is read-only and its journal needs recovery, which needs write access"
            }
            _ => {
                "the database is read-only: the file or its directory cannot be written \
                 (permissions or a read-only mount)"
            }
        },
        ffi::ErrorCode::CannotOpen => {
            "the database file cannot be opened: it or its directory is missing, not readable, \
             or not writable for its journal (permissions or a read-only mount)"
        }
        ffi::ErrorCode::PermissionDenied => "permission denied by the operating system",
        ffi::ErrorCode::DatabaseCorrupt => "the database file is corrupt",
        ffi::ErrorCode::NotADatabase => "the file is not a SQLite database, or is corrupt",
        ffi::ErrorCode::SystemIoFailure => match e.extended_code {
            ffi::SQLITE_IOERR_WRITE | ffi::SQLITE_IOERR_FSYNC | ffi::SQLITE_IOERR_TRUNCATE => {
                "the operating system could not write the database file (disk error or full disk)"
            }
            ffi::SQLITE_IOERR_SHMOPEN | ffi::SQLITE_IOERR_SHMSIZE | ffi::SQLITE_IOERR_SHMMAP => {
                "the shared-memory file (-shm) beside the database cannot be opened or grown"
            }
            _ => "the operating system reported an I/O error on the database file",
        },
        ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked => {
            "the database is locked by another process"
        }
        ffi::ErrorCode::FileLockingProtocolFailed => "the file system does not support locking",
        ffi::ErrorCode::NoLargeFileSupport => "the file system does not support large files",
        _ => return None,
    };
    Some(format!("{words} ({})", code_name(e.extended_code)))
}

/// True when `error` means the database cannot be written or opened for writing (read-only
/// file, directory or mount; permission), so opening it read-only may still work.
pub fn is_not_writable(error: &rusqlite::Error) -> bool {
    error.sqlite_error().is_some_and(|e| {
        matches!(
            e.code,
            ffi::ErrorCode::ReadOnly
                | ffi::ErrorCode::CannotOpen
                | ffi::ErrorCode::PermissionDenied
        ) || matches!(
            e.extended_code,
            ffi::SQLITE_IOERR_SHMOPEN | ffi::SQLITE_IOERR_SHMSIZE
        )
    })
}

/// The `SQLite` name of an extended result code (`SQLITE_READONLY_DIRECTORY`), falling back
/// to the primary code's name and the number.
fn code_name(extended: i32) -> String {
    let known = match extended {
        ffi::SQLITE_FULL => "SQLITE_FULL",
        ffi::SQLITE_READONLY => "SQLITE_READONLY",
        ffi::SQLITE_READONLY_DIRECTORY => "SQLITE_READONLY_DIRECTORY",
        ffi::SQLITE_READONLY_CANTINIT => "SQLITE_READONLY_CANTINIT",
        ffi::SQLITE_READONLY_CANTLOCK => "SQLITE_READONLY_CANTLOCK",
        ffi::SQLITE_READONLY_RECOVERY => "SQLITE_READONLY_RECOVERY",
        ffi::SQLITE_READONLY_DBMOVED => "SQLITE_READONLY_DBMOVED",
        ffi::SQLITE_CANTOPEN => "SQLITE_CANTOPEN",
        ffi::SQLITE_PERM => "SQLITE_PERM",
        ffi::SQLITE_CORRUPT => "SQLITE_CORRUPT",
        ffi::SQLITE_NOTADB => "SQLITE_NOTADB",
        ffi::SQLITE_IOERR => "SQLITE_IOERR",
        ffi::SQLITE_IOERR_WRITE => "SQLITE_IOERR_WRITE",
        ffi::SQLITE_IOERR_FSYNC => "SQLITE_IOERR_FSYNC",
        ffi::SQLITE_IOERR_TRUNCATE => "SQLITE_IOERR_TRUNCATE",
        ffi::SQLITE_IOERR_SHMOPEN => "SQLITE_IOERR_SHMOPEN",
        ffi::SQLITE_IOERR_SHMSIZE => "SQLITE_IOERR_SHMSIZE",
        ffi::SQLITE_IOERR_SHMMAP => "SQLITE_IOERR_SHMMAP",
        ffi::SQLITE_BUSY => "SQLITE_BUSY",
        ffi::SQLITE_LOCKED => "SQLITE_LOCKED",
        ffi::SQLITE_NOLFS => "SQLITE_NOLFS",
        ffi::SQLITE_PROTOCOL => "SQLITE_PROTOCOL",
        _ => "",
    };
    if known.is_empty() {
        format!("SQLite code {extended}")
    } else {
        known.to_owned()
    }
}

/// The end of [`super::StoreError::Database`]'s `Display`: `": "` and the words of
/// [`sqlite_cause`], or nothing when the driver's own text (the error's source) says it best.
pub(super) fn suffix(error: &rusqlite::Error) -> String {
    sqlite_cause(error).map_or_else(String::new, |words| format!(": {words}"))
}
