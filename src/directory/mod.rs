//! The signed directory of mix nodes (SPEC section 1, version 2): parsing
//! with every rule enforced, signature verification against trusted
//! authorities, and the writing side authorities and tests use. The
//! lexical and value rules are shared with [`crate::descriptor`] (SPEC 7).

mod error;
mod key_check;
mod parse;
pub(crate) mod rules;
pub(crate) mod text;
mod verify;
mod write;

pub(crate) use error::excerpt as error_excerpt;
pub use error::{DirectoryError, DirectoryErrorKind};
pub use rules::{
    MAX_ADDRESS_LEN, MAX_DOCUMENT_SIZE, MAX_HOPS, MAX_KEY_PERIOD_SECS, MAX_MEAN_DELAY_SECS,
    MAX_NODES, MAX_PAYLOAD_SIZE, MAX_PERIODS, MAX_VALIDITY, MIN_HOPS, MIN_KEY_PERIOD_SECS,
    MIN_PAYLOAD_SIZE,
};

use crate::keys::AuthoritySigningKey;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime};

/// The signature threshold SPEC 1 names as the default: one trusted authority suffices.
pub const DEFAULT_THRESHOLD: usize = 1;

/// A node's X25519 Sphinx public key for one key period (a `key` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeriodKey {
    /// The key period P the key is for (SPEC 2: floor(unix seconds / T)).
    pub period: u64,
    /// The X25519 public key.
    pub key: [u8; 32],
}

/// One mix node as listed in the directory: a `node` line and its `key` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    nickname: String,
    layer: u8,
    address: String,
    identity: [u8; 32],
    id: [u8; 32],
    keys: Vec<PeriodKey>,
}

impl NodeEntry {
    /// A node entry; `id` (SHA-256 of `identity`) is derived. Values are
    /// checked when the directory is signed or parsed, not here; a
    /// directory needs exactly one key per period of
    /// [`DirectoryParams::periods`], in increasing order.
    pub fn new(
        nickname: &str,
        layer: u8,
        address: &str,
        identity: [u8; 32],
        keys: Vec<PeriodKey>,
    ) -> Self {
        NodeEntry {
            nickname: nickname.to_owned(),
            layer,
            address: address.to_owned(),
            identity,
            id: crate::keys::node_id(&identity),
            keys,
        }
    }
    /// Unique nickname.
    pub fn nickname(&self) -> &str {
        &self.nickname
    }
    /// Layer 1..=h; layer h nodes are exits.
    pub fn layer(&self) -> u8 {
        self.layer
    }
    /// SMTP mailbox packets for this node are mailed to; an exit also
    /// delivers from it (SPEC 6).
    pub fn address(&self) -> &str {
        &self.address
    }
    /// Long-term Ed25519 identity public key.
    pub fn identity(&self) -> &[u8; 32] {
        &self.identity
    }
    /// SHA-256 of the identity: the Sphinx node address inside packets.
    /// It does not change when the period keys rotate.
    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }
    /// The X25519 keys by period; in a parsed directory one per period of
    /// [`DirectoryParams::periods`], in increasing order.
    pub fn keys(&self) -> &[PeriodKey] {
        &self.keys
    }
    /// The X25519 key for `period`, if the node has one (SPEC 2: a
    /// directory without it cannot be used in that period).
    pub fn key_for(&self, period: u64) -> Option<&[u8; 32]> {
        // At most 8 keys in a parsed directory: a scan beats a search.
        self.keys
            .iter()
            .find(|k| k.period == period)
            .map(|k| &k.key)
    }
}

/// The network-wide values a directory fixes (everything but nodes and signatures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryParams {
    /// `[a-z0-9-]{1,64}`
    pub network: String,
    /// Start of validity (inclusive), whole seconds.
    pub valid_after: SystemTime,
    /// End of validity (exclusive), whole seconds; at most 7 days after valid-after.
    pub valid_until: SystemTime,
    /// Route length = number of layers, 2..=5.
    pub hops: u8,
    /// Sphinx payload size p, 1024..=65536, multiple of 16.
    pub payload_size: usize,
    /// Mean per-hop delay s, whole seconds 0..=86400, with `hops * s <= key_period / 8`.
    pub mean_delay: Duration,
    /// Key period T, whole seconds 3600..=604800.
    pub key_period: Duration,
}

impl DirectoryParams {
    /// The key periods overlapping [valid_after, valid_until): every node
    /// lists exactly one key for each (at most [`MAX_PERIODS`] of them).
    pub fn periods(&self) -> RangeInclusive<u64> {
        rules::overlapping_periods(self.valid_after, self.valid_until, self.key_period)
    }
}

