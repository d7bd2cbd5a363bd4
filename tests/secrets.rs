//! Secret types can neither be printed nor copied, hand their bytes out
//! only in a wiping container, and the ciphers and MACs keyed with secrets
//! wipe themselves. Checked at compile time: adding `Debug`,
//! `Clone` or `Copy` to any of them (or returning plain bytes) stops this
//! file from compiling.

use mixmailer::ffi::mixmailer_node;
use mixmailer::keys::{AuthoritySigningKey, NodeIdentityKey, NodeSecretKey};
use mixmailer::sphinx::InitialSecret;
use mixmailer::MixNode;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use static_assertions::{assert_impl_all, assert_not_impl_any};
use std::fmt::Debug;
use zeroize::{ZeroizeOnDrop, Zeroizing};

// Long-term and per-period keys.
assert_not_impl_any!(NodeSecretKey: Debug, Clone, Copy);
assert_not_impl_any!(NodeIdentityKey: Debug, Clone, Copy);
assert_not_impl_any!(AuthoritySigningKey: Debug, Clone, Copy);
// The sender's per-packet ephemeral secret.
assert_not_impl_any!(InitialSecret: Debug, Clone, Copy);
// Everything that holds a node's secret key.
assert_not_impl_any!(MixNode: Debug, Clone, Copy);
assert_not_impl_any!(mixmailer_node: Debug, Clone, Copy);

// The primitives packet construction keys with secrets wipe their round
// keys and states when dropped (the crates' `zeroize` features, enabled in
// Cargo.toml): without the feature these types do not implement it.
assert_impl_all!(aes::Aes128: ZeroizeOnDrop);
assert_impl_all!(ctr::Ctr64BE<aes::Aes128>: ZeroizeOnDrop);
assert_impl_all!(ctr::Ctr128BE<aes::Aes128>: ZeroizeOnDrop);
assert_impl_all!(chacha20::ChaCha20: ZeroizeOnDrop);
// hmac 0.13's `Hmac` has no marker of its own: its state is two SHA-256
// cores, which wipe themselves under digest's `zeroize` (hmac's feature
// enables it). HKDF's state is such an HMAC.
assert_impl_all!(sha2::Sha256: ZeroizeOnDrop);
assert_impl_all!(sha2::block_api::Sha256VarCore: ZeroizeOnDrop);

/// `to_bytes` of every secret gives `Zeroizing` bytes: the copy handed out
/// is wiped when the caller drops it.
#[test]
fn secret_bytes_come_out_in_a_wiping_container() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let node: Zeroizing<[u8; 32]> = NodeSecretKey::generate(&mut rng).to_bytes();
    let identity: Zeroizing<[u8; 32]> = NodeIdentityKey::generate(&mut rng).to_bytes();
    let authority: Zeroizing<[u8; 32]> = AuthoritySigningKey::generate(&mut rng).to_bytes();
    // Keys round-trip through their bytes (the containers hold the real secret).
    assert_eq!(*NodeSecretKey::from_bytes(*node).to_bytes(), *node);
    assert_eq!(
        *NodeIdentityKey::from_bytes(*identity).to_bytes(),
        *identity
    );
    assert_eq!(
        *AuthoritySigningKey::from_bytes(*authority).to_bytes(),
        *authority
    );
}
