//! The one door between C and Rust. Every exported function's body is a
//! single `ffi_boundary!` call (a test in `tests/c_api.rs` checks it):
//! the body runs inside `catch_unwind`, returns `Result<(), Failure>`, and
//! the macro turns that into a status and records the failure's detail
//! for `mixmailer_last_error_message`. NULL pointers are refused by the
//! argument helpers of `args.rs` with `MIXMAILER_STATUS_NULL_PARAMETER`
//! before anything else happens.

use super::failure::Failure;
use super::last_error;
use super::status::mixmailer_status;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Wraps the body of an exported function.
///
/// `ffi_boundary!({ ...; Ok(()) })` for functions returning a status;
/// `ffi_boundary!(fallback = EXPR; { ... })` for the few that return a
/// value (a static string), which return `EXPR` if the body panics.
macro_rules! ffi_boundary {
    (fallback = $fallback:expr; $body:block) => {
        $crate::ffi::boundary::value(move || $body, || $fallback)
    };
    ($body:block) => {
        $crate::ffi::boundary::status(
            move || -> ::std::result::Result<(), $crate::ffi::failure::Failure> { $body },
        )
    };
}

/// Runs `body`; a panic or an error becomes a status and a detail string.
// AssertUnwindSafe: after a panic the C caller gets PANIC and should treat
// the handles of that call as unusable; nothing else observes the state.
pub(crate) fn status<F>(body: F) -> mixmailer_status
where
    F: FnOnce() -> Result<(), Failure>,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => mixmailer_status::Ok,
        Ok(Err(failure)) => {
            last_error::set(&failure.detail);
            failure.status
        }
        Err(payload) => {
            last_error::set(&panic_detail(payload.as_ref()));
            mixmailer_status::Panic
        }
    }
}

/// Runs a body that returns a value; a panic returns `fallback()`.
pub(crate) fn value<T, F, D>(body: F, fallback: D) -> T
where
    F: FnOnce() -> T,
    D: FnOnce() -> T,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            last_error::set(&panic_detail(payload.as_ref()));
            fallback()
        }
    }
}

fn panic_detail(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("internal error, please report it: the library panicked: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail() -> String {
        let mut buf = [0 as std::ffi::c_char; 256];
        let mut written = 0usize;
        let status = unsafe {
            super::super::mixmailer_last_error_message(buf.as_mut_ptr(), buf.len(), &mut written)
        };
        assert_eq!(status, mixmailer_status::Ok);
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_the_panic_status_with_its_message() {
        let status = status(|| panic!("boom in a test"));
        assert_eq!(status, mixmailer_status::Panic);
        assert!(detail().ends_with("the library panicked: boom in a test"));
    }

    #[test]
    fn a_panic_in_a_value_function_returns_the_fallback() {
        let got: u32 = value(|| panic!("{}", String::from("formatted")), || 7);
        assert_eq!(got, 7);
        assert!(detail().ends_with("panicked: formatted"));
    }

    #[test]
    fn a_failure_sets_the_detail_and_success_leaves_it() {
        let failed = status(|| Err(Failure::null("thing")));
        assert_eq!(failed, mixmailer_status::NullParameter);
        assert_eq!(status(|| Ok(())), mixmailer_status::Ok);
        assert_eq!(detail(), "argument `thing` is NULL");
    }
}
