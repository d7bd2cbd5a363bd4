//! What can go wrong when getting the directory.

use std::path::PathBuf;

/// Why one mirror gave no usable document.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// Connecting, the HTTP exchange, a timeout, a non-200 status or a body
    /// over the limit (ureq's own message says which).
    #[error("{mirror}: {message}")]
    Http {
        /// The mirror's base URL.
        mirror: String,
        /// What failed.
        message: String,
    },
    /// The mirror served a document that does not verify.
    #[error("{mirror}: served a document that does not verify: {error}")]
    Invalid {
        /// The mirror's base URL.
        mirror: String,
        /// The first broken rule.
        error: mixmailer::DirectoryError,
    },
    /// The mirror served a valid document older than the one already held
    /// (a stale mirror, or a rollback attempt).
    #[error("{mirror}: served a document older than the cached one")]
    Older {
        /// The mirror's base URL.
        mirror: String,
    },
}

/// Why [`crate::DirectoryClient::fetch_if_due`] has no document to give.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No mirrors were given.
    #[error("no mirrors given")]
    NoMirrors,
    /// The threshold is 0 or above the number of distinct trusted keys.
    #[error("threshold {threshold} is not in 1..={trusted} (the number of distinct trusted keys)")]
    Threshold {
        /// The threshold given.
        threshold: usize,
        /// Distinct trusted keys given.
        trusted: usize,
    },
    /// Reading or writing the cache failed.
    #[error("cache {path}: {source}")]
    Cache {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Every mirror failed and no valid cached document is left.
    #[error("no valid directory: every mirror failed ({})", join(.0))]
    AllMirrorsFailed(Vec<MirrorError>),
}

fn join(errors: &[MirrorError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
