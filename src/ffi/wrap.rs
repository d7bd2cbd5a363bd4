//! `mixmailer_mix_wrap` and the onion list it returns: the outgoing path
//! of the pEp engine.

use super::args::{arg_bytes, arg_mailbox, arg_ref, arg_time, free_handle, into_handle, out};
use super::bytes::mixmailer_bytes;
use super::failure::Failure;
use super::route::{c_string, mixmailer_route};
use super::status::mixmailer_status;
use crate::message::add_date;
use crate::wrap::{mix_wrap_with, Onion, WrapOptions};
use crate::Error;
use rand::rngs::SysRng;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::ffi::{c_char, CString};
use std::time::SystemTime;

/// The onions of one message (opaque): one Sphinx packet per fragment,
/// each to be mailed as its own carrier email. Immutable: it may be shared
/// between threads.
pub struct mixmailer_onion_list {
    onions: Vec<(Onion, CString)>,
    /// The Message-ID the delivered message carries, with its angle brackets.
    message_id: CString,
    period: u64,
}

impl mixmailer_onion_list {
    fn get(&self, index: usize) -> Result<&(Onion, CString), Failure> {
        self.onions
            .get(index)
            .ok_or_else(|| Failure::index("index", index, self.onions.len()))
    }
}

/// Wraps at `now` with OS randomness and the route's shared table cache.
fn wrap(
    message: &[u8],
    route: &mixmailer_route,
    now: SystemTime,
) -> Result<mixmailer_onion_list, Failure> {
    let mut rng = ChaCha20Rng::try_from_rng(&mut SysRng).map_err(Error::Randomness)?;
    let options = WrapOptions {
        tables: Some(route.tables.clone()),
        ..WrapOptions::default()
    };
    let wrapped = mix_wrap_with(message, &route.inner, &options, now, &mut rng)?;
    let message_id = c_string(wrapped.message_id(), "the Message-ID")?;
    let period = wrapped.period();
    let onions = wrapped
        .into_onions()
        .into_iter()
        .map(|onion| {
            let address = c_string(onion.first_hop(), "the first hop's address")?;
            Ok((onion, address))
        })
        .collect::<Result<_, Failure>>()?;
    Ok(mixmailer_onion_list {
        onions,
        message_id,
        period,
    })
}

/// Wraps the RFC 5322 message `message` (`message_len` bytes, as the pEp
/// engine's `mime_encode_message` produces it; no NUL needed) for `route`
/// now, by the system clock: `mixmailer_mix_wrap_at` with the current
/// time. The directory of the route must list keys for the current key
/// period (else `MIXMAILER_STATUS_ROUTE_NO_KEY_FOR_PERIOD`).
///
/// Ownership: as `mixmailer_mix_wrap_at`.
///
/// # Safety
/// As `mixmailer_mix_wrap_at`.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_mix_wrap(
    message: *const u8,
    message_len: usize,
    route: *const mixmailer_route,
    onions: *mut *mut mixmailer_onion_list,
) -> mixmailer_status {
    ffi_boundary!({
        let message = unsafe { arg_bytes(message, message_len, "message") }?;
        let route = unsafe { arg_ref(route, "route") }?;
        let onions = unsafe { out(onions, "onions") }?;
        onions.set(into_handle(wrap(message, route, SystemTime::now())?));
        Ok(())
    })
}

