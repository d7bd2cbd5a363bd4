//! Per-node precomputation for packet creation, built lazily and shared by
//! every clone of a directory entry.

use std::sync::{Arc, OnceLock};

/// Lazily built per-node data for fast packet creation.
/// Clones share the same cell; equality ignores it (it is derived from the key).
#[derive(Clone, Default)]
pub struct HopTable(Arc<OnceLock<()>>);

impl std::fmt::Debug for HopTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HopTable")
    }
}

impl PartialEq for HopTable {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for HopTable {}
