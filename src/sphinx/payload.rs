//! The Sphinx payload: 16 zero bytes, the plaintext, a 1 byte, zeros up to
//! the payload size, then one Lioness layer per hop, last hop first, with
//! the keys `sphinx-packet` 0.8 derives for packet version 260.
//!
//! Lioness here is the same cipher as `sphinx-packet`'s (`lioness-rs` over
//! ChaCha20 with a zero nonce and 32-byte keyed BLAKE2b): four rounds over
//! a 32-byte left part L and the rest R,
//! `R ^= S(L ^ k1); L ^= H(k2, R); R ^= S(L ^ k3); L ^= H(k4, R)`.
//! Written out so the payload is encrypted in place in the packet buffer,
//! without the copies and per-layer allocations of the generic path.

use super::error::{Expansion, Fault, Primitive};
use super::PacketError;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;
use hkdf::Hkdf;
use sha2::Sha256;
use sphinx_packet::constants::{
    PAYLOAD_KEY_HKDF_INFO, PAYLOAD_KEY_HKDF_SALT, PAYLOAD_KEY_SEED_SIZE, PAYLOAD_KEY_SIZE,
    SECURITY_PARAMETER,
};
use zeroize::Zeroizing;

/// Bytes of the Lioness left part: the BLAKE2b output and ChaCha20 key size.
const LEFT: usize = 32;
/// Lioness sub-key sizes: ChaCha20 key, BLAKE2b key.
const STREAM_KEY: usize = 32;
const HASH_KEY: usize = 64;

/// Smallest payload Lioness can encrypt: more than the left part, and room
/// for the 17 bytes of overhead.
pub const MIN_PAYLOAD_SIZE: usize = LEFT + 1;

/// Fills `payload` (the whole payload, `payload_size` bytes) with the padded
/// `plaintext` and encrypts it for hops whose payload key seeds are `seeds`
/// (route order). Callers have checked the sizes.
pub(crate) fn encrypt_payload(
    payload: &mut [u8],
    plaintext: &[u8],
    seeds: &[&[u8; PAYLOAD_KEY_SEED_SIZE]],
) -> Result<(), PacketError> {
    let start = SECURITY_PARAMETER;
    let too_long = PacketError::PlaintextTooLong {
        capacity: payload.len().saturating_sub(start + 1),
        actual: plaintext.len(),
    };
    payload.fill(0);
    let (body, marker) = payload
        .get_mut(start..)
        .and_then(|tail| tail.split_at_mut_checked(plaintext.len()))
        .ok_or_else(|| too_long.clone())?;
    body.copy_from_slice(plaintext);
    *marker.first_mut().ok_or(too_long)? = 1;
    for seed in seeds.iter().rev() {
        let key = payload_key(seed)?;
        lioness_encrypt(&key, payload)?;
    }
    Ok(())
}

/// The 192-byte Lioness key of one hop (HKDF-SHA256 of its seed).
fn payload_key(
    seed: &[u8; PAYLOAD_KEY_SEED_SIZE],
) -> Result<Zeroizing<[u8; PAYLOAD_KEY_SIZE]>, PacketError> {
    let mut key = Zeroizing::new([0u8; PAYLOAD_KEY_SIZE]);
    Hkdf::<Sha256>::new(Some(PAYLOAD_KEY_HKDF_SALT), seed)
        .expand(PAYLOAD_KEY_HKDF_INFO, &mut key[..])
        .map_err(|_| Fault::KeyExpansion(Expansion::PayloadKey))?;
    Ok(key)
}

fn lioness_encrypt(key: &[u8; PAYLOAD_KEY_SIZE], block: &mut [u8]) -> Result<(), PacketError> {
    if block.len() < MIN_PAYLOAD_SIZE {
        return Err(PacketError::PayloadTooSmall {
            minimum: MIN_PAYLOAD_SIZE,
            actual: block.len(),
        });
    }
    let (k1, rest) = key.split_at(STREAM_KEY);
    let (k2, rest) = rest.split_at(HASH_KEY);
    let (k3, k4) = rest.split_at(STREAM_KEY);
    let (left, right) = block.split_at_mut(LEFT);
    stream_round(left, right, k1)?;
    hash_round(left, right, k2)?;
    stream_round(left, right, k3)?;
    hash_round(left, right, k4)
}

/// `R ^= ChaCha20(L ^ k, nonce 0)`.
fn stream_round(left: &[u8], right: &mut [u8], key_half: &[u8]) -> Result<(), PacketError> {
    let mut key = Zeroizing::new([0u8; STREAM_KEY]);
    for ((k, l), h) in key.iter_mut().zip(left).zip(key_half) {
        *k = l ^ h;
    }
    let mut cipher = ChaCha20::new_from_slices(&key[..], &[0u8; 12])
        .map_err(|_| Fault::KeyLength(Primitive::LionessStream))?;
    cipher.apply_keystream(right);
    Ok(())
}

/// `L ^= BLAKE2b-256(key = k, R)`: standard keyed BLAKE2b (RFC 7693), the
/// same function as `Blake2bMac<U32>` in `lioness-rs`; `blake2b_simd`
/// computes it about 1.4 times as fast on AVX2 (docs/performance.md).
fn hash_round(left: &mut [u8], right: &[u8], key: &[u8]) -> Result<(), PacketError> {
    if key.len() != HASH_KEY {
        return Err(Fault::KeyLength(Primitive::LionessHash).into());
    }
    let mut params = blake2b_simd::Params::new();
    params.hash_length(LEFT).key(key);
    let digest = params.hash(right);
    // blake2b_simd keeps a copy of the key in its parameters and never
    // wipes it: overwrite ours (the state it made from them is its own).
    params.key(&[]);
    std::hint::black_box(&params);
    for (l, d) in left.iter_mut().zip(digest.as_bytes()) {
        *l ^= d;
    }
    Ok(())
}
