//! The in-memory store: for tests, the demo, and nodes that accept losing
//! state on restart.

use super::{FragmentStatus, NodeStore, StoreError};
use crate::message::Fragment;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

struct Pending {
    first_seen: SystemTime,
    fragments: BTreeMap<u8, Fragment>,
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
    /// Incomplete messages held.
    pub fn pending_messages(&self) -> usize {
        self.pending.len()
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
            });
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

    fn take_fragments(
        &mut self,
        message_id: &[u8; 16],
        now: SystemTime,
    ) -> Result<Vec<Fragment>, StoreError> {
        let pending = self.pending.remove(message_id);
        self.delivered.insert(*message_id, now);
        Ok(pending
            .map(|p| p.fragments.into_values().collect())
            .unwrap_or_default())
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
