//! Carrier emails: process them and commit everything they change in one
//! transaction (several carriers that arrived together share it), then
//! answer. Only a committed result is `Accepted`. The carrier that
//! completes a message at the exit is committed with its message's
//! "complete" mark; the costly assembly is left to the worker of
//! `assemble.rs`, outside the lock.

use super::{NodeState, Shared};
use crate::protocol::Reply;
use crate::store::{SpoolItem, StoreError, MTA_QUEUE_LIFETIME};
use mixmailer::carrier::read_carrier;
use mixmailer::message::MessageError;
use mixmailer::node::{Delivery, NodeError, Received};
use mixmailer::period::period_start;
use mixmailer::sphinx::packet_len;
use mixmailer::{Error, Outcome};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// Whether the library's error may go away on retry (the store failed, a
/// period key is missing), as opposed to a carrier that is wrong for good.
fn is_temporary(error: &Error) -> bool {
    matches!(error, Error::Node(e) if e.is_temporary())
}

/// The reason a carrier was dropped, as it may be logged and told to the
/// MTA: errors about a reassembled message's recipients name a final
/// recipient, which must never reach a log.
pub(super) fn loggable(error: &Error) -> String {
    match error {
        Error::Message(MessageError::InvalidRecipient { origin, reason, .. }) => {
            format!("message: {origin}: invalid recipient (address withheld): {reason}")
        }
        Error::Message(MessageError::DuplicateRecipient { origin, .. }) => {
            format!("message: {origin}: a recipient appears twice (address withheld)")
        }
        other => other.to_string(),
    }
}

/// What to spool for an outcome: the item, when to release it, when it
/// expires, and the log line.
pub(super) struct ToSpool {
    pub(super) item: SpoolItem,
    pub(super) release: SystemTime,
    pub(super) expires: SystemTime,
    log: &'static str,
}

/// What to spool for an exit's delivery assembled at `now`.
pub(super) fn delivery_to_spool(delivery: Delivery, now: SystemTime) -> ToSpool {
    let release = now.checked_add(delivery.delay).unwrap_or(now);
    ToSpool {
        item: SpoolItem::Deliver {
            recipients: delivery.recipients,
            message: delivery.message,
        },
        release,
        // As long as an MTA would keep trying: a local MTA that refuses
        // for that long is not coming back for this message.
        expires: release + MTA_QUEUE_LIFETIME,
        log: "assembled a complete message; queued for delivery",
    }
}

/// When a forward of key period `period` stops being worth sending: its
/// next hop accepts packets of period P only until the start of P + 2
/// (SPEC 2).
pub(crate) fn forward_deadline(period: u64, key_period: Duration) -> SystemTime {
    period_start(period.saturating_add(2), key_period)
}

fn spool_item(outcome: Outcome, now: SystemTime, key_period: Duration) -> Option<ToSpool> {
    match outcome {
        Outcome::Forward { onion, delay } => {
            let next_hop = onion.first_hop().to_owned();
            let period = onion.period();
            let release = now.checked_add(delay).unwrap_or(now);
            Some(ToSpool {
                item: SpoolItem::Forward {
                    next_hop,
                    period,
                    packet: onion.into_packet(),
                },
                release,
                expires: forward_deadline(period, key_period),
                log: "received a packet; holding it for forwarding",
            })
        }
        Outcome::Deliver {
            recipients,
            message,
            delay,
        } => Some(delivery_to_spool(
            Delivery {
                recipients,
                message,
                delay,
            },
            now,
        )),
        Outcome::FragmentHeld { .. } | Outcome::Dropped(_) => None,
    }
}

/// SHA-256 of the packet a carrier holds (of the whole email if it holds
/// none): the same carrier retried by the MTA hashes the same, whatever
/// trace headers the MTA added.
fn packet_hash(email: &[u8], payload_size: usize) -> [u8; 32] {
    match read_carrier(email, packet_len(payload_size)) {
        Ok(carrier) => Sha256::digest(&carrier.packet).into(),
        Err(_) => Sha256::digest(email).into(),
    }
}

