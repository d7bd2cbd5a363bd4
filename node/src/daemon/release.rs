//! The releaser: submits spooled items to the MTA when they fall due, and
//! removes each only after the MTA accepted it. A failed submission stays
//! in the spool and is retried with exponential backoff.

use super::{reload_directory, Shared};
use crate::store::{SpoolEntry, SpoolItem, MTA_QUEUE_LIFETIME};
use mixmailer::carrier::write_carrier;
use mixmailer::message::{add_date, Mailbox};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

/// Items submitted per round before looking at the clock and signals again.
const BATCH: usize = 64;
/// The longest the releaser sleeps without looking again.
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// How often incomplete messages are checked for expiry.
const EXPIRE_EVERY: Duration = Duration::from_secs(600);
/// How often the directory file is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// Delay before retry number `attempts`: 30 s doubling up to one hour.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let secs = 30u64 << (attempts.clamp(1, 8) - 1);
    Duration::from_secs(secs.min(3600))
}

fn random_id() -> String {
    let mut id = [0u8; 16];
    if rand_core::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut id).is_err() {
        // A Message-ID needs uniqueness, not secrecy.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        id = nanos.to_be_bytes();
    }
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the store must record once an item's submission is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settle {
    /// The MTA took it: remove it.
    Sent,
    /// The MTA refused it for now: queue it again at this time.
    Retry(SystemTime),
    /// It can never be submitted: remove it.
    Drop,
    /// It was marked but never handed over: queue it again as it was.
    Unmark,
}

/// Applies `outcomes` to the store in ONE transaction (one fsync), or
/// none of them.
fn settle_all(shared: &Shared, outcomes: &[(u64, Settle)]) -> Result<(), crate::store::StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut state = shared.lock();
    let store = state.node.store_mut();
    store.begin()?;
    for &(id, outcome) in outcomes {
        let applied = match outcome {
            Settle::Sent | Settle::Drop => store.remove_spooled(id),
            Settle::Retry(at) => store.defer(id, at).map(drop),
            Settle::Unmark => store.unmark_submission(id),
        };
        if let Err(e) = applied {
            store.abort();
            return Err(e);
        }
    }
    store.commit()
}

/// Writes the outcomes the store could not take earlier. Returns false
/// while it still cannot.
fn settle_pending(shared: &Shared) -> bool {
    let pending = std::mem::take(&mut *shared.unsettled.lock().unwrap_or_else(|e| e.into_inner()));
    if pending.is_empty() {
        return true;
    }
    match settle_all(shared, &pending) {
        Ok(()) => {
            tracing::info!(
                "recorded the outcomes of {} earlier submissions now that the store works again",
                pending.len()
            );
            true
        }
        Err(_) => {
            shared
                .unsettled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(pending);
            false
        }
    }
}

/// Records `outcomes`, or keeps them in memory while the store fails (the
/// items stay marked as submitting, so nothing sends them again
/// meanwhile). Returns false in that case.
fn record(shared: &Shared, outcomes: Vec<(u64, Settle)>) -> bool {
    match settle_all(shared, &outcomes) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("cannot record the outcome of {} submissions yet (they stay marked as submitted, so they are not sent again; retrying once the store works): {e}", outcomes.len());
            shared
                .unsettled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(outcomes);
            false
        }
    }
}

/// Marks `ids` as being handed to the MTA, in one transaction, BEFORE any
/// of them is handed over. Returns the ids still there to submit (an item
/// may have expired meanwhile), or None if the store failed (then none is
/// marked, so none is sent: they stay due).
fn mark(shared: &Shared, ids: &[u64], now: SystemTime) -> Option<Vec<u64>> {
    if ids.is_empty() {
        return Some(Vec::new());
    }
    let mut state = shared.lock();
    let store = state.node.store_mut();
    let marked = (|| {
        store.begin()?;
        let mut marked = Vec::with_capacity(ids.len());
        for &id in ids {
            if store.begin_submission(id, now)? {
                marked.push(id);
            }
        }
        store.commit()?;
        Ok::<_, crate::store::StoreError>(marked)
    })();
    match marked {
        Ok(marked) => Some(marked),
        Err(e) => {
            store.abort();
            tracing::error!("not submitting due items: the store cannot record it: {e}");
            None
        }
    }
}

