//! Store errors: every variant names the database path and the cause, and the message says what to
//! do about it. Classifies raw SQLite failures into the few kinds the store reacts to differently
//! (retry later, move a corrupt file aside, reject one record).
//!
//! Must not: decide policy (the worker does), or hide the SQLite extended code from the message.

use std::path::PathBuf;

use rusqlite::ffi::ErrorCode;

/// Why a store operation failed. `pending` is how many durable records the store is holding in
/// memory (waiting for the database to come back) at the moment the error was made.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path} is on a full file system (SQLITE_FULL) — free space or move store.path to another disk; keeping {pending} records in memory until then")]
    Full { path: PathBuf, pending: usize },

    #[error("database {path} is read-only ({cause}) — make the file and its directory writable by simkeep, or move store.path; keeping {pending} records in memory until then")]
    ReadOnly {
        path: PathBuf,
        cause: rusqlite::Error,
        pending: usize,
    },

    #[error("database {path} is locked by another process (SQLITE_BUSY after waiting {waited_ms} ms) — is a second simkeep or an sqlite3 shell holding it? keeping {pending} records in memory until then")]
    Locked {
        path: PathBuf,
        waited_ms: u64,
        pending: usize,
    },

    #[error("cannot open database {path} ({cause}) — check that the directory exists and is writable, or set store.path to another disk; keeping {pending} records in memory until then")]
    CannotOpen {
        path: PathBuf,
        cause: rusqlite::Error,
        pending: usize,
    },

    #[error("i/o error on database {path} ({cause}) — check the storage device and dmesg; keeping {pending} records in memory until then")]
    Io {
        path: PathBuf,
        cause: rusqlite::Error,
        pending: usize,
    },

    #[error("database {path} is corrupt ({cause}) — it was moved to {moved_to} and a fresh database started; inspect or delete the old file by hand")]
    Corrupt {
        path: PathBuf,
        moved_to: PathBuf,
        cause: String,
    },

    #[error("database {path} is corrupt ({cause}) and could not be moved aside ({move_error}) — stop simkeep and move the file away by hand")]
    CorruptStuck {
        path: PathBuf,
        cause: String,
        move_error: std::io::Error,
    },

    #[error("database {path} has schema version {found}, newer than the {known} this simkeep knows — it was written by a newer simkeep; upgrade simkeep or point store.path at another file")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error("migrating database {path} to schema version {to_version} failed ({cause}) — the file was left at the previous version; report this as a bug")]
    Migration {
        path: PathBuf,
        to_version: i64,
        cause: rusqlite::Error,
    },

    #[error("sqlite error on database {path} ({cause}) — this is a bug in simkeep's store; please report it")]
    Sql {
        path: PathBuf,
        cause: rusqlite::Error,
    },

    #[error("top-up decision {key:?} is already in the ledger — refusing to record it twice")]
    DuplicateDecision { key: String },

    #[error("top-up ledger entry {id} does not exist — was it begun with ledger_begin?")]
    LedgerNotFound { id: i64 },

    #[error("{what} value {value} does not fit the store's 64-bit signed column — it is not a real reading")]
    OutOfRange { what: &'static str, value: u64 },

    #[error("store at {path} is not writable and already holds {pending} durable records in memory — refusing more; fix the database path (see the earlier error)")]
    QueueFull { path: PathBuf, pending: usize },

    #[error("store command queue is full ({capacity} commands waiting) — the store thread is stuck on a slow disk; retry later")]
    Busy { capacity: usize },

    #[error("store thread has stopped — simkeep is shutting down, or the store failed earlier (see the log); restart simkeep")]
    Stopped,

    #[error("cannot start the store thread for {path} ({cause}) — the system is out of threads or memory")]
    Spawn {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// The database could not be opened moments ago; `cause` is that error's whole message
    /// (it names the path and what to do), so it is not wrapped in a second one.
    #[error("{}", unavailable(path, cause))]
    Unavailable { path: PathBuf, cause: String },
}

fn unavailable(path: &std::path::Path, cause: &str) -> String {
    if cause.is_empty() {
        format!("database {} is not open — retrying shortly", path.display())
    } else {
        format!("{cause} (not open; retrying shortly)")
    }
}

/// What the worker should do about a failed SQLite call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// The file system or another process is in the way: keep data in memory, retry later.
    Retry,
    /// The file is not a database or is damaged: move it aside and start fresh.
    Corrupt,
    /// A constraint rejected this one record (e.g. a duplicate decision key).
    Constraint,
    /// Anything else: a bug in our SQL. Not retried forever, reported.
    Bug,
}

pub(super) fn fault_of(e: &rusqlite::Error) -> Fault {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure
            | ErrorCode::PermissionDenied
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::OutOfMemory,
        ) => Fault::Retry,
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Fault::Corrupt,
        Some(ErrorCode::ConstraintViolation) => Fault::Constraint,
        _ => Fault::Bug,
    }
}

