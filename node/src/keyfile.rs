//! Key files: one line of base64 (32 bytes), mode 0600 from creation so the
//! secret is never readable by others, not even for an instant; written
//! atomically and never over an existing key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fs::DirBuilder;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
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
    /// Others can enter the key directory.
    #[error("{path}: mode {mode:o} lets other users into the key directory; run chmod 700 on it")]
    DirTooOpen {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
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
///
/// The key is written to a temporary file in the same directory (created
/// 0600), fsync'd, then linked to `path` only if `path` does not exist
/// (`renameat2(RENAME_NOREPLACE)`, or `link`), and the directory is
/// fsync'd: a crash at any point leaves either no key file or the whole
/// key, never an empty or partial one (at worst a stray `.*.tmp*` file).
pub fn write_secret(path: &Path, secret: &[u8; 32]) -> Result<(), KeyFileError> {
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => parent,
        None => Path::new("."),
    };
    if !parent.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io(parent))?;
    }
    if path.symlink_metadata().is_ok() {
        return Err(KeyFileError::Exists(path.to_owned()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(parent)
        .map_err(io(parent))?;
    let mut line = Zeroizing::new(STANDARD.encode(secret));
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io(path))?;
    file.as_file().sync_all().map_err(io(path))?;
    file.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists(path.to_owned())
        } else {
            io(path)(e.error)
        }
    })?;
    // The new name is durable only once the directory is.
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io(parent))?;
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

/// The node's X25519 key of each key period (SPEC 2), one file
/// `period-<P>.key` per period in a private directory (mode 0700), each
/// written like any key file (0600, atomically, fsync'd). The daemon makes
/// keys ahead of time ([`Self::ensure`]) and deletes a period's key at the
/// start of period P + 2 ([`Self::delete_before`]); both are idempotent, so
/// repeating them after a crash completes whatever the crash interrupted.
pub struct PeriodKeyDir {
    path: PathBuf,
}

const PERIOD_PREFIX: &str = "period-";
const PERIOD_SUFFIX: &str = ".key";

impl PeriodKeyDir {
    /// Opens the key directory, creating it (mode 0700) if missing.
    /// Refuses one that group or others may enter.
    pub fn open(path: &Path) -> Result<PeriodKeyDir, KeyFileError> {
        if !path.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io(path))?;
        }
        let mode = std::fs::metadata(path)
            .map_err(io(path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::DirTooOpen {
                path: path.to_owned(),
                mode,
            });
        }
        Ok(PeriodKeyDir {
            path: path.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file of `period`'s key.
    pub fn file(&self, period: u64) -> PathBuf {
        self.path
            .join(format!("{PERIOD_PREFIX}{period}{PERIOD_SUFFIX}"))
    }

    /// The periods that have a key file, in increasing order. Other files
    /// (an interrupted write's temporary file) are ignored.
    pub fn periods(&self) -> Result<Vec<u64>, KeyFileError> {
        let mut periods = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(io(&self.path))? {
            let name = entry.map_err(io(&self.path))?.file_name();
            let period = name
                .to_str()
                .and_then(|n| n.strip_prefix(PERIOD_PREFIX))
                .and_then(|n| n.strip_suffix(PERIOD_SUFFIX))
                .and_then(|n| n.parse::<u64>().ok());
            periods.extend(period);
        }
        periods.sort_unstable();
        Ok(periods)
    }

    /// The secret key of `period`.
    pub fn read(&self, period: u64) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
        read_secret(&self.file(period))
    }

    /// Makes a key for every period of `periods` that has none; returns the
    /// periods it made keys for. `generate` gives a new secret key. A key
    /// another process wrote meanwhile is kept (never overwritten).
    pub fn ensure(
        &self,
        periods: std::ops::RangeInclusive<u64>,
        mut generate: impl FnMut() -> Result<Zeroizing<[u8; 32]>, KeyFileError>,
    ) -> Result<Vec<u64>, KeyFileError> {
        let mut made = Vec::new();
        for period in periods {
            let file = self.file(period);
            if file.exists() {
                continue;
            }
            match write_secret(&file, &*generate()?) {
                Ok(()) => made.push(period),
                Err(KeyFileError::Exists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(made)
    }

    /// Deletes the key files of every period before `period`; returns the
    /// periods deleted. Each file is overwritten with zeros and fsync'd
    /// before it is unlinked (this helps on file systems that rewrite in
    /// place; a copy-on-write file system or an SSD may keep old blocks, so
    /// put the key directory on an encrypted or tmpfs-backed volume if that
    /// matters), and the directory is fsync'd at the end.
    pub fn delete_before(&self, period: u64) -> Result<Vec<u64>, KeyFileError> {
        let mut deleted = Vec::new();
        for old in self.periods()?.into_iter().filter(|p| *p < period) {
            let file = self.file(old);
            let len = std::fs::metadata(&file).map_err(io(&file))?.len();
            let wipe = std::fs::OpenOptions::new()
                .write(true)
                .open(&file)
                .and_then(|mut f| {
                    f.write_all(&vec![0u8; usize::try_from(len).unwrap_or(0)])?;
                    f.sync_all()
                });
            wipe.map_err(io(&file))?;
            std::fs::remove_file(&file).map_err(io(&file))?;
            deleted.push(old);
        }
        if !deleted.is_empty() {
            std::fs::File::open(&self.path)
                .and_then(|dir| dir.sync_all())
                .map_err(io(&self.path))?;
        }
        Ok(deleted)
    }
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
    fn key_write_leaves_no_temporary_file_and_never_replaces_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        write_secret(&path, &[1u8; 32]).unwrap();
        // Even an empty file (what a crash left before writes were atomic)
        // is never replaced: the operator decides what to do with it.
        let empty = dir.path().join("empty.key");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(
            write_secret(&empty, &[2u8; 32]),
            Err(KeyFileError::Exists(_))
        ));
        assert_eq!(std::fs::read(&empty).unwrap(), b"");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left behind: {names:?}");
        assert_eq!(*read_secret(&path).unwrap(), [1u8; 32]);
    }

    #[test]
    fn period_keys_are_made_ahead_kept_and_deleted_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let keys = PeriodKeyDir::open(&dir.path().join("keys")).unwrap();
        let mode = std::fs::metadata(keys.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mut n = 0u8;
        let mut fresh = || {
            n += 1;
            Ok(Zeroizing::new([n; 32]))
        };
        assert_eq!(keys.ensure(10..=12, &mut fresh).unwrap(), vec![10, 11, 12]);
        assert_eq!(keys.ensure(11..=13, &mut fresh).unwrap(), vec![13]);
        assert_eq!(*keys.read(11).unwrap(), [2; 32], "an existing key is kept");
        let file_mode = std::fs::metadata(keys.file(13))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(file_mode, 0o600);
        // An interrupted write's temporary file is not a period.
        std::fs::write(keys.path().join(".period-14.key.x.tmp"), "").unwrap();
        assert_eq!(keys.periods().unwrap(), vec![10, 11, 12, 13]);
        assert_eq!(keys.delete_before(12).unwrap(), vec![10, 11]);
        assert_eq!(keys.delete_before(12).unwrap(), Vec::<u64>::new());
        assert_eq!(keys.periods().unwrap(), vec![12, 13]);
        assert!(!keys.file(10).exists());
    }

    #[test]
    fn open_key_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            PeriodKeyDir::open(&path),
            Err(KeyFileError::DirTooOpen { mode: 0o755, .. })
        ));
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
