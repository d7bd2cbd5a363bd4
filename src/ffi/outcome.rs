//! `mixmailer_outcome`: what a mix node must do with a processed carrier
//! email. C reads its kind, then the accessors of that kind; an accessor
//! of another kind returns `MIXMAILER_STATUS_WRONG_OUTCOME_KIND`.

use super::args::{arg_mailbox, arg_ref, free_handle, into_handle, out};
use super::bytes::mixmailer_bytes;
use super::failure::Failure;
use super::route::c_string;
use super::status::mixmailer_status;
use crate::node::{DropReason, Outcome};
use crate::wrap::Onion;
use std::ffi::{c_char, CString};
use std::time::Duration;

/// The kind of an outcome (a `uint32_t` in C).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mixmailer_outcome_kind {
    /// Hold the packet for the delay, then mail the carrier email to the next hop.
    Forward = 1,
    /// Exit node: deliver the message to its recipients by SMTP.
    Deliver = 2,
    /// Exit node: a fragment was stored; nothing to send yet.
    FragmentHeld = 3,
    /// Well-formed but not to be forwarded (a replay or a surplus fragment).
    Dropped = 4,
}

/// Why a packet was dropped (a `uint32_t` in C).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mixmailer_drop_reason {
    /// This node already processed a packet with the same replay tag.
    Replay = 1,
    /// The fragment's message was already delivered (a surplus parity fragment).
    AlreadyDelivered = 2,
    /// The same fragment of the same message arrived twice.
    DuplicateFragment = 3,
    /// The fragment disagrees with the fragments held for its message.
    InconsistentFragment = 4,
    /// A final hop reached at a node that is not an exit (only exits deliver).
    FinalHopNotExit = 5,
    /// The sender asked for a delay above half a key period.
    DelayTooLong = 6,
    /// The carrier's key period is not accepted at this time.
    PeriodNotAccepted = 7,
}

enum Kind {
    Forward {
        onion: Onion,
        address: CString,
        delay: Duration,
    },
    Deliver {
        recipients: Vec<CString>,
        message: Vec<u8>,
        delay: Duration,
    },
    FragmentHeld {
        have: usize,
        need: usize,
    },
    Dropped(DropReason),
}

/// The result of processing one carrier email (opaque). Immutable: it may
/// be shared between threads.
pub struct mixmailer_outcome {
    kind: Kind,
}

impl mixmailer_outcome {
    pub(crate) fn new(outcome: Outcome) -> Result<Self, Failure> {
        let kind = match outcome {
            Outcome::Forward { onion, delay } => Kind::Forward {
                address: c_string(onion.first_hop(), "the next hop's address")?,
                onion,
                delay,
            },
            Outcome::Deliver {
                recipients,
                message,
                delay,
            } => Kind::Deliver {
                recipients: recipients
                    .iter()
                    .map(|r| c_string(r, "a recipient address"))
                    .collect::<Result<_, _>>()?,
                message,
                delay,
            },
            Outcome::FragmentHeld { have, need, .. } => Kind::FragmentHeld { have, need },
            Outcome::Dropped(reason) => Kind::Dropped(reason),
        };
        Ok(mixmailer_outcome { kind })
    }

    fn kind(&self) -> mixmailer_outcome_kind {
        match self.kind {
            Kind::Forward { .. } => mixmailer_outcome_kind::Forward,
            Kind::Deliver { .. } => mixmailer_outcome_kind::Deliver,
            Kind::FragmentHeld { .. } => mixmailer_outcome_kind::FragmentHeld,
            Kind::Dropped(_) => mixmailer_outcome_kind::Dropped,
        }
    }

    fn wrong_kind(&self, wanted: &str) -> Failure {
        Failure::new(
            mixmailer_status::WrongOutcomeKind,
            format!(
                "this function reads {wanted} outcomes, but this outcome is {:?}",
                self.kind()
            ),
        )
    }

    fn forward(&self) -> Result<(&Onion, &CString, Duration), Failure> {
        match &self.kind {
            Kind::Forward {
                onion,
                address,
                delay,
            } => Ok((onion, address, *delay)),
            _ => Err(self.wrong_kind("Forward")),
        }
    }

    fn deliver(&self) -> Result<(&[CString], &[u8]), Failure> {
        match &self.kind {
            Kind::Deliver {
                recipients,
                message,
                ..
            } => Ok((recipients, message)),
            _ => Err(self.wrong_kind("Deliver")),
        }
    }

    /// The hold time of a Forward or Deliver outcome.
    fn delay(&self) -> Result<Duration, Failure> {
        match &self.kind {
            Kind::Forward { delay, .. } | Kind::Deliver { delay, .. } => Ok(*delay),
            _ => Err(self.wrong_kind("Forward or Deliver")),
        }
    }
}