/// A packet whose next hop this node's directory does not list may be
/// for a node of a newer directory that this node has not loaded yet: the
/// MTA is asked to retry for `grace` from the first refusal (tracked
/// durably by the packet's hash), and after that it is dropped. Called with
/// no transaction open (the record commits on its own).
fn unknown_next_hop(
    shared: &Shared,
    state: &mut NodeState,
    email: &[u8],
    now: SystemTime,
) -> Reply {
    let hash = packet_hash(email, state.node.directory().params().payload_size);
    let grace = Duration::from_secs(shared.config.unknown_hop_retry_secs);
    match state.node.store_mut().unknown_hop_since(&hash, now) {
        Err(e) => refuse(e),
        Ok(first) if now.duration_since(first).unwrap_or(Duration::ZERO) < grace => {
            if let Some(joiner) = shared.joiner.get().and_then(std::sync::Weak::upgrade) {
                joiner.want_newer_document();
            }
            tracing::warn!("refusing a carrier for now: its next hop is not in this node's directory (retrying for up to {} s in case a newer directory lists it)", grace.as_secs());
            Reply::TempFail("the next hop is not in this node's directory (yet)".into())
        }
        Ok(_) => {
            tracing::info!(
                "dropped a carrier: its next hop has not been in this node's directory for {} s",
                grace.as_secs()
            );
            Reply::Dropped("the packet's next hop is not a node of the directory".into())
        }
    }
}

/// What one carrier came to inside a transaction that is not yet committed.
struct Processed {
    reply: Reply,
    log: String,
    spooled: bool,
    /// It completed a message, which the assembly worker is to take up.
    completed: bool,
}

/// How processing a group of carriers in one transaction ended. Every
/// variant but `Committed` has aborted the transaction.
enum Group {
    /// All of them are durable.
    Committed(Vec<Processed>),
    /// The carrier at this index must leave the group with this reply (it
    /// is wrong for good, its next hop is unknown, or it hit a bug); the
    /// other carriers' changes were rolled back with it.
    Refused(usize, Reply),
    /// The store failed: nobody in the group may be acknowledged.
    Temporary(Reply),
}

/// Processes `emails` in one transaction and commits it.
fn try_group(shared: &Shared, state: &mut NodeState, emails: &[&[u8]], now: SystemTime) -> Group {
    if let Err(e) = state.node.store_mut().begin() {
        return Group::Temporary(refuse_store(shared, e));
    }
    let key_period = state.node.directory().params().key_period;
    let mut done = Vec::with_capacity(emails.len());
    for (i, email) in emails.iter().enumerate() {
        // A panic is a bug, never the carrier's fault: keep the mail with
        // the MTA (temporary failure) rather than lose it, and keep the node
        // running.
        let processed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            state.node.receive(email, now)
        }));
        let received = match processed {
            Err(_) => {
                state.node.store_mut().abort();
                tracing::error!(
                    "processing a carrier panicked (a bug; the MTA keeps the mail and retries)"
                );
                return Group::Refused(
                    i,
                    Reply::TempFail("internal error while processing".into()),
                );
            }
            Ok(Ok(received)) => received,
            Ok(Err(e)) => {
                state.node.store_mut().abort();
                if matches!(e, Error::Node(NodeError::UnknownNextHop)) {
                    return Group::Refused(i, unknown_next_hop(shared, state, email, now));
                }
                if is_temporary(&e) {
                    // Most often the cap: an expiry pass may make room.
                    shared.request_expiry();
                    tracing::warn!("refusing carriers for now (the MTA retries): {e}");
                    return Group::Temporary(Reply::TempFail(e.to_string()));
                }
                let reason = loggable(&e);
                tracing::info!("dropped a carrier: {reason}");
                return Group::Refused(i, Reply::Dropped(reason));
            }
        };
        let outcome = match received {
            Received::Done(outcome) => outcome,
            Received::Complete { .. } => {
                done.push(Processed {
                    reply: Reply::Accepted("message complete, delivery pending".into()),
                    log: "received a fragment; its message is complete and will be assembled for delivery".into(),
                    spooled: false,
                    completed: true,
                });
                continue;
            }
        };
        let (mut log, mut reply) = match &outcome {
            Outcome::FragmentHeld { have, need, .. } => (
                format!("received a fragment; holding {have} of the {need} its message needs"),
                Reply::Accepted("fragment held".into()),
            ),
            Outcome::Dropped(reason) => (
                format!("dropped a packet: {}", reason.as_str()),
                Reply::Dropped(reason.as_str().into()),
            ),
            _ => (String::new(), Reply::Accepted("accepted".into())),
        };
        let mut spooled = false;
        if let Some(to_spool) = spool_item(outcome, now, key_period) {
            if to_spool.release >= to_spool.expires {
                // Its next hop would refuse it by then; the tag stays stored.
                log = "dropped a packet: its delay outlives its key period".into();
                reply = Reply::Dropped("its delay outlives its key period".into());
            } else {
                spooled = true;
                let store = state.node.store_mut();
                if let Err(e) = store.spool(to_spool.item, to_spool.release, to_spool.expires) {
                    store.abort();
                    return Group::Temporary(refuse_store(shared, e));
                }
                log = to_spool.log.to_owned();
            }
        }
        done.push(Processed {
            reply,
            log,
            spooled,
            completed: false,
        });
    }
    // A dropped replay commits too: for a surplus fragment the tag was
    // stored and must stay stored.
    if let Err(e) = state.node.store_mut().commit() {
        state.node.store_mut().abort();
        return Group::Temporary(refuse_store(shared, e));
    }
    Group::Committed(done)
}

