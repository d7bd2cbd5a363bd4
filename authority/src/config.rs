//! The authority's configuration file (TOML, docs/authority.md section 10),
//! checked as a whole at start-up so a mistake is named before anything runs.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One authority of the network (this one included).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Ed25519 public key, base64.
    pub key: String,
    /// Base URL, e.g. `https://dir1.example.org`.
    pub url: String,
}

/// The `[liveness]` section: probing through the mixnet.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessConfig {
    /// The authority's own mailbox probes are addressed to.
    pub mailbox: String,
    /// The Maildir the authority's MTA delivers that mailbox to.
    pub maildir: PathBuf,
    /// SMTP relay (host:port) probes are submitted to, normally the local MTA.
    pub smtp_relay: String,
    /// Seconds between probe rounds.
    #[serde(default = "default_probe_interval")]
    pub probe_interval: u64,
    /// Seconds of probe history that count.
    #[serde(default = "default_window")]
    pub window: u64,
    /// Blamed losses that make a node down.
    #[serde(default = "default_dead_after")]
    pub dead_after: usize,
    /// Seconds after which a probe not arrived is lost (default from the delays).
    pub timeout: Option<u64>,
}

fn default_probe_interval() -> u64 {
    900
}
fn default_window() -> u64 {
    6 * 3600
}
fn default_dead_after() -> usize {
    2
}
fn default_interval() -> u64 {
    3600
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The authority's key file (32-byte Ed25519 seed).
    pub key: PathBuf,
    /// The redb store.
    pub store: PathBuf,
    /// Network name (SPEC 1).
    pub network: String,
    /// Layers.
    pub hops: u8,
    /// Sphinx payload size.
    pub payload_size: usize,
    /// Mean per-hop delay, seconds.
    pub mean_delay: u64,
    /// Key period T, seconds.
    pub key_period: u64,
    /// Publication interval I, seconds.
    #[serde(default = "default_interval")]
    pub interval: u64,
    /// valid-until minus valid-after, seconds (default 3 I).
    pub validity: Option<u64>,
    /// Signatures a published document needs (default: a majority).
    pub threshold: Option<usize>,
    /// Every authority, this one included.
    #[serde(rename = "authority", default)]
    pub authorities: Vec<PeerConfig>,
    /// Probing, optional.
    pub liveness: Option<LivenessConfig>,
}

/// An authority with its key decoded.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Public key.
    pub key: [u8; 32],
    /// Base URL without trailing slash.
    pub url: String,
}

/// A configuration mistake, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.message())))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |m: String| Err(ConfigError(m));
        if !(6..=86_400).contains(&self.interval) {
            return fail(format!(
                "interval {} is not in 6..=86400 seconds",
                self.interval
            ));
        }
        let validity = self.validity();
        if validity < self.interval || validity > 7 * 86_400 {
            return fail(format!(
                "validity {validity} is not in interval ({})..=604800 seconds",
                self.interval
            ));
        }
        if self.authorities.is_empty() {
            return fail(
                "no [[authority]] listed (list every authority, this one included)".into(),
            );
        }
        self.peers()?;
        let n = self.authorities.len();
        let t = self.threshold();
        if t == 0 || t > n {
            return fail(format!(
                "threshold {t} is not in 1..={n} (the number of authorities)"
            ));
        }
        if let Some(l) = &self.liveness {
            if l.probe_interval == 0 || l.window < l.probe_interval || l.dead_after == 0 {
                return fail("[liveness]: need probe_interval > 0, window >= probe_interval, dead_after >= 1".into());
            }
        }
        Ok(())
    }

    /// valid-until minus valid-after.
    pub fn validity(&self) -> u64 {
        self.validity.unwrap_or(3 * self.interval)
    }

    /// Signatures needed to publish.
    pub fn threshold(&self) -> usize {
        self.threshold.unwrap_or(self.authorities.len() / 2 + 1)
    }

    /// The authorities with decoded keys, in configuration order.
    pub fn peers(&self) -> Result<Vec<Peer>, ConfigError> {
        let mut out: Vec<Peer> = Vec::new();
        for (i, p) in self.authorities.iter().enumerate() {
            let key: [u8; 32] = B64
                .decode(&p.key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    ConfigError(format!(
                        "authority {}: key is not 32 bytes of base64",
                        i + 1
                    ))
                })?;
            if out.iter().any(|o| o.key == key) {
                return Err(ConfigError(format!(
                    "authority {}: key listed twice",
                    i + 1
                )));
            }
            out.push(Peer {
                key,
                url: p.url.trim_end_matches('/').to_owned(),
            });
        }
        Ok(out)
    }
}
