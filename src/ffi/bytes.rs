//! `mixmailer_bytes`: a byte buffer the library made for C (a carrier
//! email), read with `mixmailer_bytes_data` and freed with
//! `mixmailer_bytes_free`, so C never frees library memory with its own
//! allocator.

use super::args::{arg_ref, free_handle, out};
use super::status::mixmailer_status;

/// An owned byte buffer (opaque).
pub struct mixmailer_bytes {
    pub(crate) data: Vec<u8>,
}

/// The contents of `bytes`: `*data` points to `*len` bytes (not
/// NUL-terminated; `*data` may be non-NULL even when `*len` is 0).
///
/// Ownership: `*data` is borrowed from `bytes` and valid until
/// `mixmailer_bytes_free(bytes)`; do not free it.
///
/// # Safety
/// `bytes` is NULL or a live `mixmailer_bytes`; `data` and `len` are NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_bytes_data(
    bytes: *const mixmailer_bytes,
    data: *mut *const u8,
    len: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        let bytes = unsafe { arg_ref(bytes, "bytes") }?;
        let data = unsafe { out(data, "data") }?;
        let len = unsafe { out(len, "len") }?;
        data.set(bytes.data.as_ptr());
        len.set(bytes.data.len());
        Ok(())
    })
}

/// Frees `bytes`; NULL is fine.
///
/// Ownership: takes `bytes` back from the caller; it and every pointer from
/// `mixmailer_bytes_data` are invalid afterwards.
///
/// # Safety
/// `bytes` is NULL or a live `mixmailer_bytes` not used again.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_bytes_free(bytes: *mut mixmailer_bytes) -> mixmailer_status {
    ffi_boundary!({
        unsafe { free_handle(bytes) };
        Ok(())
    })
}