/// What the file system says about the database's directory when SQLite reports only a generic
/// I/O or open error (SQLite maps EROFS and some ENOSPC paths to `SQLITE_IOERR`/`CANTOPEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FsState {
    ReadOnly,
    Full,
    Unknown,
}

fn fs_state(path: &std::path::Path) -> FsState {
    use std::os::unix::ffi::OsStrExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return FsState::Unknown;
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a writable statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return FsState::Unknown;
    }
    if st.f_flag & libc::ST_RDONLY != 0 {
        return FsState::ReadOnly;
    }
    if st.f_bavail == 0 {
        return FsState::Full;
    }
    // SAFETY: as above; access(2) only reads the path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
        return FsState::ReadOnly;
    }
    FsState::Unknown
}

/// Turns a raw SQLite error into the store error the caller sees.
pub(super) fn classify(
    path: &std::path::Path,
    e: rusqlite::Error,
    pending: usize,
    busy_ms: u64,
) -> StoreError {
    let code = e.sqlite_error_code();
    if matches!(
        code,
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen)
    ) {
        match fs_state(path) {
            FsState::ReadOnly => {
                return StoreError::ReadOnly {
                    path: path.to_path_buf(),
                    cause: e,
                    pending,
                }
            }
            FsState::Full => {
                return StoreError::Full {
                    path: path.to_path_buf(),
                    pending,
                }
            }
            FsState::Unknown => {}
        }
    }
    let path = path.to_path_buf();
    match code {
        Some(ErrorCode::DiskFull) => StoreError::Full { path, pending },
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => StoreError::ReadOnly {
            path,
            cause: e,
            pending,
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
            path,
            waited_ms: busy_ms,
            pending,
        },
        Some(ErrorCode::CannotOpen) => StoreError::CannotOpen {
            path,
            cause: e,
            pending,
        },
        Some(
            ErrorCode::SystemIoFailure
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::OutOfMemory,
        ) => StoreError::Io {
            path,
            cause: e,
            pending,
        },
        _ => StoreError::Sql { path, cause: e },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_err(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn a_full_disk_message_names_the_path_the_cause_and_what_to_do() {
        let e = classify(
            std::path::Path::new("/etc/simkeep/simkeep.db"),
            sqlite_err(rusqlite::ffi::SQLITE_FULL),
            3,
            0,
        );
        assert_eq!(
            e.to_string(),
            "database /etc/simkeep/simkeep.db is on a full file system (SQLITE_FULL) — free space \
             or move store.path to another disk; keeping 3 records in memory until then"
        );
    }

    #[test]
    fn busy_and_readonly_and_full_are_retried_but_corruption_is_not() {
        assert_eq!(
            fault_of(&sqlite_err(rusqlite::ffi::SQLITE_BUSY)),
            Fault::Retry
        );
        assert_eq!(
            fault_of(&sqlite_err(rusqlite::ffi::SQLITE_READONLY)),
            Fault::Retry
        );
        assert_eq!(
            fault_of(&sqlite_err(rusqlite::ffi::SQLITE_FULL)),
            Fault::Retry
        );
        assert_eq!(
            fault_of(&sqlite_err(rusqlite::ffi::SQLITE_NOTADB)),
            Fault::Corrupt
        );
        assert_eq!(
            fault_of(&sqlite_err(rusqlite::ffi::SQLITE_CORRUPT)),
            Fault::Corrupt
        );
        assert_eq!(
            fault_of(&sqlite_err(rusqlite::ffi::SQLITE_CONSTRAINT)),
            Fault::Constraint
        );
        assert_eq!(fault_of(&rusqlite::Error::QueryReturnedNoRows), Fault::Bug);
    }

    #[test]
    fn a_locked_database_says_how_long_it_waited() {
        let e = classify(
            std::path::Path::new("/tmp/x.db"),
            sqlite_err(rusqlite::ffi::SQLITE_BUSY),
            0,
            5000,
        );
        assert!(e.to_string().contains("after waiting 5000 ms"), "{e}");
    }

    #[test]
    fn a_database_not_open_names_its_path_once_with_the_cause_that_kept_it_closed() {
        let path = std::path::Path::new("/overlay/simkeep.db");
        let cause = classify(path, sqlite_err(rusqlite::ffi::SQLITE_READONLY), 2, 0).to_string();
        let e = StoreError::Unavailable {
            path: path.into(),
            cause: cause.clone(),
        };
        let text = e.to_string();
        assert_eq!(text.matches("/overlay/simkeep.db").count(), 1, "{text}");
        assert!(
            text.starts_with(&cause) && text.ends_with("retrying shortly)"),
            "{text}"
        );
        let bare = StoreError::Unavailable {
            path: path.into(),
            cause: String::new(),
        };
        assert_eq!(
            bare.to_string(),
            "database /overlay/simkeep.db is not open — retrying shortly"
        );
    }
}
