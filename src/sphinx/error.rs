use std::sync::Arc;

/// Why a Sphinx packet could not be built or processed.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The route has no hops or more than a packet can encode.
    #[error("a route of {hops} hops cannot be encoded: a packet has 1 to {max} hops")]
    HopCount {
        /// hops given
        hops: usize,
        /// most hops a packet encodes (5)
        max: usize,
    },
    /// The delays do not match the hops one to one.
    #[error("{hops} hops but {delays} delays: a packet needs one delay per hop")]
    DelayCount {
        /// hops given
        hops: usize,
        /// delays given
        delays: usize,
    },
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
    /// `sphinx-packet` refused the packet or its processing failed
    /// otherwise (shared, so that the error stays `Clone`).
    #[error("sphinx-packet: {0}")]
    Sphinx(#[source] Arc<sphinx_packet::Error>),
    /// A step of the construction failed that cannot fail for inputs that
    /// passed the checks above: a bug in this crate, reported instead of
    /// panicking.
    #[error("internal error in packet construction: {0}")]
    Internal(#[from] Fault),
}

impl From<sphinx_packet::Error> for PacketError {
    fn from(error: sphinx_packet::Error) -> Self {
        PacketError::Sphinx(Arc::new(error))
    }
}

/// The step of packet construction that failed in a [`PacketError::Internal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    /// HKDF refused an expansion length.
    #[error("HKDF expansion of the {0} refused its length")]
    KeyExpansion(Expansion),
    /// A MAC or cipher refused a key of the length the construction gives it.
    #[error("the {0} refused its key length")]
    KeyLength(Primitive),
    /// The batched Edwards-to-Montgomery conversion returned fewer points than given.
    #[error("the batched Montgomery conversion lost a point")]
    MontgomeryBatch,
    /// A thread building packets panicked.
    #[error("a packet-building thread panicked")]
    ThreadPanicked,
}

/// Which HKDF expansion a [`Fault::KeyExpansion`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Expansion {
    /// A hop's keys from its shared secret.
    #[error("hop keys")]
    HopKeys,
    /// A hop's Lioness key from its payload seed.
    #[error("payload key")]
    PayloadKey,
    /// The final hop's padding from the initial secret.
    #[error("final-hop padding")]
    Padding,
}

/// Which primitive a [`Fault::KeyLength`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Primitive {
    /// HMAC-SHA256 of the header.
    #[error("header HMAC")]
    HeaderMac,
    /// ChaCha20 of a Lioness stream round.
    #[error("Lioness stream cipher")]
    LionessStream,
    /// Keyed BLAKE2b of a Lioness hash round.
    #[error("Lioness hash")]
    LionessHash,
}
