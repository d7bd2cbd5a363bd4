//! The C API: one call a pEp app makes now and then from its own thread
//! (`mixmailer_client_fetch_if_due`), plus freeing, status names and the
//! detail of the last failure. Conventions as in `include/mixmailer.h`:
//! every function returns a `uint32_t` status, out-parameters are written
//! only on success, every pointer is checked, panics stop here.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // each function's comment says what C must pass

use crate::{ClientError, DirectoryClient, Source};
use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Result of every `mixmailer_client_*` function (a `uint32_t` in C).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mixmailer_client_status {
    /// Success: the out-parameters hold a verified document.
    Ok = 0,
    /// A pointer argument was NULL (the detail names it).
    NullParameter = 1,
    /// An argument was out of range: a string that is not UTF-8, no mirrors,
    /// a threshold of 0 or above the number of distinct trusted keys.
    InvalidArgument = 2,
    /// Every mirror failed and no valid cached document is left (the detail
    /// has each mirror's reason).
    NoDirectory = 3,
    /// The cache file could not be read or written (the detail names it).
    CacheError = 4,
    /// A bug in the client: it panicked (the detail has the message).
    Panic = 5,
}

/// Where the returned document came from (a `uint32_t` in C).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mixmailer_client_source {
    /// The cache, still valid, no fetch due.
    FromCache = 0,
    /// Fetched from a mirror just now and cached.
    Fetched = 1,
    /// A fetch was due but every mirror failed; the valid cached document is
    /// returned and the detail says why each mirror failed.
    CacheAfterFailure = 2,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn fail(status: mixmailer_client_status, detail: String) -> u32 {
    LAST_ERROR.with(|e| *e.borrow_mut() = detail);
    status as u32
}

struct Failure(mixmailer_client_status, String);

unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure(
            mixmailer_client_status::NullParameter,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: the caller passes a NUL-terminated string (documented).
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
        Failure(
            mixmailer_client_status::InvalidArgument,
            format!("{name} is not UTF-8"),
        )
    })
}

fn null(name: &str) -> Failure {
    Failure(
        mixmailer_client_status::NullParameter,
        format!("{name} is NULL"),
    )
}

