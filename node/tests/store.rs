//! The persistent store: what is committed survives a crash, what is not
//! committed never appears, replay tags and fragments persist, and the cap
//! refuses rather than loses.

use mixmailer::message::Fragment;
use mixmailer::node::{FragmentStatus, NodeError, NodeStore};
use mixmailer_node::store::{RedbStore, SpoolItem, StoreError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MB: u64 = 1 << 20;
/// An expiry time no test reaches.
fn far() -> SystemTime {
    t(1_000_000_000)
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn forward(n: u8) -> SpoolItem {
    SpoolItem::Forward {
        next_hop: "mix@node2.test".into(),
        packet: vec![n; 2396],
    }
}

fn fragment(id: u8, index: u8) -> Fragment {
    Fragment {
        message_id: [id; 16],
        k: 2,
        n: 3,
        index,
        body_len: 100,
        shard: vec![index; 64],
    }
}

fn db(dir: &Path) -> PathBuf {
    dir.join("spool.redb")
}

/// Runs `test` in a child process that writes to the store at `CRASH_DB`
/// and then aborts without any cleanup, like `kill -9`.
fn crash_child(test: &str, path: &Path) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("CRASH_DB", path)
        .status()
        .unwrap();
    assert!(!status.success(), "the child must have aborted");
}

#[test]
fn committed_packets_survive_a_crash() {
    if let Ok(path) = std::env::var("CRASH_DB") {
        let mut store = RedbStore::open(Path::new(&path), 100 * MB).unwrap();
        store.begin().unwrap();
        assert!(store.remember_tag(&[1; 32]).unwrap());
        store.spool(forward(1), t(60), far()).unwrap();
        store.commit().unwrap();
        // A second carrier is being processed when the node dies.
        store.begin().unwrap();
        assert!(store.remember_tag(&[2; 32]).unwrap());
        store.spool(forward(2), t(30), far()).unwrap();
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    crash_child("committed_packets_survive_a_crash", &db(dir.path()));

    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    let spooled = store.spooled().unwrap();
    assert_eq!(spooled.len(), 1, "only the committed packet is there");
    let (_, entry) = &spooled[0];
    assert_eq!(entry.item, forward(1));
    assert_eq!(
        entry.release_ms, 1_800_000_060_000,
        "release time is absolute"
    );
    assert!(store.due(t(59), 10).unwrap().is_empty());
    assert_eq!(store.due(t(60), 10).unwrap().len(), 1);
    // The committed tag persists; the uncommitted one never existed, so
    // the MTA's retry of that carrier is processed normally.
    assert!(!store.remember_tag(&[1; 32]).unwrap());
    assert!(store.remember_tag(&[2; 32]).unwrap());
}

#[test]
fn aborted_transaction_leaves_no_tag_and_no_packet() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.begin().unwrap();
    store.remember_tag(&[3; 32]).unwrap();
    store.spool(forward(3), t(1), far()).unwrap();
    store.abort();
    assert!(store.spooled().unwrap().is_empty());
    assert_eq!(store.stats().unwrap().replay_tags, 0);
    assert_eq!(store.stats().unwrap().bytes_used, 0);
}

#[test]
fn replay_tags_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
        assert!(store.remember_tag(&[9; 32]).unwrap());
    }
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    assert!(!store.remember_tag(&[9; 32]).unwrap());
    assert_eq!(store.stats().unwrap().replay_tags, 1);
}

#[test]
fn fragments_persist_and_reassembly_marks_the_message_delivered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
        assert_eq!(
            store.add_fragment(fragment(1, 0), t(0)).unwrap(),
            FragmentStatus::Held(1)
        );
        assert_eq!(
            store.add_fragment(fragment(1, 0), t(1)).unwrap(),
            FragmentStatus::Duplicate
        );
    }
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    assert_eq!(
        store.add_fragment(fragment(1, 2), t(2)).unwrap(),
        FragmentStatus::Held(2)
    );
    let taken = store.take_fragments(&[1; 16], t(3)).unwrap();
    assert_eq!(taken, vec![fragment(1, 0), fragment(1, 2)]);
    assert_eq!(
        store.add_fragment(fragment(1, 1), t(4)).unwrap(),
        FragmentStatus::AlreadyDelivered
    );
    let stats = store.stats().unwrap();
    assert_eq!((stats.held_messages, stats.held_fragments), (0, 0));
}

