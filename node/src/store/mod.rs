//! The node's persistent state in one redb database: the spool of packets
//! and deliveries waiting for their time, replay tags, and exit fragments.
//!
//! Everything one carrier email changes is written in ONE write
//! transaction ([`RedbStore::begin`] .. [`RedbStore::commit`]): the replay
//! tag, the fragment, and the spooled packet become durable together, so a
//! crash can never leave a tag without its packet (a lost message) or a
//! packet without its tag (a replay window).

mod error;
mod fragments;
mod spool;
mod tables;

pub use error::StoreError;
pub use spool::{Recovered, SpoolEntry, SpoolItem};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tables::{
    COMPLETE, DELIVERED, EXPIRY, FRAGMENTS, META, PENDING, QUEUE, SPOOL, SUBMITTING, UNKNOWN_HOPS,
};

/// How long an MTA keeps retrying a message before giving up: Postfix's
/// default `maximal_queue_lifetime` (5 days). A carrier refused with a
/// temporary failure, or stuck in the previous hop's queue, can arrive
/// this late, so marks that must outlive such retries are kept this much
/// longer. An operator who raises `maximal_queue_lifetime` on any node of
/// the network must not exceed this.
pub const MTA_QUEUE_LIFETIME: Duration = Duration::from_secs(5 * 86_400);

/// Bytes charged for one replay tag (key plus B-tree overhead, roughly).
const TAG_COST: u64 = 48;
/// Bytes charged per record on top of its payload.
const RECORD_OVERHEAD: u64 = 32;

/// A snapshot of what the store holds, for `status` and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreStats {
    /// Packets waiting to be forwarded.
    pub forwards_waiting: u64,
    /// Exit deliveries waiting to be submitted.
    pub deliveries_waiting: u64,
    /// Items whose submission failed at least once and are waiting for a retry.
    pub retrying: u64,
    /// When the next item is due, in milliseconds since the Unix epoch.
    pub next_release_ms: Option<u64>,
    /// Items being handed to the MTA now (or whose hand-over was cut short).
    #[serde(default)]
    pub submitting: u64,
    /// Messages whose fragments the exit holds (incomplete, or complete
    /// and waiting for their assembly).
    pub held_messages: u64,
    /// Of those, the complete ones: assembled and queued for delivery
    /// soon (outside the lock; after a crash, at the next start).
    #[serde(default)]
    pub complete_messages: u64,
    /// Fragments held for them.
    pub held_fragments: u64,
    /// Messages remembered as delivered, so their late fragments are dropped.
    #[serde(default)]
    pub delivered_marks: u64,
    /// Replay tags remembered, of the key periods whose keys the node still has.
    pub replay_tags: u64,
    /// Packets refused because their next hop was unknown, remembered
    /// until the MTA's retries of them stop.
    #[serde(default)]
    pub unknown_hops: u64,
    /// Write transactions (fsyncs) committed since the store was opened
    /// (by the daemon, when it answers).
    #[serde(default)]
    pub commits: u64,
    /// Bytes charged against the cap.
    pub bytes_used: u64,
    /// The cap.
    pub bytes_limit: u64,
}

/// The one open database behind every [`RedbStore`] handle, and what is
/// needed to open it again.
///
/// redb refuses every write after one I/O error (a full disk) until the
/// database is closed and opened again (`StorageError::PreviousIo`). A
/// handle that sees such an error marks the slot broken, and the next
/// operation on any handle reopens the file (redb repairs it from its last
/// committed state), so the node recovers by itself once space is back.
struct Slot {
    path: PathBuf,
    db: Mutex<Option<Arc<Database>>>,
    broken: AtomicBool,
    /// Write transactions committed (each one fsync): the figure that
    /// group commit and batched releases keep small per carrier.
    commits: AtomicU64,
}

/// How long a reopen waits for handles still using the old database.
const REOPEN_WAIT: Duration = Duration::from_secs(2);

impl Slot {
    fn get(&self) -> Result<Arc<Database>, StoreError> {
        let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        if self.broken.load(Ordering::SeqCst) {
            // Drop our reference first: redb locks the file, so the new
            // instance can only open once every old reference is gone.
            *db = None;
        }
        if let Some(db) = db.as_ref() {
            return Ok(Arc::clone(db));
        }
        let deadline = Instant::now() + REOPEN_WAIT;
        let opened = loop {
            match open_database(&self.path) {
                // A read still holding the old instance: it ends soon.
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        let opened = Arc::new(opened);
        *db = Some(Arc::clone(&opened));
        if self.broken.swap(false, Ordering::SeqCst) {
            tracing::warn!(
                "reopened the spool database {} after an I/O error",
                self.path.display()
            );
        }
        Ok(opened)
    }

    /// Marks the database for reopening when `result` is an I/O failure.
    fn watch<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            if e.needs_reopen() {
                self.broken.store(true, Ordering::SeqCst);
            }
        }
        result
    }
}

