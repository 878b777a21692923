//! The SQLite blacklist: bans, allowlist, audit log, mode history and false-positive feedback.
//!
//! One [`Store`] is owned by the enforcer's single writer thread. Every decision is one transaction
//! ([`Store::write`]); reads go through [`Reader`]. The database runs in WAL mode with
//! `synchronous = NORMAL`: a committed transaction survives the process being killed (the case the
//! enforcer must survive), and the database stays consistent on power loss. WAL checkpoints (the only
//! fsyncs) run on a background connection, so a decision never waits for one.
//!
//! Opening never silently replaces a bad database: a locked, corrupt or too-new file is a
//! [`StoreError`] naming the file.

mod read;
mod rows;
mod schema;
mod write;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

pub use read::{LiveCounts, Reader};
pub use rows::{AllowRow, AuditAction, AuditRow, BanRow, EndCause, ModeRecord, ModeSource, NewBan};
pub use schema::SCHEMA_VERSION;
pub use write::Writer;

/// How long opening waits for another connection's lock before giving up. Short: the enforcer is the
/// database's only user, so a lock held this long means another process has it.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Why the database could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not an SQLite database, or fails its integrity check.
    #[error(
        "blacklist database {path} is corrupt or not an SQLite database ({detail}); \
         refusing to start with an empty blacklist: restore a backup or move the file aside"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// SQLite's complaint.
        detail: String,
    },
    /// Another process holds a lock on the database.
    #[error(
        "blacklist database {path} is locked by another process (is another argus-enforcer \
         running?): {detail}"
    )]
    Locked {
        /// The file.
        path: PathBuf,
        /// SQLite's complaint.
        detail: String,
    },
    /// The database was written by a newer enforcer.
    #[error(
        "blacklist database {path} has schema version {found}, newer than this enforcer's \
         {supported}; upgrade argus-enforcer"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// The directory for a new database could not be created.
    #[error("blacklist database {path}: cannot create its directory: {source}")]
    CreateDir {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Any other SQLite failure.
    #[error("blacklist database {path}: {action}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Maps an SQLite error to the [`StoreError`] a person can act on.
pub(crate) fn classify(path: &Path, action: &'static str, e: rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        _ => StoreError::Sqlite {
            path,
            action,
            source: e,
        },
    }
}

/// How often the background connection checkpoints the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checkpoints the WAL from its own connection. SQLite's automatic checkpoint would run inside a
/// decision's commit and stall it for an fsync (milliseconds on an SD card); a PASSIVE checkpoint
/// here runs beside the writer without blocking it.
struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn spawn(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(path, "open checkpoint connection", e))?;
        conn.busy_timeout(LOCK_WAIT)
            .map_err(|e| classify(path, "set busy timeout", e))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let db = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(db = %db.display(), error = %e, "WAL checkpoint failed; retrying");
                    }
                }
            })
            .expect("spawning the checkpoint thread");
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The open blacklist database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    _checkpointer: Option<Checkpointer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if absent) the database at `path`, checks it and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let existed = path.exists();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| classify(path, "open", e))?;
        if !existed {
            tracing::warn!(db = %path.display(), "no blacklist database yet: creating a new one");
        }
        Self::init(conn, path.to_owned(), true)
    }

    /// An empty in-memory database (tests and benchmarks).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| classify(&path, "open", e))?;
        Self::init(conn, path, false)
    }

    fn init(conn: Connection, path: PathBuf, wal: bool) -> Result<Self, StoreError> {
        let e = |action| {
            let path = path.clone();
            move |err| classify(&path, action, err)
        };
        conn.busy_timeout(LOCK_WAIT)
            .map_err(e("set busy timeout"))?;
        // The first statement reads the file header, so garbage fails here with NOTADB.
        let mut checkpointer = None;
        if wal {
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(e("enable WAL"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Locked {
                    path,
                    detail: format!("cannot switch to WAL mode (still {mode})"),
                });
            }
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(e("disable automatic checkpoints"))?;
            checkpointer = Some(Checkpointer::spawn(&path)?);
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(e("set synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(e("enable foreign keys"))?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(e("integrity check"))?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path,
                detail: format!("integrity check: {check}"),
            });
        }
        let mut store = Self {
            conn,
            path,
            _checkpointer: checkpointer,
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        // IMMEDIATE takes the write lock now, so a database another process is writing is reported
        // as locked at start rather than on the first verdict.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, "lock for migration", e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| classify(&path, "read schema version", e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .map_err(|e| classify(&path, "apply migration", e))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(|e| classify(&path, "set schema version", e))?;
            tracing::info!(db = %path.display(), version = i + 1, "database schema migrated");
        }
        tx.commit()
            .map_err(|e| classify(&path, "commit migration", e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read access.
    pub fn read(&self) -> Reader<'_> {
        Reader::new(&self.conn, &self.path)
    }

    /// Runs `f` in one write transaction, committed when `f` succeeds and rolled back otherwise.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Writer<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, "begin transaction", e))?;
        let writer = Writer::new(tx, &path);
        let out = f(&writer)?;
        writer.commit()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
