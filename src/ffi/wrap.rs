//! `mixmailer_mix_wrap` and the onion list it returns: the outgoing path
//! of the pEp engine.

use super::args::{arg_bytes, arg_mailbox, arg_ref, free_handle, into_handle, out};
use super::bytes::mixmailer_bytes;
use super::failure::Failure;
use super::route::{c_string, mixmailer_route};
use super::status::mixmailer_status;
use crate::wrap::{mix_wrap, Onion};
use std::ffi::{c_char, CString};

/// The onions of one message (opaque): one Sphinx packet per fragment,
/// each to be mailed as its own carrier email. Immutable: it may be shared
/// between threads.
pub struct mixmailer_onion_list {
    onions: Vec<(Onion, CString)>,
}

impl mixmailer_onion_list {
    fn get(&self, index: usize) -> Result<&(Onion, CString), Failure> {
        self.onions
            .get(index)
            .ok_or_else(|| Failure::index("index", index, self.onions.len()))
    }
}

/// Wraps the RFC 5322 message `message` (`message_len` bytes, as the pEp
/// engine's `mime_encode_message` produces it; no NUL needed) for `route`:
/// sanitizes its header, takes the envelope recipients from To, Cc and
/// Bcc, compresses and cuts it into erasure-coded fragments, and builds one
/// packet per fragment, with the operating system's randomness. Any k of
/// the n packets deliver the message; send them all.
///
/// Ownership: `message` is only read during the call and `route` only
/// borrowed. On success `*onions` receives a new list the caller owns and
/// frees with `mixmailer_onion_list_free`.
///
/// # Safety
/// `message` points to `message_len` readable bytes (or is NULL with
/// length 0); `route` is NULL or live; `onions` is NULL or writable.
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
        let list = mix_wrap(message, &route.inner)?
            .into_onions()
            .into_iter()
            .map(|onion| {
                let address = c_string(onion.first_hop(), "the first hop's address")?;
                Ok((onion, address))
            })
            .collect::<Result<_, Failure>>()?;
        onions.set(into_handle(mixmailer_onion_list { onions: list }));
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
