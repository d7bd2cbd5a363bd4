//! Our packet construction: key derivation, header and payload put
//! together, checked the way `sphinx-packet`'s builder checks its inputs.

use super::error::{Expansion, Fault};
use super::header::{build_header, final_padding_len};
use super::keys::derive;
use super::payload::{encrypt_payload, MIN_PAYLOAD_SIZE};
use super::table::{HopPoint, HopTable};
use super::{payload_capacity, InitialSecret, PacketError, HEADER_LEN};
use hkdf::Hkdf;
use sha2::Sha256;
use sphinx_packet::constants::MAX_PATH_LENGTH;
use std::time::Duration;
use zeroize::Zeroizing;

/// Domain of the final hop's padding, derived from the initial secret.
const PADDING_SALT: &[u8] = b"mixmailer sphinx final-hop padding v1";

/// One hop of a route as packet creation sees it.
#[derive(Clone, Copy, Debug)]
pub struct PacketHop<'a> {
    /// Node id (SHA-256 of the key): the address the previous hop forwards to.
    pub id: &'a [u8; 32],
    /// The node's X25519 public key.
    pub key: &'a [u8; 32],
    /// Per-node precomputation to use and fill, if the caller keeps one.
    pub table: Option<&'a HopTable>,
}

/// Builds one packet to `hops` with payload size `payload_size`; the final
/// hop's padding is derived from the initial secret, so the same inputs
/// always give the same bytes.
pub fn build_packet_to(
    initial_secret: &InitialSecret,
    hops: &[PacketHop<'_>],
    payload_size: usize,
    delays: &[Duration],
    plaintext: &[u8],
) -> Result<Vec<u8>, PacketError> {
    check_route(hops, delays)?;
    let padding = final_padding(initial_secret, hops.len())?;
    build_packet_with_padding(
        initial_secret,
        hops,
        payload_size,
        delays,
        plaintext,
        &padding,
    )
}

/// Builds one packet with every input explicit, including the final hop's
/// padding of [`final_padding_len`] bytes that `sphinx-packet` draws from
/// the thread RNG. It exists to reproduce a packet made by another
/// implementation byte for byte; the padding must be secret and
/// unpredictable (it hides the route length from the exit), so anything
/// else should call [`build_packet_to`].
pub fn build_packet_with_padding(
    initial_secret: &InitialSecret,
    hops: &[PacketHop<'_>],
    payload_size: usize,
    delays: &[Duration],
    plaintext: &[u8],
    padding: &[u8],
) -> Result<Vec<u8>, PacketError> {
    check_route(hops, delays)?;
    if payload_size < MIN_PAYLOAD_SIZE {
        return Err(PacketError::PayloadTooSmall {
            minimum: MIN_PAYLOAD_SIZE,
            actual: payload_size,
        });
    }
    let capacity = payload_capacity(payload_size);
    if plaintext.len() > capacity {
        return Err(PacketError::PlaintextTooLong {
            capacity,
            actual: plaintext.len(),
        });
    }
    let expected = final_padding_len(hops.len());
    if padding.len() != expected {
        return Err(PacketError::PaddingLength {
            expected,
            actual: padding.len(),
        });
    }

    let points = hops
        .iter()
        .enumerate()
        .map(|(i, hop)| {
            match hop.table {
                Some(table) => table.hop_point(hop.key),
                None => HopPoint::uncached(hop.key),
            }
            .ok_or(PacketError::KeyNotOnCurve { hop: i })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys = derive(initial_secret.as_bytes(), &points)?;
    let ids: Vec<&[u8; 32]> = hops.iter().map(|hop| hop.id).collect();
    let header = build_header(&keys.alpha, &ids, &keys.hops, delays, padding)?;

    let mut packet = vec![0u8; HEADER_LEN + payload_size];
    let (head, payload) = packet.split_at_mut(HEADER_LEN);
    head.copy_from_slice(&header);
    let seeds: Vec<&[u8; 16]> = keys.hops.iter().map(|hop| &hop.payload_seed).collect();
    encrypt_payload(payload, plaintext, &seeds)?;
    Ok(packet)
}

/// 1..=5 hops and one delay per hop, as `sphinx-packet` requires.
fn check_route(hops: &[PacketHop<'_>], delays: &[Duration]) -> Result<(), PacketError> {
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
    Ok(())
}

/// The final hop's padding: HKDF-SHA256 of the initial secret under a
/// salt of its own. Pseudorandom to everyone but the sender, as the
/// padding must be, and a function of the inputs, so that a seeded sender
/// builds the same packets whether it builds them in sequence or in parallel.
fn final_padding(
    initial_secret: &InitialSecret,
    hops: usize,
) -> Result<Zeroizing<Vec<u8>>, PacketError> {
    let mut padding = Zeroizing::new(vec![0u8; final_padding_len(hops)]);
    Hkdf::<Sha256>::new(Some(PADDING_SALT), initial_secret.as_bytes())
        .expand(b"", &mut padding)
        .map_err(|_| Fault::KeyExpansion(Expansion::Padding))?;
    Ok(padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x25519_dalek::{PublicKey, StaticSecret};

    struct Node {
        id: [u8; 32],
        key: [u8; 32],
    }

    fn nodes(n: u8) -> Vec<Node> {
        (1..=n)
            .map(|i| Node {
                id: [i; 32],
                key: PublicKey::from(&StaticSecret::from([i; 32])).to_bytes(),
            })
            .collect()
    }

    fn hops(nodes: &[Node]) -> Vec<PacketHop<'_>> {
        nodes
            .iter()
            .map(|n| PacketHop {
                id: &n.id,
                key: &n.key,
                table: None,
            })
            .collect()
    }

    fn build(
        nodes: &[Node],
        payload_size: usize,
        delays: usize,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, PacketError> {
        build_packet_to(
            &InitialSecret::from_bytes([9; 32]),
            &hops(nodes),
            payload_size,
            &vec![Duration::ZERO; delays],
            plaintext,
        )
    }

    #[test]
    fn empty_and_overlong_routes_are_refused() {
        assert!(matches!(
            build(&[], 1024, 0, b""),
            Err(PacketError::HopCount { hops: 0, max: 5 })
        ));
        assert!(matches!(
            build(&nodes(6), 1024, 6, b""),
            Err(PacketError::HopCount { hops: 6, max: 5 })
        ));
    }

    #[test]
    fn a_delay_per_hop_is_required() {
        let err = build(&nodes(3), 1024, 2, b"").unwrap_err();
        assert!(matches!(
            err,
            PacketError::DelayCount { hops: 3, delays: 2 }
        ));
        assert_eq!(
            err.to_string(),
            "3 hops but 2 delays: a packet needs one delay per hop"
        );
    }

    #[test]
    fn plaintext_over_capacity_is_refused_and_capacity_fits() {
        let full = vec![1u8; 1024 - 17];
        assert_eq!(
            build(&nodes(2), 1024, 2, &full).unwrap().len(),
            HEADER_LEN + 1024
        );
        let over = vec![1u8; 1024 - 16];
        assert!(matches!(
            build(&nodes(2), 1024, 2, &over),
            Err(PacketError::PlaintextTooLong {
                capacity: 1007,
                actual: 1008
            })
        ));
    }

    #[test]
    fn payloads_too_small_for_lioness_are_refused() {
        assert!(matches!(
            build(&nodes(1), 32, 1, b""),
            Err(PacketError::PayloadTooSmall {
                minimum: 33,
                actual: 32
            })
        ));
        assert!(build(&nodes(1), 33, 1, b"").is_ok());
    }

    #[test]
    fn padding_of_the_wrong_length_is_refused() {
        let nodes = nodes(5);
        let err = build_packet_with_padding(
            &InitialSecret::from_bytes([9; 32]),
            &hops(&nodes),
            1024,
            &[Duration::ZERO; 5],
            b"",
            &[0; 9],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            PacketError::PaddingLength {
                expected: 8,
                actual: 9
            }
        ));
    }

    #[test]
    fn a_key_off_the_curve_names_its_hop() {
        let mut nodes = nodes(3);
        nodes[1].key = (2u8..)
            .map(|u| {
                let mut key = [0u8; 32];
                key[0] = u;
                key
            })
            .find(|k| {
                curve25519_dalek::MontgomeryPoint(*k)
                    .to_edwards(0)
                    .is_none()
            })
            .unwrap();
        assert!(matches!(
            build(&nodes, 1024, 3, b""),
            Err(PacketError::KeyNotOnCurve { hop: 1 })
        ));
    }

    #[test]
    fn padding_lengths_shrink_by_sixty_bytes_a_hop() {
        let lens: Vec<usize> = (1..=5).map(final_padding_len).collect();
        assert_eq!(lens, [248, 188, 128, 68, 8]);
    }
}
