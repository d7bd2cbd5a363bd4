//! The in-memory store: for tests, the demo, and nodes that accept losing
//! state on restart.

use super::{FragmentStatus, NodeError, NodeStore};
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
    tags: HashSet<[u8; 32]>,
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
}

impl NodeStore for MemoryStore {
    fn remember_tag(&mut self, tag: &[u8; 32]) -> Result<bool, NodeError> {
        Ok(self.tags.insert(*tag))
    }

    fn add_fragment(
        &mut self,
        fragment: Fragment,
        now: SystemTime,
    ) -> Result<FragmentStatus, NodeError> {
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
                return Err(NodeError::InconsistentFragment);
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
    ) -> Result<Vec<Fragment>, NodeError> {
        let pending = self.pending.remove(message_id);
        self.delivered.insert(*message_id, now);
        Ok(pending
            .map(|p| p.fragments.into_values().collect())
            .unwrap_or_default())
    }

    fn expire(&mut self, cutoff: SystemTime) -> Result<usize, NodeError> {
        let before = self.pending.len();
        self.pending.retain(|_, p| p.first_seen >= cutoff);
        self.delivered.retain(|_, t| *t >= cutoff);
        Ok(before - self.pending.len())
    }
}
