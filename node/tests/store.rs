//! The persistent store: what is committed survives a crash, what is not
//! committed never appears, replay tags and fragments persist, and the cap
//! refuses rather than loses.

use mixmailer::message::Fragment;
use mixmailer::node::{FragmentStatus, NodeStore};
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
        period: 1,
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
        assert!(store.remember_tag(1, &[1; 32]).unwrap());
        store.spool(forward(1), t(60), far()).unwrap();
        store.commit().unwrap();
        // A second carrier is being processed when the node dies.
        store.begin().unwrap();
        assert!(store.remember_tag(1, &[2; 32]).unwrap());
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
    assert!(!store.remember_tag(1, &[1; 32]).unwrap());
    assert!(store.remember_tag(1, &[2; 32]).unwrap());
}

#[test]
fn aborted_transaction_leaves_no_tag_and_no_packet() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.begin().unwrap();
    store.remember_tag(1, &[3; 32]).unwrap();
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
        assert!(store.remember_tag(1, &[9; 32]).unwrap());
    }
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    assert!(!store.remember_tag(1, &[9; 32]).unwrap());
    assert_eq!(store.stats().unwrap().replay_tags, 1);
}

#[test]
fn fragments_persist_and_finishing_marks_the_message_delivered() {
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
    assert!(
        !store.finish_message(&[1; 16], t(3)).unwrap(),
        "only a complete message is finished"
    );
    store.mark_complete(&[1; 16], t(3)).unwrap();
    assert_eq!(
        store.fragments(&[1; 16]).unwrap(),
        vec![fragment(1, 0), fragment(1, 2)]
    );
    assert!(store.finish_message(&[1; 16], t(3)).unwrap());
    assert!(store.fragments(&[1; 16]).unwrap().is_empty());
    assert_eq!(
        store.add_fragment(fragment(1, 1), t(4)).unwrap(),
        FragmentStatus::AlreadyDelivered
    );
    let stats = store.stats().unwrap();
    assert_eq!((stats.held_messages, stats.held_fragments), (0, 0));
    assert_eq!((stats.complete_messages, stats.delivered_marks), (0, 1));
    assert_eq!(
        stats.bytes_used, 32,
        "only the mark is charged once the fragments are gone"
    );
}

#[test]
fn a_complete_message_survives_a_crash_and_takes_no_more_fragments() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
        store.begin().unwrap();
        store.add_fragment(fragment(1, 0), t(0)).unwrap();
        store.add_fragment(fragment(1, 1), t(0)).unwrap();
        store.mark_complete(&[1; 16], t(0)).unwrap();
        // Seen inside the transaction that wrote them.
        assert_eq!(store.complete_messages().unwrap(), vec![[1; 16]]);
        assert_eq!(store.fragments(&[1; 16]).unwrap().len(), 2);
        store.commit().unwrap();
        // Then the process dies before the message is finished.
    }
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    let reader = store.handle();
    assert_eq!(reader.complete_messages().unwrap(), vec![[1; 16]]);
    assert_eq!(
        reader.fragments(&[1; 16]).unwrap(),
        vec![fragment(1, 0), fragment(1, 1)]
    );
    assert_eq!(
        store.add_fragment(fragment(1, 2), t(1)).unwrap(),
        FragmentStatus::AlreadyDelivered,
        "a surplus fragment must not start a second assembly"
    );
    assert_eq!(reader.fragments(&[1; 16]).unwrap().len(), 2);
    assert_eq!(store.stats().unwrap().complete_messages, 1);
    // An aborted finish (the delivery could not be spooled) changes nothing.
    store.begin().unwrap();
    assert!(store.finish_message(&[1; 16], t(2)).unwrap());
    store.abort();
    assert_eq!(reader.complete_messages().unwrap(), vec![[1; 16]]);
    assert!(store.finish_message(&[1; 16], t(2)).unwrap());
    assert!(reader.complete_messages().unwrap().is_empty());
    assert!(!store.finish_message(&[1; 16], t(3)).unwrap());
}

