//! Packet creation by `sphinx-packet`'s own builder: the reference every
//! faster construction must match byte for byte.

use super::{payload_capacity, InitialSecret, PacketError};
use crate::route::Route;
use sphinx_packet::header::delays::Delay;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::SphinxPacketBuilder;
use std::time::Duration;

/// The `sphinx-packet` nodes of a route: address = node id, key = node key.
pub(crate) fn sphinx_route(route: &Route) -> Vec<Node> {
    route
        .hops()
        .iter()
        .map(|hop| {
            Node::new(
                NodeAddressBytes::from_bytes(*hop.id()),
                x25519_dalek::PublicKey::from(*super::hop_key(hop, route)), // v2-compile-fix
            )
        })
        .collect()
}

/// SPEC 2: the final hop's destination is 32 zero bytes, identifier 16 zero bytes.
pub(crate) fn final_destination() -> Destination {
    Destination::new(DestinationAddressBytes::from_bytes([0u8; 32]), [0u8; 16])
}

pub(crate) fn to_sphinx_delays(delays: &[Duration]) -> Vec<Delay> {
    delays
        .iter()
        .map(|d| Delay::new_from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
        .collect()
}

/// Builds a packet with `SphinxPacketBuilder`.
pub fn build_packet_reference(
    initial_secret: &InitialSecret,
    route: &Route,
    delays: &[Duration],
    plaintext: &[u8],
) -> Result<Vec<u8>, PacketError> {
    let payload_size = route.payload_size();
    let capacity = payload_capacity(payload_size);
    if plaintext.len() > capacity {
        return Err(PacketError::PlaintextTooLong {
            capacity,
            actual: plaintext.len(),
        });
    }
    if delays.len() != route.hops().len() {
        return Err(PacketError::BadRoute(format!(
            "{} hops but {} delays",
            route.hops().len(),
            delays.len()
        )));
    }
    let secret = x25519_dalek::StaticSecret::from(*initial_secret.as_bytes());
    let packet = SphinxPacketBuilder::new()
        .with_payload_size(payload_size)
        .with_initial_secret(&secret)
        .build_packet(
            plaintext,
            &sphinx_route(route),
            &final_destination(),
            &to_sphinx_delays(delays),
        )
        .map_err(|e| PacketError::BadRoute(e.to_string()))?;
    Ok(packet.to_bytes())
}
