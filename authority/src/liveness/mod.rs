//! Liveness: probes through the mixnet to the authority's own mailbox
//! (docs/authority.md section 7).

pub mod attribution;
pub mod maildir;
pub mod plan;
pub mod send;
