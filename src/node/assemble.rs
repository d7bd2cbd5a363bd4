//! The exit's costly step: a complete message's fragments to the message
//! it delivers. Kept apart from [`super::MixNode`] so that a node that
//! serialises its packets (the daemon's lock, one store transaction) can
//! run it without either: reassembly, inflating up to 32 MiB and the
//! SPEC 6 pass take seconds for the largest message, and every other
//! carrier would wait that long.

use crate::delay::sample_exit_delay;
use crate::message::{
    check_delivery_cost, decode_body, prepare_delivery_with, reassemble, Fragment, Mailbox,
};
use crate::Error;
use rand_core::CryptoRng;
use std::time::Duration;

/// A message the exit is to deliver: hold it for `delay`, then add the
/// `Date:` of that moment ([`crate::message::add_date`]) and hand it to
/// the MTA for `recipients`, from the exit's own address.
#[derive(Debug)]
pub struct Delivery {
    /// Envelope recipients (To, Cc and Bcc of the original).
    pub recipients: Vec<String>,
    /// The message as delivered (sanitized again), CRLF line endings, no Date yet.
    pub message: Vec<u8>,
    /// The exit's own delay (SPEC 2).
    pub delay: Duration,
}

/// What an exit needs to assemble messages: its address and the
/// network's delay parameters. Taken from a node with
/// [`super::MixNode::assembler`]; owns its data, so it can move to
/// another thread.
#[derive(Clone, Debug)]
pub struct Assembler {
    exit: Mailbox,
    mean_delay: Duration,
    key_period: Duration,
}

impl Assembler {
    pub(super) fn new(exit: Mailbox, mean_delay: Duration, key_period: Duration) -> Self {
        Assembler {
            exit,
            mean_delay,
            key_period,
        }
    }

    /// Rebuilds the message of `fragments` (at least k of one message, as
    /// the store holds them for a complete message), checks what it would
    /// cost to deliver, runs the exit's SPEC 6 pass on it, and draws the
    /// exit's delay from `rng`. Pure: any error is final for this message
    /// (retrying gives the same error), so the caller drops it.
    ///
    /// Memory: the inflated message (at most
    /// [`crate::message::MAX_INFLATED_BODY`]) and its output, once each;
    /// the header pass itself is bounded (docs/message.md).
    pub fn assemble<R: CryptoRng + ?Sized>(
        &self,
        fragments: &[Fragment],
        rng: &mut R,
    ) -> Result<Delivery, Error> {
        let body = reassemble(fragments)?;
        let (recipients, message) = decode_body(&body)?;
        check_delivery_cost(message.len(), recipients.len(), body.len())?;
        drop(body);
        // SPEC 6 again, as the exit: an old or careless sender must not
        // leak more, and the author's address leaves the header.
        let message = prepare_delivery_with(&message, &recipients, &self.exit, rng)?;
        let delay = sample_exit_delay(self.mean_delay, self.key_period, rng);
        Ok(Delivery {
            recipients,
            message,
            delay,
        })
    }
}
