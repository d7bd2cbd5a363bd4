//! The signed directory of mix nodes (SPEC section 1): parsing with every
//! rule enforced, signature verification against trusted authorities, and
//! the writing side operators and tests use.

mod error;
mod key_check;
mod parse;
mod rules;
mod verify;
mod write;

pub use error::DirectoryError;
pub use rules::{
    MAX_ADDRESS_LEN, MAX_DOCUMENT_SIZE, MAX_HOPS, MAX_MEAN_DELAY_SECS, MAX_NODES, MAX_PAYLOAD_SIZE,
    MIN_PAYLOAD_SIZE,
};

use crate::keys::AuthoritySigningKey;
use std::time::{Duration, SystemTime};

/// The signature threshold SPEC 1 names as the default: one trusted authority suffices.
pub const DEFAULT_THRESHOLD: usize = 1;

/// One mix node as listed in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    nickname: String,
    layer: u8,
    address: String,
    key: [u8; 32],
    id: [u8; 32],
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
    signers: Vec<[u8; 32]>,
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
    /// One error is returned: the first broken rule of the text (mostly in
    /// document order; layer coverage is checked once all lines are read),
    /// else a signature error, else the time window.
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
        let params = document.params;
        if now < params.valid_after {
            return Err(DirectoryError::NotYetValid {
                now,
                valid_after: params.valid_after,
            });
        }
        if now >= params.valid_until {
            return Err(DirectoryError::Expired {
                now,
                valid_until: params.valid_until,
            });
        }
        Ok(Directory {
            params,
            nodes: document.nodes,
            signers,
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
    /// The node whose id (SHA-256 of its key) is `id`.
    pub fn node_by_id(&self, id: &[u8; 32]) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.id() == id)
    }
    /// The node whose public key is `key`.
    pub fn node_by_key(&self, key: &[u8; 32]) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.key() == key)
    }
    /// The node called `nickname`.
    pub fn node_by_nickname(&self, nickname: &str) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.nickname() == nickname)
    }
    /// The trusted authority keys whose valid signatures were counted, in document order.
    pub fn signers(&self) -> &[[u8; 32]] {
        &self.signers
    }
}