/// Processes `emails` received at `now` (the wall clock; the test-only
/// clock offset is applied here, once for the batch) and commits the
/// results in as few transactions as possible (group commit: one fsync for
/// the lot), then answers each. Only a committed result is `Accepted`.
///
/// A carrier that must leave the group (refused for good, unknown next
/// hop, or a library panic) gets its own reply: the transaction is rolled
/// back, the carriers before it are processed again and committed on their
/// own, and the group goes on after it. Processing is a function of the
/// store's state, so the second pass gives the same answers; each carrier
/// is processed at most twice.
pub(crate) fn handle_batch(shared: &Shared, emails: &[&[u8]], now: SystemTime) -> Vec<Reply> {
    let now = shared.config.clock(now);
    let mut replies: Vec<Option<Reply>> = vec![None; emails.len()];
    let mut logs = Vec::new();
    let mut spooled = false;
    let mut completed = false;
    let mut state = shared.lock();
    let valid_until = state.node.directory().params().valid_until;
    if now >= valid_until {
        tracing::warn!("refusing carriers for now: the directory has expired; install a new one (the MTA keeps the mail and retries)");
        return vec![Reply::TempFail("the node's directory has expired".into()); emails.len()];
    }
    // Ranges still to process, the next one on top.
    let mut todo = vec![(0, emails.len())];
    while let Some((from, to)) = todo.pop() {
        if from >= to {
            continue;
        }
        let Some(group) = emails.get(from..to) else {
            break;
        };
        match try_group(shared, &mut state, group, now) {
            Group::Committed(done) => {
                for (slot, p) in replies.iter_mut().skip(from).zip(done) {
                    *slot = Some(p.reply);
                    logs.push(p.log);
                    spooled |= p.spooled;
                    completed |= p.completed;
                }
            }
            Group::Refused(at, reply) => {
                if let Some(slot) = replies.get_mut(from + at) {
                    *slot = Some(reply);
                }
                todo.push((from + at + 1, to));
                todo.push((from, from + at));
            }
            Group::Temporary(reply) => {
                for slot in replies.iter_mut().filter(|r| r.is_none()) {
                    *slot = Some(reply.clone());
                }
                break;
            }
        }
    }
    drop(state);
    for log in logs.iter().filter(|l| !l.is_empty()) {
        tracing::info!("{log}");
    }
    if spooled {
        // The releaser may be asleep until a later item: let it look again.
        shared.notify();
    }
    if completed {
        shared.assembly.notify();
    }
    replies
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Reply::TempFail("not processed".into())))
        .collect()
}

