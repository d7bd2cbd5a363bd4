//! The library version, for C callers that want to check what they linked
//! against the header they compiled with (`MIXMAILER_VERSION_MAJOR` ...,
//! written into the header by `cbindgen.toml`; a test keeps them equal).

use std::ffi::c_char;

/// Major version of this library (Cargo's).
pub const VERSION_MAJOR: u32 = parse(env!("CARGO_PKG_VERSION_MAJOR"));
/// Minor version of this library.
pub const VERSION_MINOR: u32 = parse(env!("CARGO_PKG_VERSION_MINOR"));
/// Patch version of this library.
pub const VERSION_PATCH: u32 = parse(env!("CARGO_PKG_VERSION_PATCH"));

const fn parse(digits: &str) -> u32 {
    let bytes = digits.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The version of the linked library as a static NUL-terminated string,
/// `"MAJOR.MINOR.PATCH"`. Compare with the `MIXMAILER_VERSION_*` macros to
/// detect a header and library from different releases.
///
/// Ownership: the returned string is static; never free it.
#[no_mangle]
pub extern "C" fn mixmailer_version() -> *const c_char {
    ffi_boundary!(fallback = c"".as_ptr(); { VERSION.as_ptr().cast() })
}
