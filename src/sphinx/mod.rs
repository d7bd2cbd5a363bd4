//! Sphinx packets as SPEC 2 fixes them: `sphinx-packet` 0.8, version 260,
//! forward hops addressed by node id, the final hop by 32 zero bytes.
//!
//! Creation goes through [`build_packet`], our own linear-time construction
//! that writes the same bytes as `sphinx-packet`'s builder
//! ([`build_packet_reference`], kept as the reference); processing goes
//! through [`process_packet`], which is `sphinx-packet`'s own code so that
//! every node agrees with every other implementation of the spec.

mod construct;
mod error;
mod header;
mod keys;
mod parallel;
mod payload;
mod process;
mod reference;
mod table;

pub use construct::{build_packet_to, build_packet_with_padding, PacketHop};
pub use error::PacketError;
pub use header::final_padding_len;
pub use parallel::{build_packets, build_packets_to, PacketInput};
pub use payload::MIN_PAYLOAD_SIZE;
pub use process::{process_packet, Processed};
pub use reference::build_packet_reference;
pub use table::{live_tables, HopTable, MAX_LIVE_TABLES, TABLE_AFTER_USES, TABLE_BYTES};

use crate::route::Route;
use std::time::Duration;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Size of a Sphinx header for routes of up to 5 hops.
pub const HEADER_LEN: usize = sphinx_packet::header::HEADER_SIZE;
/// Sphinx payload overhead: 16 zero bytes in front, one marker byte after.
pub const PAYLOAD_OVERHEAD: usize = sphinx_packet::payload::PAYLOAD_OVERHEAD_SIZE;

/// Length of a packet on the wire: header plus payload.
pub fn packet_len(payload_size: usize) -> usize {
    HEADER_LEN + payload_size
}

/// Plaintext capacity C of a payload of `payload_size` bytes.
pub fn payload_capacity(payload_size: usize) -> usize {
    payload_size.saturating_sub(PAYLOAD_OVERHEAD)
}

/// The sender's per-packet ephemeral X25519 secret (x0 in the Sphinx paper).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct InitialSecret([u8; 32]);

impl InitialSecret {
    /// Draws a fresh secret.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        InitialSecret(bytes)
    }
    /// Wraps raw bytes (tests and differential checks).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        InitialSecret(bytes)
    }
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Builds one packet along `route` carrying `plaintext` (at most C bytes),
/// with `delays[i]` written for hop i. The same inputs give the same bytes.
pub fn build_packet(
    initial_secret: &InitialSecret,
    route: &Route,
    delays: &[Duration],
    plaintext: &[u8],
) -> Result<Vec<u8>, PacketError> {
    build_packet_to(
        initial_secret,
        &route_hops(route),
        route.payload_size(),
        delays,
        plaintext,
    )
}

/// The hops of `route` with their keys for the current period.
fn route_hops(route: &Route) -> Vec<PacketHop<'_>> {
    route
        .hops()
        .iter()
        .map(|hop| PacketHop {
            id: hop.id(),
            key: hop_key(hop, route),
            table: None, // v2-compile-fix: NodeEntry keeps no table any more
        })
        .collect()
}

// v2-compile-fix: the key of the wall clock's period, else the directory's
// first; the coordinator's wrap passes P(t) explicitly.
pub(crate) fn hop_key<'a>(hop: &'a crate::directory::NodeEntry, route: &Route) -> &'a [u8; 32] {
    const NO_KEY: [u8; 32] = [0; 32];
    let period = crate::period::period_of(std::time::SystemTime::now(), route.key_period());
    hop.key_for(period)
        .or_else(|| hop.keys().first().map(|k| &k.key))
        .unwrap_or(&NO_KEY)
}
