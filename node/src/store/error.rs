//! Why the store failed. [`StoreError::Full`] and database failures are
//! temporary for the MTA: it keeps the mail and tries again later.

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the spool database {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// What redb said.
        reason: String,
    },
    /// Another process has the database open (a running daemon, or a
    /// `status` reading it while no daemon runs).
    #[error("the spool database {path} is in use by another process (is a daemon already running on this spool?)")]
    Locked {
        /// The file.
        path: String,
    },
    /// The spool directory or database file may be read or changed by others.
    #[error("the {what} {path} has mode {mode:o}: other users could read or change it; run chmod {} on it", if *what == "spool directory" { "700" } else { "600" })]
    TooOpen {
        /// "spool directory" or "spool database".
        what: &'static str,
        /// The path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The spool directory or database file belongs to another user.
    #[error("the {what} {path} belongs to uid {owner}, but the daemon runs as uid {uid}; run it as the owner or chown the spool")]
    NotOwned {
        /// "spool directory" or "spool database".
        what: &'static str,
        /// The path.
        path: String,
        /// The owner's uid.
        owner: u32,
        /// This process's effective uid.
        uid: u32,
    },
    /// Accepting more would pass the configured cap (`max_store_bytes`).
    #[error("the store is full: {used} of {limit} bytes used (raise max_store_bytes, or wait for the spool to drain)")]
    Full {
        /// Bytes charged now.
        used: u64,
        /// The cap.
        limit: u64,
    },
    /// A record in the database could not be decoded.
    #[error("a {what} record in the database is corrupt: {reason}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// Why it could not be decoded.
        reason: String,
    },
    /// The database was written by another version of the node.
    #[error("the spool database has layout version {found}, this node uses version 2 (SPEC v2 packets and key periods): let the old version drain it, then move it away")]
    Schema {
        /// The version found (1: a node before key periods).
        found: u64,
    },
    /// An operation needed the transaction begun by `begin`.
    #[error("no store transaction is open (internal error: call begin first)")]
    NoTransaction,
    /// redb failed (disk, I/O, corruption).
    #[error("database: {0}")]
    Database(#[from] redb::Error),
}

impl StoreError {
    /// Whether the database must be closed and opened again before it can
    /// work (redb after a failed write: a full disk, an I/O error).
    pub fn needs_reopen(&self) -> bool {
        matches!(
            self,
            StoreError::Database(redb::Error::Io(_) | redb::Error::PreviousIo)
        )
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Database(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
