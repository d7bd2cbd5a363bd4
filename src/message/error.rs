//! Every way a message, a body or a fragment can be refused.

use super::mailbox::Undeliverable;
use std::fmt;

/// A raw DEFLATE stream flate2 could not inflate, kept as the typed source
/// of [`MessageError::NotDeflate`]. Two are equal when they describe the
/// same fault (flate2's error has no equality of its own).
#[derive(Clone, Debug)]
pub struct InflateError(pub flate2::DecompressError);

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for InflateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl PartialEq for InflateError {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for InflateError {}

/// flate2 refused to compress (it never does for a well-formed call; kept
/// typed so that an impossible case is still an error, not a panic).
#[derive(Clone, Debug)]
pub struct DeflateError(pub flate2::CompressError);

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for DeflateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl PartialEq for DeflateError {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for DeflateError {}

/// Why a message, body or fragment was refused.
///
/// Line numbers count from 1 and refer to the message after bare LF line
/// endings were turned into CRLF (which does not change line numbers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    // --- RFC 5322 message (SPEC 6) ---
    /// The message has no bytes at all.
    #[error("the message is empty")]
    Empty,
    /// A NUL byte in the header (RFC 5322 allows none).
    #[error("header line {line} contains a NUL byte")]
    NulInHeader {
        /// Line of the header.
        line: usize,
    },
    /// A CR in the header that does not start a CRLF line ending.
    #[error("header line {line} contains a CR that is not followed by LF")]
    BareCarriageReturn {
        /// Line of the header.
        line: usize,
    },
    /// The header starts with a folded continuation line (leading space or tab).
    #[error("header line {line} starts with white space but continues no field")]
    ContinuationWithoutField {
        /// Line of the header.
        line: usize,
    },
    /// A header line that is neither `name: value` nor a folded continuation.
    #[error("header line {line} has no colon: not an RFC 5322 header field")]
    MissingColon {
        /// Line of the header.
        line: usize,
    },
    /// A field name that is empty or holds characters RFC 5322 forbids
    /// (anything but printable ASCII other than `:`).
    #[error("header line {line}: invalid field name {name:?}")]
    InvalidFieldName {
        /// Line of the header.
        line: usize,
        /// The name as written (lossy UTF-8).
        name: String,
    },
    /// The message ends inside a header line (no line ending after the last field).
    #[error("header line {line} is not terminated by a line ending")]
    UnterminatedHeader {
        /// Line of the header.
        line: usize,
    },
    /// mail-parser split the header into fields differently than its lines
    /// say (a field value it could not read to its end).
    #[error("header field on line {line} could not be parsed")]
    UnparsableField {
        /// Line where the field starts.
        line: usize,
    },
    /// No From field (RFC 5322 requires exactly one).
    #[error("the message has no From field")]
    MissingFrom,
    /// More than one From field (RFC 5322 allows exactly one).
    #[error("the message has {count} From fields; RFC 5322 allows exactly one")]
    MultipleFrom {
        /// How many there are.
        count: usize,
    },
    /// The From field names no mailbox.
    #[error("the From field contains no address")]
    FromWithoutAddress,
    /// No envelope recipient in To, Cc or Bcc (or in the body's rcpt lines).
    #[error("the message has no recipient in To, Cc or Bcc")]
    NoRecipient,
    /// More envelope recipients than SPEC 4 allows.
    #[error("{count} recipients, at most {max} are allowed")]
    TooManyRecipients {
        /// Distinct recipients found.
        count: usize,
        /// The limit ([`super::MAX_RECIPIENTS`]).
        max: usize,
    },
    /// A recipient that cannot go into an SMTP envelope or a `rcpt` line.
    #[error("{origin}: invalid recipient {address:?}: {reason}")]
    InvalidRecipient {
        /// Where it was found: `To`, `Cc`, `Bcc`, `rcpt line 3`, or `envelope`.
        origin: String,
        /// The address as found (or the display name if there was no address).
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same recipient twice in a body's rcpt lines or a given envelope.
    #[error("{origin}: recipient {address:?} appears twice")]
    DuplicateRecipient {
        /// Where the second one was found.
        origin: String,
        /// The address.
        address: String,
    },

    /// A recipient the exit must not deliver to (SPEC 6): an address
    /// literal, localhost, or a name without a dot. The whole message is refused.
    #[error("{origin}: will not deliver to {address:?}: {reason}")]
    UndeliverableRecipient {
        /// Where it was found: `To`, `Cc`, `Bcc` or `envelope`.
        origin: String,
        /// The address.
        address: String,
        /// Why.
        reason: Undeliverable,
    },
    /// A string given as a [`super::Mailbox`] is not a plain mailbox.
    #[error("invalid mailbox {address:?}: {reason}")]
    InvalidMailbox {
        /// What was given (cut after 255 characters).
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The header (up to the first empty line) is larger than the limit;
    /// checked before anything is parsed, so it costs no memory.
    #[error("the header is larger than {max} bytes")]
    HeaderTooLarge {
        /// The limit ([`super::MAX_HEADER_BYTES`]).
        max: usize,
    },
    /// The header has more fields than the limit.
    #[error("the header has more than {max} fields")]
    TooManyHeaderFields {
        /// The limit ([`super::MAX_HEADER_FIELDS`]).
        max: usize,
    },
    /// A MIME structure the scrubber cannot rewrite safely (SPEC 6); the
    /// message is refused rather than sent half-scrubbed.
    #[error("MIME part at byte {offset} cannot be scrubbed: {reason}")]
    UnscrubbablePart {
        /// Offset of the part (after CRLF conversion).
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed")]
    Randomness(#[source] rand::rngs::SysError),

    // --- Body (SPEC 4) ---
    /// The body is not a valid raw DEFLATE stream.
    #[error("the body is not valid raw DEFLATE")]
    NotDeflate(#[source] InflateError),
    /// The body's DEFLATE stream ends before its final block.
    #[error("the body's DEFLATE stream is cut off")]
    TruncatedBody,
    /// Bytes after the end of the body's DEFLATE stream.
    #[error("{count} bytes follow the end of the body's DEFLATE stream")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// Compressing a body failed (flate2 does not fail on valid use).
    #[error("compressing the body failed")]
    Deflate(#[source] DeflateError),
    /// Delivering the message would cost the exit more than the limit:
    /// inflated size times recipients (issue: bandwidth amplification).
    #[error("{inflated} bytes to {recipients} recipients exceed the exit's limit of {max} bytes per message")]
    DeliveryTooCostly {
        /// Inflated message size.
        inflated: usize,
        /// Envelope recipients.
        recipients: usize,
        /// The limit ([`super::MAX_DELIVERY_BYTES`]).
        max: usize,
    },
    /// The body inflates by more than the allowed ratio: a compression
    /// bomb, not mail.
    #[error(
        "the body inflates from {compressed} to {inflated} bytes, more than {max_ratio} times"
    )]
    InflationRatioTooHigh {
        /// Inflated size.
        inflated: usize,
        /// Compressed size.
        compressed: usize,
        /// The limit ([`super::MAX_INFLATION_RATIO`]).
        max_ratio: usize,
    },
    /// The body inflates beyond the limit (a decompression bomb or a corrupt body).
    #[error("the body inflates to more than {max} bytes")]
    InflatedTooLarge {
        /// The limit ([`super::MAX_INFLATED_BODY`]).
        max: usize,
    },
    /// A body line before the blank line that is not `rcpt <address>`.
    #[error("body line {line} is not `rcpt <address>`")]
    BadRcptLine {
        /// Line of the inflated body.
        line: usize,
    },
    /// The inflated body has no blank line after its rcpt lines.
    #[error("the body has no blank line between rcpt lines and message")]
    MissingSeparator,

    // --- Fragments (SPEC 3) ---
    /// The payload size leaves no room for a shard.
    #[error("payload size {payload_size} is too small for a fragment")]
    PayloadTooSmall {
        /// The payload size p.
        payload_size: usize,
    },
    /// The body needs more than 255 data fragments.
    #[error(
        "the body is {body_len} bytes; at most {max} fit into 255 fragments of this payload size"
    )]
    MessageTooLarge {
        /// Compressed body size.
        body_len: usize,
        /// The largest body this payload size allows (255 * S).
        max: usize,
    },
    /// k data plus the requested parity fragments exceed 255.
    #[error("{k} data + {parity} parity fragments exceed 255")]
    TooManyFragments {
        /// Data fragments.
        k: usize,
        /// Requested parity fragments.
        parity: usize,
    },
    /// A payload plaintext of the wrong length.
    #[error("fragment is {actual} bytes, expected {expected}")]
    FragmentLength {
        /// C = p - 17.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// A fragment format version other than 1.
    #[error("fragment format version {0} is not supported (expected 1)")]
    UnsupportedVersion(u8),
    /// k = 0 in a fragment header.
    #[error("fragment says k = 0 data fragments")]
    ZeroDataFragments,
    /// n < k in a fragment header.
    #[error("fragment says n = {n} fragments, fewer than k = {k}")]
    FewerFragmentsThanData {
        /// Data fragments.
        k: u8,
        /// All fragments.
        n: u8,
    },
    /// index >= n in a fragment header.
    #[error("fragment index {index} is not below n = {n}")]
    IndexOutOfRange {
        /// The index.
        index: u8,
        /// All fragments.
        n: u8,
    },
    /// L > k * S in a fragment header.
    #[error("fragment says the body is {body_len} bytes, more than k * S = {max}")]
    BodyLengthTooLarge {
        /// L.
        body_len: u32,
        /// k * S.
        max: usize,
    },
    /// A byte after the shard is not zero.
    #[error("fragment byte {offset} after the shard is not zero")]
    NonZeroTail {
        /// Offset in the plaintext.
        offset: usize,
    },
    /// A shard whose length is not S.
    #[error("fragment {index} has a {actual}-byte shard, expected {expected}")]
    ShardLength {
        /// The fragment index.
        index: u8,
        /// S.
        expected: usize,
        /// What it has.
        actual: usize,
    },
    /// No fragments were given to reassemble.
    #[error("no fragments to reassemble")]
    NoFragments,
    /// Fragments given together disagree on what message they belong to.
    #[error("fragments disagree on {field}: {first} vs {other}")]
    InconsistentFragments {
        /// `message id`, `k`, `n` or `body length`.
        field: &'static str,
        /// Value in the first fragment.
        first: String,
        /// Value in a later one.
        other: String,
    },
    /// Fewer distinct fragments than k.
    #[error("{have} distinct fragments, {need} are needed")]
    NotEnoughFragments {
        /// Distinct fragments given.
        have: usize,
        /// k.
        need: usize,
    },
    /// The erasure codec refused (should not happen after the checks above).
    #[error("erasure code: {0}")]
    ErasureCode(String),
}
