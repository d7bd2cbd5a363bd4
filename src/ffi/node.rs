//! `mixmailer_node`: a mix node run from C (the node side of the library).

use super::args::{arg_bytes, arg_mut, arg_ref, arg_time, free_handle, into_handle, out};
use super::directory::mixmailer_directory;
use super::failure::Failure;
use super::outcome::{mixmailer_outcome, outcome_handle};
use super::route::c_string;
use super::status::mixmailer_status;
use crate::node::MixNode;
use std::ffi::{c_char, CString};
use zeroize::Zeroizing;

/// A mix node with its secret key, a copy of the directory and an
/// in-memory store of replay tags and fragments (opaque). Not thread-safe:
/// use one node from one thread at a time.
pub struct mixmailer_node {
    inner: MixNode,
    address: CString,
}

/// A mix node for the X25519 secret key `secret_key` (`secret_key_len`
/// must be 32) whose public key `directory` lists. Its replay tags and
/// fragments live in memory and are lost when it is freed.
///
/// Ownership: `secret_key` is copied (and the copy wiped when the node is
/// freed); `directory` is copied, so the caller may free it at once. On
/// success `*node` receives a new handle the caller owns and frees with
/// `mixmailer_node_free`.
///
/// # Safety
/// `secret_key` points to `secret_key_len` readable bytes; `directory` is
/// NULL or live; `node` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_new(
    secret_key: *const u8,
    secret_key_len: usize,
    directory: *const mixmailer_directory,
    node: *mut *mut mixmailer_node,
) -> mixmailer_status {
    ffi_boundary!({
        if secret_key.is_null() {
            return Err(Failure::null("secret_key"));
        }
        let key_bytes = unsafe { arg_bytes(secret_key, secret_key_len, "secret_key") }?;
        let directory = unsafe { arg_ref(directory, "directory") }?;
        let node = unsafe { out(node, "node") }?;
        let mut key = Zeroizing::new([0u8; 32]);
        if key_bytes.len() != key.len() {
            return Err(Failure::invalid(
                "secret_key_len",
                format!("an X25519 secret key has 32 bytes, not {}", key_bytes.len()),
            ));
        }
        key.copy_from_slice(key_bytes);
        let inner = MixNode::new(*key, directory.inner.clone())?;
        let address = c_string(inner.entry().address(), "the node's address")?;
        node.set(into_handle(mixmailer_node { inner, address }));
        Ok(())
    })
}

/// This node's own mailbox (from the directory) as a NUL-terminated
/// string into `*address`: the `from` for its carrier emails.
///
/// Ownership: `*address` is borrowed from `node` and valid until
/// `mixmailer_node_free(node)`; do not free it.
///
/// # Safety
/// `node` is NULL or live; `address` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_address(
    node: *const mixmailer_node,
    address: *mut *const c_char,
) -> mixmailer_status {
    ffi_boundary!({
        let node = unsafe { arg_ref(node, "node") }?;
        let address = unsafe { out(address, "address") }?;
        address.set(node.address.as_ptr());
        Ok(())
    })
}

/// Processes one carrier email (`carrier_len` bytes, as received from the
/// MTA) that arrived at `now_unix` (seconds since 1970, UTC): verifies
/// and unwraps the packet, drops replays, and at the exit collects
/// fragments. On failure (a tampered or foreign packet, a broken carrier)
/// nothing is stored; the detail says why.
///
/// Ownership: `carrier` is only read during the call; `node` is borrowed
/// mutably for the call. On success `*outcome` receives a new handle the
/// caller owns and frees with `mixmailer_outcome_free`.
///
/// # Safety
/// `node` is NULL or live and not used by another thread during the call;
/// `carrier` points to `carrier_len` readable bytes; `outcome` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_process(
    node: *mut mixmailer_node,
    carrier: *const u8,
    carrier_len: usize,
    now_unix: u64,
    outcome: *mut *mut mixmailer_outcome,
) -> mixmailer_status {
    ffi_boundary!({
        let node = unsafe { arg_mut(node, "node") }?;
        let carrier = unsafe { arg_bytes(carrier, carrier_len, "carrier") }?;
        let outcome = unsafe { out(outcome, "outcome") }?;
        let now = arg_time(now_unix, "now_unix")?;
        let processed = node.inner.process(carrier, now)?;
        outcome.set(outcome_handle(processed)?);
        Ok(())
    })
}

/// Forgets incomplete messages held too long (ten times the mean
/// end-to-end delay, at least a day) as of `now_unix`; `*dropped` receives
/// how many were forgotten. Call it now and then, e.g. hourly.
///
/// Ownership: `node` is borrowed mutably for the call; `dropped` is the caller's.
///
/// # Safety
/// `node` is NULL or live and not used by another thread during the call;
/// `dropped` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_expire(
    node: *mut mixmailer_node,
    now_unix: u64,
    dropped: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let node = unsafe { arg_mut(node, "node") }?;
        let dropped = unsafe { out(dropped, "dropped") }?;
        let now = arg_time(now_unix, "now_unix")?;
        dropped.set(node.inner.expire(now)?);
        Ok(())
    })
}

/// Frees `node` and wipes its secret key; NULL is fine.
///
/// Ownership: takes `node` back from the caller; its address string is
/// invalid afterwards.
///
/// # Safety
/// `node` is NULL or a live handle not used again.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_free(node: *mut mixmailer_node) -> mixmailer_status {
    ffi_boundary!({
        unsafe { free_handle(node) };
        Ok(())
    })
}
