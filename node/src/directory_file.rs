//! The operator's side of directories: the TOML description an authority
//! signs (`directory sign`) and the summary `directory verify` prints.

use mixmailer::directory::{Directory, DirectoryParams, NodeEntry};
use mixmailer::time::{format_directory_time, parse_directory_time};
use serde::Deserialize;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// A directory to sign, as an authority writes it.
///
/// ```toml
/// network = "test"
/// valid_days = 7            # or valid_until = "2026-12-31T00:00:00Z"
/// hops = 3
/// payload_size = 2048
/// mean_delay = 60           # seconds
///
/// [[node]]
/// nickname = "node1"
/// layer = 1
/// address = "mix@node1.example"
/// key = "<base64 public key printed by keygen node>"
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySource {
    /// Network name, `[a-z0-9-]{1,64}`.
    pub network: String,
    /// Start of validity, `YYYY-MM-DDTHH:MM:SSZ`; default: now.
    pub valid_after: Option<String>,
    /// End of validity, `YYYY-MM-DDTHH:MM:SSZ`.
    pub valid_until: Option<String>,
    /// Or: days of validity after `valid_after`.
    pub valid_days: Option<u64>,
    /// Route length = number of layers.
    pub hops: u8,
    /// Sphinx payload size.
    pub payload_size: usize,
    /// Mean per-hop delay in whole seconds.
    pub mean_delay: u64,
    /// The nodes.
    #[serde(default)]
    pub node: Vec<NodeSource>,
}

/// One node of a [`DirectorySource`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSource {
    /// Unique nickname.
    pub nickname: String,
    /// Layer, 1..=hops.
    pub layer: u8,
    /// The node's mailbox.
    pub address: String,
    /// The node's X25519 public key, base64.
    pub key: String,
}

/// Why a directory source could not be turned into parameters and nodes.
/// (Rules of the directory itself are checked by [`Directory::sign`].)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Not valid TOML for this schema.
    #[error("{0}")]
    Toml(String),
    /// A time field is not `YYYY-MM-DDTHH:MM:SSZ`.
    #[error("field `{field}`: {value:?} is not a time of the form YYYY-MM-DDTHH:MM:SSZ")]
    BadTime {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// Neither or both of `valid_until` and `valid_days` were given.
    #[error("give exactly one of `valid_until` and `valid_days`")]
    Validity,
    /// A node's key is not base64 of 32 bytes.
    #[error("node {nickname:?}: key is not base64 of 32 bytes (found {found})")]
    BadKey {
        /// The node.
        nickname: String,
        /// What was found.
        found: String,
    },
}

impl DirectorySource {
    /// Parses the TOML text.
    pub fn parse(text: &str) -> Result<DirectorySource, SourceError> {
        toml::from_str(text).map_err(|e| SourceError::Toml(e.to_string()))
    }

    /// The parameters and nodes to sign; `now` is the default start.
    pub fn to_parts(
        &self,
        now: SystemTime,
    ) -> Result<(DirectoryParams, Vec<NodeEntry>), SourceError> {
        let time = |field, value: &String| {
            parse_directory_time(value).ok_or_else(|| SourceError::BadTime {
                field,
                value: value.clone(),
            })
        };
        let valid_after = match &self.valid_after {
            Some(v) => time("valid_after", v)?,
            None => whole_seconds(now),
        };
        let valid_until = match (&self.valid_until, self.valid_days) {
            (Some(v), None) => time("valid_until", v)?,
            (None, Some(days)) => {
                valid_after + Duration::from_secs(days.saturating_mul(86_400).min(1 << 40))
            }
            _ => return Err(SourceError::Validity),
        };
        let params = DirectoryParams {
            network: self.network.clone(),
            valid_after,
            valid_until,
            hops: self.hops,
            payload_size: self.payload_size,
            mean_delay: Duration::from_secs(self.mean_delay),
        };
        let nodes = self
            .node
            .iter()
            .map(|n| {
                let key =
                    crate::keyfile::decode_public(&n.key).map_err(|found| SourceError::BadKey {
                        nickname: n.nickname.clone(),
                        found,
                    })?;
                Ok(NodeEntry::new(&n.nickname, n.layer, &n.address, key))
            })
            .collect::<Result<Vec<_>, SourceError>>()?;
        Ok((params, nodes))
    }
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// A human summary of a verified directory.
pub fn summary(directory: &Directory) -> String {
    let p = directory.params();
    let mut out = String::new();
    let _ = writeln!(out, "network:      {}", p.network);
    let _ = writeln!(
        out,
        "valid:        {} .. {}",
        format_directory_time(p.valid_after),
        format_directory_time(p.valid_until)
    );
    let _ = writeln!(out, "hops:         {}", p.hops);
    let _ = writeln!(out, "payload-size: {}", p.payload_size);
    let _ = writeln!(out, "mean-delay:   {} s", p.mean_delay.as_secs());
    let _ = writeln!(out, "nodes:        {}", directory.nodes().len());
    for node in directory.nodes() {
        let _ = writeln!(
            out,
            "  layer {} {:<16} {:<32} {}",
            node.layer(),
            node.nickname(),
            node.address(),
            crate::keyfile::encode_public(node.key())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"
network = "e2e"
valid_after = "2026-01-01T00:00:00Z"
valid_days = 2
hops = 1
payload_size = 2048
mean_delay = 1

[[node]]
nickname = "n1"
layer = 1
address = "mix@node1.test"
key = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="
"#;

    #[test]
    fn source_becomes_params_and_nodes() {
        let src = DirectorySource::parse(SOURCE).unwrap();
        let (params, nodes) = src.to_parts(SystemTime::now()).unwrap();
        assert_eq!(
            format_directory_time(params.valid_until),
            "2026-01-03T00:00:00Z"
        );
        assert_eq!(params.mean_delay, Duration::from_secs(1));
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].key(), &[9u8; 32]);
    }

    #[test]
    fn both_validity_fields_are_refused() {
        let text = SOURCE.replace(
            "valid_days = 2",
            "valid_days = 2\nvalid_until = \"2026-02-01T00:00:00Z\"",
        );
        let src = DirectorySource::parse(&text).unwrap();
        assert!(matches!(
            src.to_parts(SystemTime::now()),
            Err(SourceError::Validity)
        ));
    }

    #[test]
    fn bad_node_key_names_the_node() {
        let text = SOURCE.replace("CQkJ", "");
        let src = DirectorySource::parse(&text).unwrap();
        let err = src.to_parts(SystemTime::now()).unwrap_err().to_string();
        assert!(err.contains("\"n1\""), "{err}");
    }
}
