//! Per-hop key material in linear time.
//!
//! `sphinx-packet` derives hop i's shared secret by applying X25519 i+1
//! times (the initial secret, then every earlier hop's blinding factor),
//! n(n+1)/2 operations for n hops. Since every directory key lies in the
//! prime-order subgroup (and the cofactor is cleared below anyway), those
//! iterated multiplications equal one multiplication by the product of the
//! clamped scalars modulo l, which we carry from hop to hop: one
//! multiplication per hop plus the base-point multiplication for alpha.
//!
//! Clamped scalars are multiples of 8, so hop i multiplies `[8]·P_i` by
//! `clamp(x)/8 · Π_{j<i} clamp(b_j) mod l`. That equals X25519's result
//! for every point on the curve, torsion or not, without a modular inverse.

use super::error::{Expansion, Fault};
use super::table::HopPoint;
use super::PacketError;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use hkdf::Hkdf;
use sha2::Sha256;
use sphinx_packet::constants::{
    BLINDING_FACTOR_SIZE, EXPANDED_SHARED_SECRET_HKDF_INFO, EXPANDED_SHARED_SECRET_HKDF_SALT,
    INTEGRITY_MAC_KEY_SIZE, PAYLOAD_KEY_SEED_SIZE, PAYLOAD_KEY_SIZE,
};
use sphinx_packet::crypto::STREAM_CIPHER_KEY_SIZE;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const MAC_KEY_AT: usize = STREAM_CIPHER_KEY_SIZE;
const PAYLOAD_SEED_AT: usize = MAC_KEY_AT + INTEGRITY_MAC_KEY_SIZE;
const BLINDING_AT: usize = PAYLOAD_SEED_AT + PAYLOAD_KEY_SIZE;
/// HKDF output a forward hop needs (everything up to the blinding factor);
/// the replay tag after it is the node's business, not the sender's.
const FORWARD_EXPANSION: usize = BLINDING_AT + BLINDING_FACTOR_SIZE;
/// The last hop has no successor to blind for: its keys end at the payload seed.
const FINAL_EXPANSION: usize = PAYLOAD_SEED_AT + PAYLOAD_KEY_SEED_SIZE;

/// The keys one hop's shared secret expands into, as `sphinx-packet` lays
/// out its HKDF output.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct HopSecrets {
    /// AES-128-CTR key of the hop's routing information.
    pub(crate) stream_key: [u8; STREAM_CIPHER_KEY_SIZE],
    /// HMAC-SHA256 key of the hop's header MAC.
    pub(crate) mac_key: [u8; INTEGRITY_MAC_KEY_SIZE],
    /// Seed of the hop's Lioness payload key.
    pub(crate) payload_seed: [u8; PAYLOAD_KEY_SEED_SIZE],
    /// Blinding factor for the next hop's alpha (zero for the last hop).
    blinding: [u8; BLINDING_FACTOR_SIZE],
}

impl HopSecrets {
    /// HKDF-SHA256 of the shared secret, up to `len` bytes of what
    /// `sphinx-packet`'s `expand_shared_secret` produces (HKDF output is
    /// prefix-stable, so a shorter expansion gives the same leading bytes).
    fn expand(shared_secret: &[u8; 32], len: usize) -> Result<Self, PacketError> {
        let mut okm = Zeroizing::new([0u8; FORWARD_EXPANSION]);
        let refused = || PacketError::from(Fault::KeyExpansion(Expansion::HopKeys));
        let out = okm.get_mut(..len).ok_or_else(refused)?;
        Hkdf::<Sha256>::new(Some(EXPANDED_SHARED_SECRET_HKDF_SALT), shared_secret)
            .expand(EXPANDED_SHARED_SECRET_HKDF_INFO, out)
            .map_err(|_| refused())?;
        let mut secrets = HopSecrets {
            stream_key: [0; STREAM_CIPHER_KEY_SIZE],
            mac_key: [0; INTEGRITY_MAC_KEY_SIZE],
            payload_seed: [0; PAYLOAD_KEY_SEED_SIZE],
            blinding: [0; BLINDING_FACTOR_SIZE],
        };
        secrets.stream_key.copy_from_slice(&okm[..MAC_KEY_AT]);
        secrets
            .mac_key
            .copy_from_slice(&okm[MAC_KEY_AT..PAYLOAD_SEED_AT]);
        secrets
            .payload_seed
            .copy_from_slice(&okm[PAYLOAD_SEED_AT..FINAL_EXPANSION]);
        if len == FORWARD_EXPANSION {
            secrets
                .blinding
                .copy_from_slice(&okm[BLINDING_AT..FORWARD_EXPANSION]);
        }
        Ok(secrets)
    }
}

