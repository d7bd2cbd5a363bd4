//! MixMailer directory authority (SPEC 7 and 8, docs/authority.md):
//! collects node descriptors over HTTP, tests nodes through the mixnet,
//! votes, computes the consensus with its peers, signs and publishes it.

#![deny(missing_docs)]

pub mod authority;
pub mod config;
pub mod consensus;
pub mod http;
pub mod intake;
pub mod keyfile;
pub mod liveness;
pub mod schedule;
pub mod store;
pub mod vote;