/// Wraps the RFC 5322 message `message` (`message_len` bytes, as the pEp
/// engine's `mime_encode_message` produces it; no NUL needed) for `route`
/// as of `now_unix` (seconds since 1970, UTC), which picks the key period
/// whose node keys the packets are built for: sanitizes its header (and
/// gives it a fresh Message-ID, see `mixmailer_onion_list_message_id`),
/// takes the envelope recipients from To, Cc and Bcc, compresses and cuts
/// it into erasure-coded fragments, and builds one packet per fragment,
/// with the operating system's randomness. Any k of the n packets deliver
/// the message; send them all, soon: the nodes accept a packet only in its
/// key period and the next. If the route's directory lists no key for that
/// period, nothing is built: `MIXMAILER_STATUS_ROUTE_NO_KEY_FOR_PERIOD`.
///
/// Ownership: `message` is only read during the call and `route` only
/// borrowed. On success `*onions` receives a new list the caller owns and
/// frees with `mixmailer_onion_list_free`.
///
/// # Safety
/// `message` points to `message_len` readable bytes (or is NULL with
/// length 0); `route` is NULL or live; `onions` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_mix_wrap_at(
    message: *const u8,
    message_len: usize,
    route: *const mixmailer_route,
    now_unix: u64,
    onions: *mut *mut mixmailer_onion_list,
) -> mixmailer_status {
    ffi_boundary!({
        let message = unsafe { arg_bytes(message, message_len, "message") }?;
        let route = unsafe { arg_ref(route, "route") }?;
        let onions = unsafe { out(onions, "onions") }?;
        let now = arg_time(now_unix, "now_unix")?;
        onions.set(into_handle(wrap(message, route, now)?));
        Ok(())
    })
}

/// The Message-ID the delivered message will carry (with its angle
/// brackets, e.g. `<...@example.org>`) as a NUL-terminated string into
/// `*message_id`. The wrapped message got a fresh one, so the sender's copy
/// must be stored under this one (the pEp engine: set the sent message's
/// `id` to it, without the brackets, before saving to Sent), or replies
/// will not thread.
///
/// Ownership: `*message_id` is borrowed from `onions` and valid until
/// `mixmailer_onion_list_free(onions)`; do not free it.
///
/// # Safety
/// `onions` is NULL or live; `message_id` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_onion_list_message_id(
    onions: *const mixmailer_onion_list,
    message_id: *mut *const c_char,
) -> mixmailer_status {
    ffi_boundary!({
        let onions = unsafe { arg_ref(onions, "onions") }?;
        let message_id = unsafe { out(message_id, "message_id") }?;
        message_id.set(onions.message_id.as_ptr());
        Ok(())
    })
}

/// The key period the packets were built for into `*period` (the number
/// of key periods since 1970; each carrier email names it). The nodes
/// accept the packets during that period and the next one.
///
/// Ownership: borrows `onions` for the call; `period` is the caller's.
///
/// # Safety
/// `onions` is NULL or live; `period` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_onion_list_period(
    onions: *const mixmailer_onion_list,
    period: *mut u64,
) -> mixmailer_status {
    ffi_boundary!({
        let onions = unsafe { arg_ref(onions, "onions") }?;
        let period = unsafe { out(period, "period") }?;
        period.set(onions.period);
        Ok(())
    })
}

/// 9999-12-31T23:59:59Z.
const LAST_SECOND_OF_9999: u64 = 253_402_300_799;

/// Adds a `Date:` field of `now_unix` (seconds since 1970, UTC) in front of
/// `message` (`message_len` bytes, not empty; `now_unix` at most
/// 253402300799, the end of 9999), for the exit: a delivered
/// message (`mixmailer_outcome_deliver_message`) has no Date yet, because
/// it must carry the time it is handed to SMTP, after the exit's delay,
/// not the time the packet arrived.
///
/// Ownership: `message` is only read during the call. On success `*dated`
/// receives a new buffer the caller owns, reads with `mixmailer_bytes_data`
/// and frees with `mixmailer_bytes_free`.
///
/// # Safety
/// `message` points to `message_len` readable bytes; `dated` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_add_date(
    message: *const u8,
    message_len: usize,
    now_unix: u64,
    dated: *mut *mut mixmailer_bytes,
) -> mixmailer_status {
    ffi_boundary!({
        let message = unsafe { arg_bytes(message, message_len, "message") }?;
        let dated = unsafe { out(dated, "dated") }?;
        // RFC 5322 writes four-digit years.
        if now_unix > LAST_SECOND_OF_9999 {
            return Err(Failure::invalid(
                "now_unix",
                format!("{now_unix} s is after the year 9999, which a Date field cannot hold"),
            ));
        }
        let now = arg_time(now_unix, "now_unix")?;
        if message.is_empty() {
            return Err(crate::message::MessageError::Empty.into());
        }
        dated.set(into_handle(mixmailer_bytes {
            data: add_date(message, now),
        }));
        Ok(())
    })
}

