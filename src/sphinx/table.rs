//! Per-node precomputation for packet creation, kept by the sender in a
//! bounded [`TableCache`] keyed by node key.
//!
//! Two tiers, so that memory stays bounded however many keys a sender
//! builds packets to (keys change every key period, so a long-running
//! sender meets an unbounded number of them):
//!
//! - the node key as an Edwards point times the cofactor (160 bytes), kept
//!   for at most [`TableCache::max_keys`] keys: it saves decoding the key
//!   (a field square root) on every packet;
//! - a fixed-base table of that point (about 30 KiB, see [`TABLE_BYTES`]),
//!   which makes each hop's multiplication 2.5 times as fast. Tables are
//!   built only for keys used in at least [`TABLE_AFTER_USES`] packets, and
//!   at most [`TableCache::max_tables`] of them made by one cache are alive
//!   at any time (counted when built, released when the last handle to the
//!   key's entry is dropped). Past the cap, hops fall back to a
//!   variable-base multiplication: slower, never wrong.
//!
//! The cache is a sender-side speed-up only: no packet depends on whether
//! a table was used, and nothing in it is secret (node keys are public).

use curve25519_dalek::edwards::{EdwardsBasepointTable, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::BasepointTable;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Tables a [`TableCache::default`] keeps alive at most
/// (`DEFAULT_MAX_TABLES * TABLE_BYTES` is about 15 MiB).
pub const DEFAULT_MAX_TABLES: usize = 512;

/// Keys a [`TableCache::default`] remembers at most (about 1 MiB of points
/// and bookkeeping): the directory's nodes of the current and next key
/// period, with room to spare.
pub const DEFAULT_MAX_KEYS: usize = 4096;

/// A node gets its table when its key is used for this many packets.
/// Building one costs what about 58 hops gain from it (docs/performance.md),
/// so, as in the ski-rental problem, we rent (variable-base multiplication)
/// until the rent paid equals the price, then buy: never more than twice
/// the cost of knowing the future, and a message of many fragments gets
/// its tables early on.
pub const TABLE_AFTER_USES: u32 = 50;

/// Bytes of one fixed-base table.
pub const TABLE_BYTES: usize = std::mem::size_of::<EdwardsBasepointTable>();

/// The sender's per-node-key precomputation, bounded in keys and tables.
///
/// One cache serves every thread that builds packets (share it in an
/// `Arc`); [`TableCache::table`] hands out the [`HopTable`] of a key, to be
/// put in that hop's [`super::PacketHop`].
pub struct TableCache {
    max_keys: usize,
    max_tables: usize,
    /// Tables of this cache alive now, shared with every table it built so
    /// that dropping one (after its entry was evicted) gives its slot back.
    live: Arc<AtomicUsize>,
    state: Mutex<State>,
}

/// The entries and a use clock for least-recently-used eviction.
#[derive(Default)]
struct State {
    clock: u64,
    entries: HashMap<[u8; 32], Entry>,
}

struct Entry {
    last_use: u64,
    table: HopTable,
}

impl Default for TableCache {
    fn default() -> Self {
        TableCache::new(DEFAULT_MAX_TABLES, DEFAULT_MAX_KEYS)
    }
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableCache")
            .field("keys", &self.keys())
            .field("tables", &self.tables())
            .field("max_keys", &self.max_keys)
            .field("max_tables", &self.max_tables)
            .finish()
    }
}

impl TableCache {
    /// A cache of at most `max_tables` fixed-base tables and `max_keys`
    /// remembered keys (at least one of each is kept).
    pub fn new(max_tables: usize, max_keys: usize) -> Self {
        TableCache {
            max_keys: max_keys.max(1),
            max_tables,
            live: Arc::new(AtomicUsize::new(0)),
            state: Mutex::new(State::default()),
        }
    }

    /// The table handle for `key`, to pass in that hop's `PacketHop` for
    /// the packets about to be built. A key seen for the first time when
    /// the cache is full evicts the least recently used key; when the table
    /// budget is spent it also evicts the least recently used key that has
    /// a table, so that keys of past periods give way to current ones.
    pub fn table(&self, key: &[u8; 32]) -> HopTable {
        // The state is a plain map: a panic elsewhere cannot leave it torn.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.clock += 1;
        let now = state.clock;
        if let Some(entry) = state.entries.get_mut(key) {
            entry.last_use = now;
            return entry.table.clone();
        }
        if state.entries.len() >= self.max_keys {
            state.evict(|_| true);
        }
        if self.live.load(Ordering::Acquire) >= self.max_tables {
            state.evict(HopTable::has_table);
        }
        let table = HopTable::new(key, self.max_tables, Arc::clone(&self.live));
        state.entries.insert(
            *key,
            Entry {
                last_use: now,
                table: table.clone(),
            },
        );
        table
    }

