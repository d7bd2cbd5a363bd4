//! The C API: what the pEp engine (or any C program) links.
//!
//! `include/mixmailer.h` is generated from this module by cbindgen
//! (`cbindgen.toml`); `tests/c_api.rs` fails when the committed header is
//! stale. The conventions every function follows (docs/c-api.md):
//!
//! - every function is named `mixmailer_*`, returns a [`mixmailer_status`]
//!   (a `uint32_t`, 0 = OK) and runs inside [`ffi_boundary!`], so a panic
//!   becomes `MIXMAILER_STATUS_PANIC` instead of unwinding into C;
//! - every pointer is checked: NULL gives `MIXMAILER_STATUS_NULL_PARAMETER`;
//! - out-parameters are written only when the function returns OK;
//! - byte buffers are a pointer and a `size_t` length; a NULL pointer is
//!   allowed only with length 0;
//! - handles are opaque, created by the library and freed by its `_free`
//!   functions, which accept NULL;
//! - the status of a failure comes with a thread-local detail string
//!   ([`mixmailer_last_error_message`]).
//!
//! Rust callers have no use for this module: it is public only so that the
//! symbols are exported from the static and dynamic libraries.

// The C names are the API; Rust style names would only be renamed back.
#![allow(non_camel_case_types)]

#[macro_use]
mod boundary;
mod args;
mod bytes;
mod directory;
mod failure;
mod last_error;
mod node;
mod outcome;
mod route;
mod status;
mod version;
mod wrap;

pub use bytes::{mixmailer_bytes, mixmailer_bytes_data, mixmailer_bytes_free};
pub use directory::{
    mixmailer_directory, mixmailer_directory_free, mixmailer_directory_hops,
    mixmailer_directory_node_count, mixmailer_directory_parse, mixmailer_directory_payload_size,
};
pub use last_error::{mixmailer_last_error_message, DETAIL_MAX};
pub use node::{
    mixmailer_node, mixmailer_node_add_key, mixmailer_node_address, mixmailer_node_expire,
    mixmailer_node_free, mixmailer_node_new, mixmailer_node_process, mixmailer_node_rotate,
};
pub use outcome::{
    mixmailer_drop_reason, mixmailer_outcome, mixmailer_outcome_delay_ms,
    mixmailer_outcome_deliver_message, mixmailer_outcome_deliver_recipient,
    mixmailer_outcome_deliver_recipient_count, mixmailer_outcome_drop_reason,
    mixmailer_outcome_forward_address, mixmailer_outcome_forward_carrier,
    mixmailer_outcome_forward_delay_ms, mixmailer_outcome_forward_packet,
    mixmailer_outcome_fragments, mixmailer_outcome_free, mixmailer_outcome_get_kind,
    mixmailer_outcome_kind,
};
pub use route::{
    mixmailer_route, mixmailer_route_free, mixmailer_route_from_nicknames,
    mixmailer_route_hop_address, mixmailer_route_hops, mixmailer_route_random,
};
pub use status::{mixmailer_status, mixmailer_status_str};
pub use version::{mixmailer_version, VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH};
pub use wrap::{
    mixmailer_add_date, mixmailer_mix_wrap, mixmailer_mix_wrap_at, mixmailer_onion_list,
    mixmailer_onion_list_carrier_email, mixmailer_onion_list_count, mixmailer_onion_list_first_hop,
    mixmailer_onion_list_free, mixmailer_onion_list_message_id, mixmailer_onion_list_packet,
    mixmailer_onion_list_period,
};
