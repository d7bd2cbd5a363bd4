//! What a node must remember between packets. The library keeps it in
//! memory ([`super::MemoryStore`]); the daemon supplies a persistent one.

use crate::message::Fragment;
use std::time::SystemTime;

/// What storing a fragment did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentStatus {
    /// Stored; this many distinct fragments of its message are now held.
    Held(usize),
    /// Its index was already held: nothing stored.
    Duplicate,
    /// Its message was already delivered or dropped, or is complete and
    /// waiting for its assembly ([`NodeStore::mark_complete`]): nothing
    /// stored, so a surplus fragment never starts a second assembly.
    AlreadyDelivered,
    /// It disagrees with the fragments held for its message about k, n or
    /// the body length: nothing stored.
    Inconsistent,
}

/// Why a store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Storing more would pass the store's cap. Temporary: the MTA keeps
    /// the carrier and retries once the spool drains.
    #[error("the store is full ({used} of {limit} bytes used)")]
    Full {
        /// Bytes charged.
        used: u64,
        /// The cap.
        limit: u64,
    },
    /// The backend failed (disk, database); temporary unless it says otherwise.
    #[error("{0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The stored data cannot be read back; retrying will not help.
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether retrying later may succeed.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, StoreError::Corrupt(_))
    }
}

/// Replay tags (per key period) and exit fragments.
///
/// An exit's message goes through three states: incomplete (fragments
/// arriving), complete (all fragments it needs stored, delivery pending),
/// and delivered (fragments gone, a mark left so late fragments are
/// dropped). Completing and finishing are separate transactions, so that
/// the costly assembly between them runs outside any lock and a crash in
/// between loses nothing: the complete message is still stored.
///
/// A persistent store is transactional: [`MixNode::process`](super::MixNode::process)
/// makes all its changes for one carrier between the caller's
/// [`begin`](Self::begin) and [`commit`](Self::commit), so that the caller
/// can add its own (the spooled packet) to the same transaction and
/// acknowledge the carrier only once all of it is durable.
pub trait NodeStore {
    /// Starts a transaction (a no-op for stores that need none).
    fn begin(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Makes everything since [`Self::begin`] durable at once.
    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Forgets everything since [`Self::begin`].
    fn abort(&mut self) {}
    /// Records `tag` under the key of `period`; `Ok(false)` if it was
    /// already there (a replay).
    fn remember_tag(&mut self, period: u64, tag: &[u8; 32]) -> Result<bool, StoreError>;
    /// Forgets the replay tags of every period before `period` (their keys
    /// are gone, so their packets can no longer be opened); returns how
    /// many tags were removed.
    fn forget_tags_before(&mut self, period: u64) -> Result<u64, StoreError>;
    /// Stores a fragment that arrived at `now`. Fragments of one message
    /// must agree on k, n and body length ([`FragmentStatus::Inconsistent`]).
    fn add_fragment(
        &mut self,
        fragment: Fragment,
        now: SystemTime,
    ) -> Result<FragmentStatus, StoreError>;
    /// Marks `message_id`, whose last needed fragment was just stored at
    /// `now`, as complete with its delivery pending: its fragments stay stored
    /// (and are returned by [`Self::fragments`] and
    /// [`Self::complete_messages`]) until [`Self::finish_message`], and
    /// further fragments of it are [`FragmentStatus::AlreadyDelivered`].
    fn mark_complete(&mut self, message_id: &[u8; 16], now: SystemTime) -> Result<(), StoreError>;
    /// The messages marked complete whose delivery is still pending, e.g.
    /// after a restart.
    fn complete_messages(&self) -> Result<Vec<[u8; 16]>, StoreError>;
    /// The fragments held for `message_id` (none if it is unknown), in
    /// index order. Reads only: an exit assembles from these without
    /// holding anything else.
    fn fragments(&self, message_id: &[u8; 16]) -> Result<Vec<Fragment>, StoreError>;
    /// Ends a complete message: removes its fragments and remembers it as
    /// delivered from `now` (until it expires) so late fragments are
    /// dropped, whether its assembly gave a delivery or failed for good.
    /// Returns false, changing nothing, if `message_id` is not marked
    /// complete (finished already, or expired meanwhile).
    fn finish_message(
        &mut self,
        message_id: &[u8; 16],
        now: SystemTime,
    ) -> Result<bool, StoreError>;
    /// Forgets incomplete messages that began before `pending_cutoff`
    /// (complete ones too: their assembly had two key periods to run) and
    /// delivered-message marks older than `delivered_cutoff`; returns how
    /// many messages were dropped.
    fn expire(
        &mut self,
        pending_cutoff: SystemTime,
        delivered_cutoff: SystemTime,
    ) -> Result<usize, StoreError>;
}