/// The number of onions (packets) in `onions` into `*count`.
///
/// Ownership: borrows `onions` for the call; `count` is the caller's.
///
/// # Safety
/// `onions` is NULL or live; `count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_onion_list_count(
    onions: *const mixmailer_onion_list,
    count: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let onions = unsafe { arg_ref(onions, "onions") }?;
        let count = unsafe { out(count, "count") }?;
        count.set(onions.onions.len());
        Ok(())
    })
}

/// The mailbox onion `index` must be mailed to (the route's first hop) as
/// a NUL-terminated string into `*address`.
///
/// Ownership: `*address` is borrowed from `onions` and valid until
/// `mixmailer_onion_list_free(onions)`; do not free it.
///
/// # Safety
/// `onions` is NULL or live; `address` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_onion_list_first_hop(
    onions: *const mixmailer_onion_list,
    index: usize,
    address: *mut *const c_char,
) -> mixmailer_status {
    ffi_boundary!({
        let onions = unsafe { arg_ref(onions, "onions") }?;
        let address = unsafe { out(address, "address") }?;
        let (_, hop) = onions.get(index)?;
        address.set(hop.as_ptr());
        Ok(())
    })
}

/// The raw Sphinx packet of onion `index`: `*packet` points to `*len`
/// bytes (348 + the network's payload size). Most callers want the
/// carrier email instead (`mixmailer_onion_list_carrier_email`).
///
/// Ownership: `*packet` is borrowed from `onions` and valid until
/// `mixmailer_onion_list_free(onions)`; do not free it.
///
/// # Safety
/// `onions` is NULL or live; `packet` and `len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_onion_list_packet(
    onions: *const mixmailer_onion_list,
    index: usize,
    packet: *mut *const u8,
    len: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let onions = unsafe { arg_ref(onions, "onions") }?;
        let packet = unsafe { out(packet, "packet") }?;
        let len = unsafe { out(len, "len") }?;
        let (onion, _) = onions.get(index)?;
        packet.set(onion.packet().as_ptr());
        len.set(onion.packet().len());
        Ok(())
    })
}

/// The carrier email for onion `index`: a complete RFC 5322 message (CRLF
/// line endings) from `from` (the sender's mailbox, NUL-terminated, one
/// line: a CR or LF is refused with `MIXMAILER_STATUS_INVALID_ARGUMENT`) to the
/// first hop, dated now, with a random Message-ID. Hand it to the SMTP
/// sender as is, with envelope sender `from` and envelope recipient the
/// first hop (`mixmailer_onion_list_first_hop`).
///
/// Ownership: `from` is only read during the call. On success `*email`
/// receives a new buffer the caller owns, reads with `mixmailer_bytes_data`
/// and frees with `mixmailer_bytes_free`; it does not borrow `onions`.
///
/// # Safety
/// `onions` is NULL or live; `from` is NULL or NUL-terminated; `email` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_onion_list_carrier_email(
    onions: *const mixmailer_onion_list,
    index: usize,
    from: *const c_char,
    email: *mut *mut mixmailer_bytes,
) -> mixmailer_status {
    ffi_boundary!({
        let onions = unsafe { arg_ref(onions, "onions") }?;
        let from = unsafe { arg_mailbox(from, "from") }?;
        let email = unsafe { out(email, "email") }?;
        let (onion, _) = onions.get(index)?;
        let data = onion.to_email(&from);
        email.set(into_handle(mixmailer_bytes { data }));
        Ok(())
    })
}

/// Frees `onions`; NULL is fine. Carrier emails already made stay usable.
///
/// Ownership: takes `onions` back from the caller; addresses and packets
/// borrowed from it are invalid afterwards.
///
/// # Safety
/// `onions` is NULL or a live list not used again.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_onion_list_free(
    onions: *mut mixmailer_onion_list,
) -> mixmailer_status {
    ffi_boundary!({
        unsafe { free_handle(onions) };
        Ok(())
    })
}