    /// Keys remembered now.
    pub fn keys(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    /// Fixed-base tables built by this cache and alive now (held by the
    /// cache or by a handle a builder still has).
    pub fn tables(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// The most keys this cache remembers.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// The most tables this cache's keys hold at once.
    pub fn max_tables(&self) -> usize {
        self.max_tables
    }
}

impl State {
    /// Forgets the least recently used entry that `eligible` accepts, if any.
    fn evict(&mut self, eligible: impl Fn(&HopTable) -> bool) {
        let oldest = self
            .entries
            .iter()
            .filter(|(_, entry)| eligible(&entry.table))
            .min_by_key(|(_, entry)| entry.last_use)
            .map(|(key, _)| *key);
        if let Some(key) = oldest {
            self.entries.remove(&key);
        }
    }
}

/// One node key's precomputation: a cheap handle (clones share it).
/// Made by [`TableCache::table`]; it stays valid after its key is evicted.
#[derive(Clone)]
pub struct HopTable(Arc<Prepared>);

impl std::fmt::Debug for HopTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HopTable")
            .field("has_table", &self.has_table())
            .finish()
    }
}

/// What one key's entry holds.
struct Prepared {
    /// The key this was computed from: a handle given another key is ignored.
    key: [u8; 32],
    /// `[8]·P` for the node key's point P, or `None` if the key is not on the curve.
    point: Option<EdwardsPoint>,
    uses: AtomicU32,
    max_tables: usize,
    live: Arc<AtomicUsize>,
    table: OnceLock<CountedTable>,
}

/// A fixed-base table counted in its cache's `live` while it lives.
struct CountedTable {
    table: Box<EdwardsBasepointTable>,
    live: Arc<AtomicUsize>,
}

impl Drop for CountedTable {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How to multiply one hop's cofactor-cleared key point by a scalar.
pub(crate) enum HopPoint<'a> {
    Table(&'a EdwardsBasepointTable),
    Point(EdwardsPoint),
}

impl HopPoint<'_> {
    /// `[8]·P` of `key`, computed afresh; `None` if `key` is not on the curve.
    pub(crate) fn uncached(key: &[u8; 32]) -> Option<HopPoint<'static>> {
        cofactor_point(key).map(HopPoint::Point)
    }

    /// `[s]·([8]·P)` in constant time.
    pub(crate) fn mul(&self, s: &Scalar) -> EdwardsPoint {
        match self {
            HopPoint::Table(table) => table.mul_base(s),
            HopPoint::Point(point) => point * s,
        }
    }
}

/// The point of an X25519 key, times the cofactor. Either sign of the
/// Edwards point serves: a Montgomery u-coordinate cannot tell `P` from `-P`.
fn cofactor_point(key: &[u8; 32]) -> Option<EdwardsPoint> {
    MontgomeryPoint(*key)
        .to_edwards(0)
        .map(|p| p.mul_by_cofactor())
}

impl HopTable {
    fn new(key: &[u8; 32], max_tables: usize, live: Arc<AtomicUsize>) -> Self {
        HopTable(Arc::new(Prepared {
            key: *key,
            point: cofactor_point(key),
            uses: AtomicU32::new(0),
            max_tables,
            live,
            table: OnceLock::new(),
        }))
    }

    /// The multiplier for `key`, counting a use and building the table when
    /// due and under the cap. `None` if `key` is not on the curve.
    pub(crate) fn hop_point(&self, key: &[u8; 32]) -> Option<HopPoint<'_>> {
        let prepared = &*self.0;
        if prepared.key != *key {
            return HopPoint::uncached(key);
        }
        let point = prepared.point?;
        if let Some(table) = prepared.table.get() {
            return Some(HopPoint::Table(&table.table));
        }
        let uses = prepared
            .uses
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if uses >= TABLE_AFTER_USES {
            if let Some(table) = prepared.build_table(&point) {
                return Some(HopPoint::Table(table));
            }
        }
        Some(HopPoint::Point(point))
    }

    /// Whether this key has its fixed-base table yet.
    pub fn has_table(&self) -> bool {
        self.0.table.get().is_some()
    }
}

