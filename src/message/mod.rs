//! The message side of SPEC sections 3, 4 and 6: sanitize an RFC 5322
//! message and take its envelope, pack it into the compressed body, and
//! cut the body into erasure-coded fragments (and back).

mod address;
mod body;
mod error;
mod fragment;
mod header;
mod sanitize;

pub use body::{decode_body, encode_body, MAX_INFLATED_BODY, MAX_RECIPIENTS};
pub use error::MessageError;
pub use fragment::{
    fragment_body, max_body_len, reassemble, shard_size, Fragment, Redundancy, FRAGMENT_HEADER_LEN,
    FRAGMENT_VERSION,
};
pub use sanitize::{add_date, is_kept_field, sanitize, sanitize_for_delivery, Sanitized};