#[test]
fn inconsistent_fragment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.add_fragment(fragment(1, 0), t(0)).unwrap();
    let mut other = fragment(1, 1);
    other.body_len = 99;
    assert_eq!(
        store.add_fragment(other, t(1)).unwrap(),
        FragmentStatus::Inconsistent
    );
}

#[test]
fn expiry_drops_old_incomplete_messages_and_frees_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.add_fragment(fragment(1, 0), t(0)).unwrap();
    store.add_fragment(fragment(2, 0), t(100)).unwrap();
    let before = store.stats().unwrap().bytes_used;
    assert_eq!(store.expire(t(50), t(50)).unwrap(), 1);
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

fn delivery() -> SpoolItem {
    SpoolItem::Deliver {
        recipients: vec!["a@example.test".into()],
        message: b"x".to_vec(),
    }
}

#[test]
fn item_being_submitted_is_never_due_again_and_a_crash_settles_it_at_most_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
        store.begin().unwrap();
        let fwd = store.spool(forward(1), t(0), far()).unwrap();
        let dlv = store.spool(delivery(), t(0), far()).unwrap();
        store.commit().unwrap();
        assert!(store.begin_submission(fwd, t(1)).unwrap());
        assert!(store.begin_submission(dlv, t(1)).unwrap());
        // The outcome is never recorded (the store failed, or the process
        // died): nothing hands the items out again.
        assert!(store.due(t(1_000), 10).unwrap().is_empty());
        assert_eq!(store.stats().unwrap().submitting, 2);
    }
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    assert!(
        store.due(t(1_000), 10).unwrap().is_empty(),
        "not after a restart either"
    );
    let recovered = store.recover_submissions(t(2_000)).unwrap();
    assert_eq!(recovered.forwards_requeued, 1);
    assert_eq!(recovered.deliveries_dropped, 1);
    let due = store.due(t(2_000), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1.item, forward(1), "only the forward goes out again");
    assert_eq!(store.stats().unwrap().submitting, 0);
    store.remove_spooled(due[0].0).unwrap();
    assert_eq!(
        store.stats().unwrap().bytes_used,
        0,
        "the delivery's bytes were refunded"
    );
}

#[test]
fn failed_submission_is_due_again_at_its_retry_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.begin().unwrap();
    let id = store.spool(delivery(), t(0), far()).unwrap();
    store.commit().unwrap();
    assert!(store.begin_submission(id, t(0)).unwrap());
    store.defer(id, t(30)).unwrap();
    assert_eq!(store.stats().unwrap().submitting, 0);
    assert!(store.due(t(29), 10).unwrap().is_empty());
    assert_eq!(store.due(t(30), 10).unwrap().len(), 1);
}

#[test]
fn expiry_pass_removes_items_past_their_deadline_so_a_full_store_accepts_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 6000).unwrap();
    store.begin().unwrap();
    // Two packets held far beyond the time their next hop accepts them.
    store.spool(forward(1), t(1_000_000), t(100)).unwrap();
    store.spool(forward(2), t(1_000_000), t(200)).unwrap();
    store.commit().unwrap();
    store.begin().unwrap();
    assert!(matches!(
        store.spool(forward(3), t(10), far()),
        Err(StoreError::Full { .. })
    ));
    store.abort();
    assert_eq!(
        store.expire_spool(t(100)).unwrap(),
        0,
        "not before the deadline"
    );
    assert_eq!(store.expire_spool(t(101)).unwrap(), 1);
    store.begin().unwrap();
    store.spool(forward(3), t(10), far()).unwrap();
    store.commit().unwrap();
    let left: Vec<_> = store
        .spooled()
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.item)
        .collect();
    assert_eq!(left, vec![forward(2), forward(3)]);
}

