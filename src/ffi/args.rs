//! Reading C arguments: every pointer is checked for NULL (giving
//! `NULL_PARAMETER` with the argument's name) and every length for
//! sanity before Rust sees a reference or a slice.

use super::failure::Failure;
use std::ffi::{c_char, CStr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A shared reference to a handle or value C passed in.
///
/// # Safety
/// `ptr` is NULL or points to a live, properly aligned `T` not mutated for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: non-NULL and valid by the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// An exclusive reference to a handle C passed in.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` nothing else uses for `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: non-NULL and exclusive by the caller's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// A byte buffer given as pointer and length; NULL is allowed with length 0.
///
/// # Safety
/// Unless NULL, `ptr` points to `len` readable bytes that live for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::null(name))
        };
    }
    if isize::try_from(len).is_err() {
        return Err(Failure::invalid(
            name,
            format!("length {len} is impossible"),
        ));
    }
    // SAFETY: non-NULL, length checked against isize::MAX, readable by contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An array of `count` values of `T` (NULL allowed with count 0).
///
/// # Safety
/// Unless NULL, `ptr` points to `count` initialized values of `T` that live for `'a`.
pub(crate) unsafe fn arg_array<'a, T>(
    ptr: *const T,
    count: usize,
    name: &str,
) -> Result<&'a [T], Failure> {
    if ptr.is_null() {
        return if count == 0 {
            Ok(&[])
        } else {
            Err(Failure::null(name))
        };
    }
    if !ptr.is_aligned() {
        return Err(Failure::invalid(name, "pointer is not aligned"));
    }
    let fits = count
        .checked_mul(std::mem::size_of::<T>())
        .is_some_and(|bytes| isize::try_from(bytes).is_ok());
    if !fits {
        return Err(Failure::invalid(
            name,
            format!("count {count} is impossible"),
        ));
    }
    // SAFETY: non-NULL, aligned, size checked, initialized by contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// A NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated by contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map_err(|e| Failure::invalid(name, format!("not UTF-8 ({e})")))
}

/// Seconds since 1970 as a time, refusing what the clock cannot hold.
pub(crate) fn arg_time(unix_seconds: u64, name: &str) -> Result<SystemTime, Failure> {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(unix_seconds))
        .ok_or_else(|| Failure::invalid(name, format!("{unix_seconds} s is beyond the clock")))
}

/// An out-parameter: checked for NULL when the call starts, written only
/// by [`Out::set`] once everything else succeeded.
pub(crate) struct Out<'a, T: Copy> {
    // Kept raw: C may hand over uninitialized memory, which a `&mut T`
    // must not point to.
    ptr: std::ptr::NonNull<T>,
    _lifetime: std::marker::PhantomData<&'a mut T>,
}

impl<T: Copy> Out<'_, T> {
    pub(crate) fn set(self, value: T) {
        // SAFETY: non-NULL and aligned (checked in `out`), writable by the
        // caller's contract; `write` neither reads nor drops the old value.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

/// Checks an out-parameter.
///
/// # Safety
/// `ptr` is NULL or points to memory writable as a `T` for `'a`.
pub(crate) unsafe fn out<'a, T: Copy>(ptr: *mut T, name: &str) -> Result<Out<'a, T>, Failure> {
    let ptr = std::ptr::NonNull::new(ptr).ok_or_else(|| Failure::null(name))?;
    if !ptr.as_ptr().is_aligned() {
        return Err(Failure::invalid(name, "pointer is not aligned"));
    }
    Ok(Out {
        ptr,
        _lifetime: std::marker::PhantomData,
    })
}

/// Moves `value` to the heap for C to hold.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`]; NULL is fine.
///
/// # Safety
/// `ptr` is NULL or came from `into_handle::<T>` and is not used again.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: made by Box::into_raw and given back exactly once by contract.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A mailbox for a header field we write (`From:` of a carrier email):
/// a CR or LF in it would let the caller inject header fields.
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_mailbox(
    ptr: *const c_char,
    name: &str,
) -> Result<crate::message::Mailbox, Failure> {
    let text = unsafe { arg_str(ptr, name) }?;
    crate::message::Mailbox::parse(text).map_err(|e| Failure::invalid(name, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::mixmailer_status as S;

    #[test]
    fn null_buffers_are_empty_only_with_length_zero() {
        let empty = unsafe { arg_bytes(std::ptr::null(), 0, "b") }.unwrap();
        assert!(empty.is_empty());
        let err = unsafe { arg_bytes(std::ptr::null(), 1, "b") }.unwrap_err();
        assert_eq!(
            (err.status, err.detail.as_str()),
            (S::NullParameter, "argument `b` is NULL")
        );
    }

    #[test]
    fn impossible_lengths_are_refused_before_a_slice_is_made() {
        let byte = 0u8;
        let err = unsafe { arg_bytes(&byte, usize::MAX, "b") }.unwrap_err();
        assert_eq!(err.status, S::InvalidArgument);
        let key = [0u8; 32];
        let err = unsafe { arg_array(&key, usize::MAX / 16, "keys") }.unwrap_err();
        assert_eq!(err.status, S::InvalidArgument);
    }

    #[test]
    fn times_beyond_the_clock_are_refused() {
        assert_eq!(
            arg_time(u64::MAX, "now").unwrap_err().status,
            S::InvalidArgument
        );
        assert_eq!(arg_time(0, "now").unwrap(), UNIX_EPOCH);
    }

    #[test]
    fn mailboxes_with_line_breaks_are_refused() {
        for bad in [c"a@b\r\nBcc: c@d", c"a@b\n", c""] {
            let err = unsafe { arg_mailbox(bad.as_ptr(), "from") }.unwrap_err();
            assert_eq!(err.status, S::InvalidArgument, "{bad:?}");
        }
        assert_eq!(
            unsafe { arg_mailbox(c"a@b".as_ptr(), "from") }
                .unwrap()
                .as_str(),
            "a@b"
        );
    }

    #[test]
    fn out_parameters_are_written_only_by_set() {
        let mut slot = 7usize;
        // Checked but never set, as when a call fails after its checks.
        let _checked = unsafe { out(&mut slot, "slot") }.unwrap();
        assert_eq!(slot, 7);
        unsafe { out(&mut slot, "slot") }.unwrap().set(9);
        assert_eq!(slot, 9);
        let err = unsafe { out::<usize>(std::ptr::null_mut(), "slot") }
            .err()
            .unwrap();
        assert_eq!(err.status, S::NullParameter);
    }
}
