//! The in-memory store: for tests, the demo, and nodes that accept losing
//! state on restart.

use super::{FragmentStatus, NodeStore, StoreError};
use crate::message::Fragment;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

struct Pending {
    first_seen: SystemTime,
    fragments: BTreeMap<u8, Fragment>,
    /// All needed fragments are here; the delivery is pending.
    complete: bool,
}

/// Replay tags and fragments in memory.
#[derive(Default)]
pub struct MemoryStore {
    tags: BTreeMap<u64, HashSet<[u8; 32]>>,
    pending: HashMap<[u8; 16], Pending>,
    delivered: HashMap<[u8; 16], SystemTime>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// Messages whose fragments are held (incomplete, or complete and
    /// waiting for their assembly).
    pub fn pending_messages(&self) -> usize {
        self.pending.len()
    }
    /// Messages remembered as delivered.
    pub fn delivered_marks(&self) -> usize {
        self.delivered.len()
    }
    /// Replay tags held, over all periods.
    pub fn tag_count(&self) -> usize {
        self.tags.values().map(HashSet::len).sum()
    }
    /// The periods replay tags are held for.
    pub fn tag_periods(&self) -> Vec<u64> {
        self.tags.keys().copied().collect()
    }
}

impl NodeStore for MemoryStore {
    fn remember_tag(&mut self, period: u64, tag: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.tags.entry(period).or_default().insert(*tag))
    }

    fn forget_tags_before(&mut self, period: u64) -> Result<u64, StoreError> {
        let keep = self.tags.split_off(&period);
        let gone = std::mem::replace(&mut self.tags, keep);
        Ok(gone.values().map(|tags| tags.len() as u64).sum())
    }

    fn add_fragment(
        &mut self,
        fragment: Fragment,
        now: SystemTime,
    ) -> Result<FragmentStatus, StoreError> {
        if self.delivered.contains_key(&fragment.message_id) {
            return Ok(FragmentStatus::AlreadyDelivered);
        }
        let pending = self
            .pending
            .entry(fragment.message_id)
            .or_insert_with(|| Pending {
                first_seen: now,
                fragments: BTreeMap::new(),
                complete: false,
            });
        if pending.complete {
            return Ok(FragmentStatus::AlreadyDelivered);
        }
        if let Some(first) = pending.fragments.values().next() {
            if (first.k, first.n, first.body_len) != (fragment.k, fragment.n, fragment.body_len) {
                return Ok(FragmentStatus::Inconsistent);
            }
        }
        if pending.fragments.contains_key(&fragment.index) {
            return Ok(FragmentStatus::Duplicate);
        }
        pending.fragments.insert(fragment.index, fragment);
        Ok(FragmentStatus::Held(pending.fragments.len()))
    }

    fn mark_complete(&mut self, message_id: &[u8; 16], _now: SystemTime) -> Result<(), StoreError> {
        if let Some(pending) = self.pending.get_mut(message_id) {
            pending.complete = true;
        }
        Ok(())
    }

    fn complete_messages(&self) -> Result<Vec<[u8; 16]>, StoreError> {
        Ok(self
            .pending
            .iter()
            .filter(|(_, p)| p.complete)
            .map(|(id, _)| *id)
            .collect())
    }

    fn fragments(&self, message_id: &[u8; 16]) -> Result<Vec<Fragment>, StoreError> {
        Ok(self
            .pending
            .get(message_id)
            .map(|p| p.fragments.values().cloned().collect())
            .unwrap_or_default())
    }

    fn finish_message(
        &mut self,
        message_id: &[u8; 16],
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        if !self.pending.get(message_id).is_some_and(|p| p.complete) {
            return Ok(false);
        }
        self.pending.remove(message_id);
        self.delivered.insert(*message_id, now);
        Ok(true)
    }

    fn expire(
        &mut self,
        pending_cutoff: SystemTime,
        delivered_cutoff: SystemTime,
    ) -> Result<usize, StoreError> {
        let before = self.pending.len();
        self.pending.retain(|_, p| p.first_seen >= pending_cutoff);
        self.delivered.retain(|_, t| *t >= delivered_cutoff);
        Ok(before - self.pending.len())
    }
}
