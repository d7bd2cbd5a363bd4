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
pub use spool::{SpoolEntry, SpoolItem};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tables::{DELIVERED, FRAGMENTS, META, PENDING, QUEUE, SPOOL, TAGS};

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
    /// Incomplete messages whose fragments the exit holds.
    pub held_messages: u64,
    /// Fragments held for them.
    pub held_fragments: u64,
    /// Replay tags remembered under the current key.
    pub replay_tags: u64,
    /// Bytes charged against the cap.
    pub bytes_used: u64,
    /// The cap.
    pub bytes_limit: u64,
}

/// The node's redb database. Cheap to share: [`RedbStore::handle`] gives
/// another store on the same database (only one may have a transaction open
/// at a time, which the daemon ensures with its lock).
pub struct RedbStore {
    db: Arc<Database>,
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

impl RedbStore {
    /// Opens (or creates) the database at `path`, charging at most `limit`
    /// bytes of packets, fragments and tags before refusing more.
    pub fn open(path: &Path, limit: u64) -> Result<RedbStore, StoreError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
                path: path.display().to_string(),
            },
            e => StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            },
        })?;
        let store = RedbStore {
            db: Arc::new(db),
            txn: None,
            limit,
        };
        store.create_tables()?;
        Ok(store)
    }

    /// Another store on the same database, with no transaction open.
    pub fn handle(&self) -> RedbStore {
        RedbStore {
            db: Arc::clone(&self.db),
            txn: None,
            limit: self.limit,
        }
    }

    fn create_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(SPOOL)?;
        txn.open_table(QUEUE)?;
        txn.open_table(TAGS)?;
        txn.open_table(PENDING)?;
        txn.open_table(FRAGMENTS)?;
        txn.open_table(DELIVERED)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(())
    }

    /// Starts the transaction that everything until [`Self::commit`] joins.
    /// A transaction left open (by a caller that panicked) is aborted first.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        self.abort();
        self.txn = Some(self.db.begin_write()?);
        Ok(())
    }

    /// Makes everything since [`Self::begin`] durable (fsync'd) at once.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        let txn = self.txn.take().ok_or(StoreError::NoTransaction)?;
        txn.commit()?;
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
        if let Some(txn) = &self.txn {
            return f(txn, self.limit);
        }
        let txn = self.db.begin_write()?;
        let value = f(&txn, self.limit)?;
        txn.commit()?;
        Ok(value)
    }

    /// What the store holds now.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let read = self.db.begin_read()?;
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
        stats.held_messages = read.open_table(PENDING)?.len()?;
        stats.held_fragments = read.open_table(FRAGMENTS)?.len()?;
        stats.replay_tags = read.open_table(TAGS)?.len()?;
        stats.bytes_used = tables::meta_get(&read.open_table(META)?, tables::BYTES_USED)?;
        Ok(stats)
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