/// Returns a verified directory document, fetching it first when a fetch is
/// due (docs/authority.md section 9). Starts no thread; blocks for at most
/// 30 s per mirror. Call it whenever convenient (at start-up and then at
/// `*next_fetch`); calling early just returns the cache.
///
/// - `cache_path`: file holding the last valid document (NUL-terminated
///   UTF-8); `<cache_path>.due` holds the next fetch time. Its directory must exist.
/// - `mirrors`, `mirrors_len`: base URLs (`https://dir.example.org`), tried in order.
/// - `trusted_keys`, `trusted_count`: `trusted_count` Ed25519 authority keys
///   of 32 bytes each, back to back; `threshold`: signatures required (>= 1).
/// - `now_unix`: the current time, unix seconds.
/// - On success `*text`/`*text_len` receive the document (not NUL-terminated),
///   `*next_fetch_unix` the time to call again and `*source` a
///   `mixmailer_client_source`. A `CacheAfterFailure` source is a success:
///   the mirrors' reasons are in `mixmailer_client_last_error`.
///
/// Ownership: the caller keeps its arguments; `*text` belongs to the caller,
/// who frees it with `mixmailer_client_text_free(*text, *text_len)`.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_client_fetch_if_due(
    cache_path: *const c_char,
    mirrors: *const *const c_char,
    mirrors_len: usize,
    trusted_keys: *const u8,
    trusted_count: usize,
    threshold: usize,
    now_unix: u64,
    text: *mut *mut u8,
    text_len: *mut usize,
    next_fetch_unix: *mut u64,
    source: *mut u32,
) -> u32 {
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<(), Failure> {
        let cache = unsafe { arg_str(cache_path, "cache_path") }?;
        if mirrors.is_null() {
            return Err(null("mirrors"));
        }
        if trusted_keys.is_null() {
            return Err(null("trusted_keys"));
        }
        if text.is_null() {
            return Err(null("text"));
        }
        if text_len.is_null() {
            return Err(null("text_len"));
        }
        if next_fetch_unix.is_null() {
            return Err(null("next_fetch_unix"));
        }
        if source.is_null() {
            return Err(null("source"));
        }
        let mut urls = Vec::with_capacity(mirrors_len.min(1024));
        for i in 0..mirrors_len {
            // SAFETY: `mirrors` points to `mirrors_len` pointers (documented).
            let p = unsafe { *mirrors.add(i) };
            urls.push(unsafe { arg_str(p, &format!("mirrors[{i}]")) }?.to_owned());
        }
        let key_bytes = trusted_count.checked_mul(32).ok_or_else(|| {
            Failure(
                mixmailer_client_status::InvalidArgument,
                "trusted_count is too large".into(),
            )
        })?;
        // SAFETY: `trusted_keys` points to `trusted_count` * 32 bytes (documented).
        let raw = unsafe { std::slice::from_raw_parts(trusted_keys, key_bytes) };
        let trusted: Vec<[u8; 32]> = raw
            .chunks_exact(32)
            .filter_map(|c| c.try_into().ok())
            .collect();
        let now = UNIX_EPOCH
            .checked_add(Duration::from_secs(now_unix))
            .ok_or_else(|| {
                Failure(
                    mixmailer_client_status::InvalidArgument,
                    "now_unix is beyond what the clock can hold".into(),
                )
            })?;
        let client = DirectoryClient::new(urls, trusted, threshold);
        let fetched = client
            .fetch_if_due(Path::new(cache), now)
            .map_err(|e| match e {
                ClientError::NoMirrors | ClientError::Threshold { .. } => {
                    Failure(mixmailer_client_status::InvalidArgument, e.to_string())
                }
                ClientError::Cache { .. } => {
                    Failure(mixmailer_client_status::CacheError, e.to_string())
                }
                ClientError::AllMirrorsFailed(_) => {
                    Failure(mixmailer_client_status::NoDirectory, e.to_string())
                }
            })?;
        let (kind, detail) = match &fetched.source {
            Source::Cache => (mixmailer_client_source::FromCache, String::new()),
            Source::Fetched { mirror } => (
                mixmailer_client_source::Fetched,
                format!("fetched from {mirror}"),
            ),
            Source::CacheAfterFailure(failures) => (
                mixmailer_client_source::CacheAfterFailure,
                failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        LAST_ERROR.with(|e| *e.borrow_mut() = detail);
        let next = unix_secs(fetched.next_fetch);
        let boxed: Box<[u8]> = fetched.text.into_boxed_slice();
        let len = boxed.len();
        // SAFETY: all out-pointers were checked non-NULL above.
        unsafe {
            *text_len = len;
            *text = Box::into_raw(boxed).cast::<u8>();
            *next_fetch_unix = next;
            *source = kind as u32;
        }
        Ok(())
    }));
    match result {
        Ok(Ok(())) => mixmailer_client_status::Ok as u32,
        Ok(Err(Failure(status, detail))) => fail(status, detail),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            fail(mixmailer_client_status::Panic, format!("panic: {message}"))
        }
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Frees a document returned by `mixmailer_client_fetch_if_due`. NULL is fine.
///
/// Ownership: takes `text` back; `text_len` must be the length returned with it.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_client_text_free(text: *mut u8, text_len: usize) {
    if text.is_null() {
        return;
    }
    // SAFETY: `text` and `text_len` came from Box::into_raw of a boxed slice above.
    let slice = std::ptr::slice_from_raw_parts_mut(text, text_len);
    drop(unsafe { Box::from_raw(slice) });
}

/// A static, NUL-terminated name of `status` ("unknown status" for other values).
///
/// Ownership: the string is static; do not free it.
#[no_mangle]
pub extern "C" fn mixmailer_client_status_str(status: u32) -> *const c_char {
    let s: &'static CStr = match status {
        0 => c"ok",
        1 => c"a required pointer argument is NULL",
        2 => c"an argument is out of range",
        3 => c"no valid directory: every mirror failed and the cache holds none",
        4 => c"the cache file cannot be read or written",
        5 => c"internal error (panic) in the directory client",
        _ => c"unknown status",
    };
    s.as_ptr()
}

/// Copies the detail of the last call on this thread (a failure's reason, or
/// after a `CacheAfterFailure` success the mirrors' reasons) into `buffer`,
/// NUL-terminated and cut to `buffer_len`. Returns the bytes the whole
/// detail needs including the NUL, so a caller can retry with a larger buffer.
/// `buffer` may be NULL when `buffer_len` is 0.
///
/// Ownership: the caller owns `buffer`.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_client_last_error(
    buffer: *mut c_char,
    buffer_len: usize,
) -> usize {
    LAST_ERROR.with(|e| {
        let detail = e.borrow();
        let bytes = detail.as_bytes();
        if !buffer.is_null() && buffer_len > 0 {
            let n = bytes.len().min(buffer_len - 1);
            // SAFETY: `buffer` holds `buffer_len` bytes (documented); n < buffer_len.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer.cast::<u8>(), n);
                *buffer.add(n) = 0;
            }
        }
        bytes.len() + 1
    })
}