impl Prepared {
    /// Builds the table if one of the cache's slots is free.
    fn build_table(&self, point: &EdwardsPoint) -> Option<&EdwardsBasepointTable> {
        let reserved = self
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < self.max_tables).then_some(live + 1)
            })
            .is_ok();
        if !reserved {
            return None;
        }
        let mut built = false;
        let table = self.table.get_or_init(|| {
            built = true;
            CountedTable {
                table: Box::new(EdwardsBasepointTable::create(point)),
                live: Arc::clone(&self.live),
            }
        });
        if !built {
            // Another thread built it first: give our slot back.
            self.live.fetch_sub(1, Ordering::AcqRel);
        }
        Some(&table.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x25519_dalek::{PublicKey, StaticSecret};

    fn key(seed: u8) -> [u8; 32] {
        PublicKey::from(&StaticSecret::from([seed; 32])).to_bytes()
    }

    fn product(point: &HopPoint<'_>) -> [u8; 32] {
        point.mul(&Scalar::from(12345u32)).compress().to_bytes()
    }

    /// Uses `table` for `key` until it has its fixed-base table.
    fn warm(table: &HopTable, key: &[u8; 32]) {
        for _ in 0..TABLE_AFTER_USES {
            table.hop_point(key).unwrap();
        }
    }

    #[test]
    fn table_comes_after_enough_uses_and_goes_with_the_last_handle() {
        let cache = TableCache::default();
        let key = key(1);
        let table = cache.table(&key);
        let expected = product(&HopPoint::uncached(&key).unwrap());
        for _ in 1..TABLE_AFTER_USES {
            assert_eq!(product(&table.hop_point(&key).unwrap()), expected);
            assert!(!cache.table(&key).has_table());
        }
        assert_eq!(product(&table.hop_point(&key).unwrap()), expected);
        assert!(
            cache.table(&key).has_table(),
            "the cache's handle shares it"
        );
        assert_eq!(cache.tables(), 1);
        assert_eq!(
            product(&table.hop_point(&key).unwrap()),
            expected,
            "the table gives what the plain multiplication gives"
        );
        drop(cache);
        assert!(table.has_table(), "a handle outlives its cache");
    }

    #[test]
    fn no_more_tables_than_the_budget_are_alive() {
        let cache = TableCache::new(2, 100);
        let keys: Vec<[u8; 32]> = (1..=3).map(key).collect();
        let tables: Vec<HopTable> = keys.iter().map(|k| cache.table(k)).collect();
        for (table, key) in tables.iter().zip(&keys) {
            warm(table, key);
        }
        assert_eq!(cache.tables(), 2);
        assert!(tables[0].has_table() && tables[1].has_table());
        assert!(
            !tables[2].has_table(),
            "past the budget: plain multiplication"
        );
        assert_eq!(
            product(&tables[2].hop_point(&keys[2]).unwrap()),
            product(&HopPoint::uncached(&keys[2]).unwrap())
        );
    }

    #[test]
    fn a_new_key_displaces_the_oldest_table_when_the_budget_is_spent() {
        let cache = TableCache::new(1, 100);
        let old = key(5);
        warm(&cache.table(&old), &old);
        assert_eq!(cache.tables(), 1);
        let new = key(6);
        let table = cache.table(&new);
        assert_eq!(cache.keys(), 1, "the old key's entry was evicted");
        assert_eq!(cache.tables(), 0, "and its table freed with it");
        warm(&table, &new);
        assert!(table.has_table());
    }

    #[test]
    fn keys_beyond_the_bound_evict_the_least_recently_used() {
        let cache = TableCache::new(0, 2);
        let (a, b, c) = (key(7), key(8), key(9));
        cache.table(&a);
        cache.table(&b);
        cache.table(&a);
        cache.table(&c);
        assert_eq!(cache.keys(), 2);
        let state = cache.state.lock().unwrap();
        assert!(state.entries.contains_key(&a) && state.entries.contains_key(&c));
    }

    #[test]
    fn a_handle_given_another_key_computes_for_that_key() {
        let cache = TableCache::default();
        let table = cache.table(&key(2));
        let other = key(3);
        assert_eq!(
            product(&table.hop_point(&other).unwrap()),
            product(&HopPoint::uncached(&other).unwrap())
        );
    }

    #[test]
    fn a_key_on_the_twist_has_no_point() {
        let twist = (2u8..)
            .map(|u| {
                let mut key = [0u8; 32];
                key[0] = u;
                key
            })
            .find(|key| MontgomeryPoint(*key).to_edwards(0).is_none())
            .unwrap();
        assert!(HopPoint::uncached(&twist).is_none());
        assert!(TableCache::default()
            .table(&twist)
            .hop_point(&twist)
            .is_none());
    }
}