/// Hands `entry` to the MTA (it must be marked as submitting) and says
/// what the store must record.
fn submit(shared: &Shared, entry: &SpoolEntry, now: SystemTime) -> Settle {
    let own = &shared.config.address;
    let result = match &entry.item {
        SpoolItem::Forward {
            next_hop,
            period,
            packet,
        } => {
            // Both were checked (config, directory); a bad one can never go.
            let (from, to) = match (Mailbox::parse(own), Mailbox::parse(next_hop)) {
                (Ok(from), Ok(to)) => (from, to),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!("dropped a packet that can never be forwarded: {e}");
                    return Settle::Drop;
                }
            };
            let email = write_carrier(
                &from,
                &to,
                now,
                &format!("{}@{}", random_id(), from.domain()),
                *period,
                packet,
            );
            shared
                .sendmail
                .submit(own, std::slice::from_ref(next_hop), &email, false)
        }
        SpoolItem::Deliver {
            recipients,
            message,
        } => {
            // Dated when it leaves, so the Date says nothing of the
            // exit's delay (SPEC 6).
            let message = add_date(message, now);
            shared
                .sendmail
                .submit(shared.config.delivery_sender(), recipients, &message, true)
        }
    };
    match &result {
        Ok(()) => {
            match &entry.item {
                SpoolItem::Forward { next_hop, .. } => {
                    tracing::info!("forwarded a packet to {next_hop}")
                }
                SpoolItem::Deliver { recipients, .. } => {
                    tracing::info!("delivered a message to {} recipients", recipients.len())
                }
            }
            Settle::Sent
        }
        Err(e) if e.is_temporary() => {
            let retry = backoff(entry.attempts.saturating_add(1));
            tracing::warn!(
                "submitting failed (attempt {}), retrying in {} s: {e}",
                entry.attempts.saturating_add(1),
                retry.as_secs()
            );
            Settle::Retry(now + retry)
        }
        Err(e) => {
            tracing::error!("dropped an item that can never be submitted: {e}");
            Settle::Drop
        }
    }
}

/// What a round of releases left to record at its end.
#[derive(Default)]
struct RoundOutcomes {
    /// Items the MTA took or that can never go: removed at the round's end.
    removed: Vec<(u64, Settle)>,
    /// Items whose hand-over was begun (the others, when the round was cut
    /// short, are unmarked at its end).
    attempted: std::collections::HashSet<u64>,
    /// Set when the store failed: the round stops.
    store_failed: bool,
}

