//! The spool: packets waiting for their release time and exit deliveries
//! waiting for the MTA. An item leaves the spool only after the MTA took it.

use super::tables::{meta_get, NEXT_ID, QUEUE, SPOOL};
use super::{charge, refund, to_millis, RedbStore, StoreError, RECORD_OVERHEAD};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// What to submit to the MTA when an item is due.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpoolItem {
    /// A packet for the next hop: mailed as a carrier email from the node's
    /// own address, written at release time (so its Date says nothing of
    /// when it arrived).
    Forward {
        /// The next node's mailbox.
        next_hop: String,
        /// The packet bytes (348 + p).
        packet: Vec<u8>,
    },
    /// A message the exit reassembled, for its envelope recipients.
    Deliver {
        /// Envelope recipients.
        recipients: Vec<String>,
        /// The sanitized message, CRLF line endings.
        message: Vec<u8>,
    },
}

impl SpoolItem {
    /// Bytes charged against the store's cap while the item is spooled.
    fn cost(&self) -> u64 {
        let payload = match self {
            SpoolItem::Forward { next_hop, packet } => next_hop.len() + packet.len(),
            SpoolItem::Deliver {
                recipients,
                message,
            } => recipients.iter().map(String::len).sum::<usize>() + message.len(),
        };
        payload as u64 + RECORD_OVERHEAD
    }
}

impl std::fmt::Debug for SpoolItem {
    // Never print recipients or content: Debug output ends up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpoolItem::Forward { packet, .. } => f
                .debug_struct("Forward")
                .field("packet_len", &packet.len())
                .finish_non_exhaustive(),
            SpoolItem::Deliver {
                recipients,
                message,
            } => f
                .debug_struct("Deliver")
                .field("recipients", &recipients.len())
                .field("message_len", &message.len())
                .finish(),
        }
    }
}

/// A spooled item with its schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolEntry {
    /// When the item was due first (ms since the epoch): the packet's release time.
    pub release_ms: u64,
    /// When it is due next (the release time, or later after failed attempts).
    pub next_attempt_ms: u64,
    /// Failed submission attempts so far.
    pub attempts: u32,
    /// What to submit.
    pub item: SpoolItem,
}

impl SpoolEntry {
    pub(super) fn decode(bytes: &[u8]) -> Result<SpoolEntry, StoreError> {
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
            what: "spool",
            reason: e.to_string(),
        })
    }

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        postcard::to_stdvec(self).map_err(|e| StoreError::Corrupt {
            what: "spool",
            reason: e.to_string(),
        })
    }
}

impl RedbStore {
    /// Spools `item` for `release_at`, in the open transaction. Refuses with
    /// [`StoreError::Full`] when the cap would be passed.
    pub fn spool(&mut self, item: SpoolItem, release_at: SystemTime) -> Result<u64, StoreError> {
        let release_ms = to_millis(release_at);
        let entry = SpoolEntry {
            release_ms,
            next_attempt_ms: release_ms,
            attempts: 0,
            item,
        };
        let bytes = entry.encode()?;
        let txn = self.txn()?;
        charge(txn, self.limit, entry.item.cost())?;
        let id = {
            let mut meta = txn.open_table(super::META)?;
            let id = meta_get(&meta, NEXT_ID)?;
            meta.insert(NEXT_ID, id + 1)?;
            id
        };
        txn.open_table(SPOOL)?.insert(id, bytes.as_slice())?;
        txn.open_table(QUEUE)?.insert((release_ms, id), ())?;
        Ok(id)
    }

    /// Up to `limit` items due at `now`, earliest first.
    pub fn due(&self, now: SystemTime, limit: usize) -> Result<Vec<(u64, SpoolEntry)>, StoreError> {
        let read = self.db.begin_read()?;
        let queue = read.open_table(QUEUE)?;
        let spool = read.open_table(SPOOL)?;
        let mut due = Vec::new();
        for row in queue.range(..=(to_millis(now), u64::MAX))?.take(limit) {
            let (key, _) = row?;
            let (_, id) = key.value();
            let value = spool.get(id)?.ok_or(StoreError::Corrupt {
                what: "queue",
                reason: format!("item {id} is queued but not in the spool"),
            })?;
            due.push((id, SpoolEntry::decode(value.value())?));
        }
        Ok(due)
    }

    /// When the next item falls due, if any.
    pub fn next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        let read = self.db.begin_read()?;
        let queue = read.open_table(QUEUE)?;
        let first = queue.first()?.map(|(k, _)| super::from_millis(k.value().0));
        Ok(first)
    }

    /// Every item in the spool (tests and status tools).
    pub fn spooled(&self) -> Result<Vec<(u64, SpoolEntry)>, StoreError> {
        let read = self.db.begin_read()?;
        let spool = read.open_table(SPOOL)?;
        let mut all = Vec::new();
        for row in spool.iter()? {
            let (id, value) = row?;
            all.push((id.value(), SpoolEntry::decode(value.value())?));
        }
        Ok(all)
    }

    /// Removes item `id` after the MTA accepted it.
    pub fn remove_spooled(&mut self, id: u64) -> Result<(), StoreError> {
        self.in_txn(|txn, _| {
            let removed = txn
                .open_table(SPOOL)?
                .remove(id)?
                .map(|v| SpoolEntry::decode(v.value()));
            if let Some(entry) = removed {
                let entry = entry?;
                txn.open_table(QUEUE)?.remove((entry.next_attempt_ms, id))?;
                refund(txn, entry.item.cost())?;
            }
            Ok(())
        })
    }

    /// Records a failed attempt on item `id` and schedules the next at `retry_at`.
    /// Returns the number of failed attempts so far.
    pub fn defer(&mut self, id: u64, retry_at: SystemTime) -> Result<u32, StoreError> {
        self.in_txn(|txn, _| {
            let mut spool = txn.open_table(SPOOL)?;
            let old = match spool.get(id)? {
                Some(v) => SpoolEntry::decode(v.value())?,
                None => return Ok(0),
            };
            let mut new = old.clone();
            new.attempts = old.attempts.saturating_add(1);
            new.next_attempt_ms = to_millis(retry_at);
            // The charge depends on the item only, so a full store can
            // still reschedule what it holds.
            spool.insert(id, new.encode()?.as_slice())?;
            let mut queue = txn.open_table(QUEUE)?;
            queue.remove((old.next_attempt_ms, id))?;
            queue.insert((new.next_attempt_ms, id), ())?;
            Ok(new.attempts)
        })
    }
}