/// A parsed, verified directory.
#[derive(Clone, Debug)]
pub struct Directory {
    params: DirectoryParams,
    nodes: Vec<NodeEntry>,
    signers: Vec<[u8; 32]>,
    /// Positions in `nodes`, so that looking a node up per packet costs
    /// the same for 10 000 nodes as for 10.
    by_id: HashMap<[u8; 32], usize>,
    by_identity: HashMap<[u8; 32], usize>,
    by_nickname: HashMap<String, usize>,
}

impl Directory {
    /// Parses `text` and accepts it only if every rule of SPEC 1 holds, at
    /// least `threshold` distinct keys of `trusted` signed it validly, and
    /// `now` lies in [valid-after, valid-until).
    ///
    /// `threshold` must be at least 1 ([`DEFAULT_THRESHOLD`]) and at most the
    /// number of distinct `trusted` keys. Signatures by other keys are
    /// ignored; a trusted key's invalid signature is an error.
    ///
    /// One error is returned: the first broken rule of the text (in
    /// document order; layer coverage is checked once all lines are read),
    /// else a signature error, else the first key outside the prime-order
    /// subgroup (checked only once the signatures verify: it is the one
    /// costly rule, so a forged document costs one signature check), else
    /// the time window.
    pub fn parse(
        text: &[u8],
        trusted: &[[u8; 32]],
        threshold: usize,
        now: SystemTime,
    ) -> Result<Directory, DirectoryError> {
        let trusted = verify::Trusted::new(trusted, threshold)?;
        let document = parse::document(text)?;
        let signed = text.get(..document.signed_len).unwrap_or(text);
        let signers = trusted.check(signed, &document.signatures, threshold)?;
        document.pending_keys.check()?;
        let params = document.params;
        if now < params.valid_after {
            return Err(DirectoryError::whole(DirectoryErrorKind::NotYetValid {
                now,
                valid_after: params.valid_after,
            }));
        }
        if now >= params.valid_until {
            return Err(DirectoryError::whole(DirectoryErrorKind::Expired {
                now,
                valid_until: params.valid_until,
            }));
        }
        let nodes = document.nodes;
        // Ids, identities and nicknames are unique in a parsed directory.
        let by_id = (0..).zip(&nodes).map(|(i, n)| (*n.id(), i)).collect();
        let by_identity = (0..).zip(&nodes).map(|(i, n)| (*n.identity(), i)).collect();
        let by_nickname = (0..)
            .zip(&nodes)
            .map(|(i, n)| (n.nickname().to_owned(), i))
            .collect();
        Ok(Directory {
            params,
            nodes,
            signers,
            by_id,
            by_identity,
            by_nickname,
        })
    }

    /// Writes a directory document in canonical form (nodes in the given
    /// order) and signs it with each of `authorities`, in order. Every rule
    /// of SPEC 1 is checked first with the parser's own checks, so a signed
    /// document always parses; errors name the line the value would have had.
    pub fn sign(
        params: &DirectoryParams,
        nodes: &[NodeEntry],
        authorities: &[&AuthoritySigningKey],
    ) -> Result<Vec<u8>, DirectoryError> {
        write::sign(params, nodes, authorities)
    }

    /// Appends `authority`'s signature to a signed document, for networks
    /// whose authorities sign one after another. The document must satisfy
    /// every rule of SPEC 1 except the time window, each signature already on
    /// it must verify under its own key, and `authority` must not have
    /// signed it yet. The signed part is left byte for byte as it is.
    pub fn add_signature(
        text: &[u8],
        authority: &AuthoritySigningKey,
    ) -> Result<Vec<u8>, DirectoryError> {
        write::add_signature(text, authority)
    }

    /// Network-wide values.
    pub fn params(&self) -> &DirectoryParams {
        &self.params
    }
    /// All nodes in document order.
    pub fn nodes(&self) -> &[NodeEntry] {
        &self.nodes
    }
    /// The node whose id (SHA-256 of its identity) is `id`: how a node
    /// finds the next hop a packet names.
    pub fn node_by_id(&self, id: &[u8; 32]) -> Option<&NodeEntry> {
        self.by_id.get(id).and_then(|&i| self.nodes.get(i))
    }
    /// The node whose identity public key is `identity`.
    pub fn node_by_identity(&self, identity: &[u8; 32]) -> Option<&NodeEntry> {
        self.by_identity
            .get(identity)
            .and_then(|&i| self.nodes.get(i))
    }
    /// The node called `nickname`.
    pub fn node_by_nickname(&self, nickname: &str) -> Option<&NodeEntry> {
        self.by_nickname
            .get(nickname)
            .and_then(|&i| self.nodes.get(i))
    }
    /// The trusted authority keys whose valid signatures were counted, in document order.
    pub fn signers(&self) -> &[[u8; 32]] {
        &self.signers
    }
}
