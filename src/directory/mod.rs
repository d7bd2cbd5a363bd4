//! The signed directory of mix nodes (SPEC section 1): parsing with every
//! rule enforced, signature verification against trusted authorities, and
//! the writing side operators and tests use.

mod error;
pub use error::DirectoryError;

use std::time::{Duration, SystemTime};

/// One mix node as listed in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    nickname: String,
    layer: u8,
    address: String,
    key: [u8; 32],
    id: [u8; 32],
    /// Precomputation for packet creation, built on first use.
    table: crate::sphinx::HopTable,
}

impl NodeEntry {
    /// A node entry; `id` (SHA-256 of `key`) is derived. Values are checked
    /// when the directory is signed or parsed, not here.
    pub fn new(nickname: &str, layer: u8, address: &str, key: [u8; 32]) -> Self {
        use sha2::Digest;
        NodeEntry {
            nickname: nickname.to_owned(),
            layer,
            address: address.to_owned(),
            key,
            id: sha2::Sha256::digest(key).into(),
            table: crate::sphinx::HopTable::default(),
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
    /// SMTP mailbox packets for this node are mailed to.
    pub fn address(&self) -> &str {
        &self.address
    }
    /// X25519 public key.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }
    /// SHA-256 of the key: the Sphinx node address inside packets.
    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }
    /// Lazily built precomputation for creating packets to this node.
    pub(crate) fn table(&self) -> &crate::sphinx::HopTable {
        &self.table
    }
}

/// The network-wide values a directory fixes (everything but nodes and signatures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryParams {
    /// `[a-z0-9-]{1,64}`
    pub network: String,
    /// Start of validity (inclusive), whole seconds.
    pub valid_after: SystemTime,
    /// End of validity (exclusive), whole seconds.
    pub valid_until: SystemTime,
    /// Route length = number of layers, 1..=5.
    pub hops: u8,
    /// Sphinx payload size p, 1024..=65536, multiple of 16.
    pub payload_size: usize,
    /// Mean per-hop delay, whole seconds 0..=86400.
    pub mean_delay: Duration,
}

/// A parsed, verified directory.
#[derive(Clone, Debug)]
pub struct Directory {
    params: DirectoryParams,
    nodes: Vec<NodeEntry>,
}

impl Directory {
    /// Parses `text` and accepts it only if every rule of SPEC 1 holds, at
    /// least `threshold` distinct keys of `trusted` signed it validly, and
    /// `now` lies in [valid-after, valid-until).
    pub fn parse(
        text: &[u8],
        trusted: &[[u8; 32]],
        threshold: usize,
        now: SystemTime,
    ) -> Result<Directory, DirectoryError> {
        unimplemented!()
    }

    /// Writes and signs a directory document. Every rule of SPEC 1 is
    /// checked first, so a signed document always parses.
    pub fn sign(
        params: &DirectoryParams,
        nodes: &[NodeEntry],
        authorities: &[&crate::keys::AuthoritySigningKey],
    ) -> Result<Vec<u8>, DirectoryError> {
        unimplemented!()
    }

    /// Network-wide values.
    pub fn params(&self) -> &DirectoryParams {
        &self.params
    }
    /// All nodes in document order.
    pub fn nodes(&self) -> &[NodeEntry] {
        &self.nodes
    }
    /// The node whose id (SHA-256 of its key) is `id`.
    pub fn node_by_id(&self, id: &[u8; 32]) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.id() == id)
    }
    /// The node whose public key is `key`.
    pub fn node_by_key(&self, key: &[u8; 32]) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.key() == key)
    }
}