#[test]
fn item_being_submitted_is_not_expired_under_the_releaser() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.begin().unwrap();
    let id = store.spool(forward(1), t(0), t(10)).unwrap();
    store.commit().unwrap();
    assert!(store.begin_submission(id, t(5)).unwrap());
    assert_eq!(store.expire_spool(t(20)).unwrap(), 0);
    store.remove_spooled(id).unwrap();
    assert_eq!(store.stats().unwrap().bytes_used, 0);
}

#[test]
fn delivered_marks_outlive_the_fragment_ttl_by_the_mta_queue_lifetime() {
    use mixmailer_node::store::MTA_QUEUE_LIFETIME;
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    store.add_fragment(fragment(1, 0), t(0)).unwrap();
    store.add_fragment(fragment(1, 1), t(0)).unwrap();
    store.mark_complete(&[1; 16], t(0)).unwrap();
    assert!(store.finish_message(&[1; 16], t(0)).unwrap());
    // `expire` gets now - fragment TTL (two key periods) for both cutoffs:
    // a pass just after the TTL, and one just before the MTA's last retry
    // of a late carrier, keep the mark.
    store.expire(t(1), t(1)).unwrap();
    store
        .expire(t(0) + MTA_QUEUE_LIFETIME, t(0) + MTA_QUEUE_LIFETIME)
        .unwrap();
    assert_eq!(
        store.add_fragment(fragment(1, 2), t(2)).unwrap(),
        FragmentStatus::AlreadyDelivered,
        "a late parity fragment must not deliver the message again"
    );
    store
        .expire(t(1) + MTA_QUEUE_LIFETIME, t(1) + MTA_QUEUE_LIFETIME)
        .unwrap();
    assert_eq!(store.stats().unwrap().delivered_marks, 0);
}

#[test]
fn unknown_next_hop_is_remembered_from_its_first_refusal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
        assert_eq!(store.unknown_hop_since(&[5; 32], t(0)).unwrap(), t(0));
    }
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    assert_eq!(
        store.unknown_hop_since(&[5; 32], t(500)).unwrap(),
        t(0),
        "the MTA's retry after a restart still counts from the first refusal"
    );
    assert_eq!(store.unknown_hop_since(&[6; 32], t(600)).unwrap(), t(600));
    assert_eq!(store.forget_unknown_hops(t(1)).unwrap(), 1);
    assert_eq!(store.stats().unwrap().unknown_hops, 1);
}

