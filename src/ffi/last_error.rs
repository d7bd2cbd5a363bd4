//! The detail of the last failure on this thread.
//!
//! A status says what kind of thing went wrong; the detail says which
//! (the directory line, the header, the argument). It is kept per thread,
//! like `errno`, because the pEp engine calls from several threads and a
//! per-handle slot would not exist for failed constructors. C reads it by
//! copying into its own buffer: no pointer into library memory can dangle.

use super::args::{out, Out};
use super::failure::Failure;
use super::status::mixmailer_status;
use std::cell::RefCell;
use std::ffi::c_char;

/// Bytes a buffer needs to hold any detail with its NUL (`MIXMAILER_DETAIL_MAX`).
pub const DETAIL_MAX: usize = 1024;

thread_local! {
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `detail`, cut to fit `DETAIL_MAX` with its NUL, without NULs inside.
pub(crate) fn set(detail: &str) {
    let mut clean: String = detail.chars().filter(|c| *c != '\0').collect();
    truncate_at_char(&mut clean, DETAIL_MAX - 1);
    // `try_with`: during thread teardown the slot may be gone; the status
    // still tells the caller what happened.
    let _ = LAST.try_with(|last| *last.borrow_mut() = clean);
}

fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// Copies the detail of the most recent failed `mixmailer_*` call on this
/// thread into `buf` as a NUL-terminated UTF-8 string (the empty string if
/// no call failed yet). Successful calls leave the detail unchanged, so
/// read it right after the failing call. A buffer of `MIXMAILER_DETAIL_MAX`
/// bytes always holds the whole detail; a smaller one gets it cut at a
/// character boundary, still NUL-terminated. `*written` receives the bytes
/// copied, not counting the NUL. `len` must be at least 1.
///
/// Ownership: `buf` and `written` belong to the caller; nothing is kept.
///
/// # Safety
/// `buf` is NULL or points to `len` writable bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mixmailer_last_error_message(
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> mixmailer_status {
    ffi_boundary!({
        if buf.is_null() {
            return Err(Failure::null("buf"));
        }
        let written: Out<usize> = unsafe { out(written, "written") }?;
        if len == 0 {
            return Err(Failure::invalid(
                "len",
                "a buffer of 0 bytes cannot hold the NUL",
            ));
        }
        let mut detail = LAST.with(|last| last.borrow().clone());
        truncate_at_char(&mut detail, len - 1);
        // SAFETY: `buf` is non-NULL and the caller promises `len` writable
        // bytes; we write `detail.len() + 1 <= len` of them.
        unsafe {
            std::ptr::copy_nonoverlapping(detail.as_ptr(), buf.cast::<u8>(), detail.len());
            buf.add(detail.len()).write(0);
        }
        written.set(detail.len());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_buffer_gets_a_cut_nul_terminated_detail() {
        set("détail of a failure");
        let mut buf = [1 as c_char; 3];
        let mut written = 99;
        let status = unsafe { mixmailer_last_error_message(buf.as_mut_ptr(), 3, &mut written) };
        assert_eq!(status, mixmailer_status::Ok);
        // "dé" would be 3 bytes: only "d" fits before the NUL.
        assert_eq!(written, 1);
        assert_eq!(buf[..2], [b'd' as c_char, 0]);
    }

    #[test]
    fn long_details_are_cut_to_the_documented_maximum() {
        set(&"x".repeat(5000));
        let mut buf = vec![0 as c_char; DETAIL_MAX + 10];
        let mut written = 0;
        let status =
            unsafe { mixmailer_last_error_message(buf.as_mut_ptr(), buf.len(), &mut written) };
        assert_eq!(status, mixmailer_status::Ok);
        assert_eq!(written, DETAIL_MAX - 1);
    }

    #[test]
    fn a_zero_length_buffer_is_refused_and_left_alone() {
        set("kept");
        let mut buf = [7 as c_char; 1];
        let mut written = 42;
        let status = unsafe { mixmailer_last_error_message(buf.as_mut_ptr(), 0, &mut written) };
        assert_eq!(status, mixmailer_status::InvalidArgument);
        assert_eq!((buf[0], written), (7, 42));
    }
}
