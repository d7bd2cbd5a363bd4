//! The crate-wide error: one variant per module, each carrying that
//! module's own enum so callers (and the C API) can tell causes apart.

use crate::carrier::CarrierError;
use crate::directory::DirectoryError;
use crate::message::MessageError;
use crate::node::NodeError;
use crate::route::RouteError;
use crate::sphinx::PacketError;

/// Everything that can go wrong in MixMailer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The signed directory was malformed, unsigned, or out of date.
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
    /// A route could not be chosen or built.
    #[error("route: {0}")]
    Route(#[from] RouteError),
    /// The RFC 5322 message, its body or its fragments were unusable.
    #[error("message: {0}")]
    Message(#[from] MessageError),
    /// A carrier email could not be read.
    #[error("carrier email: {0}")]
    Carrier(#[from] CarrierError),
    /// A Sphinx packet could not be built or processed.
    #[error("packet: {0}")]
    Packet(#[from] PacketError),
    /// The node could not process a packet (storage, reassembly).
    #[error("node: {0}")]
    Node(#[from] NodeError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Randomness(#[source] rand::rngs::SysError),
}

impl From<crate::node::StoreError> for Error {
    fn from(error: crate::node::StoreError) -> Self {
        Error::Node(NodeError::Store(error))
    }
}
