//! One node's processing of one packet, by `sphinx-packet` itself.

use super::{packet_len, PacketError};
use crate::keys::NodeSecretKey;
use sphinx_packet::{ProcessedPacketData, SphinxPacket};
use std::time::Duration;

/// What unwrapping one layer gave.
pub enum Processed {
    /// Send `packet` to the node whose id is `next_id` after `delay`.
    Forward {
        /// Replay tag of the packet as received.
        replay_tag: [u8; 32],
        /// Next node's id.
        next_id: [u8; 32],
        /// Delay the sender chose for this hop.
        delay: Duration,
        /// The packet for the next hop.
        packet: Vec<u8>,
    },
    /// This node is the exit: `plaintext` is the fragment (C bytes).
    Final {
        /// Replay tag of the packet as received.
        replay_tag: [u8; 32],
        /// The payload plaintext.
        plaintext: Vec<u8>,
    },
}

/// Unwraps one layer of `bytes` with `key`, for a network of payload size `payload_size`.
pub fn process_packet(
    key: &NodeSecretKey,
    bytes: &[u8],
    payload_size: usize,
) -> Result<Processed, PacketError> {
    let expected = packet_len(payload_size);
    if bytes.len() != expected {
        return Err(PacketError::WrongLength {
            expected,
            actual: bytes.len(),
        });
    }
    let packet = SphinxPacket::from_bytes(bytes)?;
    let secret = key.to_static_secret();
    let expanded = packet.header.compute_expanded_shared_secret(&secret);
    let replay_tag = *expanded.replay_tag();
    packet
        .header
        .ensure_header_integrity(&expanded)
        .map_err(|_| PacketError::HeaderMac)?;
    let processed = packet.process_with_expanded_secret(&expanded)?;
    match processed.data {
        ProcessedPacketData::ForwardHop {
            next_hop_packet,
            next_hop_address,
            delay,
        } => Ok(Processed::Forward {
            replay_tag,
            next_id: *next_hop_address.as_bytes(),
            delay: delay.to_duration(),
            packet: next_hop_packet.to_bytes(),
        }),
        ProcessedPacketData::FinalHop {
            destination,
            identifier,
            payload,
        } => {
            if destination.as_bytes() != [0u8; 32] || identifier != [0u8; 16] {
                return Err(PacketError::UnsupportedDestination);
            }
            let plaintext = payload
                .recover_plaintext()
                .map_err(|_| PacketError::PayloadIntegrity)?;
            Ok(Processed::Final {
                replay_tag,
                plaintext,
            })
        }
    }
}
