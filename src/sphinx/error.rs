/// Why a Sphinx packet could not be built or processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// The packet is not 348 + p bytes long.
    #[error("packet is {actual} bytes, expected {expected} (348-byte header + payload)")]
    WrongLength {
        /// expected length
        expected: usize,
        /// actual length
        actual: usize,
    },
    /// The header MAC did not verify under this node's key: tampered, or not for this node.
    #[error("header integrity check failed: the packet was altered or is not for this node")]
    HeaderMac,
    /// The payload did not decrypt to a well-formed plaintext: it was altered.
    #[error("payload integrity check failed: the payload was altered")]
    PayloadIntegrity,
    /// The route does not fit in a packet (empty, longer than 5, wrong delay count).
    #[error("route cannot be encoded: {0}")]
    BadRoute(String),
    /// The plaintext does not fit the payload.
    #[error("plaintext of {actual} bytes exceeds the payload capacity of {capacity}")]
    PlaintextTooLong {
        /// capacity C
        capacity: usize,
        /// actual length
        actual: usize,
    },
    /// The final hop carried a destination or identifier SPEC 2 does not allow
    /// (non-zero identifiers are reserved for reply blocks).
    #[error(
        "final hop carries a non-zero destination or identifier (reply blocks are not supported)"
    )]
    UnsupportedDestination,
    /// The payload size is too small for Lioness and the payload overhead.
    #[error("payload size {actual} is below the minimum of {minimum} bytes")]
    PayloadTooSmall {
        /// smallest payload size
        minimum: usize,
        /// payload size given
        actual: usize,
    },
    /// The final hop's padding does not fill the space the route leaves.
    #[error("final-hop padding is {actual} bytes, the route needs {expected}")]
    PaddingLength {
        /// padding length this route needs
        expected: usize,
        /// padding length given
        actual: usize,
    },
    /// A hop's key is not the u-coordinate of a point on Curve25519 (it is
    /// on the twist); a directory that was parsed never lists such a key.
    #[error("the key of hop {hop} (counting from 0) is not a point on Curve25519")]
    KeyNotOnCurve {
        /// index of the hop in the route
        hop: usize,
    },
    /// Any other failure reported by sphinx-packet.
    #[error("sphinx: {0}")]
    Sphinx(String),
}