fn refuse(e: StoreError) -> Reply {
    tracing::warn!("refusing carriers for now (the MTA retries): {e}");
    Reply::TempFail(e.to_string())
}

/// [`refuse`], and when the store is full, asks for an expiry pass that
/// may make room.
fn refuse_store(shared: &Shared, e: StoreError) -> Reply {
    if matches!(e, StoreError::Full { .. }) {
        shared.request_expiry();
    }
    refuse(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_errors_are_logged_without_the_address() {
        let e = Error::Message(MessageError::InvalidRecipient {
            origin: "rcpt line 2".into(),
            address: "bob@example.test".into(),
            reason: "no domain",
        });
        let text = loggable(&e);
        assert!(!text.contains("bob@"), "{text}");
        assert!(
            text.contains("rcpt line 2") && text.contains("no domain"),
            "{text}"
        );
        let e = Error::Message(MessageError::DuplicateRecipient {
            origin: "rcpt line 3".into(),
            address: "carol@example.test".into(),
        });
        assert!(!loggable(&e).contains("carol@"));
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::config::Config;
    use rand_core::SeedableRng;
    use std::path::Path;
    use std::sync::Arc;

    /// The exit of a two-node network (n0 forwards to it), and the
    /// carriers of one message it gets.
    fn exit_node(dir: &Path) -> (Arc<Shared>, Vec<Vec<u8>>) {
        let message: &[u8] =
            b"From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n\r\nhello\r\n";
        let net = crate::testnet::exit_network(dir, 5, message);
        let config = Config::parse(&net.config, Path::new("test.toml")).unwrap();
        (super::super::open(config).unwrap(), net.carriers)
    }

    #[test]
    fn garbage_in_a_batch_is_dropped_and_the_others_are_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, carriers) = exit_node(dir.path());
        let first = carriers[0].as_slice();
        let batch = [first, b"not a carrier".as_slice(), first];
        let replies = handle_batch(&shared, &batch, SystemTime::now());
        assert!(matches!(replies[0], Reply::Accepted(_)), "{replies:?}");
        assert!(matches!(replies[1], Reply::Dropped(_)), "{replies:?}");
        // The copy after the garbage sees the first one's replay tag: the
        // first one survived the rollback that removed the garbage.
        assert!(
            matches!(&replies[2], Reply::Dropped(why) if why.contains("replay")),
            "{replies:?}"
        );
        let stats = shared.reader.stats().unwrap();
        assert_eq!(stats.replay_tags, 1, "committed once, not twice nor zero");
    }

    #[test]
    fn a_whole_message_in_one_batch_is_queued_for_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, carriers) = exit_node(dir.path());
        let batch: Vec<&[u8]> = carriers.iter().map(Vec::as_slice).collect();
        let replies = handle_batch(&shared, &batch, SystemTime::now());
        assert!(replies.iter().all(|r| !matches!(r, Reply::TempFail(_))));
        // Committed complete, not assembled: that is the worker's job.
        let stats = shared.reader.stats().unwrap();
        assert_eq!((stats.complete_messages, stats.deliveries_waiting), (1, 0));
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let found = crate::daemon::assemble::assemble_pending(
            &shared,
            &mut rng,
            &mut std::collections::HashSet::new(),
        );
        assert_eq!(found, 1);
        let stats = shared.reader.stats().unwrap();
        assert_eq!((stats.complete_messages, stats.deliveries_waiting), (0, 1));
        assert_eq!((stats.held_fragments, stats.delivered_marks), (0, 1));
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::forward_deadline;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_forward_is_worth_sending_until_its_period_plus_two_starts() {
        let t = Duration::from_secs(3600);
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        // A packet of period 10 is accepted by its next hop until period
        // 12 begins, whenever this node received it.
        assert_eq!(forward_deadline(10, t), at(12 * 3600));
        assert_eq!(
            forward_deadline(u64::MAX, t),
            forward_deadline(u64::MAX - 2, t)
        );
    }
}
