//! The Sphinx header: alpha_0, the first hop's MAC and the layered routing
//! information, laid out exactly as `sphinx-packet` 0.8 writes it.
//!
//! Routing information is built from the inside out: the final hop's block
//! (flag, version, zero destination and identifier, padding) followed by
//! the filler, then one forward block per earlier hop, each encrypted with
//! that hop's AES-128-CTR keystream and authenticated by a truncated
//! HMAC-SHA256 that the previous hop forwards.

use super::error::{Fault, Primitive};
use super::keys::HopSecrets;
use super::PacketError;
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sphinx_packet::constants::{
    DELAY_LENGTH, DESTINATION_ADDRESS_LENGTH, FINAL_NODE_META_INFO_LENGTH,
    HEADER_INTEGRITY_MAC_SIZE, IDENTIFIER_LENGTH, MAX_PATH_LENGTH, NODE_ADDRESS_LENGTH,
    STREAM_CIPHER_OUTPUT_LENGTH,
};
use sphinx_packet::crypto::STREAM_CIPHER_INIT_VECTOR;
use sphinx_packet::header::filler::FILLER_STEP_SIZE_INCREASE;
use sphinx_packet::header::routing::{
    ENCRYPTED_ROUTING_INFO_SIZE, FINAL_HOP, FORWARD_HOP, TRUNCATED_ROUTING_INFO_SIZE,
};
use sphinx_packet::header::HEADER_SIZE;
use sphinx_packet::version::CURRENT_VERSION;
use std::time::Duration;
use zeroize::Zeroizing;

type Aes128Ctr = ctr::Ctr64BE<aes::Aes128>;
type Keystream = Zeroizing<[u8; STREAM_CIPHER_OUTPUT_LENGTH]>;
type RoutingInfo = [u8; ENCRYPTED_ROUTING_INFO_SIZE];
type Mac16 = [u8; HEADER_INTEGRITY_MAC_SIZE];

/// Random bytes the final hop's block needs on a route of `hops` hops:
/// what the routing information leaves after the filler and the final
/// hop's fields.
pub fn final_padding_len(hops: usize) -> usize {
    ENCRYPTED_ROUTING_INFO_SIZE
        .saturating_sub(FILLER_STEP_SIZE_INCREASE * hops.saturating_sub(1))
        .saturating_sub(FINAL_NODE_META_INFO_LENGTH)
}

