//! [`NodeStore`] on redb: replay tags and the exit's fragments, written in
//! the store's open transaction so they commit together with the spool.

use super::tables::{COMPLETE, DELIVERED, FRAGMENTS, PENDING, PERIOD_TAGS};
use super::{
    charge, refund, to_millis, RedbStore, StoreError, MTA_QUEUE_LIFETIME, RECORD_OVERHEAD, TAG_COST,
};
use mixmailer::message::Fragment;
use mixmailer::node::{FragmentStatus, NodeStore, StoreError as LibStoreError};
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// What the exit knows about an incomplete message besides its shards.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    first_seen_ms: u64,
    k: u8,
    n: u8,
    body_len: u32,
}

impl Pending {
    fn decode(bytes: &[u8]) -> Result<Pending, StoreError> {
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
            what: "pending message",
            reason: e.to_string(),
        })
    }
    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        postcard::to_stdvec(self).map_err(|e| StoreError::Corrupt {
            what: "pending message",
            reason: e.to_string(),
        })
    }
}

fn fragment_cost(shard_len: usize) -> u64 {
    shard_len as u64 + RECORD_OVERHEAD
}

fn add_fragment(
    txn: &WriteTransaction,
    limit: u64,
    fragment: Fragment,
    now: SystemTime,
) -> Result<FragmentStatus, StoreError> {
    let id = &fragment.message_id;
    // A complete message takes no more fragments: one assembly only.
    if txn.open_table(DELIVERED)?.get(id)?.is_some() || txn.open_table(COMPLETE)?.get(id)?.is_some()
    {
        return Ok(FragmentStatus::AlreadyDelivered);
    }
    let mut pending = txn.open_table(PENDING)?;
    let existing = pending.get(id)?.map(|v| Pending::decode(v.value()));
    match existing {
        Some(info) => {
            let info = info?;
            if (info.k, info.n, info.body_len) != (fragment.k, fragment.n, fragment.body_len) {
                return Ok(FragmentStatus::Inconsistent);
            }
        }
        None => {
            charge(txn, limit, RECORD_OVERHEAD * 2)?;
            let info = Pending {
                first_seen_ms: to_millis(now),
                k: fragment.k,
                n: fragment.n,
                body_len: fragment.body_len,
            };
            pending.insert(id, info.encode()?.as_slice())?;
        }
    }
    let mut fragments = txn.open_table(FRAGMENTS)?;
    if fragments.get((id, fragment.index))?.is_some() {
        return Ok(FragmentStatus::Duplicate);
    }
    charge(txn, limit, fragment_cost(fragment.shard.len()))?;
    fragments.insert((id, fragment.index), fragment.shard.as_slice())?;
    let held = fragments.range((id, 0u8)..=(id, u8::MAX))?.count();
    Ok(FragmentStatus::Held(held))
}

/// Shards of one message by fragment index.
type Shards = Vec<(u8, Vec<u8>)>;

/// Removes the pending record, the complete mark and the shards of `id`,
/// returning the shards.
fn remove_message(
    txn: &WriteTransaction,
    id: &[u8; 16],
) -> Result<Option<(Pending, Shards)>, StoreError> {
    let info = match txn.open_table(PENDING)?.remove(id)? {
        Some(v) => Pending::decode(v.value())?,
        None => return Ok(None),
    };
    let mut cost = RECORD_OVERHEAD * 2;
    if txn.open_table(COMPLETE)?.remove(id)?.is_some() {
        cost += RECORD_OVERHEAD;
    }
    let mut fragments = txn.open_table(FRAGMENTS)?;
    let mut shards = Vec::new();
    for row in fragments.extract_from_if((id, 0u8)..=(id, u8::MAX), |_, _| true)? {
        let (key, value) = row?;
        let shard = value.value().to_vec();
        cost += fragment_cost(shard.len());
        shards.push((key.value().1, shard));
    }
    refund(txn, cost)?;
    Ok(Some((info, shards)))
}

