//! The spool: packets waiting for their release time and exit deliveries
//! waiting for the MTA. An item leaves the spool only after the MTA took it.

use super::tables::{
    meta_get, EXPIRY, EXPIRY_BY_ID, NEXT_ID, QUEUE, SPOOL, SUBMITTING, UNKNOWN_HOPS,
};
use super::{charge, refund, to_millis, RedbStore, StoreError, RECORD_OVERHEAD, TAG_COST};
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
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
        /// The packet's key period (its carrier's `Period:` line).
        period: u64,
        /// The packet bytes (348 + p).
        #[serde(with = "serde_bytes")]
        packet: Vec<u8>,
    },
    /// A message the exit reassembled, for its envelope recipients.
    Deliver {
        /// Envelope recipients.
        recipients: Vec<String>,
        /// The sanitized message, CRLF line endings.
        #[serde(with = "serde_bytes")]
        message: Vec<u8>,
    },
}

impl SpoolItem {
    /// Bytes charged against the store's cap while the item is spooled.
    fn cost(&self) -> u64 {
        let payload = match self {
            SpoolItem::Forward {
                next_hop, packet, ..
            } => next_hop.len() + packet.len() + 8,
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

/// What became of the items found half-submitted after a restart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Forwards queued again: the next hop drops a copy it already got as
    /// a replay, so sending again cannot deliver anything twice.
    pub forwards_requeued: usize,
    /// Deliveries removed unsent: the MTA may already have them, and a
    /// second copy in a recipient's mailbox cannot be taken back.
    pub deliveries_dropped: usize,
}

/// Removes item `id` from every table, refunding its bytes. Returns the
/// entry if it was there.
fn remove_item(txn: &WriteTransaction, id: u64) -> Result<Option<SpoolEntry>, StoreError> {
    let removed = txn
        .open_table(SPOOL)?
        .remove(id)?
        .map(|v| SpoolEntry::decode(v.value()));
    let Some(entry) = removed else {
        txn.open_table(SUBMITTING)?.remove(id)?;
        return Ok(None);
    };
    let entry = entry?;
    txn.open_table(QUEUE)?.remove((entry.next_attempt_ms, id))?;
    txn.open_table(SUBMITTING)?.remove(id)?;
    let expiry = txn.open_table(EXPIRY_BY_ID)?.remove(id)?.map(|v| v.value());
    if let Some(at) = expiry {
        txn.open_table(EXPIRY)?.remove((at, id))?;
    }
    refund(txn, entry.item.cost())?;
    Ok(Some(entry))
}

impl RedbStore {
    /// Spools `item` for `release_at`, in the open transaction; it expires
    /// (is removed unsent) at `expires_at`. Refuses with
    /// [`StoreError::Full`] when the cap would be passed.
    pub fn spool(
        &mut self,
        item: SpoolItem,
        release_at: SystemTime,
        expires_at: SystemTime,
    ) -> Result<u64, StoreError> {
        let release_ms = to_millis(release_at);
        let expires_ms = to_millis(expires_at);
        let entry = SpoolEntry {
            release_ms,
            next_attempt_ms: release_ms,
            attempts: 0,
            item,
        };
        let bytes = entry.encode()?;
        let limit = self.limit;
        let result = (|| {
            let txn = self.txn()?;
            charge(txn, limit, entry.item.cost())?;
            let id = {
                let mut meta = txn.open_table(super::META)?;
                let id = meta_get(&meta, NEXT_ID)?;
                meta.insert(NEXT_ID, id + 1)?;
                id
            };
            txn.open_table(SPOOL)?.insert(id, bytes.as_slice())?;
            txn.open_table(QUEUE)?.insert((release_ms, id), ())?;
            txn.open_table(EXPIRY)?.insert((expires_ms, id), ())?;
            txn.open_table(EXPIRY_BY_ID)?.insert(id, expires_ms)?;
            Ok(id)
        })();
        self.slot.watch(result)
    }

    /// Up to `limit` items due at `now`, earliest first. Items being
    /// submitted are not due.
    pub fn due(&self, now: SystemTime, limit: usize) -> Result<Vec<(u64, SpoolEntry)>, StoreError> {
        self.read(|read| {
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
        })
    }

    /// When the next item falls due, if any.
    pub fn next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        self.read(|read| {
            let queue = read.open_table(QUEUE)?;
            let first = queue.first()?.map(|(k, _)| super::from_millis(k.value().0));
            Ok(first)
        })
    }

    /// Every item in the spool (tests and status tools).
    pub fn spooled(&self) -> Result<Vec<(u64, SpoolEntry)>, StoreError> {
        self.read(|read| {
            let spool = read.open_table(SPOOL)?;
            let mut all = Vec::new();
            for row in spool.iter()? {
                let (id, value) = row?;
                all.push((id.value(), SpoolEntry::decode(value.value())?));
            }
            Ok(all)
        })
    }

    /// Ids of the items marked by [`Self::begin_submission`] and not yet
    /// settled by [`Self::remove_spooled`] or [`Self::defer`].
    pub fn submitting(&self) -> Result<Vec<u64>, StoreError> {
        self.read(|read| {
            let table = read.open_table(SUBMITTING)?;
            let mut ids = Vec::new();
            for row in table.iter()? {
                ids.push(row?.0.value());
            }
            Ok(ids)
        })
    }

    /// Marks item `id` as being handed to the MTA, durably, BEFORE the
    /// hand-over: it leaves the queue, so whatever happens next (the store
    /// failing, the process dying) nothing submits it a second time.
    /// Returns false if the item is gone (expired meanwhile).
    pub fn begin_submission(&mut self, id: u64, now: SystemTime) -> Result<bool, StoreError> {
        self.in_txn(|txn, _| {
            let entry = match txn.open_table(SPOOL)?.get(id)? {
                Some(v) => SpoolEntry::decode(v.value())?,
                None => return Ok(false),
            };
            txn.open_table(QUEUE)?.remove((entry.next_attempt_ms, id))?;
            txn.open_table(SUBMITTING)?.insert(id, to_millis(now))?;
            Ok(true)
        })
    }

    /// Puts item `id`, marked by [`Self::begin_submission`] but never
    /// handed over (its round was cut short), back in the queue as it was,
    /// without counting an attempt.
    pub fn unmark_submission(&mut self, id: u64) -> Result<(), StoreError> {
        self.in_txn(|txn, _| {
            let was_marked = txn.open_table(SUBMITTING)?.remove(id)?.is_some();
            let entry = match txn.open_table(SPOOL)?.get(id)? {
                Some(v) => SpoolEntry::decode(v.value())?,
                None => return Ok(()),
            };
            if was_marked {
                txn.open_table(QUEUE)?
                    .insert((entry.next_attempt_ms, id), ())?;
            }
            Ok(())
        })
    }

    /// Removes item `id` after the MTA accepted it.
    pub fn remove_spooled(&mut self, id: u64) -> Result<(), StoreError> {
        self.in_txn(|txn, _| remove_item(txn, id).map(drop))
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
            txn.open_table(SUBMITTING)?.remove(id)?;
            Ok(new.attempts)
        })
    }

    /// Settles the items a previous run marked as being submitted and never
    /// settled (it died, or its store failed, mid-hand-over): their fate
    /// with the MTA is unknown. Forwards are queued again at `now`;
    /// deliveries are removed unsent (at most once: see [`Recovered`]).
    pub fn recover_submissions(&mut self, now: SystemTime) -> Result<Recovered, StoreError> {
        self.in_txn(|txn, _| {
            let mut ids = Vec::new();
            for row in txn.open_table(SUBMITTING)?.iter()? {
                ids.push(row?.0.value());
            }
            let mut recovered = Recovered::default();
            for id in ids {
                let entry = match txn.open_table(SPOOL)?.get(id)? {
                    Some(v) => SpoolEntry::decode(v.value())?,
                    None => {
                        txn.open_table(SUBMITTING)?.remove(id)?;
                        continue;
                    }
                };
                match entry.item {
                    SpoolItem::Forward { .. } => {
                        let mut again = entry.clone();
                        again.next_attempt_ms = to_millis(now);
                        txn.open_table(SPOOL)?
                            .insert(id, again.encode()?.as_slice())?;
                        txn.open_table(QUEUE)?
                            .insert((again.next_attempt_ms, id), ())?;
                        txn.open_table(SUBMITTING)?.remove(id)?;
                        recovered.forwards_requeued += 1;
                    }
                    SpoolItem::Deliver { .. } => {
                        remove_item(txn, id)?;
                        recovered.deliveries_dropped += 1;
                    }
                }
            }
            Ok(recovered)
        })
    }

    /// When the packet with SHA-256 `hash` was first refused for an unknown
    /// next hop, recording `now` if this is the first time (committed at
    /// once: the answer is a refusal, so nothing else is written with it).
    pub fn unknown_hop_since(
        &mut self,
        hash: &[u8; 32],
        now: SystemTime,
    ) -> Result<SystemTime, StoreError> {
        self.in_txn(|txn, limit| {
            let mut table = txn.open_table(UNKNOWN_HOPS)?;
            if let Some(first) = table.get(hash)?.map(|v| v.value()) {
                return Ok(super::from_millis(first));
            }
            charge(txn, limit, TAG_COST)?;
            table.insert(hash, to_millis(now))?;
            Ok(now)
        })
    }

    /// Forgets packets first refused for an unknown next hop before
    /// `cutoff`. Returns how many.
    pub fn forget_unknown_hops(&mut self, cutoff: SystemTime) -> Result<usize, StoreError> {
        let cutoff = to_millis(cutoff);
        self.in_txn(|txn, _| {
            let mut table = txn.open_table(UNKNOWN_HOPS)?;
            let before = table.len()?;
            table.retain(|_, first| first >= cutoff)?;
            let forgotten = before.saturating_sub(table.len()?);
            drop(table);
            refund(txn, forgotten * TAG_COST)?;
            Ok(usize::try_from(forgotten).unwrap_or(usize::MAX))
        })
    }

    /// Removes the items whose expiry time is before `now`, except those
    /// being submitted this moment. Returns how many went.
    pub fn expire_spool(&mut self, now: SystemTime) -> Result<usize, StoreError> {
        self.in_txn(|txn, _| {
            let mut old = Vec::new();
            {
                let submitting = txn.open_table(SUBMITTING)?;
                for row in txn.open_table(EXPIRY)?.range(..(to_millis(now), 0))? {
                    let id = row?.0.value().1;
                    if submitting.get(id)?.is_none() {
                        old.push(id);
                    }
                }
            }
            for id in &old {
                remove_item(txn, *id)?;
            }
            Ok(old.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes a store holds for a spool entry: a store written by an
    /// earlier build must still decode, so this encoding may never change.
    #[test]
    fn the_spool_encoding_is_pinned() {
        let forward = SpoolEntry {
            release_ms: 1_800_000_000_123,
            next_attempt_ms: 1_800_000_000_456,
            attempts: 2,
            item: SpoolItem::Forward {
                next_hop: "mix@b.test".into(),
                period: 500_000,
                packet: vec![0, 1, 2, 255],
            },
        };
        let deliver = SpoolEntry {
            release_ms: 1,
            next_attempt_ms: 2,
            attempts: 0,
            item: SpoolItem::Deliver {
                recipients: vec!["bob@c.test".into()],
                message: b"Subject: x\r\n\r\nhi\r\n".to_vec(),
            },
        };
        let hex = |e: &SpoolEntry| {
            e.encode()
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(
            hex(&forward),
            "fba0f1c2b134c8a3f1c2b13402000a6d697840622e74657374a0c21e04000102ff"
        );
        assert_eq!(
            hex(&deliver),
            "01020001010a626f6240632e74657374125375626a6563743a20780d0a0d0a68690d0a"
        );
        for entry in [forward, deliver] {
            assert_eq!(SpoolEntry::decode(&entry.encode().unwrap()).unwrap(), entry);
        }
    }
}
