//! The exit's assembly worker: complete messages become spooled
//! deliveries without holding the daemon's lock while they are built.
//!
//! `handle_batch` stores the carrier that completes a message together
//! with a "complete" mark, commits, and answers the MTA; it does nothing
//! costly. This thread then reads the message's fragments through its own
//! store handle (a read transaction: no lock), reassembles, inflates and
//! runs the exit's SPEC 6 pass (no lock; for the largest message that is
//! seconds), and ends the message in one short transaction under the lock,
//! in which the delivery is spooled and the fragments are replaced by the
//! "already delivered" mark. A crash before that transaction leaves the
//! complete message in the store, and the first pass after the next start
//! assembles it; after it, only the spooled delivery exists. Either way the
//! message is spooled exactly once.
//!
//! One worker, so at most one message is being assembled at a time: the
//! exit's memory holds at most one inflated message.

use super::handle::{delivery_to_spool, loggable};
use super::{NodeState, Shared};
use crate::store::StoreError;
use mixmailer::node::{Delivery, NodeError, NodeStore, StoreError as LibStoreError};
use mixmailer::Error;
use rand::rngs::SysRng;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;
use std::time::Duration;

/// How often complete messages are looked for without being woken: a
/// message whose end could not be stored (a full store, an I/O error) is
/// tried again this often.
const RETRY_EVERY: Duration = Duration::from_secs(30);
/// How often a held assembly (test-only) looks at its file again.
const HOLD_POLL: Duration = Duration::from_millis(50);

/// What one message's assembly came to.
enum Ended {
    /// Spooled for delivery, or dropped for good; either way it is over.
    Done,
    /// Ended elsewhere meanwhile (expired): nothing to do.
    Gone,
    /// The store failed; the message stays complete and is tried again.
    Later,
    /// The assembly panicked (a bug): the message stays stored, and is not
    /// tried again before the next start, so a bug does not become a loop.
    Panicked,
}

/// Runs until shutdown: a pass at once (the complete messages a crash
/// left), then one whenever [`Shared::request_assembly`] is called, and
/// every [`RETRY_EVERY`].
pub(crate) fn assemble_loop(shared: &Shared) {
    let mut rng = match ChaCha20Rng::try_from_rng(&mut SysRng) {
        Ok(rng) => rng,
        Err(e) => {
            tracing::error!("the assembly worker cannot get randomness, so the exit delivers nothing until a restart: {e}");
            return;
        }
    };
    let mut panicked = HashSet::new();
    let mut first = true;
    while !shared.shutdown.load(Ordering::SeqCst) {
        let found = assemble_pending(shared, &mut rng, &mut panicked);
        if first && found > 0 {
            tracing::warn!(
                "{found} messages were complete but not yet queued for delivery when the node stopped; assembled them now"
            );
        }
        first = false;
        shared.assembly.wait(RETRY_EVERY);
    }
}

/// Assembles and ends every complete message in the store (but those that
/// panicked before); returns how many it found.
pub(crate) fn assemble_pending(
    shared: &Shared,
    rng: &mut ChaCha20Rng,
    panicked: &mut HashSet<[u8; 16]>,
) -> usize {
    let ids = match shared.reader.complete_messages() {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(
                "cannot read the complete messages from the store; trying again in {} s: {e}",
                RETRY_EVERY.as_secs()
            );
            return 0;
        }
    };
    let found = ids.len();
    for id in ids {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        if panicked.contains(&id) {
            continue;
        }
        match assemble_one(shared, &id, rng) {
            Ended::Done | Ended::Gone => {}
            Ended::Panicked => {
                panicked.insert(id);
            }
            Ended::Later => break,
        }
    }
    found
}

fn assemble_one(shared: &Shared, id: &[u8; 16], rng: &mut ChaCha20Rng) -> Ended {
    // Lock-free: a read transaction on the last committed state. Nothing
    // changes a complete message's fragments until it is ended here.
    let fragments = match shared.reader.fragments(id) {
        Ok(f) if f.is_empty() => return Ended::Gone,
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("cannot read a complete message's fragments; trying again later: {e}");
            return Ended::Later;
        }
    };
    let assembler = match shared.lock().node.assembler() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("cannot assemble messages: {e}");
            return Ended::Later;
        }
    };
    hold_for_test(shared);
    let assembled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assembler.assemble(&fragments, rng)
    }));
    drop(fragments);
    let assembled = match assembled {
        Ok(result) => result,
        Err(_) => {
            tracing::error!("assembling a complete message panicked (a bug); it stays stored and is tried again at the next start");
            return Ended::Panicked;
        }
    };
    end(shared, id, assembled)
}

/// The short transaction under the lock: spools the delivery (or drops a
/// message that failed for good) and replaces the fragments by the
/// "already delivered" mark, durable together.
fn end(shared: &Shared, id: &[u8; 16], assembled: Result<Delivery, Error>) -> Ended {
    let now = shared.now();
    let mut state = shared.lock();
    let later = |state: MutexGuard<'_, NodeState>, e: &dyn std::fmt::Display, full: bool| {
        drop(state);
        if full {
            // An expiry pass may make room.
            shared.request_expiry();
        }
        tracing::warn!(
            "cannot queue a complete message for delivery yet (it stays stored); trying again in {} s: {e}",
            RETRY_EVERY.as_secs()
        );
        Ended::Later
    };
    if let Err(e) = state.node.store_mut().begin() {
        return later(state, &e, false);
    }
    match state.node.finish(id, now) {
        Ok(true) => {}
        Ok(false) => {
            state.node.store_mut().abort();
            return Ended::Gone;
        }
        Err(e) => {
            state.node.store_mut().abort();
            let full = matches!(
                &e,
                Error::Node(NodeError::Store(LibStoreError::Full { .. }))
            );
            return later(state, &e, full);
        }
    }
    let log = match assembled {
        Ok(delivery) => {
            let to_spool = delivery_to_spool(delivery, now);
            let store = state.node.store_mut();
            if let Err(e) = store.spool(to_spool.item, to_spool.release, to_spool.expires) {
                store.abort();
                let full = matches!(e, StoreError::Full { .. });
                return later(state, &e, full);
            }
            None
        }
        Err(e) => Some(loggable(&e)),
    };
    let store = state.node.store_mut();
    if let Err(e) = store.commit() {
        store.abort();
        let full = matches!(e, StoreError::Full { .. });
        return later(state, &e, full);
    }
    drop(state);
    match log {
        None => {
            tracing::info!("assembled a complete message; queued for delivery");
            // The releaser may be asleep until a later item.
            shared.notify();
        }
        Some(reason) => tracing::info!("dropped a complete message: {reason}"),
    }
    Ended::Done
}

/// Test-only: waits while `test_hold_assembly_file` exists (or until
/// shutdown).
fn hold_for_test(shared: &Shared) {
    let Some(file) = &shared.config.test_hold_assembly_file else {
        return;
    };
    if file.exists() {
        tracing::warn!(
            "test-only: holding the assembly of a complete message while {} exists",
            file.display()
        );
    }
    while file.exists() && !shared.shutdown.load(Ordering::SeqCst) {
        std::thread::sleep(HOLD_POLL);
    }
}
