//! Our packet construction: key derivation, header and payload put
//! together, checked the way `sphinx-packet`'s builder checks its inputs.

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
/// always give the same bytes. What [`super::build_packet`] does for a route.
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
        return Err(PacketError::BadRoute(format!(
            "{} hops, a route has 1 to {MAX_PATH_LENGTH}",
            hops.len()
        )));
    }
    if delays.len() != hops.len() {
        return Err(PacketError::BadRoute(format!(
            "{} hops but {} delays",
            hops.len(),
            delays.len()
        )));
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
        .map_err(|e| PacketError::Sphinx(format!("padding expansion: {e}")))?;
    Ok(padding)
}
