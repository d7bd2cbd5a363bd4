//! Header policy of SPEC 6.

use super::MessageError;
use std::time::SystemTime;

/// A message after the header policy: what is sent, to whom, and what was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sanitized {
    /// The message with only the kept fields, CRLF line endings, body byte for byte.
    pub message: Vec<u8>,
    /// Envelope recipients from To, Cc and Bcc (bare addresses, de-duplicated, in order).
    pub recipients: Vec<String>,
    /// Names of the removed fields, in order of appearance (for the demo's trace).
    pub removed: Vec<String>,
}

/// Applies SPEC 6 to `message`. Errors if it is not RFC 5322, has no From, or no recipient.
pub fn sanitize(message: &[u8]) -> Result<Sanitized, MessageError> {
    unimplemented!()
}

/// Prepends `Date: <now in RFC 5322 form, +0000>` to a sanitized message (the exit's step).
pub fn add_date(message: &[u8], now: SystemTime) -> Vec<u8> {
    unimplemented!()
}