#[test]
fn inconsistent_fragment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.add_fragment(fragment(1, 0), t(0)).unwrap();
    let mut other = fragment(1, 1);
    other.body_len = 99;
    assert_eq!(
        store.add_fragment(other, t(1)),
        Err(NodeError::InconsistentFragment)
    );
}

#[test]
fn expiry_drops_old_incomplete_messages_and_frees_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.add_fragment(fragment(1, 0), t(0)).unwrap();
    store.add_fragment(fragment(2, 0), t(100)).unwrap();
    let before = store.stats().unwrap().bytes_used;
    assert_eq!(store.expire(t(50)).unwrap(), 1);
    let stats = store.stats().unwrap();
    assert_eq!((stats.held_messages, stats.held_fragments), (1, 1));
    assert!(stats.bytes_used < before);
    // The survivor still completes.
    assert_eq!(
        store.add_fragment(fragment(2, 1), t(101)).unwrap(),
        FragmentStatus::Held(2)
    );
}

#[test]
fn full_store_refuses_instead_of_losing_and_recovers_when_drained() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 6000).unwrap();
    store.begin().unwrap();
    store.spool(forward(1), t(0), far()).unwrap();
    store.spool(forward(2), t(0), far()).unwrap();
    store.commit().unwrap();
    store.begin().unwrap();
    let err = store.spool(forward(3), t(0), far()).unwrap_err();
    assert!(matches!(err, StoreError::Full { limit: 6000, .. }), "{err}");
    store.abort();
    let (id, _) = store.due(t(0), 1).unwrap()[0].clone();
    store.remove_spooled(id).unwrap();
    store.begin().unwrap();
    store.spool(forward(3), t(0), far()).unwrap();
    store.commit().unwrap();
    assert_eq!(store.spooled().unwrap().len(), 2);
}

#[test]
fn deferred_item_waits_for_its_retry_time_and_keeps_its_release_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.begin().unwrap();
    let id = store.spool(forward(1), t(10), far()).unwrap();
    store.commit().unwrap();
    assert_eq!(store.defer(id, t(40)).unwrap(), 1);
    assert!(store.due(t(39), 10).unwrap().is_empty());
    let due = store.due(t(40), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1.release_ms, 1_800_000_010_000);
    assert_eq!(due[0].1.attempts, 1);
    assert_eq!(store.stats().unwrap().retrying, 1);
    store.remove_spooled(id).unwrap();
    assert_eq!(store.stats().unwrap().bytes_used, 0);
    assert_eq!(store.next_due().unwrap(), None);
}

#[test]
fn due_items_come_earliest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.begin().unwrap();
    store.spool(forward(1), t(30), far()).unwrap();
    store.spool(forward(2), t(10), far()).unwrap();
    store
        .spool(
            SpoolItem::Deliver {
                recipients: vec!["a@example.test".into()],
                message: b"x".to_vec(),
            },
            t(20),
            far(),
        )
        .unwrap();
    store.commit().unwrap();
    let due: Vec<_> = store
        .due(t(100), 10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.release_ms)
        .collect();
    assert_eq!(
        due,
        vec![1_800_000_010_000, 1_800_000_020_000, 1_800_000_030_000]
    );
    assert_eq!(store.next_due().unwrap(), Some(t(10)));
}

#[test]
fn second_open_of_the_same_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = RedbStore::open(&db(dir.path()), MB).unwrap();
    assert!(matches!(
        RedbStore::open(&db(dir.path()), MB),
        Err(StoreError::Locked { .. })
    ));
}
