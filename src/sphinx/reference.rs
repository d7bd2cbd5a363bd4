//! Packet creation by `sphinx-packet`'s own builder: the reference every
//! faster construction must match byte for byte. Only with the `sample`
//! feature (tests, benchmarks, differential checks): its final-hop padding
//! comes from `sphinx-packet`'s thread RNG, so a seeded sender could not
//! reproduce its packets, and the library's users have no need for it.

use super::construct::PacketHop;
use super::{payload_capacity, InitialSecret, PacketError};
use sphinx_packet::constants::MAX_PATH_LENGTH;
use sphinx_packet::header::delays::Delay;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::SphinxPacketBuilder;
use std::time::Duration;

/// The `sphinx-packet` nodes of `hops`: address = node id, key = node key.
fn sphinx_route(hops: &[PacketHop<'_>]) -> Vec<Node> {
    hops.iter()
        .map(|hop| {
            Node::new(
                NodeAddressBytes::from_bytes(*hop.id),
                x25519_dalek::PublicKey::from(*hop.key),
            )
        })
        .collect()
}

/// SPEC 2: the final hop's destination is 32 zero bytes, identifier 16 zero bytes.
fn final_destination() -> Destination {
    Destination::new(DestinationAddressBytes::from_bytes([0u8; 32]), [0u8; 16])
}

fn to_sphinx_delays(delays: &[Duration]) -> Vec<Delay> {
    delays
        .iter()
        .map(|d| Delay::new_from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
        .collect()
}

/// Builds a packet to `hops` with `SphinxPacketBuilder` (hop tables are
/// not used). Same inputs, same bytes as [`super::build_packet_with_padding`]
/// given the padding `sphinx-packet` drew.
pub fn build_packet_reference(
    initial_secret: &InitialSecret,
    hops: &[PacketHop<'_>],
    payload_size: usize,
    delays: &[Duration],
    plaintext: &[u8],
) -> Result<Vec<u8>, PacketError> {
    let capacity = payload_capacity(payload_size);
    if plaintext.len() > capacity {
        return Err(PacketError::PlaintextTooLong {
            capacity,
            actual: plaintext.len(),
        });
    }
    if hops.is_empty() || hops.len() > MAX_PATH_LENGTH {
        return Err(PacketError::HopCount {
            hops: hops.len(),
            max: MAX_PATH_LENGTH,
        });
    }
    if delays.len() != hops.len() {
        return Err(PacketError::DelayCount {
            hops: hops.len(),
            delays: delays.len(),
        });
    }
    let secret = x25519_dalek::StaticSecret::from(*initial_secret.as_bytes());
    let packet = SphinxPacketBuilder::new()
        .with_payload_size(payload_size)
        .with_initial_secret(&secret)
        .build_packet(
            plaintext,
            &sphinx_route(hops),
            &final_destination(),
            &to_sphinx_delays(delays),
        )?;
    Ok(packet.to_bytes())
}
