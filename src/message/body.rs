//! The body of SPEC 4: recipients and message, raw DEFLATE.

use super::MessageError;

/// Readers refuse bodies that inflate beyond this (SPEC 4).
pub const MAX_INFLATED_BODY: usize = 32 * 1024 * 1024;
/// At most this many envelope recipients (SPEC 4).
pub const MAX_RECIPIENTS: usize = 100;

/// Builds the compressed body from envelope recipients and a sanitized message.
pub fn encode_body(recipients: &[String], message: &[u8]) -> Result<Vec<u8>, MessageError> {
    unimplemented!()
}

/// Inflates (bounded) and splits a body into recipients and message.
pub fn decode_body(body: &[u8]) -> Result<(Vec<String>, Vec<u8>), MessageError> {
    unimplemented!()
}
