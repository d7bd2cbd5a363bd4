//! A node's keys: its long-term identity (public half only: the library
//! never needs to sign as the node) and its X25519 key for each period.

use crate::keys::NodeSecretKey;
use std::collections::BTreeMap;

/// The keys a [`super::MixNode`] processes packets with.
pub struct NodeKeys {
    identity: [u8; 32],
    periods: BTreeMap<u64, NodeSecretKey>,
}

impl NodeKeys {
    /// Keys of the node whose Ed25519 identity public key is `identity`,
    /// with no period key yet.
    pub fn new(identity: [u8; 32]) -> Self {
        NodeKeys {
            identity,
            periods: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the secret key for `period`.
    pub fn insert(&mut self, period: u64, key: NodeSecretKey) {
        self.periods.insert(period, key);
    }

    /// Builder form of [`Self::insert`].
    pub fn with(mut self, period: u64, key: NodeSecretKey) -> Self {
        self.insert(period, key);
        self
    }

    /// Deletes (and so wipes) every key of a period before `period`;
    /// returns the periods deleted.
    pub fn remove_before(&mut self, period: u64) -> Vec<u64> {
        let keep = self.periods.split_off(&period);
        let gone = std::mem::replace(&mut self.periods, keep);
        gone.into_keys().collect()
    }

    /// The identity public key.
    pub fn identity(&self) -> &[u8; 32] {
        &self.identity
    }

    /// The secret key for `period`, if the node has it.
    pub fn get(&self, period: u64) -> Option<&NodeSecretKey> {
        self.periods.get(&period)
    }

    /// The periods the node has keys for, in increasing order.
    pub fn periods(&self) -> impl Iterator<Item = u64> + '_ {
        self.periods.keys().copied()
    }
}

impl std::fmt::Debug for NodeKeys {
    // Periods are public; the keys never print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("periods", &self.periods.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_periods_are_deleted() {
        let mut keys = NodeKeys::new([1; 32]);
        for p in 10..15 {
            keys.insert(p, NodeSecretKey::from_bytes([p as u8; 32]));
        }
        assert_eq!(keys.remove_before(12), vec![10, 11]);
        assert_eq!(keys.periods().collect::<Vec<_>>(), vec![12, 13, 14]);
        assert!(keys.get(11).is_none() && keys.get(12).is_some());
        assert!(keys.remove_before(12).is_empty());
    }
}
