//! The tables of the node database. Times are milliseconds since the Unix
//! epoch, stored absolute so a restart keeps every packet's release time.

use super::StoreError;
use redb::{ReadableTable, TableDefinition};

/// Spooled items by id: a postcard-encoded [`super::SpoolEntry`].
pub(super) const SPOOL: TableDefinition<u64, &[u8]> = TableDefinition::new("spool");
/// (next attempt, id): the order items fall due in.
pub(super) const QUEUE: TableDefinition<(u64, u64), ()> = TableDefinition::new("queue");
/// Replay tags by key period (SPEC 2): (period, tag). A period's tags are
/// deleted with its key, at the start of period + 2.
pub(super) const PERIOD_TAGS: TableDefinition<(u64, &[u8; 32]), ()> =
    TableDefinition::new("period_replay_tags");
/// Incomplete messages at the exit: postcard-encoded pending info.
pub(super) const PENDING: TableDefinition<&[u8; 16], &[u8]> = TableDefinition::new("pending");
/// (message id, fragment index) -> shard bytes.
pub(super) const FRAGMENTS: TableDefinition<(&[u8; 16], u8), &[u8]> =
    TableDefinition::new("fragments");
/// Messages whose needed fragments are all in [`FRAGMENTS`] and whose
/// delivery is pending (assembled outside the daemon's lock), with the
/// time they completed. Its rows leave with their [`PENDING`] row.
pub(super) const COMPLETE: TableDefinition<&[u8; 16], u64> = TableDefinition::new("complete");
/// Messages already delivered, with the time, so late fragments are dropped.
pub(super) const DELIVERED: TableDefinition<&[u8; 16], u64> = TableDefinition::new("delivered");
/// Items handed to the MTA right now: id -> when the attempt began. Such
/// an item is out of [`QUEUE`], so nothing releases it again while its
/// outcome is unknown (see `RedbStore::begin_submission`).
pub(super) const SUBMITTING: TableDefinition<u64, u64> = TableDefinition::new("submitting");
/// (expiry time, id): when a spooled item stops being worth sending.
pub(super) const EXPIRY: TableDefinition<(u64, u64), ()> = TableDefinition::new("expiry");
/// id -> expiry time, to find an item's [`EXPIRY`] row.
pub(super) const EXPIRY_BY_ID: TableDefinition<u64, u64> = TableDefinition::new("expiry_by_id");
/// SHA-256 of a packet whose next hop the directory did not know, with the
/// time it was first refused (see `RedbStore::unknown_hop_since`).
pub(super) const UNKNOWN_HOPS: TableDefinition<&[u8; 32], u64> =
    TableDefinition::new("unknown_hops");
/// Counters.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Bytes charged against the cap.
pub(super) const BYTES_USED: &str = "bytes_used";
/// The layout of the database: [`SCHEMA_VERSION`].
pub(super) const SCHEMA: &str = "schema";
/// Version 2: SPEC v2 packets (with their key period), tags per period.
pub(super) const SCHEMA_VERSION: u64 = 2;
/// The id the next spooled item gets.
pub(super) const NEXT_ID: &str = "next_id";

/// A counter, 0 when never written.
pub(super) fn meta_get(
    meta: &impl ReadableTable<&'static str, u64>,
    name: &str,
) -> Result<u64, StoreError> {
    Ok(meta.get(name)?.map(|v| v.value()).unwrap_or(0))
}
