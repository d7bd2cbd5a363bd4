//! Sphinx packets as SPEC 2 fixes them: `sphinx-packet` 0.8, version 260,
//! forward hops addressed by node id, the final hop by 32 zero bytes.
//!
//! This is the bottom layer of packet handling: it knows only the hops it
//! is given ([`PacketHop`]: node id, node key, optional [`HopTable`]), never
//! a directory, a route or a message. Creation goes through
//! [`build_packet_to`] / [`build_packets_to`], our own linear-time
//! construction that writes the same bytes as `sphinx-packet`'s builder
//! (`build_packet_reference`, with the `sample` feature, kept as the
//! reference); processing goes through [`process_packet`], which is
//! `sphinx-packet`'s own code so that every node agrees with every other
//! implementation of the spec. The sender keeps one [`TableCache`] and
//! takes each hop's [`HopTable`] from it.

mod construct;
mod error;
mod header;
mod keys;
mod parallel;
mod payload;
mod process;
#[cfg(feature = "sample")]
mod reference;
mod table;

pub use construct::{build_packet_to, build_packet_with_padding, PacketHop};
pub use error::{Expansion, Fault, PacketError, Primitive};
pub use header::final_padding_len;
pub use parallel::{build_packets_to, PacketInput, PARALLEL_FROM};
pub use payload::MIN_PAYLOAD_SIZE;
pub use process::{process_packet, Processed};
#[cfg(feature = "sample")]
pub use reference::build_packet_reference;
pub use table::{
    HopTable, TableCache, DEFAULT_MAX_KEYS, DEFAULT_MAX_TABLES, TABLE_AFTER_USES, TABLE_BYTES,
};

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
/// Neither `Clone` nor `Debug`: one packet, one secret, wiped when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct InitialSecret([u8; 32]);

impl InitialSecret {
    /// Draws a fresh secret.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut secret = InitialSecret([0u8; 32]);
        rng.fill_bytes(&mut secret.0);
        secret
    }
    /// Wraps raw bytes (tests and differential checks).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        InitialSecret(bytes)
    }
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}
