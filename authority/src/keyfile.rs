//! The authority's key file: the 32-byte Ed25519 seed, mode 0600.

use mixmailer::keys::AuthoritySigningKey;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use zeroize::Zeroizing;

/// Both views of the one key: the library's (directory signatures) and
/// ed25519-dalek's (vote signatures). Neither has Debug; both zeroize.
pub struct AuthorityKeys {
    /// Signs directories.
    pub directory: AuthoritySigningKey,
    /// Signs votes.
    pub vote: ed25519_dalek::SigningKey,
}

impl AuthorityKeys {
    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.directory.public_key()
    }
}

/// Reads the key file.
pub fn load(path: &Path) -> Result<AuthorityKeys, String> {
    let bytes =
        Zeroizing::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
        bytes[..]
            .try_into()
            .map_err(|_| format!("{}: not a 32-byte key file", path.display()))?,
    );
    Ok(AuthorityKeys {
        directory: AuthoritySigningKey::from_bytes(*seed),
        vote: ed25519_dalek::SigningKey::from_bytes(&seed),
    })
}

/// Writes a fresh key to `path` (refusing to overwrite) and returns its public key.
pub fn generate(path: &Path) -> Result<[u8; 32], String> {
    use rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| format!("the operating system's random generator failed: {e}"))?;
    let key = AuthoritySigningKey::generate(&mut rng);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(&key.to_bytes()[..])
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(key.public_key())
}