#[test]
fn database_is_created_private_and_an_open_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    drop(RedbStore::open(&db(dir.path()), MB).unwrap());
    let mode = std::fs::metadata(db(dir.path()))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::set_permissions(db(dir.path()), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = RedbStore::open(&db(dir.path()), MB).err().expect("refused");
    assert!(
        matches!(err, StoreError::TooOpen { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

/// Whether this test runs as root (needed for mounts and chown); tests
/// that need it say so and pass without checking anything otherwise.
pub fn is_root() -> bool {
    rustix_uid() == 0
}

fn rustix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file we just created is our effective uid.
    let probe = tempfile::NamedTempFile::new().unwrap();
    probe.as_file().metadata().unwrap().uid()
}

#[test]
fn database_owned_by_another_user_is_refused() {
    if !is_root() {
        eprintln!("SKIPPED database_owned_by_another_user_is_refused: needs root to chown");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    drop(RedbStore::open(&db(dir.path()), MB).unwrap());
    std::os::unix::fs::chown(db(dir.path()), Some(4242), None).unwrap();
    let err = RedbStore::open(&db(dir.path()), MB).err().expect("refused");
    assert!(
        matches!(
            err,
            StoreError::NotOwned {
                owner: 4242,
                uid: 0,
                ..
            }
        ),
        "{err}"
    );
}

/// A tmpfs of `size` mounted on a new directory, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed");
        Tmpfs(dir)
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    /// Writes zeros into `name` until the file system is full.
    fn fill(&self, name: &str) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join(name)).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn store_reopens_itself_after_a_full_disk_once_space_is_back() {
    if !is_root() {
        eprintln!("SKIPPED store_reopens_itself_after_a_full_disk_once_space_is_back: needs root to mount a tmpfs");
        return;
    }
    let fs = Tmpfs::mount("2m");
    let mut store = RedbStore::open(&db(fs.path()), 100 * MB).unwrap();
    store.begin().unwrap();
    store.spool(forward(1), t(0), far()).unwrap();
    store.commit().unwrap();
    fs.fill("filler");
    // Write until the disk refuses: redb then refuses everything
    // (PreviousIo) until the database is opened again.
    let mut failed = None;
    for n in 0..200u8 {
        store.begin().unwrap_or(());
        let r = store
            .spool(forward(n), t(0), far())
            .and_then(|_| store.commit());
        if let Err(e) = r {
            failed = Some(e);
            break;
        }
    }
    let err = failed.expect("a full disk makes a commit fail");
    assert!(err.needs_reopen(), "an I/O error: {err}");
    assert!(store.is_broken());
    std::fs::remove_file(fs.path().join("filler")).unwrap();
    store.begin().unwrap();
    store.spool(forward(9), t(0), far()).unwrap();
    store.commit().unwrap();
    assert!(!store.is_broken());
    let items: Vec<_> = store
        .spooled()
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.item)
        .collect();
    assert!(
        items.contains(&forward(1)) && items.contains(&forward(9)),
        "committed items survive"
    );
}

#[test]
fn key_file_on_a_full_disk_is_never_left_empty() {
    if !is_root() {
        eprintln!(
            "SKIPPED key_file_on_a_full_disk_is_never_left_empty: needs root to mount a tmpfs"
        );
        return;
    }
    let fs = Tmpfs::mount("1m");
    fs.fill("filler");
    let path = fs.path().join("node.key");
    assert!(mixmailer_node::keyfile::write_secret(&path, &[7; 32]).is_err());
    assert!(
        !path.exists(),
        "no key file, empty or not, after a failed write"
    );
    std::fs::remove_file(fs.path().join("filler")).unwrap();
    mixmailer_node::keyfile::write_secret(&path, &[7; 32]).unwrap();
    assert_eq!(
        *mixmailer_node::keyfile::read_secret(&path).unwrap(),
        [7; 32]
    );
}

#[test]
fn replay_tags_of_a_period_go_with_its_key_and_only_two_periods_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(&db(dir.path()), 100 * MB).unwrap();
    // 10 000 packets over four periods; at the start of each period P the
    // tags of P - 2 are deleted, as the daemon does with the key.
    // One transaction per 100 packets: the daemon commits each carrier on
    // its own, but 10 000 fsyncs would make this test slow.
    let mut most = 0;
    for n in 0..10_000u32 {
        let period = 100 + u64::from(n / 2_500);
        if n % 100 == 0 {
            store.begin().unwrap();
        }
        if n % 2_500 == 0 {
            store.forget_tags_before(period - 1).unwrap();
        }
        let mut tag = [0u8; 32];
        tag[..4].copy_from_slice(&n.to_be_bytes());
        assert!(store.remember_period_tag(period, &tag).unwrap());
        assert!(
            !store.remember_period_tag(period, &tag).unwrap(),
            "a replay in the same period"
        );
        if n % 100 == 99 {
            store.commit().unwrap();
            most = most.max(store.stats().unwrap().replay_tags);
        }
    }
    assert_eq!(most, 5_000, "never more than two periods of tags");
    assert_eq!(store.forget_tags_before(103).unwrap(), 2_500);
    assert_eq!(store.stats().unwrap().replay_tags, 2_500);
    let mut tag = [0u8; 32];
    tag[..4].copy_from_slice(&9_999u32.to_be_bytes());
    assert!(
        !store.remember_period_tag(103, &tag).unwrap(),
        "the current period's tags stay"
    );
}