/// The node's redb database. Cheap to share: [`RedbStore::handle`] gives
/// another store on the same database (only one may have a transaction open
/// at a time, which the daemon ensures with its lock).
pub struct RedbStore {
    slot: Arc<Slot>,
    txn: Option<WriteTransaction>,
    limit: u64,
}

/// Milliseconds since the Unix epoch (0 for earlier times).
pub fn to_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Refuses a file or directory that is not private to this process's user:
/// the spool holds packets, fragments and recipients.
pub fn check_private(path: &Path, what: &'static str) -> Result<(), StoreError> {
    // Follows symlinks: what matters is the directory or file used.
    let meta = std::fs::metadata(path).map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let uid = rustix::process::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(StoreError::NotOwned {
            what,
            path: path.display().to_string(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(StoreError::TooOpen {
            what,
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

/// Creates the database file with mode 0600 if it is missing (redb would
/// create it with the umask's mode), refuses one others may read, and opens it.
fn open_database(path: &Path) -> Result<Database, StoreError> {
    let open_error = |reason: String| StoreError::Open {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(open_error(e.to_string())),
    }
    check_private(path, "spool database")?;
    Database::create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
            path: path.display().to_string(),
        },
        e => open_error(e.to_string()),
    })
}

impl RedbStore {
    /// Opens (or creates, mode 0600) the database at `path`, charging at
    /// most `limit` bytes of packets, fragments and tags before refusing
    /// more. A file that is not private to this user is refused
    /// ([`StoreError::TooOpen`], [`StoreError::NotOwned`]).
    pub fn open(path: &Path, limit: u64) -> Result<RedbStore, StoreError> {
        let db = open_database(path)?;
        let store = RedbStore {
            slot: Arc::new(Slot {
                path: path.to_owned(),
                db: Mutex::new(Some(Arc::new(db))),
                broken: AtomicBool::new(false),
                commits: AtomicU64::new(0),
            }),
            txn: None,
            limit,
        };
        store.create_tables()?;
        Ok(store)
    }

    /// Another store on the same database, with no transaction open.
    pub fn handle(&self) -> RedbStore {
        RedbStore {
            slot: Arc::clone(&self.slot),
            txn: None,
            limit: self.limit,
        }
    }

    /// The open database, reopened first if an I/O error broke it.
    fn db(&self) -> Result<Arc<Database>, StoreError> {
        self.slot.get()
    }

    /// Write transactions committed since the database was opened, by
    /// every handle.
    pub fn commits(&self) -> u64 {
        self.slot.commits.load(Ordering::Relaxed)
    }

    /// Whether an I/O error was seen and the database is not reopened yet.
    pub fn is_broken(&self) -> bool {
        self.slot.broken.load(Ordering::SeqCst)
    }

    fn create_tables(&self) -> Result<(), StoreError> {
        let result = (|| {
            let txn = self.db()?.begin_write()?;
            txn.open_table(SPOOL)?;
            txn.open_table(QUEUE)?;
            txn.open_table(tables::PERIOD_TAGS)?;
            txn.open_table(PENDING)?;
            txn.open_table(FRAGMENTS)?;
            txn.open_table(DELIVERED)?;
            let mut meta = txn.open_table(META)?;
            let schema = meta.get(tables::SCHEMA)?.map(|v| v.value());
            match schema {
                Some(tables::SCHEMA_VERSION) => {}
                Some(found) => return Err(StoreError::Schema { found }),
                None if tables::meta_get(&meta, tables::NEXT_ID)? > 0 => {
                    return Err(StoreError::Schema { found: 1 })
                }
                None => {
                    meta.insert(tables::SCHEMA, tables::SCHEMA_VERSION)?;
                }
            }
            drop(meta);
            txn.open_table(SUBMITTING)?;
            txn.open_table(EXPIRY)?;
            txn.open_table(tables::EXPIRY_BY_ID)?;
            txn.open_table(UNKNOWN_HOPS)?;
            // Added within layout 2: older files of it get the table here.
            txn.open_table(COMPLETE)?;
            txn.commit()?;
            Ok(())
        })();
        self.slot.watch(result)
    }

    /// Starts the transaction that everything until [`Self::commit`] joins.
    /// A transaction left open (by a caller that panicked) is aborted first.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        self.abort();
        let txn = self
            .slot
            .watch(self.db().and_then(|db| Ok(db.begin_write()?)))?;
        self.txn = Some(txn);
        Ok(())
    }

    /// Makes everything since [`Self::begin`] durable (fsync'd) at once.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        let txn = self.txn.take().ok_or(StoreError::NoTransaction)?;
        #[cfg(test)]
        if test_faults::commit_fails() {
            // Dropping the transaction aborts it, as a failed commit does.
            drop(txn);
            return Err(StoreError::Database(redb::Error::Io(std::io::Error::from(
                std::io::ErrorKind::StorageFull,
            ))));
        }
        self.slot.watch(txn.commit().map_err(StoreError::from))?;
        self.slot.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Forgets everything since [`Self::begin`].
    pub fn abort(&mut self) {
        if let Some(txn) = self.txn.take() {
            // Dropping aborts as well; an abort error leaves nothing to undo.
            let _ = txn.abort();
        }
    }

    fn txn(&self) -> Result<&WriteTransaction, StoreError> {
        self.txn.as_ref().ok_or(StoreError::NoTransaction)
    }

    /// Runs `f` in the open transaction, or in one of its own that is
    /// committed when `f` succeeds.
    fn in_txn<T>(
        &mut self,
        f: impl FnOnce(&WriteTransaction, u64) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let limit = self.limit;
        let result = match &self.txn {
            Some(txn) => f(txn, limit),
            None => (|| {
                let txn = self.db()?.begin_write()?;
                let value = f(&txn, limit)?;
                txn.commit()?;
                self.slot.commits.fetch_add(1, Ordering::Relaxed);
                Ok(value)
            })(),
        };
        self.slot.watch(result)
    }

    /// Runs `f` on a read transaction.
    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = (|| {
            let read = self.db()?.begin_read()?;
            f(&read)
        })();
        self.slot.watch(result)
    }

    /// What the store holds now.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        self.read(|read| {
            let spool = read.open_table(SPOOL)?;
            let mut stats = StoreStats {
                bytes_limit: self.limit,
                ..StoreStats::default()
            };
            for entry in spool.iter()? {
                let (_, value) = entry?;
                let entry = SpoolEntry::decode(value.value())?;
                match entry.item {
                    SpoolItem::Forward { .. } => stats.forwards_waiting += 1,
                    SpoolItem::Deliver { .. } => stats.deliveries_waiting += 1,
                }
                if entry.attempts > 0 {
                    stats.retrying += 1;
                }
            }
            let queue = read.open_table(QUEUE)?;
            stats.next_release_ms = queue.first()?.map(|(k, _)| k.value().0);
            stats.submitting = read.open_table(SUBMITTING)?.len()?;
            stats.held_messages = read.open_table(PENDING)?.len()?;
            stats.held_fragments = read.open_table(FRAGMENTS)?.len()?;
            stats.complete_messages = read.open_table(COMPLETE)?.len()?;
            stats.delivered_marks = read.open_table(DELIVERED)?.len()?;
            stats.replay_tags = read.open_table(tables::PERIOD_TAGS)?.len()?;
            stats.unknown_hops = read.open_table(UNKNOWN_HOPS)?.len()?;
            stats.bytes_used = tables::meta_get(&read.open_table(META)?, tables::BYTES_USED)?;
            stats.commits = self.commits();
            Ok(stats)
        })
    }
}

