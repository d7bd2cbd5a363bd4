//! `mixmailer_node`: a mix node run from C (the node side of the library).

use super::args::{
    arg_array, arg_bytes, arg_mut, arg_ref, arg_time, free_handle, into_handle, out,
};
use super::directory::mixmailer_directory;
use super::failure::Failure;
use super::outcome::{mixmailer_outcome, outcome_handle};
use super::route::c_string;
use super::status::mixmailer_status;
use crate::keys::NodeSecretKey;
use crate::node::{MixNode, NodeKeys};
use std::ffi::{c_char, CString};
use zeroize::Zeroizing;

/// A mix node with its per-period secret keys, a copy of the directory and an
/// in-memory store of replay tags and fragments (opaque). Not thread-safe:
/// use one node from one thread at a time.
pub struct mixmailer_node {
    inner: MixNode,
    address: CString,
}

/// A mix node whose Ed25519 identity public key is `identity`
/// (`identity_len` must be 32), with the X25519 secret keys of `count` key
/// periods: `periods[i]` is the period of the 32 bytes at
/// `secret_keys + 32 * i` (`secret_keys_len` must be `32 * count`).
/// `directory` must list the node, and every key it lists for one of these
/// periods must be the public half of the key given. Its replay tags and
/// fragments live in memory and are lost when it is freed.
///
/// Ownership: `identity`, `periods` and `secret_keys` are copied (the key
/// copies are wiped when the node is freed); `directory` is copied, so the
/// caller may free it at once. On success `*node` receives a new handle the
/// caller owns and frees with `mixmailer_node_free`.
///
/// # Safety
/// `identity` points to `identity_len` readable bytes, `periods` to `count`
/// readable `uint64_t`s (or NULL with count 0), `secret_keys` to
/// `secret_keys_len` readable bytes; `directory` is NULL or live; `node` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_new(
    identity: *const u8,
    identity_len: usize,
    periods: *const u64,
    secret_keys: *const u8,
    secret_keys_len: usize,
    count: usize,
    directory: *const mixmailer_directory,
    node: *mut *mut mixmailer_node,
) -> mixmailer_status {
    ffi_boundary!({
        if identity.is_null() {
            return Err(Failure::null("identity"));
        }
        let identity = unsafe { arg_bytes(identity, identity_len, "identity") }?;
        let identity: [u8; 32] = identity.try_into().map_err(|_| {
            Failure::invalid(
                "identity_len",
                format!("an Ed25519 public key has 32 bytes, not {identity_len}"),
            )
        })?;
        let periods = unsafe { arg_array(periods, count, "periods") }?;
        let key_bytes = unsafe { arg_bytes(secret_keys, secret_keys_len, "secret_keys") }?;
        if Some(key_bytes.len()) != count.checked_mul(32) {
            return Err(Failure::invalid(
                "secret_keys_len",
                format!(
                    "{count} X25519 secret keys have {} bytes, not {secret_keys_len}",
                    count.saturating_mul(32)
                ),
            ));
        }
        let directory = unsafe { arg_ref(directory, "directory") }?;
        let node = unsafe { out(node, "node") }?;
        let mut keys = NodeKeys::new(identity);
        for (i, (period, chunk)) in periods.iter().zip(key_bytes.chunks_exact(32)).enumerate() {
            // A repeated period would silently replace the earlier key.
            if periods
                .get(..i)
                .is_some_and(|earlier| earlier.contains(period))
            {
                return Err(Failure::invalid(
                    "periods",
                    format!("period {period} is given twice (index {i})"),
                ));
            }
            keys.insert(*period, secret_key(chunk)?);
        }
        let inner = MixNode::new(keys, directory.inner.clone())?;
        let address = c_string(inner.entry().address(), "the node's address")?;
        node.set(into_handle(mixmailer_node { inner, address }));
        Ok(())
    })
}

/// A secret key from 32 bytes C gave; the copy is wiped with the node.
fn secret_key(bytes: &[u8]) -> Result<NodeSecretKey, Failure> {
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return Err(Failure::invalid(
            "key_len",
            format!("an X25519 secret key has 32 bytes, not {}", bytes.len()),
        ));
    }
    key.copy_from_slice(bytes);
    Ok(NodeSecretKey::from_bytes(*key))
}

/// Adds the X25519 secret key of key period `period` (`key_len` must be
/// 32), made ahead of time, as the node's key directory gets it; replaces
/// a key the node already holds for that period. Refused with
/// `MIXMAILER_STATUS_NODE_KEY_MISMATCH` if the node's directory lists
/// another public key for this node in that period.
///
/// Ownership: `key` is copied (the copy is wiped when the node is freed or
/// the key rotated out); `node` is borrowed mutably for the call.
///
/// # Safety
/// `node` is NULL or live and not used by another thread during the call;
/// `key` points to `key_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_add_key(
    node: *mut mixmailer_node,
    period: u64,
    key: *const u8,
    key_len: usize,
) -> mixmailer_status {
    ffi_boundary!({
        let node = unsafe { arg_mut(node, "node") }?;
        if key.is_null() {
            return Err(Failure::null("key"));
        }
        let key = secret_key(unsafe { arg_bytes(key, key_len, "key") }?)?;
        node.inner.insert_key(period, key)?;
        Ok(())
    })
}

/// Forward secrecy (SPEC 2): as of `now_unix`, deletes the secret keys and
/// replay tags of every key period before the previous one. `*keys_deleted`
/// receives how many keys were deleted and `*tags_deleted` how many replay
/// tags. Processing a packet does this by itself when a new period begins;
/// call it on a timer too (e.g. hourly), so an idle node deletes its keys
/// on time. Delete the key files of those periods as well.
///
/// Ownership: `node` is borrowed mutably for the call; `keys_deleted` and
/// `tags_deleted` are the caller's.
///
/// # Safety
/// `node` is NULL or live and not used by another thread during the call;
/// `keys_deleted` and `tags_deleted` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_node_rotate(
    node: *mut mixmailer_node,
    now_unix: u64,
    keys_deleted: *mut usize,
    tags_deleted: *mut u64,
) -> mixmailer_status {
    ffi_boundary!({
        let node = unsafe { arg_mut(node, "node") }?;
        let keys_deleted = unsafe { out(keys_deleted, "keys_deleted") }?;
        let tags_deleted = unsafe { out(tags_deleted, "tags_deleted") }?;
        let now = arg_time(now_unix, "now_unix")?;
        let rotation = node.inner.rotate(now)?;
        keys_deleted.set(rotation.keys_deleted.len());
        tags_deleted.set(rotation.tags_deleted);
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
/// MTA) that arrived at `now_unix` (seconds since 1970, UTC): checks its
/// key period (a period not accepted now is dropped), verifies and unwraps
/// the packet, drops replays, and at the exit collects fragments. On
/// failure (a tampered or foreign packet, a broken carrier) nothing is
/// stored; the detail says why. `MIXMAILER_STATUS_NODE_MISSING_PERIOD_KEY`
/// and `MIXMAILER_STATUS_NODE_UNKNOWN_NEXT_HOP` may succeed later (after
/// `mixmailer_node_add_key` or a newer directory): have the MTA retry.
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

/// Frees `node` and wipes its secret keys; NULL is fine.
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
