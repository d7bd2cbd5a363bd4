//! One carrier email: process it and commit everything it changes in one
//! transaction, then answer. Only a committed result is `Accepted`.

use super::Shared;
use crate::protocol::Reply;
use crate::store::{SpoolItem, StoreError};
use mixmailer::message::MessageError;
use mixmailer::node::{DropReason, NodeError};
use mixmailer::{Error, Outcome};
use std::time::SystemTime;

fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::Replay => "replay (its tag was seen before)",
        DropReason::AlreadyDelivered => "its message was already delivered",
        DropReason::DuplicateFragment => "duplicate fragment",
    }
}

/// Whether the library's error may go away on retry (the store failed),
/// as opposed to a carrier that is wrong for good.
fn is_temporary(error: &Error) -> bool {
    matches!(error, Error::Node(NodeError::Storage(_)))
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

/// What to spool for an outcome, and when.
fn spool_item(outcome: Outcome, now: SystemTime) -> Option<(SpoolItem, SystemTime, &'static str)> {
    match outcome {
        Outcome::Forward { onion, delay } => {
            let next_hop = onion.first_hop().to_owned();
            let release = now.checked_add(delay).unwrap_or(now);
            Some((
                SpoolItem::Forward {
                    next_hop,
                    packet: onion.into_packet(),
                },
                release,
                "received a packet; holding it for forwarding",
            ))
        }
        Outcome::Deliver {
            recipients,
            message,
        } => Some((
            SpoolItem::Deliver {
                recipients,
                message,
            },
            now,
            "received a fragment; its message is complete and queued for delivery",
        )),
        Outcome::FragmentHeld { .. } | Outcome::Dropped(_) => None,
    }
}

/// Processes `email` received at `now` and commits the result.
pub(crate) fn handle_carrier(shared: &Shared, email: &[u8], now: SystemTime) -> Reply {
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
            if is_temporary(&e) {
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
            format!("dropped a packet: {}", drop_reason(*reason)),
            Reply::Dropped(drop_reason(*reason).into()),
        ),
        _ => (String::new(), Reply::Accepted("accepted".into())),
    };
    let mut log = log;
    let mut spooled = false;
    if let Some((item, release, text)) = spool_item(outcome, now) {
        spooled = true;
        if let Err(e) = state.node.store_mut().spool(item, release) {
            state.node.store_mut().abort();
            return refuse(e);
        }
        log = text.to_owned();
    }
    // A dropped replay commits too: for a surplus fragment the tag was
    // stored and must stay stored.
    if let Err(e) = state.node.store_mut().commit() {
        state.node.store_mut().abort();
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
