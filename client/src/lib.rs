//! MixMailer directory client: gets the signed directory (SPEC 1) from a
//! list of mirrors (SPEC 8), verifies it, keeps the last valid one on disk
//! and says when to fetch again (docs/authority.md section 9).
//!
//! One call does everything and starts no threads, so a pEp app calls it
//! from its own loop: [`DirectoryClient::fetch_if_due`] in Rust,
//! `mixmailer_client_fetch_if_due` in C (`include/mixmailer_client.h`).
//! The network code lives here, never in the `mixmailer` library.

#![deny(missing_docs)]

mod cache;
mod error;
mod fetch;
pub mod ffi;
pub mod schedule;

pub use error::{ClientError, MirrorError};
pub use fetch::{DirectoryClient, Fetched, Source, CURRENT_PATH};