/// The kind of `outcome` (`MIXMAILER_OUTCOME_KIND_FORWARD`, `_DELIVER`,
/// `_FRAGMENT_HELD` or `_DROPPED`) into `*kind`.
///
/// Ownership: borrows `outcome` for the call; `kind` is the caller's.
///
/// # Safety
/// `outcome` is NULL or live; `kind` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_get_kind(
    outcome: *const mixmailer_outcome,
    kind: *mut mixmailer_outcome_kind,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let kind = unsafe { out(kind, "kind") }?;
        kind.set(outcome.kind());
        Ok(())
    })
}

/// Forward: the next hop's mailbox as a NUL-terminated string into `*address`.
///
/// Ownership: `*address` is borrowed from `outcome` and valid until
/// `mixmailer_outcome_free(outcome)`; do not free it.
///
/// # Safety
/// `outcome` is NULL or live; `address` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_forward_address(
    outcome: *const mixmailer_outcome,
    address: *mut *const c_char,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let address = unsafe { out(address, "address") }?;
        let (_, next, _) = outcome.forward()?;
        address.set(next.as_ptr());
        Ok(())
    })
}

/// Forward: how long to hold the packet before mailing it, in
/// milliseconds, into `*delay_ms` (chosen by the sender; saturates at
/// `UINT64_MAX`).
///
/// Ownership: borrows `outcome` for the call; `delay_ms` is the caller's.
///
/// # Safety
/// `outcome` is NULL or live; `delay_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_forward_delay_ms(
    outcome: *const mixmailer_outcome,
    delay_ms: *mut u64,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let delay_ms = unsafe { out(delay_ms, "delay_ms") }?;
        let (_, _, delay) = outcome.forward()?;
        delay_ms.set(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        Ok(())
    })
}

/// Forward or Deliver: how long to hold the packet or message before
/// mailing it, in milliseconds, into `*delay_ms` (saturates at
/// `UINT64_MAX`). For Forward it is the delay the sender chose (as
/// `mixmailer_outcome_forward_delay_ms`); for Deliver it is the exit's own
/// delay, drawn by the exit, after which it adds the Date
/// (`mixmailer_add_date`) and hands the message to SMTP.
///
/// Ownership: borrows `outcome` for the call; `delay_ms` is the caller's.
///
/// # Safety
/// `outcome` is NULL or live; `delay_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_delay_ms(
    outcome: *const mixmailer_outcome,
    delay_ms: *mut u64,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let delay_ms = unsafe { out(delay_ms, "delay_ms") }?;
        delay_ms.set(u64::try_from(outcome.delay()?.as_millis()).unwrap_or(u64::MAX));
        Ok(())
    })
}

/// Forward: the raw packet for the next hop; `*packet` points to `*len` bytes.
///
/// Ownership: `*packet` is borrowed from `outcome` and valid until
/// `mixmailer_outcome_free(outcome)`; do not free it.
///
/// # Safety
/// `outcome` is NULL or live; `packet` and `len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_forward_packet(
    outcome: *const mixmailer_outcome,
    packet: *mut *const u8,
    len: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let packet = unsafe { out(packet, "packet") }?;
        let len = unsafe { out(len, "len") }?;
        let (onion, _, _) = outcome.forward()?;
        packet.set(onion.packet().as_ptr());
        len.set(onion.packet().len());
        Ok(())
    })
}

/// Forward: the carrier email to mail to the next hop, from `from` (this
/// node's own mailbox, see `mixmailer_node_address`; one line, a CR or LF
/// is refused), dated now. Make it when the delay is over, so the Date
/// field does not tell when the packet arrived.
///
/// Ownership: `from` is only read during the call. On success `*email`
/// receives a new buffer the caller owns, reads with `mixmailer_bytes_data`
/// and frees with `mixmailer_bytes_free`; it does not borrow `outcome`.
///
/// # Safety
/// `outcome` is NULL or live; `from` is NULL or NUL-terminated; `email` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_forward_carrier(
    outcome: *const mixmailer_outcome,
    from: *const c_char,
    email: *mut *mut mixmailer_bytes,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let from = unsafe { arg_mailbox(from, "from") }?;
        let email = unsafe { out(email, "email") }?;
        let (onion, _, _) = outcome.forward()?;
        email.set(into_handle(mixmailer_bytes {
            data: onion.to_email(&from),
        }));
        Ok(())
    })
}

/// Deliver: the number of envelope recipients (To, Cc and Bcc of the
/// original message) into `*count`.
///
/// Ownership: borrows `outcome` for the call; `count` is the caller's.
///
/// # Safety
/// `outcome` is NULL or live; `count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_deliver_recipient_count(
    outcome: *const mixmailer_outcome,
    count: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let count = unsafe { out(count, "count") }?;
        let (recipients, _) = outcome.deliver()?;
        count.set(recipients.len());
        Ok(())
    })
}

