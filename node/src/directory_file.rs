//! The operator's side of directories: the TOML description an authority
//! signs (`directory sign`), built from the nodes' signed descriptors
//! (SPEC 7), and the summary `directory verify` prints.

use mixmailer::descriptor::{Descriptor, DescriptorError, Role};
use mixmailer::directory::{Directory, DirectoryParams, NodeEntry};
use mixmailer::time::{format_directory_time, parse_directory_time};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A directory to sign, as an authority writes it. Nodes are named by
/// their descriptor files (`mixmailer-node descriptor`): nickname,
/// address, identity and period keys come from there, verified by the
/// descriptor's self-signature, so nobody copies keys by hand.
///
/// ```toml
/// network = "test"
/// key_period = 86400        # seconds, 3600..=604800
/// valid_days = 7            # or valid_until = "2026-12-31T00:00:00Z"
/// hops = 3
/// payload_size = 2048
/// mean_delay = 60           # seconds
///
/// [[node]]
/// descriptor = "alpha.descriptor"   # relative to this file
/// layer = 1
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySource {
    /// Network name, `[a-z0-9-]{1,64}`.
    pub network: String,
    /// Key period T in whole seconds.
    pub key_period: u64,
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
    /// The node's signed descriptor file.
    pub descriptor: PathBuf,
    /// Layer, 1..=hops; an exit (role `exit`) only in layer `hops`.
    pub layer: u8,
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
    /// A descriptor file could not be read.
    #[error("descriptor {path}: {source}")]
    DescriptorRead {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A descriptor was refused (format, rules, or its self-signature).
    #[error("descriptor {path}: {source}")]
    Descriptor {
        /// The file.
        path: PathBuf,
        /// The library's reason, with its line.
        source: DescriptorError,
    },
    /// A descriptor is for another network or key period.
    #[error("descriptor {path}: it is for network {network:?} with key period {key_period} s, this directory is {expected_network:?} with {expected_key_period} s")]
    WrongNetwork {
        /// The file.
        path: PathBuf,
        /// The descriptor's network.
        network: String,
        /// The descriptor's key period in seconds.
        key_period: u64,
        /// This directory's network.
        expected_network: String,
        /// This directory's key period in seconds.
        expected_key_period: u64,
    },
    /// A node is placed in a layer its role does not allow.
    #[error("node {nickname:?} ({path}) is a {role} node and cannot be in layer {layer} of {hops}: exits belong in layer {hops}, mixes before it")]
    WrongLayer {
        /// The node.
        nickname: String,
        /// Its descriptor file.
        path: PathBuf,
        /// Its role.
        role: &'static str,
        /// The layer asked for.
        layer: u8,
        /// The route length.
        hops: u8,
    },
}

impl DirectorySource {
    /// Parses the TOML text.
    pub fn parse(text: &str) -> Result<DirectorySource, SourceError> {
        toml::from_str(text).map_err(|e| SourceError::Toml(e.to_string()))
    }

    /// The parameters and nodes to sign; `now` is the default start, and
    /// descriptor paths are relative to `base` (the source file's directory).
    pub fn to_parts(
        &self,
        now: SystemTime,
        base: &Path,
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
            key_period: Duration::from_secs(self.key_period),
        };
        let periods = params.periods();
        let nodes = self
            .node
            .iter()
            .map(|n| {
                let path = base.join(&n.descriptor);
                let text = std::fs::read(&path).map_err(|source| SourceError::DescriptorRead {
                    path: path.clone(),
                    source,
                })?;
                let d = Descriptor::parse(&text).map_err(|source| SourceError::Descriptor {
                    path: path.clone(),
                    source,
                })?;
                if d.network != self.network || d.key_period.as_secs() != self.key_period {
                    return Err(SourceError::WrongNetwork {
                        path,
                        network: d.network,
                        key_period: d.key_period.as_secs(),
                        expected_network: self.network.clone(),
                        expected_key_period: self.key_period,
                    });
                }
                let exit_layer = n.layer == self.hops;
                if (d.role == Role::Exit) != exit_layer {
                    return Err(SourceError::WrongLayer {
                        nickname: d.nickname,
                        path,
                        role: d.role.as_str(),
                        layer: n.layer,
                        hops: self.hops,
                    });
                }
                // The periods this directory covers; a missing one is
                // named by Directory::sign.
                let keys = d
                    .keys
                    .into_iter()
                    .filter(|k| periods.contains(&k.period))
                    .collect();
                Ok(NodeEntry::new(
                    &d.nickname,
                    n.layer,
                    &d.address,
                    d.identity,
                    keys,
                ))
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
    let _ = writeln!(out, "key-period:   {} s", p.key_period.as_secs());
    let periods = p.periods();
    let _ = writeln!(
        out,
        "key periods:  {} ..= {}",
        periods.start(),
        periods.end()
    );
    let _ = writeln!(out, "nodes:        {}", directory.nodes().len());
    for node in directory.nodes() {
        let _ = writeln!(
            out,
            "  layer {} {:<16} {:<32} {}",
            node.layer(),
            node.nickname(),
            node.address(),
            crate::keyfile::encode_public(node.identity())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixmailer::directory::PeriodKey;
    use mixmailer::keys::{NodeIdentityKey, NodeSecretKey};
    use mixmailer::period::period_of;
    use rand_core::SeedableRng;

    const SOURCE: &str = r#"
network = "e2e"
key_period = 86400
valid_after = "2026-01-01T00:00:00Z"
valid_days = 2
hops = 1
payload_size = 2048
mean_delay = 1

[[node]]
descriptor = "n1.descriptor"
layer = 1
"#;

    /// Writes a signed descriptor of an exit covering January 2026.
    fn descriptor(dir: &Path, role: Role, network: &str) -> [u8; 32] {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
        let identity = NodeIdentityKey::generate(&mut rng);
        let t = Duration::from_secs(86_400);
        let first = period_of(parse_directory_time("2026-01-01T00:00:00Z").unwrap(), t);
        let d = Descriptor {
            network: network.into(),
            key_period: t,
            nickname: "n1".into(),
            address: "mix@node1.test".into(),
            identity: identity.public_key(),
            role,
            published: parse_directory_time("2026-01-01T00:00:00Z").unwrap(),
            keys: (first..first + 5)
                .map(|period| PeriodKey {
                    period,
                    key: NodeSecretKey::generate(&mut rng).public_key(),
                })
                .collect(),
        };
        std::fs::write(dir.join("n1.descriptor"), d.sign(&identity).unwrap()).unwrap();
        identity.public_key()
    }

    #[test]
    fn source_takes_nodes_from_their_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let identity = descriptor(dir.path(), Role::Exit, "e2e");
        let src = DirectorySource::parse(SOURCE).unwrap();
        let (params, nodes) = src.to_parts(SystemTime::now(), dir.path()).unwrap();
        assert_eq!(
            format_directory_time(params.valid_until),
            "2026-01-03T00:00:00Z"
        );
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].identity(), &identity);
        assert_eq!(nodes[0].address(), "mix@node1.test");
        // Only the periods the directory covers (two days: 2 periods).
        assert_eq!(nodes[0].keys().len(), 2);
    }

    #[test]
    fn mix_descriptor_in_the_exit_layer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        descriptor(dir.path(), Role::Mix, "e2e");
        let src = DirectorySource::parse(SOURCE).unwrap();
        let err = src.to_parts(SystemTime::now(), dir.path()).unwrap_err();
        assert!(
            matches!(err, SourceError::WrongLayer { layer: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn descriptor_of_another_network_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        descriptor(dir.path(), Role::Exit, "other");
        let src = DirectorySource::parse(SOURCE).unwrap();
        let err = src.to_parts(SystemTime::now(), dir.path()).unwrap_err();
        assert!(matches!(err, SourceError::WrongNetwork { .. }), "{err}");
    }

    #[test]
    fn tampered_descriptor_is_refused_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        descriptor(dir.path(), Role::Exit, "e2e");
        let path = dir.path().join("n1.descriptor");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("mix@node1.test", "mix@evil1.test")).unwrap();
        let src = DirectorySource::parse(SOURCE).unwrap();
        let err = src.to_parts(SystemTime::now(), dir.path()).unwrap_err();
        assert!(matches!(err, SourceError::Descriptor { .. }), "{err}");
        assert!(err.to_string().contains("n1.descriptor"), "{err}");
    }

    #[test]
    fn both_validity_fields_are_refused() {
        let text = SOURCE.replace(
            "valid_days = 2",
            "valid_days = 2\nvalid_until = \"2026-02-01T00:00:00Z\"",
        );
        let src = DirectorySource::parse(&text).unwrap();
        assert!(matches!(
            src.to_parts(SystemTime::now(), Path::new(".")),
            Err(SourceError::Validity)
        ));
    }
}