/// Everything the header and payload are built from.
pub(crate) struct KeyMaterial {
    /// alpha_0: the first hop's group element, `clamp(x)·B` as a u-coordinate.
    pub(crate) alpha: [u8; 32],
    /// One entry per hop, in route order.
    pub(crate) hops: Vec<HopSecrets>,
}

/// The running product of clamped scalars, divided by the cofactor, mod l.
#[derive(Zeroize, ZeroizeOnDrop)]
struct BlindingProduct(Scalar);

impl BlindingProduct {
    /// `clamp(x)/8 mod l`: the integer shift is exact because clamping
    /// clears the low three bits.
    fn start(initial_secret: &[u8; 32]) -> Self {
        let clamped = Zeroizing::new(clamp_integer(*initial_secret));
        let mut shifted = Zeroizing::new([0u8; 32]);
        for (i, out) in shifted.iter_mut().enumerate() {
            let high = clamped.get(i + 1).copied().unwrap_or(0);
            *out = (clamped[i] >> 3) | (high << 5);
        }
        BlindingProduct(Scalar::from_bytes_mod_order(*shifted))
    }

    /// Multiplies in `clamp(factor)`, as X25519 with `factor` as secret would.
    fn blind(&mut self, factor: &[u8; 32]) {
        let mut clamped = Scalar::from_bytes_mod_order(clamp_integer(*factor));
        self.0 *= clamped;
        clamped.zeroize();
    }
}

/// Derives alpha_0 and every hop's keys for the hops whose cofactor-cleared
/// key points are `points`.
pub(crate) fn derive(
    initial_secret: &[u8; 32],
    points: &[HopPoint<'_>],
) -> Result<KeyMaterial, PacketError> {
    let mut product = BlindingProduct::start(initial_secret);
    let mut alpha = None;
    let mut hops = Vec::with_capacity(points.len());
    for (i, point) in points.iter().enumerate() {
        let mut shared_point = point.mul(&product.0);
        let shared_secret = if i == 0 {
            // alpha_0 and the first shared secret do not depend on each
            // other: one batched inversion converts both to Montgomery form.
            let alpha_point = EdwardsPoint::mul_base_clamped(*initial_secret);
            let mut both = EdwardsPoint::to_montgomery_batch(&[alpha_point, shared_point]);
            alpha = both.first().map(MontgomeryPoint::to_bytes);
            let first = both.get(1).map(MontgomeryPoint::to_bytes);
            both.zeroize();
            Zeroizing::new(first.ok_or(Fault::MontgomeryBatch)?)
        } else {
            Zeroizing::new(shared_point.to_montgomery().to_bytes())
        };
        shared_point.zeroize();
        let last = i + 1 == points.len();
        let len = if last {
            FINAL_EXPANSION
        } else {
            FORWARD_EXPANSION
        };
        let secrets = HopSecrets::expand(&shared_secret, len)?;
        if !last {
            product.blind(&secrets.blinding);
        }
        hops.push(secrets);
    }
    let alpha = alpha.ok_or(PacketError::HopCount {
        hops: 0,
        max: sphinx_packet::constants::MAX_PATH_LENGTH,
    })?;
    Ok(KeyMaterial { alpha, hops })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use sphinx_packet::header::keys::KeyMaterial as TheirKeyMaterial;
    use sphinx_packet::route::{Node, NodeAddressBytes};
    use x25519_dalek::{PublicKey, StaticSecret};

    fn random_key(rng: &mut ChaCha20Rng) -> [u8; 32] {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        PublicKey::from(&StaticSecret::from(secret)).to_bytes()
    }

    #[test]
    fn linear_derivation_matches_sphinx_packets_iterated_x25519() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        for hops in 1..=5 {
            let keys: Vec<[u8; 32]> = (0..hops).map(|_| random_key(&mut rng)).collect();
            let mut x = [0u8; 32];
            rng.fill_bytes(&mut x);
            let points: Vec<HopPoint<'_>> = keys
                .iter()
                .map(|k| HopPoint::uncached(k).unwrap())
                .collect();
            let ours = derive(&x, &points).unwrap();
            let route: Vec<Node> = keys
                .iter()
                .map(|k| Node::new(NodeAddressBytes::from_bytes([0; 32]), PublicKey::from(*k)))
                .collect();
            let theirs = TheirKeyMaterial::derive(&route, &StaticSecret::from(x));
            assert_eq!(&ours.alpha, theirs.initial_shared_secret.as_bytes());
            for (our, their) in ours.hops.iter().zip(&theirs.expanded_shared_secrets) {
                assert_eq!(&our.payload_seed, their.payload_key_seed());
            }
        }
    }

    #[test]
    fn shifted_start_is_the_clamped_secret_over_eight() {
        let x = [0xa7u8; 32];
        let start = BlindingProduct::start(&x);
        let clamped = Scalar::from_bytes_mod_order(clamp_integer(x));
        assert_eq!(start.0 * Scalar::from(8u8), clamped);
    }
}
