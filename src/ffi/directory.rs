//! `mixmailer_directory`: a parsed, verified directory of mix nodes.

use super::args::{arg_array, arg_bytes, arg_ref, arg_time, free_handle, into_handle, out};
use super::status::mixmailer_status;
use crate::directory::Directory;
use crate::sphinx::TableCache;
use std::sync::Arc;

/// A verified directory (opaque). It may be shared between threads and
/// used by several calls at once.
pub struct mixmailer_directory {
    pub(crate) inner: Directory,
    /// The sender's per-node precomputation (issue 12): every route made
    /// from this directory shares it, so a long-running client that keeps
    /// its directory handle wraps faster for the nodes it uses often. It
    /// holds only public-key tables, and locks internally.
    pub(crate) tables: Arc<TableCache>,
}

/// Parses the directory document `text` (`text_len` bytes, as fetched; no
/// NUL needed) and accepts it only if it follows every rule of the
/// specification, at least `threshold` (>= 1) distinct keys of
/// `trusted_keys` signed it, and `now_unix` (seconds since 1970, UTC) lies
/// in its validity period (a threshold of 0 or above the number of trusted
/// keys is `MIXMAILER_STATUS_INVALID_ARGUMENT`). `trusted_keys` is a flat array of
/// `trusted_count` Ed25519 public keys of 32 bytes each
/// (`32 * trusted_count` bytes). On failure the detail
/// (`mixmailer_last_error_message`) names the line of the document; a
/// version 1 directory is `MIXMAILER_STATUS_DIRECTORY_UNSUPPORTED_VERSION`.
///
/// Keep the handle for as long as the directory is valid: routes made from
/// it share a cache of per-node precomputation that makes wrapping faster.
///
/// Ownership: `text` and `trusted_keys` are only read during the call. On
/// success `*directory` receives a new handle the caller owns and frees
/// with `mixmailer_directory_free`.
///
/// # Safety
/// `text` points to `text_len` readable bytes, `trusted_keys` to
/// `32 * trusted_count`; `directory` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_directory_parse(
    text: *const u8,
    text_len: usize,
    trusted_keys: *const u8,
    trusted_count: usize,
    threshold: usize,
    now_unix: u64,
    directory: *mut *mut mixmailer_directory,
) -> mixmailer_status {
    ffi_boundary!({
        let text = unsafe { arg_bytes(text, text_len, "text") }?;
        let trusted = unsafe {
            arg_array(
                trusted_keys.cast::<[u8; 32]>(),
                trusted_count,
                "trusted_keys",
            )
        }?;
        let directory = unsafe { out(directory, "directory") }?;
        let now = arg_time(now_unix, "now_unix")?;
        let inner = Directory::parse(text, trusted, threshold, now)?;
        directory.set(into_handle(mixmailer_directory {
            inner,
            tables: Arc::new(TableCache::default()),
        }));
        Ok(())
    })
}

/// Frees `directory`; NULL is fine. Routes and nodes made from it hold
/// their own copies (routes share its precomputation cache) and stay usable.
///
/// Ownership: takes `directory` back from the caller.
///
/// # Safety
/// `directory` is NULL or a live handle not used again.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_directory_free(
    directory: *mut mixmailer_directory,
) -> mixmailer_status {
    ffi_boundary!({
        unsafe { free_handle(directory) };
        Ok(())
    })
}

/// The number of mix nodes the directory lists, into `*count`.
///
/// Ownership: borrows `directory` for the call; `count` is the caller's.
///
/// # Safety
/// `directory` is NULL or live; `count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_directory_node_count(
    directory: *const mixmailer_directory,
    count: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let directory = unsafe { arg_ref(directory, "directory") }?;
        let count = unsafe { out(count, "count") }?;
        count.set(directory.inner.nodes().len());
        Ok(())
    })
}

/// The number of layers, which is the length of every route, into `*hops`.
///
/// Ownership: borrows `directory` for the call; `hops` is the caller's.
///
/// # Safety
/// `directory` is NULL or live; `hops` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_directory_hops(
    directory: *const mixmailer_directory,
    hops: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let directory = unsafe { arg_ref(directory, "directory") }?;
        let hops = unsafe { out(hops, "hops") }?;
        hops.set(usize::from(directory.inner.params().hops));
        Ok(())
    })
}

/// The network's Sphinx payload size in bytes into `*payload_size`; every
/// packet is 348 bytes longer.
///
/// Ownership: borrows `directory` for the call; `payload_size` is the caller's.
///
/// # Safety
/// `directory` is NULL or live; `payload_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_directory_payload_size(
    directory: *const mixmailer_directory,
    payload_size: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let directory = unsafe { arg_ref(directory, "directory") }?;
        let payload_size = unsafe { out(payload_size, "payload_size") }?;
        payload_size.set(directory.inner.params().payload_size);
        Ok(())
    })
}
