//! One carrier email: process it and commit everything it changes in one
//! transaction, then answer. Only a committed result is `Accepted`.

use super::{NodeState, Shared};
use crate::protocol::Reply;
use crate::store::{SpoolItem, StoreError, MTA_QUEUE_LIFETIME};
use mixmailer::carrier::read_carrier;
use mixmailer::message::MessageError;
use mixmailer::node::NodeError;
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
fn loggable(error: &Error) -> String {
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
struct ToSpool {
    item: SpoolItem,
    release: SystemTime,
    expires: SystemTime,
    log: &'static str,
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
        } => {
            let release = now.checked_add(delay).unwrap_or(now);
            Some(ToSpool {
                item: SpoolItem::Deliver {
                    recipients,
                    message,
                },
                release,
                // As long as an MTA would keep trying: a local MTA that
                // refuses for that long is not coming back for this message.
                expires: release + MTA_QUEUE_LIFETIME,
                log: "received a fragment; its message is complete and queued for delivery",
            })
        }
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
/// durably by the packet's hash), and after that it is dropped.
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

/// Processes `email` received at `now` (the wall clock; the test-only
/// clock offset is applied here, for every caller) and commits the result.
pub(crate) fn handle_carrier(shared: &Shared, email: &[u8], now: SystemTime) -> Reply {
    let now = shared.config.clock(now);
    let mut state = shared.lock();
    let valid_until = state.node.directory().params().valid_until;
    if now >= valid_until {
        tracing::warn!("refusing a carrier for now: the directory has expired; install a new one (the MTA keeps the mail and retries)");
        return Reply::TempFail("the node's directory has expired".into());
    }
    if let Err(e) = state.node.store_mut().begin() {
        tracing::error!("refusing a carrier for now: {e}");
        return Reply::TempFail(e.to_string());
    }
    // A panic is a bug, never the carrier's fault: keep the mail with the
    // MTA (temporary failure) rather than lose it, and keep the node running.
    let processed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        state.node.process(email, now)
    }));
    let outcome = match processed {
        Err(_) => {
            state.node.store_mut().abort();
            tracing::error!(
                "processing a carrier panicked (a bug; the MTA keeps the mail and retries)"
            );
            return Reply::TempFail("internal error while processing".into());
        }
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            state.node.store_mut().abort();
            if matches!(e, Error::Node(NodeError::UnknownNextHop)) {
                return unknown_next_hop(shared, &mut state, email, now);
            }
            if is_temporary(&e) {
                // Most often the cap: an expiry pass may make room.
                shared.request_expiry();
                tracing::warn!("refusing a carrier for now (the MTA retries): {e}");
                return Reply::TempFail(e.to_string());
            }
            let reason = loggable(&e);
            tracing::info!("dropped a carrier: {reason}");
            return Reply::Dropped(reason);
        }
    };
    let (log, reply) = match &outcome {
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
    let mut log = log;
    let mut spooled = false;
    let mut reply = reply;
    let key_period = state.node.directory().params().key_period;
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
                if matches!(e, StoreError::Full { .. }) {
                    shared.request_expiry();
                }
                return refuse(e);
            }
            log = to_spool.log.to_owned();
        }
    }
    // A dropped replay commits too: for a surplus fragment the tag was
    // stored and must stay stored.
    if let Err(e) = state.node.store_mut().commit() {
        state.node.store_mut().abort();
        if matches!(e, StoreError::Full { .. }) {
            shared.request_expiry();
        }
        return refuse(e);
    }
    drop(state);
    tracing::info!("{log}");
    if spooled {
        // The releaser may be asleep until a later item: let it look again.
        shared.notify();
    }
    reply
}

fn refuse(e: StoreError) -> Reply {
    tracing::warn!("refusing a carrier for now (the MTA retries): {e}");
    Reply::TempFail(e.to_string())
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
