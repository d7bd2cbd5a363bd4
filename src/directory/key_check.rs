//! X25519 node keys must lie in Curve25519's prime-order subgroup (SPEC 1).
//!
//! X25519 itself clamps scalars so a bad public key does not break the
//! arithmetic, but a low-order key makes every shared secret one of eight
//! predictable values, and a key with a torsion component leaks the low bits
//! of a sender's ephemeral scalar through the shared secret. The directory
//! is the one place where all keys are seen, so they are checked here.

use super::DirectoryErrorKind as Kind;
use curve25519_dalek::montgomery::MontgomeryPoint;

/// Refuses `key` (a Montgomery u-coordinate) unless it is a canonical
/// encoding of a point of prime order on Curve25519.
pub(crate) fn check_node_key(key: &[u8; 32]) -> Result<(), Kind> {
    check_encoding(key)?;
    check_subgroup(key)
}

/// The cheap half of [`check_node_key`]: byte comparisons only.
pub(crate) fn check_encoding(key: &[u8; 32]) -> Result<(), Kind> {
    if key.iter().all(|&b| b == 0) {
        return Err(Kind::KeyAllZero);
    }
    if !is_canonical(key) {
        return Err(Kind::KeyNotCanonical);
    }
    Ok(())
}

/// The costly half of [`check_node_key`] (a square root and a scalar
/// multiplication, some 0.1 ms): for a key that passed [`check_encoding`].
pub(crate) fn check_subgroup(key: &[u8; 32]) -> Result<(), Kind> {
    // The sign only picks between P and -P; both are in the subgroup or neither is.
    let point = MontgomeryPoint(*key)
        .to_edwards(0)
        .ok_or(Kind::KeyNotOnCurve)?;
    if point.is_small_order() {
        return Err(Kind::KeyLowOrder);
    }
    if !point.is_torsion_free() {
        return Err(Kind::KeyHasTorsion);
    }
    Ok(())
}

/// Whether the little-endian `key` is below p = 2^255 - 19 (and so has its
/// top bit clear). curve25519-dalek silently reduces larger values, which
/// would let one point have several spellings and slip past the uniqueness
/// rule.
fn is_canonical(key: &[u8; 32]) -> bool {
    let [low, middle @ .., top] = key;
    if *top > 0x7f {
        return false;
    }
    // The only values >= p below 2^255 are p..p+18: 0x7f, thirty 0xff and a low byte >= 0xed.
    !(*top == 0x7f && middle.iter().all(|&b| b == 0xff) && *low >= 0xed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_and_above_are_not_canonical() {
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!is_canonical(&p));
        p[0] = 0xec;
        assert!(is_canonical(&p));
        let mut high_bit = [0u8; 32];
        high_bit[0] = 9;
        high_bit[31] = 0x80;
        assert!(!is_canonical(&high_bit));
    }
}
