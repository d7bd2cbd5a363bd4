/// Why a node could not process a packet beyond its format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node's public key is not listed in the directory.
    #[error(
        "this node's public key is not in the directory: publish it or use the right key file"
    )]
    NotInDirectory,
    /// The packet names a next hop the directory does not list.
    #[error("the packet's next hop is not a node of the directory")]
    UnknownNextHop,
    /// The next hop is not in the next layer.
    #[error("the packet's next hop is in layer {next}, but this node is in layer {own}")]
    WrongNextLayer {
        /// this node's layer
        own: u8,
        /// the next hop's layer
        next: u8,
    },
    /// A fragment disagrees with earlier fragments of the same message about k, n or the length.
    #[error(
        "fragment of a message disagrees with its earlier fragments about k, n or the body length"
    )]
    InconsistentFragment,
    /// The store failed (disk, database).
    #[error("storage failed: {0}")]
    Storage(String),
}
