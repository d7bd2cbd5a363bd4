use super::StoreError;

/// Why a node could not process a packet beyond its format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node's identity is not listed in the directory.
    #[error(
        "this node's identity key is not in the directory: publish its descriptor or use the right key file"
    )]
    NotInDirectory,
    /// A period key the node holds differs from the key the directory lists
    /// for it: the node would fail to open every packet of that period.
    #[error("the node's key for period {period} is not the one the directory lists for this node: the key directory and the directory disagree")]
    KeyMismatch {
        /// The period.
        period: u64,
    },
    /// A packet of an accepted period arrived, but the node has no secret
    /// key for it (lost or not yet made): an operator must restore it.
    #[error("no secret key for key period {period}: the node's key directory lacks it")]
    MissingPeriodKey {
        /// The packet's period.
        period: u64,
    },
    /// The packet names a next hop the directory does not list (perhaps a
    /// newer directory than this node's): worth retrying after a refresh.
    #[error("the packet's next hop is not a node of this node's directory")]
    UnknownNextHop,
    /// The next hop is not in the next layer.
    #[error("the packet's next hop is in layer {next}, but this node is in layer {own}")]
    WrongNextLayer {
        /// this node's layer
        own: u8,
        /// the next hop's layer
        next: u8,
    },
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl NodeError {
    /// Whether the same carrier may succeed later (so an MTA should retry
    /// rather than the node drop it): storage trouble, a missing key, or a
    /// next hop this node's directory does not know yet.
    pub fn is_temporary(&self) -> bool {
        match self {
            NodeError::Store(e) => e.is_temporary(),
            NodeError::MissingPeriodKey { .. } | NodeError::UnknownNextHop => true,
            _ => false,
        }
    }
}
