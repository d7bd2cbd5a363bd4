//! Per-node precomputation for packet creation, built lazily and shared by
//! every clone of a directory entry.
//!
//! Two tiers, so that memory stays bounded however many nodes a directory
//! lists:
//!
//! - the node key as an Edwards point times the cofactor (160 bytes), kept
//!   for every node that packets were built to: it saves decoding the key
//!   (a field square root) on every packet;
//! - a fixed-base table of that point (about 30 KiB, see [`TABLE_BYTES`]),
//!   which makes each hop's multiplication 2.5 times as fast. Tables are
//!   built only for nodes used in at least [`TABLE_AFTER_USES`] packets, and
//!   at most [`MAX_LIVE_TABLES`] of them exist in the process at any time
//!   (counted when built, released when the last clone of the entry is
//!   dropped). Past the cap, hops fall back to a variable-base
//!   multiplication: slower, never wrong.

use curve25519_dalek::edwards::{EdwardsBasepointTable, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::BasepointTable;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// At most this many fixed-base tables are alive in the process
/// (`MAX_LIVE_TABLES * TABLE_BYTES` is about 15 MiB).
pub const MAX_LIVE_TABLES: usize = 512;

/// A node gets its table when its key is used for this many packets.
/// Building one costs what about 58 hops gain from it (docs/performance.md),
/// so, as in the ski-rental problem, we rent (variable-base multiplication)
/// until the rent paid equals the price, then buy: never more than twice
/// the cost of knowing the future, and a message of many fragments gets
/// its tables early on.
pub const TABLE_AFTER_USES: u32 = 50;

/// Bytes of one fixed-base table.
pub const TABLE_BYTES: usize = std::mem::size_of::<EdwardsBasepointTable>();

/// Tables alive now, across all directories of the process.
static LIVE_TABLES: AtomicUsize = AtomicUsize::new(0);

/// Lazily built per-node data for fast packet creation.
/// Clones share the same cell; equality ignores it (it is derived from the key).
#[derive(Clone, Default)]
pub struct HopTable(Arc<OnceLock<Prepared>>);

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

/// What one node's cell holds once a packet was built to it.
struct Prepared {
    /// The key this was computed from: a cell handed a different key is ignored.
    key: [u8; 32],
    /// `[8]·P` for the node key's point P, or `None` if the key is not on the curve.
    point: Option<EdwardsPoint>,
    uses: AtomicU32,
    table: OnceLock<CountedTable>,
}

/// A fixed-base table that is counted in [`LIVE_TABLES`] while it lives.
struct CountedTable(Box<EdwardsBasepointTable>);

impl Drop for CountedTable {
    fn drop(&mut self) {
        LIVE_TABLES.fetch_sub(1, Ordering::AcqRel);
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
    /// The multiplier for `key`, counting a use and building the table when
    /// due and under the cap. `None` if `key` is not on the curve.
    pub(crate) fn hop_point(&self, key: &[u8; 32]) -> Option<HopPoint<'_>> {
        let prepared = self.0.get_or_init(|| Prepared {
            key: *key,
            point: cofactor_point(key),
            uses: AtomicU32::new(0),
            table: OnceLock::new(),
        });
        if prepared.key != *key {
            return HopPoint::uncached(key);
        }
        let point = prepared.point?;
        if let Some(table) = prepared.table.get() {
            return Some(HopPoint::Table(&table.0));
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

    /// Whether this cell holds a fixed-base table (benchmarks and tests).
    pub fn has_table(&self) -> bool {
        self.0.get().is_some_and(|p| p.table.get().is_some())
    }
}

impl Prepared {
    /// Builds the table if a slot under [`MAX_LIVE_TABLES`] is free.
    fn build_table(&self, point: &EdwardsPoint) -> Option<&EdwardsBasepointTable> {
        let reserved = LIVE_TABLES
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < MAX_LIVE_TABLES).then_some(live + 1)
            })
            .is_ok();
        if !reserved {
            return None;
        }
        let mut built = false;
        let table = self.table.get_or_init(|| {
            built = true;
            CountedTable(Box::new(EdwardsBasepointTable::create(point)))
        });
        if !built {
            // Another thread built it first: give our slot back.
            LIVE_TABLES.fetch_sub(1, Ordering::AcqRel);
        }
        Some(&table.0)
    }
}

/// Fixed-base tables alive in the process now (for tests of the bound).
pub fn live_tables() -> usize {
    LIVE_TABLES.load(Ordering::Acquire)
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

    #[test]
    fn table_comes_after_enough_uses_and_goes_with_the_last_clone() {
        let table = HopTable::default();
        let clone = table.clone();
        let key = key(1);
        let expected = product(&HopPoint::uncached(&key).unwrap());
        for _ in 1..TABLE_AFTER_USES {
            assert_eq!(product(&table.hop_point(&key).unwrap()), expected);
            assert!(!clone.has_table());
        }
        let before = live_tables();
        assert_eq!(product(&clone.hop_point(&key).unwrap()), expected);
        assert!(table.has_table());
        assert!(live_tables() > before || live_tables() == MAX_LIVE_TABLES);
        let with_table = live_tables();
        drop(table);
        assert_eq!(live_tables(), with_table, "a clone still holds it");
        drop(clone);
        assert!(live_tables() < with_table);
    }

    #[test]
    fn a_cell_handed_another_key_computes_for_that_key() {
        let table = HopTable::default();
        table.hop_point(&key(2)).unwrap();
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
        assert!(HopTable::default().hop_point(&twist).is_none());
    }

    #[test]
    fn cells_compare_equal_and_print_no_content() {
        let table = HopTable::default();
        table.hop_point(&key(4)).unwrap();
        assert_eq!(table, HopTable::default());
        assert_eq!(format!("{table:?}"), "HopTable");
    }
}
