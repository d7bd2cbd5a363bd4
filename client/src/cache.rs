//! The last valid document on disk: read it back, and replace it so that a
//! crash at any moment leaves either the old or the new file, never a torn one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Reads the cached document, `None` when there is none yet.
pub(crate) fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory is written and fsync'd, renamed over `path`, and the directory
/// is fsync'd so the rename itself survives a power cut.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path);
    let temp = temp_path(path);
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        // A leftover temporary file would only waste space; the old cache is intact.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Where the next fetch time is kept: next to the cache.
pub(crate) fn due_path(cache: &Path) -> PathBuf {
    let mut name = cache.as_os_str().to_owned();
    name.push(".due");
    PathBuf::from(name)
}

/// The stored due time, `None` when absent or unreadable (then a fetch is due).
pub(crate) fn read_due(cache: &Path) -> Option<SystemTime> {
    let text = fs::read_to_string(due_path(cache)).ok()?;
    let secs: u64 = text.trim_end_matches('\n').parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

pub(crate) fn write_due(cache: &Path, due: SystemTime) -> io::Result<()> {
    let secs = due.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    write_atomic(&due_path(cache), format!("{secs}\n").as_bytes())
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp{}", std::process::id()));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("directory");
        write_atomic(&path, b"old document, rather long\n").unwrap();
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(read(&path).unwrap().unwrap(), b"new\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("directory")]);
    }

    #[test]
    fn missing_cache_is_none_and_missing_due_time_means_due() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("directory");
        assert!(read(&path).unwrap().is_none());
        assert!(read_due(&path).is_none());
        let due = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        write_due(&path, due).unwrap();
        assert_eq!(read_due(&path), Some(due));
    }
}
