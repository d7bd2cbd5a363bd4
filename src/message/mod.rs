//! The message side of SPEC sections 3, 4 and 6: sanitize an RFC 5322
//! message and take its envelope, pack it into the compressed body, and
//! cut the body into erasure-coded fragments (and back).
//!
//! Sender: [`prepare_outgoing`] then [`encode_body`] and [`fragment_body`].
//! Exit: [`reassemble`], [`decode_body`], [`check_delivery_cost`],
//! [`prepare_delivery`], and [`add_date`] when the message is handed to
//! the MTA.

mod address;
mod body;
mod delivery;
mod edit;
mod error;
mod fragment;
mod header;
mod mailbox;
mod mime;
mod outgoing;
mod policy;
mod random_id;
mod sanitize;

pub use body::{
    check_delivery_cost, decode_body, encode_body, MAX_DELIVERY_BYTES, MAX_INFLATED_BODY,
    MAX_INFLATION_RATIO, MAX_RECIPIENTS, RATIO_FREE_SIZE,
};
pub use delivery::{prepare_delivery, prepare_delivery_with, MAX_AUTHOR_NAME};
pub use error::{DeflateError, InflateError, MessageError};
pub use fragment::{
    fragment_body, max_body_len, reassemble, shard_size, Fragment, Redundancy, FRAGMENT_HEADER_LEN,
    FRAGMENT_VERSION,
};
pub use header::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS};
pub use mailbox::{check_deliverable, Mailbox, Undeliverable};
pub use outgoing::{prepare_outgoing, Outgoing};
pub use policy::is_kept_field;
pub use sanitize::{add_date, sanitize, sanitize_for_delivery, Sanitized};
