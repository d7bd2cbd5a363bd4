//! Secret keys. Each lives in a newtype without `Debug` or `Clone`,
//! zeroized on drop, and hands its bytes out only inside [`Zeroizing`], so
//! a stray `{:?}`, a forgotten copy or a core dump of a freed buffer
//! cannot leak it.

use rand_core::CryptoRng;
use sha2::Digest;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A mix node's X25519 secret key for one key period (32 bytes, clamped
/// when used). SPEC 2: made fresh for every period and deleted by the
/// start of period P + 2, so a later compromise opens no old traffic.
#[derive(Zeroize, ZeroizeOnDrop)]
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

    /// The raw secret bytes, for writing a key file; wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }

    /// The X25519 public key that goes into descriptors and the directory.
    pub fn public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.to_static_secret()).to_bytes()
    }

    /// The key in the form `sphinx-packet` processes packets with
    /// (`StaticSecret` zeroizes itself on drop).
    pub(crate) fn to_static_secret(&self) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from(self.0)
    }
}

/// An Ed25519 signing key made from a 32-byte seed: what node identities
/// and authority keys have in common.
struct Ed25519(ed25519_dalek::SigningKey);

impl Ed25519 {
    fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_bytes(*seed)
    }

    fn from_bytes(mut seed: [u8; 32]) -> Self {
        let key = Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed));
        seed.zeroize();
        key
    }

    fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
}

/// A mix node's long-term Ed25519 identity (SPEC 1, 7): it signs the
/// node's descriptors, and its public half's SHA-256 is the node id inside
/// packets. Kept for the node's life; period keys rotate under it.
pub struct NodeIdentityKey(Ed25519);

impl NodeIdentityKey {
    /// Draws a fresh identity from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        NodeIdentityKey(Ed25519::generate(rng))
    }

    /// Wraps the 32-byte Ed25519 seed (as stored in an identity key file).
    pub fn from_bytes(seed: [u8; 32]) -> Self {
        NodeIdentityKey(Ed25519::from_bytes(seed))
    }

    /// The 32-byte seed, for writing a key file; wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.to_bytes()
    }

    /// The Ed25519 public key listed as `identity` in descriptors and the directory.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.public_key()
    }

    /// The node id: SHA-256 of the public key, the Sphinx address of the node.
    pub fn id(&self) -> [u8; 32] {
        node_id(&self.public_key())
    }

    /// Signs `message` (a descriptor's signed part, SPEC 7).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.0 .0.sign(message).to_bytes()
    }
}

/// The node id of an identity public key: its SHA-256 (SPEC 1).
pub fn node_id(identity: &[u8; 32]) -> [u8; 32] {
    sha2::Sha256::digest(identity).into()
}

/// A directory authority's Ed25519 signing key.
pub struct AuthoritySigningKey(Ed25519);

impl AuthoritySigningKey {
    /// Draws a fresh key from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        AuthoritySigningKey(Ed25519::generate(rng))
    }

    /// Wraps the 32-byte Ed25519 seed (as stored in an authority key file).
    pub fn from_bytes(seed: [u8; 32]) -> Self {
        AuthoritySigningKey(Ed25519::from_bytes(seed))
    }

    /// The 32-byte seed, for writing a key file; wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.to_bytes()
    }

    /// The public key readers list as trusted.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.public_key()
    }

    pub(crate) fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.0 .0
    }
}