/// The 348 header bytes for hops with node ids `ids` and keys `secrets`.
/// Callers have checked that there are 1..=5 hops, one id, secret and
/// delay each, and a padding of [`final_padding_len`] bytes.
pub(crate) fn build_header(
    alpha: &[u8; 32],
    ids: &[&[u8; 32]],
    secrets: &[HopSecrets],
    delays: &[Duration],
    padding: &[u8],
) -> Result<[u8; HEADER_SIZE], PacketError> {
    let n = secrets.len();
    if n == 0 || n > MAX_PATH_LENGTH || ids.len() != n {
        return Err(PacketError::HopCount {
            hops: if ids.len() == n { n } else { ids.len() },
            max: MAX_PATH_LENGTH,
        });
    }
    if delays.len() != n {
        return Err(PacketError::DelayCount {
            hops: n,
            delays: delays.len(),
        });
    }
    let keystreams: Vec<Keystream> = secrets.iter().map(keystream).collect();

    let filler_len = FILLER_STEP_SIZE_INCREASE * (n - 1);
    let final_len = ENCRYPTED_ROUTING_INFO_SIZE - filler_len;
    let mut beta: RoutingInfo = [0; ENCRYPTED_ROUTING_INFO_SIZE];
    write_final_block(&mut beta[..final_len], padding)?;
    xor_into(&mut beta[..final_len], &keystreams[n - 1][..final_len]);
    beta[final_len..].copy_from_slice(&filler(&keystreams[..n - 1])[..filler_len]);
    let mut mac = header_mac(&secrets[n - 1].mac_key, &beta)?;

    for i in (0..n - 1).rev() {
        let mut block: RoutingInfo = [0; ENCRYPTED_ROUTING_INFO_SIZE];
        let mut at = 0;
        for field in [
            &[FORWARD_HOP][..],
            &CURRENT_VERSION.to_bytes(),
            ids[i + 1],
            &delay_bytes(delays[i]),
            &mac,
            &beta[..TRUNCATED_ROUTING_INFO_SIZE],
        ] {
            block[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        xor_into(&mut block, &keystreams[i][..ENCRYPTED_ROUTING_INFO_SIZE]);
        beta = block;
        mac = header_mac(&secrets[i].mac_key, &beta)?;
    }

    let mut header = [0u8; HEADER_SIZE];
    header[..32].copy_from_slice(alpha);
    header[32..32 + HEADER_INTEGRITY_MAC_SIZE].copy_from_slice(&mac);
    header[32 + HEADER_INTEGRITY_MAC_SIZE..].copy_from_slice(&beta);
    Ok(header)
}

/// The final hop's plaintext block: flag, version, destination and
/// identifier (all zero, SPEC 2), then the padding.
fn write_final_block(block: &mut [u8], padding: &[u8]) -> Result<(), PacketError> {
    let fields_len = FINAL_NODE_META_INFO_LENGTH;
    if block.len() != fields_len + padding.len() {
        return Err(PacketError::PaddingLength {
            expected: block.len().saturating_sub(fields_len),
            actual: padding.len(),
        });
    }
    let version = CURRENT_VERSION.to_bytes();
    block[0] = FINAL_HOP;
    block[1..1 + version.len()].copy_from_slice(&version);
    // Destination and identifier stay zero.
    debug_assert_eq!(
        1 + version.len() + DESTINATION_ADDRESS_LENGTH + IDENTIFIER_LENGTH,
        fields_len
    );
    block[fields_len..].copy_from_slice(padding);
    Ok(())
}

/// The filler: what each earlier hop's decryption appends past the end of
/// the routing information, so the final hop's block can be MACed whole.
fn filler(keystreams: &[Keystream]) -> Zeroizing<RoutingInfo> {
    let mut filler = Zeroizing::new([0u8; ENCRYPTED_ROUTING_INFO_SIZE]);
    for (i, stream) in keystreams.iter().enumerate() {
        let len = FILLER_STEP_SIZE_INCREASE * (i + 1);
        xor_into(
            &mut filler[..len],
            &stream[STREAM_CIPHER_OUTPUT_LENGTH - len..],
        );
    }
    filler
}

fn keystream(secrets: &HopSecrets) -> Keystream {
    let mut stream = Zeroizing::new([0u8; STREAM_CIPHER_OUTPUT_LENGTH]);
    Aes128Ctr::new(
        (&secrets.stream_key).into(),
        (&STREAM_CIPHER_INIT_VECTOR).into(),
    )
    .apply_keystream(&mut stream[..]);
    stream
}

fn header_mac(key: &[u8], routing_info: &RoutingInfo) -> Result<Mac16, PacketError> {
    let mut hmac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| Fault::KeyLength(Primitive::HeaderMac))?;
    hmac.update(routing_info);
    let full = hmac.finalize().into_bytes();
    let mut mac = [0u8; HEADER_INTEGRITY_MAC_SIZE];
    mac.copy_from_slice(&full[..HEADER_INTEGRITY_MAC_SIZE]);
    Ok(mac)
}

/// Nanoseconds, big-endian, saturating as `sphinx-packet`'s `Delay` is fed.
fn delay_bytes(delay: Duration) -> [u8; DELAY_LENGTH] {
    u64::try_from(delay.as_nanos())
        .unwrap_or(u64::MAX)
        .to_be_bytes()
}

fn xor_into(data: &mut [u8], stream: &[u8]) {
    for (d, s) in data.iter_mut().zip(stream) {
        *d ^= s;
    }
}

const _: () = assert!(NODE_ADDRESS_LENGTH == 32);