/// Adds `delta` to the bytes charged, refusing if that passes `limit`.
fn charge(txn: &WriteTransaction, limit: u64, delta: u64) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    let used = tables::meta_get(&meta, tables::BYTES_USED)?;
    let new = used.saturating_add(delta);
    if new > limit {
        return Err(StoreError::Full { used, limit });
    }
    meta.insert(tables::BYTES_USED, new)?;
    Ok(())
}

/// Gives back `delta` charged bytes.
fn refund(txn: &WriteTransaction, delta: u64) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    let used = tables::meta_get(&meta, tables::BYTES_USED)?;
    meta.insert(tables::BYTES_USED, used.saturating_sub(delta))?;
    Ok(())
}

/// Commit failures on demand, for the unit tests of paths a real full disk
/// reaches only by chance (redb may find room in its own file for a small
/// write after the disk filled up). Per thread, so parallel tests do not
/// see each other's faults.
#[cfg(test)]
pub(crate) mod test_faults {
    use std::cell::Cell;

    thread_local! {
        static COMMITS_BEFORE_FAILING: Cell<Option<u32>> = const { Cell::new(None) };
    }

    /// Lets `n` more explicit commits of this thread succeed, then fails
    /// every one until [`heal`].
    pub(crate) fn fail_commits_after(n: u32) {
        COMMITS_BEFORE_FAILING.with(|c| c.set(Some(n)));
    }

    /// Commits succeed again.
    pub(crate) fn heal() {
        COMMITS_BEFORE_FAILING.with(|c| c.set(None));
    }

    pub(super) fn commit_fails() -> bool {
        COMMITS_BEFORE_FAILING.with(|c| match c.get() {
            None => false,
            Some(0) => true,
            Some(n) => {
                c.set(Some(n - 1));
                false
            }
        })
    }
}
