//! Secret keys. Each lives in a newtype without `Debug`, zeroized on drop,
//! so a stray `{:?}` or a core dump of a freed buffer cannot leak it.

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A mix node's X25519 secret key (32 bytes, clamped when used).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct NodeSecretKey([u8; 32]);

impl NodeSecretKey {
    /// Draws a fresh key from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        NodeSecretKey(bytes)
    }

    /// Wraps raw key bytes (as stored in a node's key file).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        NodeSecretKey(bytes)
    }

    /// The raw secret bytes, for writing a key file. Handle with care.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The X25519 public key that goes into the directory.
    pub fn public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.to_static_secret()).to_bytes()
    }

    /// The key in the form `sphinx-packet` processes packets with.
    pub(crate) fn to_static_secret(&self) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from(self.0)
    }
}

/// A directory authority's Ed25519 signing key.
#[derive(Clone)]
pub struct AuthoritySigningKey(ed25519_dalek::SigningKey);

impl AuthoritySigningKey {
    /// Draws a fresh key from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let key = Self::from_bytes(seed);
        seed.zeroize();
        key
    }

    /// Wraps the 32-byte Ed25519 seed (as stored in an authority key file).
    pub fn from_bytes(seed: [u8; 32]) -> Self {
        AuthoritySigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The 32-byte seed, for writing a key file. Handle with care.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key readers list as trusted.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub(crate) fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}
