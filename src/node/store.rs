//! What a node must remember between packets. The library keeps it in
//! memory ([`super::MemoryStore`]); the daemon supplies a persistent one.

use super::NodeError;
use crate::message::Fragment;
use std::time::SystemTime;

/// What storing a fragment did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentStatus {
    /// Stored; this many distinct fragments of its message are now held.
    Held(usize),
    /// Its index was already held: nothing stored.
    Duplicate,
    /// Its message was already delivered: nothing stored.
    AlreadyDelivered,
}

/// Replay tags and exit fragments.
pub trait NodeStore {
    /// Records `tag`; `Ok(false)` if it was already there (a replay).
    fn remember_tag(&mut self, tag: &[u8; 32]) -> Result<bool, NodeError>;
    /// Stores a fragment that arrived at `now`. Fragments of one message
    /// must agree on k, n and body length ([`NodeError::InconsistentFragment`]).
    fn add_fragment(
        &mut self,
        fragment: Fragment,
        now: SystemTime,
    ) -> Result<FragmentStatus, NodeError>;
    /// Removes and returns the fragments of `message_id`, and remembers the
    /// message as delivered (until it expires) so late fragments are dropped.
    fn take_fragments(
        &mut self,
        message_id: &[u8; 16],
        now: SystemTime,
    ) -> Result<Vec<Fragment>, NodeError>;
    /// Forgets incomplete messages and delivered-message marks older than `cutoff`;
    /// returns how many incomplete messages were dropped.
    fn expire(&mut self, cutoff: SystemTime) -> Result<usize, NodeError>;
}