/// Deliver: envelope recipient `index` (a bare address) as a NUL-terminated
/// string into `*address`.
///
/// Ownership: `*address` is borrowed from `outcome` and valid until
/// `mixmailer_outcome_free(outcome)`; do not free it.
///
/// # Safety
/// `outcome` is NULL or live; `address` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_deliver_recipient(
    outcome: *const mixmailer_outcome,
    index: usize,
    address: *mut *const c_char,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let address = unsafe { out(address, "address") }?;
        let (recipients, _) = outcome.deliver()?;
        let recipient = recipients
            .get(index)
            .ok_or_else(|| Failure::index("index", index, recipients.len()))?;
        address.set(recipient.as_ptr());
        Ok(())
    })
}

/// Deliver: the message to deliver (sanitized, CRLF line endings, no Date
/// field yet); `*message` points to `*len` bytes, not NUL-terminated.
/// Hold it for the exit's delay (`mixmailer_outcome_delay_ms`), then add the
/// Date of that moment with `mixmailer_add_date` and hand the result to
/// SMTP, from this node's own address, to the envelope recipients.
///
/// Ownership: `*message` is borrowed from `outcome` and valid until
/// `mixmailer_outcome_free(outcome)`; do not free it.
///
/// # Safety
/// `outcome` is NULL or live; `message` and `len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_deliver_message(
    outcome: *const mixmailer_outcome,
    message: *mut *const u8,
    len: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let message = unsafe { out(message, "message") }?;
        let len = unsafe { out(len, "len") }?;
        let (_, text) = outcome.deliver()?;
        message.set(text.as_ptr());
        len.set(text.len());
        Ok(())
    })
}

/// Fragment held: `*have` distinct fragments of the message are stored,
/// `*need` are needed to rebuild it.
///
/// Ownership: borrows `outcome` for the call; `have` and `need` are the caller's.
///
/// # Safety
/// `outcome` is NULL or live; `have` and `need` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_fragments(
    outcome: *const mixmailer_outcome,
    have: *mut usize,
    need: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let have_out = unsafe { out(have, "have") }?;
        let need_out = unsafe { out(need, "need") }?;
        match outcome.kind {
            Kind::FragmentHeld { have, need } => {
                have_out.set(have);
                need_out.set(need);
                Ok(())
            }
            _ => Err(outcome.wrong_kind("FragmentHeld")),
        }
    })
}

/// Dropped: why, into `*reason` (`MIXMAILER_DROP_REASON_REPLAY`, ...).
///
/// Ownership: borrows `outcome` for the call; `reason` is the caller's.
///
/// # Safety
/// `outcome` is NULL or live; `reason` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_drop_reason(
    outcome: *const mixmailer_outcome,
    reason: *mut mixmailer_drop_reason,
) -> mixmailer_status {
    ffi_boundary!({
        let outcome = unsafe { arg_ref(outcome, "outcome") }?;
        let reason = unsafe { out(reason, "reason") }?;
        match outcome.kind {
            Kind::Dropped(why) => {
                reason.set(match why {
                    DropReason::Replay => mixmailer_drop_reason::Replay,
                    DropReason::AlreadyDelivered => mixmailer_drop_reason::AlreadyDelivered,
                    DropReason::DuplicateFragment => mixmailer_drop_reason::DuplicateFragment,
                    DropReason::InconsistentFragment => mixmailer_drop_reason::InconsistentFragment,
                    DropReason::FinalHopNotExit => mixmailer_drop_reason::FinalHopNotExit,
                    DropReason::DelayTooLong => mixmailer_drop_reason::DelayTooLong,
                    DropReason::PeriodNotAccepted => mixmailer_drop_reason::PeriodNotAccepted,
                });
                Ok(())
            }
            _ => Err(outcome.wrong_kind("Dropped")),
        }
    })
}

/// Frees `outcome`; NULL is fine.
///
/// Ownership: takes `outcome` back from the caller; addresses, packets and
/// messages borrowed from it are invalid afterwards.
///
/// # Safety
/// `outcome` is NULL or a live handle not used again.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_outcome_free(
    outcome: *mut mixmailer_outcome,
) -> mixmailer_status {
    ffi_boundary!({
        unsafe { free_handle(outcome) };
        Ok(())
    })
}

/// Moves a processed outcome to the heap for C.
pub(crate) fn outcome_handle(outcome: Outcome) -> Result<*mut mixmailer_outcome, Failure> {
    Ok(into_handle(mixmailer_outcome::new(outcome)?))
}