/// The fragments held for `id`, from either kind of transaction.
fn read_fragments(
    pending: &impl ReadableTable<&'static [u8; 16], &'static [u8]>,
    fragments: &impl ReadableTable<(&'static [u8; 16], u8), &'static [u8]>,
    id: &[u8; 16],
) -> Result<Vec<Fragment>, StoreError> {
    let Some(info) = pending.get(id)? else {
        return Ok(Vec::new());
    };
    let info = Pending::decode(info.value())?;
    let mut held = Vec::new();
    for row in fragments.range((id, 0u8)..=(id, u8::MAX))? {
        let (key, value) = row?;
        held.push(Fragment {
            message_id: *id,
            k: info.k,
            n: info.n,
            index: key.value().1,
            body_len: info.body_len,
            shard: value.value().to_vec(),
        });
    }
    Ok(held)
}

/// The ids in [`COMPLETE`], from either kind of transaction.
fn read_complete(
    complete: &impl ReadableTable<&'static [u8; 16], u64>,
) -> Result<Vec<[u8; 16]>, StoreError> {
    let mut ids = Vec::new();
    for row in complete.iter()? {
        ids.push(*row?.0.value());
    }
    Ok(ids)
}

impl RedbStore {
    /// Records the replay tag `tag` of a packet of key period `period`;
    /// false if it was there already (a replay).
    pub fn remember_period_tag(&mut self, period: u64, tag: &[u8; 32]) -> Result<bool, StoreError> {
        self.in_txn(|txn, limit| {
            let mut tags = txn.open_table(PERIOD_TAGS)?;
            if tags.get((period, tag))?.is_some() {
                return Ok(false);
            }
            charge(txn, limit, TAG_COST)?;
            tags.insert((period, tag), ())?;
            Ok(true)
        })
    }

    /// Deletes the replay tags of every period before `period` (their key
    /// is gone, so no packet of theirs can be opened any more); returns how
    /// many went.
    pub fn forget_tags_before(&mut self, period: u64) -> Result<u64, StoreError> {
        self.in_txn(|txn, _| {
            let mut tags = txn.open_table(PERIOD_TAGS)?;
            let mut gone = 0u64;
            for row in
                tags.extract_from_if((0u64, &[0u8; 32])..(period, &[0u8; 32]), |_, _| true)?
            {
                row?;
                gone += 1;
            }
            drop(tags);
            refund(txn, gone * TAG_COST)?;
            Ok(gone)
        })
    }
}

/// The library's store error for ours: the cap stays the cap, a corrupt
/// record stays permanent, anything else (I/O) is a temporary backend error.
fn lib_error(e: StoreError) -> LibStoreError {
    match e {
        StoreError::Full { used, limit } => LibStoreError::Full { used, limit },
        StoreError::Corrupt { .. } => LibStoreError::Corrupt(e.to_string()),
        other => LibStoreError::Backend(Box::new(other)),
    }
}

impl NodeStore for RedbStore {
    fn begin(&mut self) -> Result<(), LibStoreError> {
        RedbStore::begin(self).map_err(lib_error)
    }

    fn commit(&mut self) -> Result<(), LibStoreError> {
        RedbStore::commit(self).map_err(lib_error)
    }

    fn abort(&mut self) {
        RedbStore::abort(self)
    }

    fn remember_tag(&mut self, period: u64, tag: &[u8; 32]) -> Result<bool, LibStoreError> {
        self.remember_period_tag(period, tag).map_err(lib_error)
    }

    fn forget_tags_before(&mut self, period: u64) -> Result<u64, LibStoreError> {
        RedbStore::forget_tags_before(self, period).map_err(lib_error)
    }

    fn add_fragment(
        &mut self,
        fragment: Fragment,
        now: SystemTime,
    ) -> Result<FragmentStatus, LibStoreError> {
        self.in_txn(|txn, limit| add_fragment(txn, limit, fragment, now))
            .map_err(lib_error)
    }

    fn mark_complete(
        &mut self,
        message_id: &[u8; 16],
        now: SystemTime,
    ) -> Result<(), LibStoreError> {
        self.in_txn(|txn, limit| {
            charge(txn, limit, RECORD_OVERHEAD)?;
            txn.open_table(COMPLETE)?
                .insert(message_id, to_millis(now))?;
            Ok(())
        })
        .map_err(lib_error)
    }

    /// Read from the open transaction if there is one (what it wrote is
    /// not committed yet), else from the last committed state without any
    /// lock: the daemon's assembly worker reads through a handle of its own.
    fn complete_messages(&self) -> Result<Vec<[u8; 16]>, LibStoreError> {
        let result = match &self.txn {
            Some(txn) => txn
                .open_table(COMPLETE)
                .map_err(StoreError::from)
                .and_then(|t| read_complete(&t)),
            None => self.read(|read| read_complete(&read.open_table(COMPLETE)?)),
        };
        result.map_err(lib_error)
    }

    /// Reads like [`Self::complete_messages`].
    fn fragments(&self, message_id: &[u8; 16]) -> Result<Vec<Fragment>, LibStoreError> {
        let result = match &self.txn {
            Some(txn) => (|| {
                let pending = txn.open_table(PENDING)?;
                let fragments = txn.open_table(FRAGMENTS)?;
                read_fragments(&pending, &fragments, message_id)
            })(),
            None => self.read(|read| {
                let pending = read.open_table(PENDING)?;
                let fragments = read.open_table(FRAGMENTS)?;
                read_fragments(&pending, &fragments, message_id)
            }),
        };
        result.map_err(lib_error)
    }

    fn finish_message(
        &mut self,
        message_id: &[u8; 16],
        now: SystemTime,
    ) -> Result<bool, LibStoreError> {
        self.in_txn(|txn, limit| {
            if txn.open_table(COMPLETE)?.get(message_id)?.is_none() {
                return Ok(false);
            }
            remove_message(txn, message_id)?;
            charge(txn, limit, RECORD_OVERHEAD)?;
            txn.open_table(DELIVERED)?
                .insert(message_id, to_millis(now))?;
            Ok(true)
        })
        .map_err(lib_error)
    }

    /// Incomplete messages go at `pending_cutoff`; "already delivered"
    /// marks are kept [`MTA_QUEUE_LIFETIME`] beyond `delivered_cutoff`.
    /// Period acceptance (SPEC 2) already refuses a fragment more than two
    /// key periods old, which the library's cutoff covers; the extra five
    /// days keep the marks as long as any MTA may still retry a carrier,
    /// so a late parity fragment can never deliver a message again even if
    /// the key period were long or the period check wrong.
    fn expire(
        &mut self,
        pending_cutoff: SystemTime,
        delivered_cutoff: SystemTime,
    ) -> Result<usize, LibStoreError> {
        let delivered_cutoff = to_millis(
            delivered_cutoff
                .checked_sub(MTA_QUEUE_LIFETIME)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let cutoff = to_millis(pending_cutoff);
        self.in_txn(|txn, _| {
            let mut old = Vec::new();
            for row in txn.open_table(PENDING)?.iter()? {
                let (id, value) = row?;
                if Pending::decode(value.value())?.first_seen_ms < cutoff {
                    old.push(*id.value());
                }
            }
            for id in &old {
                remove_message(txn, id)?;
            }
            let mut delivered = txn.open_table(DELIVERED)?;
            let before = delivered.len()?;
            delivered.retain(|_, at| at >= delivered_cutoff)?;
            let forgotten = before.saturating_sub(delivered.len()?);
            drop(delivered);
            refund(txn, forgotten * RECORD_OVERHEAD)?;
            Ok(old.len())
        })
        .map_err(lib_error)
    }
}