/// Releases `due` (one round), at most once each, with few fsyncs:
///
/// - forwards are marked as submitting together, in one transaction,
///   before the first is handed over. A crash after that re-queues the
///   unsent ones with the sent ones; the next hop drops a copy it already
///   got as a replay (SPEC 2), so nothing is forwarded twice in effect
///   and nothing is lost;
/// - a delivery is marked on its own just before its hand-over: a crash
///   drops marked deliveries unsent (a second copy in a mailbox cannot be
///   taken back), so only the one being handed over may be marked;
/// - removals (the MTA took it, or it can never go) are recorded together
///   at the round's end: until then the item is marked, and a crash
///   settles it as above, which for a sent item is right;
/// - a retry is recorded at once, since a crash before it is recorded
///   would drop a delivery that never went.
///
/// Returns false if the store failed (the caller pauses).
fn release_round(shared: &Shared, due: Vec<(u64, SpoolEntry)>, now: SystemTime) -> bool {
    let forwards: Vec<u64> = due
        .iter()
        .filter(|(_, e)| matches!(e.item, SpoolItem::Forward { .. }))
        .map(|(id, _)| *id)
        .collect();
    let Some(marked) = mark(shared, &forwards, now) else {
        return false;
    };
    let marked: std::collections::HashSet<u64> = marked.into_iter().collect();
    let due: Vec<(u64, SpoolEntry)> = due
        .into_iter()
        .filter(|(id, e)| !matches!(e.item, SpoolItem::Forward { .. }) || marked.contains(id))
        .collect();
    // Several submissions at once (one per SMTP session kept open): each
    // waits for the MTA's fsync, so one at a time caps a node at a few
    // dozen items per second. Each due item is in exactly one worker's
    // share.
    let workers = shared.config.outgoing.smtp_connections.max(1) as usize;
    let mut shares: Vec<Vec<(u64, SpoolEntry)>> = vec![Vec::new(); workers];
    for (i, item) in due.into_iter().enumerate() {
        if let Some(share) = shares.get_mut(i % workers) {
            share.push(item);
        }
    }
    let outcomes = std::sync::Mutex::new(RoundOutcomes::default());
    let failed = |outcomes: &std::sync::Mutex<RoundOutcomes>| {
        outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .store_failed
    };
    std::thread::scope(|scope| {
        for share in shares.into_iter().filter(|s| !s.is_empty()) {
            let outcomes = &outcomes;
            scope.spawn(move || {
                for (id, entry) in share {
                    if shared.shutdown.load(Ordering::SeqCst) || failed(outcomes) {
                        return;
                    }
                    let now = shared.now();
                    let settled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        release_in_round(shared, id, &entry, now, outcomes)
                    }));
                    if settled.is_err() {
                        tracing::error!("releasing an item panicked (a bug); retrying it later");
                        let mut state = shared.lock();
                        let _ = state
                            .node
                            .store_mut()
                            .defer(id, now + backoff(entry.attempts + 1));
                    }
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    // A round cut short (store failure, shutdown) leaves forwards marked
    // that never went: back in the queue with them, or they would wait
    // for a restart's recovery.
    let mut settle = std::mem::take(&mut outcomes.removed);
    settle.extend(
        marked
            .iter()
            .filter(|id| !outcomes.attempted.contains(id))
            .map(|&id| (id, Settle::Unmark)),
    );
    // Recorded even after a store failure: what the MTA took is removed
    // now, or kept in memory until the store works again.
    let recorded = record(shared, settle);
    recorded && !outcomes.store_failed
}

/// One item of [`release_round`]: marks a delivery, submits, and records
/// a retry at once or queues a removal for the round's end.
fn release_in_round(
    shared: &Shared,
    id: u64,
    entry: &SpoolEntry,
    now: SystemTime,
    outcomes: &std::sync::Mutex<RoundOutcomes>,
) {
    let lock = || outcomes.lock().unwrap_or_else(|e| e.into_inner());
    lock().attempted.insert(id);
    if matches!(entry.item, SpoolItem::Deliver { .. }) {
        match mark(shared, &[id], now) {
            None => {
                lock().store_failed = true;
                return;
            }
            Some(marked) if marked.is_empty() => return,
            Some(_) => {}
        }
    }
    match submit(shared, entry, now) {
        retry @ Settle::Retry(_) => {
            if !record(shared, vec![(id, retry)]) {
                lock().store_failed = true;
            }
        }
        removal => lock().removed.push((id, removal)),
    }
}

/// Expires incomplete messages, old "delivered" marks, spool items past
/// their deadline and unknown-next-hop records, in one pass.
pub(crate) fn expire(shared: &Shared, now: SystemTime) {
    let mut state = shared.lock();
    match state.node.expire(now) {
        Ok(0) => {}
        Ok(n) => tracing::info!("dropped {n} undelivered messages whose fragments expired"),
        Err(e) => tracing::warn!("expiring fragments failed: {e}"),
    }
    let store = state.node.store_mut();
    match store.expire_spool(now) {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            "dropped {n} spooled items past their deadline (a packet its next hop would no longer accept, or a delivery the MTA refused for too long)"
        ),
        Err(e) => tracing::warn!("expiring the spool failed: {e}"),
    }
    let keep = Duration::from_secs(shared.config.unknown_hop_retry_secs) + MTA_QUEUE_LIFETIME;
    if let Some(cutoff) = now.checked_sub(keep) {
        if let Err(e) = store.forget_unknown_hops(cutoff) {
            tracing::warn!("forgetting old unknown-next-hop records failed: {e}");
        }
    }
}

/// Runs until shutdown.
pub(crate) fn release_loop(shared: &Shared) {
    let mut last_expire: Option<Instant> = None;
    let mut last_reload = Instant::now();
    while !shared.shutdown.load(Ordering::SeqCst) {
        if !settle_pending(shared) {
            // The store still fails: submitting more now would only pile up
            // outcomes it cannot record.
            shared.wait(MAX_SLEEP);
            continue;
        }
        let now = shared.now();
        let requested = shared.expire_requested.swap(false, Ordering::SeqCst);
        if requested || last_expire.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY) {
            expire(shared, now);
            last_expire = Some(Instant::now());
        }
        if last_reload.elapsed() >= RELOAD_EVERY {
            reload_directory(shared, false);
            last_reload = Instant::now();
        }
        super::periods::rotate(&mut shared.lock(), &shared.config, now);
        let due = match shared.reader.due(now, BATCH) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!("reading the spool failed: {e}");
                shared.wait(MAX_SLEEP);
                continue;
            }
        };
        let full_batch = due.len() == BATCH;
        let released = release_round(shared, due, now);
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        if !released {
            shared.wait(MAX_SLEEP);
            continue;
        }
        if full_batch {
            continue;
        }
        let sleep = match shared.reader.next_due() {
            Ok(Some(t)) => t
                .duration_since(shared.now())
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP),
            _ => MAX_SLEEP,
        };
        if !sleep.is_zero() {
            shared.wait(sleep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped_at_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(3), Duration::from_secs(120));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod spool_tests {
    use super::*;
    use crate::config::Config;
    use crate::keyfile::{encode_public, write_secret, PeriodKeyDir};
    use mixmailer::directory::{Directory, NodeEntry, PeriodKey};
    use mixmailer::keys::{AuthoritySigningKey, NodeIdentityKey, NodeSecretKey};
    use rand_core::SeedableRng;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// A two-node network run by n1 (layer 1), whose sendmail fails until
    /// `dir/mta-up` exists, and then appends what it gets to `dir/sent`.
    fn node(dir: &Path) -> std::sync::Arc<Shared> {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
        let auth = AuthoritySigningKey::generate(&mut rng);
        let params = crate::testnet::params();
        // Each node's keys for the (at most two) periods of the directory.
        let entry = |n: u8, rng: &mut rand_chacha::ChaCha20Rng| {
            let identity = NodeIdentityKey::generate(rng);
            let keys = PeriodKeyDir::open(&dir.join(format!("n{n}-keys"))).unwrap();
            let periods = params.periods().map(|period| {
                let secret = NodeSecretKey::generate(rng);
                write_secret(&keys.file(period), &secret.to_bytes()).unwrap();
                PeriodKey {
                    period,
                    key: secret.public_key(),
                }
            });
            let periods = periods.collect();
            write_secret(&dir.join(format!("n{n}.key")), &identity.to_bytes()).unwrap();
            NodeEntry::new(
                &format!("n{n}"),
                n,
                &format!("mix@n{n}.test"),
                identity.public_key(),
                periods,
            )
        };
        let nodes = [entry(1, &mut rng), entry(2, &mut rng)];
        let text = Directory::sign(&params, &nodes, &[&auth]).unwrap();
        std::fs::write(dir.join("directory.txt"), text).unwrap();
        let sendmail = dir.join("sendmail");
        std::fs::write(
            &sendmail,
            format!(
                "#!/bin/sh\ncat > /dev/null\n[ -e {d}/mta-up ] || exit 75\necho \"$@\" >> {d}/sent\n",
                d = dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = format!(
            "address = \"mix@n1.test\"\nkey_file = \"{d}/n1.key\"\n\
             key_dir = \"{d}/n1-keys\"\n\
             directory_file = \"{d}/directory.txt\"\n\
             trusted_authorities = [\"{a}\"]\nspool_dir = \"{d}/spool\"\n\
             [outgoing]\nsendmail = \"{d}/sendmail\"\n",
            d = dir.display(),
            a = encode_public(&auth.public_key())
        );
        let config = Config::parse(&config, Path::new("test.toml")).unwrap();
        super::super::open(config).unwrap()
    }

    fn spool_forward(shared: &Shared, at: SystemTime) -> u64 {
        let mut state = shared.lock();
        let store = state.node.store_mut();
        store.begin().unwrap();
        let id = store
            .spool(
                SpoolItem::Forward {
                    next_hop: "mix@n2.test".into(),
                    period: 1,
                    packet: vec![0; 2396],
                },
                at,
                at + Duration::from_secs(86_400),
            )
            .unwrap();
        store.commit().unwrap();
        id
    }

    /// The failure of issue 10 item 1: the MTA took an item, then the store
    /// cannot record it (a full disk). The item stays marked as submitted,
    /// is not sent again, and is removed once the store works.
    #[test]
    fn a_submission_the_store_cannot_record_is_sent_once() {
        use crate::store::test_faults;
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        std::fs::write(dir.path().join("mta-up"), "").unwrap();
        let sent = || {
            std::fs::read_to_string(dir.path().join("sent"))
                .unwrap_or_default()
                .lines()
                .count()
        };
        let now = SystemTime::now();
        spool_forward(&shared, now);
        let due = shared.reader.due(now, 10).unwrap();
        // The round's mark commits (on this thread); recording what the
        // MTA took fails.
        test_faults::fail_commits_after(1);
        let recorded = release_round(&shared, due, now);
        assert!(!recorded, "the round must report the store failure");
        assert_eq!(sent(), 1);
        assert_eq!(shared.unsettled.lock().unwrap().len(), 1);
        // Still failing: later rounds neither send it again nor lose it.
        for _ in 0..3 {
            assert!(!settle_pending(&shared));
            let later = now + Duration::from_secs(3600);
            assert!(shared.reader.due(later, 10).unwrap().is_empty());
        }
        assert_eq!(sent(), 1);
        assert_eq!(shared.reader.spooled().unwrap().len(), 1);
        test_faults::heal();
        assert!(settle_pending(&shared));
        assert!(shared.unsettled.lock().unwrap().is_empty());
        assert!(shared.reader.spooled().unwrap().is_empty());
        assert_eq!(sent(), 1);
    }

    #[test]
    fn failed_submission_stays_in_the_spool_and_is_retried_later() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let now = SystemTime::now();
        spool_forward(&shared, now);
        let (id, entry) = shared.reader.due(now, 10).unwrap().remove(0);
        assert!(release_round(&shared, vec![(id, entry)], now));
        assert!(
            shared.reader.due(now, 10).unwrap().is_empty(),
            "not due again at once"
        );
        let waiting = shared.reader.spooled().unwrap();
        assert_eq!(waiting.len(), 1, "a failed item is kept");
        assert_eq!(waiting[0].1.attempts, 1);
        // A backoff after the attempt, which the worker dated a moment after `now`.
        let retry = waiting[0].1.next_attempt_ms;
        let earliest = crate::store::to_millis(now + backoff(1));
        assert!(
            (earliest..earliest + 10_000).contains(&retry),
            "{retry} vs {earliest}"
        );

        std::fs::write(dir.path().join("mta-up"), "").unwrap();
        let later = crate::store::from_millis(retry);
        let (id, entry) = shared.reader.due(later, 10).unwrap().remove(0);
        assert!(release_round(&shared, vec![(id, entry)], later));
        assert!(
            shared.reader.spooled().unwrap().is_empty(),
            "removed once sent"
        );
        let sent = std::fs::read_to_string(dir.path().join("sent")).unwrap();
        assert_eq!(sent.trim(), "-i -f mix@n1.test -- mix@n2.test");
    }

    fn spool_delivery(shared: &Shared, at: SystemTime) -> u64 {
        let mut state = shared.lock();
        let store = state.node.store_mut();
        store.begin().unwrap();
        let id = store
            .spool(
                SpoolItem::Deliver {
                    recipients: vec!["bob@example.test".into()],
                    message: b"Subject: s\r\n\r\nhi\r\n".to_vec(),
                },
                at,
                at + Duration::from_secs(86_400),
            )
            .unwrap();
        store.commit().unwrap();
        id
    }

    fn commits(shared: &Shared) -> u64 {
        shared.reader.commits()
    }

    #[test]
    fn a_round_of_forwards_costs_two_commits_and_sends_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        std::fs::write(dir.path().join("mta-up"), "").unwrap();
        let now = SystemTime::now();
        for _ in 0..10 {
            spool_forward(&shared, now);
        }
        let due = shared.reader.due(now, BATCH).unwrap();
        assert_eq!(due.len(), 10);
        let before = commits(&shared);
        assert!(release_round(&shared, due, now));
        assert_eq!(
            commits(&shared) - before,
            2,
            "one transaction marks them all, one removes them all"
        );
        assert!(shared.reader.spooled().unwrap().is_empty());
        assert_eq!(shared.reader.stats().unwrap().submitting, 0);
        let sent = std::fs::read_to_string(dir.path().join("sent")).unwrap();
        assert_eq!(sent.lines().count(), 10, "{sent}");
    }

    #[test]
    fn a_delivery_is_marked_on_its_own_and_removed_with_the_round() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        std::fs::write(dir.path().join("mta-up"), "").unwrap();
        let now = SystemTime::now();
        spool_forward(&shared, now);
        spool_forward(&shared, now);
        spool_delivery(&shared, now);
        let due = shared.reader.due(now, BATCH).unwrap();
        let before = commits(&shared);
        assert!(release_round(&shared, due, now));
        // Forwards' marks, the delivery's mark, the removals.
        assert_eq!(commits(&shared) - before, 3);
        assert!(shared.reader.spooled().unwrap().is_empty());
        let sent = std::fs::read_to_string(dir.path().join("sent")).unwrap();
        assert_eq!(sent.lines().count(), 3, "{sent}");
        assert_eq!(
            sent.lines()
                .filter(|l| l.ends_with("-- bob@example.test"))
                .count(),
            1,
            "{sent}"
        );
    }

    #[test]
    fn a_round_the_mta_refuses_is_rescheduled_and_unmarked() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let now = SystemTime::now();
        spool_forward(&shared, now);
        spool_forward(&shared, now);
        spool_delivery(&shared, now);
        let due = shared.reader.due(now, BATCH).unwrap();
        assert!(release_round(&shared, due, now));
        assert!(shared.reader.due(now, BATCH).unwrap().is_empty());
        let waiting = shared.reader.spooled().unwrap();
        assert_eq!(waiting.len(), 3, "nothing is lost");
        assert!(waiting.iter().all(|(_, e)| e.attempts == 1));
        assert_eq!(shared.reader.stats().unwrap().submitting, 0);
        // Each is retried a backoff after its own attempt (a moment after `now`).
        let later = now + backoff(1) + Duration::from_secs(60);
        assert_eq!(shared.reader.due(later, BATCH).unwrap().len(), 3);
    }

    #[test]
    fn forwards_of_a_round_cut_short_are_queued_again_unsent() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        std::fs::write(dir.path().join("mta-up"), "").unwrap();
        let now = SystemTime::now();
        for _ in 0..3 {
            spool_forward(&shared, now);
        }
        let due = shared.reader.due(now, BATCH).unwrap();
        // Stopping before the workers start: every forward is marked, none
        // is handed over.
        shared.shutdown.store(true, Ordering::SeqCst);
        assert!(release_round(&shared, due, now));
        assert!(!dir.path().join("sent").exists(), "nothing was submitted");
        assert_eq!(shared.reader.stats().unwrap().submitting, 0);
        let again = shared.reader.due(now, BATCH).unwrap();
        assert_eq!(again.len(), 3, "due again, not left for a restart");
        assert!(again.iter().all(|(_, e)| e.attempts == 0));
    }

    #[test]
    fn items_are_not_released_before_their_time() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let now = SystemTime::now();
        spool_forward(&shared, now + Duration::from_secs(60));
        assert!(shared.reader.due(now, 10).unwrap().is_empty());
        assert_eq!(
            shared
                .reader
                .next_due()
                .unwrap()
                .map(crate::store::to_millis),
            Some(crate::store::to_millis(now + Duration::from_secs(60)))
        );
    }
}
