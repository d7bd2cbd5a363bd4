//! Key files: one line of base64 (32 bytes), created with mode 0600 and
//! `O_EXCL` so an existing key is never overwritten and the secret is never
//! readable by others, not even for an instant.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Why a key file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file exists: keys are never overwritten.
    #[error("{0} already exists; refusing to overwrite a key (move it away first)")]
    Exists(PathBuf),
    /// The file could not be created, written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not one line of base64 of 32 bytes.
    #[error("{path}: expected one line of base64 encoding 32 bytes, found {found}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        found: String,
    },
    /// Others can read or write the secret key file.
    #[error(
        "{path}: mode {mode:o} lets other users read or change the secret key; run chmod 600 on it"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `secret` to a new file at `path` (mode 0600, never replacing a
/// file). A missing parent directory is created with mode 0700.
pub fn write_secret(path: &Path, secret: &[u8; 32]) -> Result<(), KeyFileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io(parent))?;
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists(path.to_owned())
            } else {
                io(path)(e)
            }
        })?;
    let mut line = Zeroizing::new(STANDARD.encode(secret));
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(())
}

/// Reads a secret key file written by [`write_secret`]. Refuses files that
/// group or others may read or write.
pub fn read_secret(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io(path))?);
    decode_key(text.trim()).map_err(|found| KeyFileError::Malformed {
        path: path.to_owned(),
        found,
    })
}

/// Decodes base64 of exactly 32 bytes; the error describes what was found
/// without echoing the (possibly secret) text.
pub fn decode_key(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text)
            .map_err(|_| format!("{} characters that are not valid base64", text.len()))?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(format!("{} bytes", bytes.len()));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Decodes a public key given as base64 (config files, command lines).
pub fn decode_public(text: &str) -> Result<[u8; 32], String> {
    decode_key(text.trim()).map(|k| *k)
}

/// Base64 of a public key.
pub fn encode_public(key: &[u8; 32]) -> String {
    STANDARD.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/node.key");
        write_secret(&path, &[7u8; 32]).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert!(matches!(
            write_secret(&path, &[8u8; 32]),
            Err(KeyFileError::Exists(_))
        ));
        assert_eq!(*read_secret(&path).unwrap(), [7u8; 32]);
    }

    #[test]
    fn readable_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        write_secret(&path, &[7u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_secret(&path),
            Err(KeyFileError::TooOpen { mode: 0o644, .. })
        ));
    }

    #[test]
    fn malformed_key_file_names_what_it_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        std::fs::write(&path, "AAAA\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = read_secret(&path).unwrap_err().to_string();
        assert!(err.contains("found 3 bytes"), "{err}");
    }
}
