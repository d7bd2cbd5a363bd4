//! Fetch-if-due: the whole client in one call, so an app with no threads
//! of its own just calls it now and then (docs/authority.md section 9).

use crate::cache;
use crate::error::{ClientError, MirrorError};
use crate::schedule;
use mixmailer::directory::MAX_DOCUMENT_SIZE;
use mixmailer::Directory;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The path every mirror serves the current document under (SPEC 8).
pub const CURRENT_PATH: &str = "/mixmailer/v2/directory/current";

/// Where the returned document came from.
#[derive(Debug)]
pub enum Source {
    /// The cache: it is valid and no fetch was due.
    Cache,
    /// Freshly fetched from this mirror and written to the cache.
    Fetched {
        /// The mirror's base URL.
        mirror: String,
    },
    /// A fetch was due but every mirror failed; the valid cached document is used.
    CacheAfterFailure(Vec<MirrorError>),
}

/// A verified document, where it came from and when to call again.
#[derive(Debug)]
pub struct Fetched {
    /// The document's bytes, exactly as verified and cached.
    pub text: Vec<u8>,
    /// The parsed, verified document.
    pub directory: Directory,
    /// Cache, fetched, or cache after a failed fetch.
    pub source: Source,
    /// When a fetch is due next; calling earlier returns the cache.
    pub next_fetch: SystemTime,
}

/// Mirrors, trust anchors and timeouts.
#[derive(Clone, Debug)]
pub struct DirectoryClient {
    mirrors: Vec<String>,
    trusted: Vec<[u8; 32]>,
    threshold: usize,
    connect_timeout: Duration,
    total_timeout: Duration,
}

impl DirectoryClient {
    /// A client asking `mirrors` (base URLs such as `https://dir.example.org`,
    /// tried in this order) and accepting documents signed by at least
    /// `threshold` of `trusted`. Timeouts: 10 s to connect, 30 s per mirror.
    pub fn new(mirrors: Vec<String>, trusted: Vec<[u8; 32]>, threshold: usize) -> Self {
        DirectoryClient {
            mirrors,
            trusted,
            threshold,
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
        }
    }

    /// Changes the per-mirror timeouts (connect, whole exchange).
    pub fn with_timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.total_timeout = total;
        self
    }

    /// Returns a verified document: the cached one while no fetch is due,
    /// else a freshly fetched one (written to `cache_path` atomically), else,
    /// when every mirror fails, the cached one if it is still valid at `now`.
    /// A document that does not verify is never returned nor cached.
    pub fn fetch_if_due(&self, cache_path: &Path, now: SystemTime) -> Result<Fetched, ClientError> {
        self.fetch(cache_path, now, true)
    }

    /// As [`Self::fetch_if_due`], but asks the mirrors even if the due time
    /// has not come: for a caller that has a reason to think a newer
    /// document exists (a mix node handed a packet for a node it does not
    /// know). The caller bounds how often it does this; the mirrors cannot.
    pub fn fetch_now(&self, cache_path: &Path, now: SystemTime) -> Result<Fetched, ClientError> {
        self.fetch(cache_path, now, false)
    }

    fn fetch(
        &self,
        cache_path: &Path,
        now: SystemTime,
        honour_due: bool,
    ) -> Result<Fetched, ClientError> {
        if self.mirrors.is_empty() {
            return Err(ClientError::NoMirrors);
        }
        // The library checks this too, but per mirror; refuse before any traffic.
        let distinct: std::collections::BTreeSet<_> = self.trusted.iter().collect();
        if self.threshold == 0 || self.threshold > distinct.len() {
            return Err(ClientError::Threshold {
                threshold: self.threshold,
                trusted: distinct.len(),
            });
        }
        let cache_error = |source| ClientError::Cache {
            path: cache_path.to_path_buf(),
            source,
        };
        let cached = cache::read(cache_path)
            .map_err(cache_error)?
            .and_then(|text| self.verify(&text, now).ok().map(|d| (text, d)));
        if let Some((text, directory)) = cached.as_ref().filter(|_| honour_due) {
            if let Some(due) = cache::read_due(cache_path) {
                if now < due {
                    return Ok(Fetched {
                        text: text.clone(),
                        directory: directory.clone(),
                        source: Source::Cache,
                        next_fetch: due,
                    });
                }
            }
        }
        let not_before = cached.as_ref().map(|(_, d)| d.params().valid_after);
        let mut failures = Vec::new();
        for mirror in &self.mirrors {
            match self.fetch_one(mirror, now, not_before) {
                Ok((text, directory)) => {
                    cache::write_atomic(cache_path, &text).map_err(cache_error)?;
                    let params = directory.params();
                    let next_fetch = schedule::after_success(
                        params.valid_after,
                        params.valid_until,
                        now,
                        schedule::random_fraction(),
                    );
                    cache::write_due(cache_path, next_fetch).map_err(cache_error)?;
                    return Ok(Fetched {
                        text,
                        directory,
                        source: Source::Fetched {
                            mirror: mirror.clone(),
                        },
                        next_fetch,
                    });
                }
                Err(e) => failures.push(e),
            }
        }
        let Some((text, directory)) = cached else {
            return Err(ClientError::AllMirrorsFailed(failures));
        };
        let next_fetch = schedule::after_failure(
            now,
            Some(directory.params().valid_until),
            schedule::random_fraction(),
        );
        cache::write_due(cache_path, next_fetch).map_err(cache_error)?;
        Ok(Fetched {
            text,
            directory,
            source: Source::CacheAfterFailure(failures),
            next_fetch,
        })
    }

    fn verify(&self, text: &[u8], now: SystemTime) -> Result<Directory, mixmailer::DirectoryError> {
        Directory::parse(text, &self.trusted, self.threshold, now)
    }

    fn fetch_one(
        &self,
        mirror: &str,
        now: SystemTime,
        not_before: Option<SystemTime>,
    ) -> Result<(Vec<u8>, Directory), MirrorError> {
        let http = |message: String| MirrorError::Http {
            mirror: mirror.to_owned(),
            message,
        };
        let url = format!("{}{}", mirror.trim_end_matches('/'), CURRENT_PATH);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(self.connect_timeout))
            .timeout_global(Some(self.total_timeout))
            .build()
            .into();
        let mut response = agent.get(&url).call().map_err(|e| http(e.to_string()))?;
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT_SIZE as u64)
            .read_to_vec()
            .map_err(|e| http(e.to_string()))?;
        let directory = self
            .verify(&text, now)
            .map_err(|error| MirrorError::Invalid {
                mirror: mirror.to_owned(),
                error,
            })?;
        if not_before.is_some_and(|old| directory.params().valid_after < old) {
            return Err(MirrorError::Older {
                mirror: mirror.to_owned(),
            });
        }
        Ok((text, directory))
    }
}
