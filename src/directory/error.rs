use crate::time::format_directory_time;
use std::fmt;
use std::time::{Duration, SystemTime};

/// Why a directory was refused or could not be written: the broken rule
/// ([`DirectoryError::kind`]) and the line it is on ([`DirectoryError::line`]).
///
/// Lines are 1-based, as an editor counts. When signing, the line is the
/// one the value would have had in the written document. Errors about the
/// caller's arguments, the document as a whole or its acceptance (signature
/// threshold, time window) have no line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryError {
    line: Option<usize>,
    kind: DirectoryErrorKind,
}

impl DirectoryError {
    /// An error about line `line`.
    pub(crate) fn at(line: usize, kind: DirectoryErrorKind) -> Self {
        DirectoryError {
            line: Some(line),
            kind,
        }
    }

    /// An error about no line in particular.
    pub(crate) fn whole(kind: DirectoryErrorKind) -> Self {
        DirectoryError { line: None, kind }
    }

    /// The 1-based line the error is about, if it comes from a line.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The rule that was broken, with the values involved.
    pub fn kind(&self) -> &DirectoryErrorKind {
        &self.kind
    }
}

impl fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => self.kind.fmt(f),
        }
    }
}

impl std::error::Error for DirectoryError {}

/// The rules of SPEC 1 (and the lexical and value rules SPEC 7 shares with
/// it), one variant per rule. The line is in [`DirectoryError`], not here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryErrorKind {
    // --- the caller's arguments ---
    /// A threshold of 0 would accept an unsigned document; the spec's default is 1.
    #[error("the signature threshold must be at least 1 (the default is 1)")]
    ZeroThreshold,
    /// More signatures are required than there are distinct trusted authorities.
    #[error("threshold {threshold} exceeds the {trusted} distinct trusted authority keys")]
    ThresholdAboveTrusted {
        /// Signatures required.
        threshold: usize,
        /// Distinct trusted keys given.
        trusted: usize,
    },
    /// A trusted authority key is not a usable Ed25519 public key (not a
    /// point, or of small order so that it would "sign" almost anything).
    #[error("trusted authority key #{index} is not a valid Ed25519 public key")]
    InvalidTrustedKey {
        /// 0-based position in the trusted list.
        index: usize,
    },

    // --- the document as a whole ---
    /// The document is larger than the spec allows.
    #[error("the document is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// Size of the document.
        size: usize,
        /// Largest size allowed.
        max: usize,
    },
    /// More `node` lines than the spec allows (the line is the first one over).
    #[error("more than {max} node lines")]
    TooManyNodes {
        /// Most node lines allowed.
        max: usize,
    },
    /// The document is not valid UTF-8 (the line holds the first bad byte).
    #[error("not valid UTF-8")]
    NotUtf8,
    /// A carriage return; lines end in LF alone.
    #[error("carriage return (lines must end in LF only)")]
    CarriageReturn,
    /// The last line does not end in LF.
    #[error("the last line does not end in LF")]
    MissingFinalNewline,

    // --- line structure ---
    /// Fields must be separated by exactly one space, with none before the
    /// first or after the last.
    #[error("column {column}: fields must be separated by exactly one space")]
    BadSpacing {
        /// 1-based byte column of the offending space.
        column: usize,
    },
    /// The first line is not the document's magic line.
    #[error("expected {expected:?}, found {found:?}")]
    BadMagic {
        /// The first line required, e.g. `mixmailer-directory 2`.
        expected: &'static str,
        /// What the line starts with.
        found: String,
    },
    /// A format version this reader does not read. A `mixmailer-directory 1`
    /// document ends up here: SPEC v2 refuses version 1.
    #[error("{document} version {found:?} is not supported: version {required} is required")]
    UnsupportedVersion {
        /// `mixmailer-directory` or `mixmailer-descriptor`.
        document: &'static str,
        /// The version found.
        found: String,
        /// The version this reader requires.
        required: &'static str,
    },
    /// A line other than the one the fixed order requires.
    #[error("expected a {expected:?} line, found {found:?}")]
    UnexpectedLine {
        /// The keyword(s) allowed here.
        expected: &'static str,
        /// The keyword found.
        found: String,
    },
    /// The document ends before a required line.
    #[error("missing {expected:?} line (the document ends here)")]
    MissingLine {
        /// The keyword required.
        expected: &'static str,
    },
    /// A line with too many or too few fields.
    #[error("a {keyword:?} line has {expected} fields, found {found}")]
    FieldCount {
        /// Its keyword.
        keyword: &'static str,
        /// Fields required, keyword included.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// No `node` line.
    #[error("at least one node line is required")]
    NoNodes,
    /// No `signature` line.
    #[error("at least one signature line is required")]
    NoSignatures,
    /// Something other than a signature line after the signatures.
    #[error("only signature lines may follow the signatures, found {found:?}")]
    TextAfterSignatures {
        /// Its keyword.
        found: String,
    },

    // --- header values ---
    /// The network name does not match `[a-z0-9-]{1,64}`.
    #[error("network name {found:?} does not match [a-z0-9-]{{1,64}}")]
    BadNetworkName {
        /// The name found.
        found: String,
    },
    /// A time not of the form `YYYY-MM-DDTHH:MM:SSZ` (or an impossible date).
    #[error("{field} {found:?} is not a YYYY-MM-DDTHH:MM:SSZ time")]
    BadTime {
        /// `valid-after`, `valid-until` or `published`.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// When signing: a time the format cannot express (fractions of a
    /// second, before 1970 or after 9999).
    #[error("{field} cannot be written as whole seconds between 1970 and 9999")]
    UnrepresentableTime {
        /// `valid-after`, `valid-until` or `published`.
        field: &'static str,
    },
    /// valid-until is not later than valid-after.
    #[error(
        "valid-until {} must be later than valid-after {}",
        format_directory_time(*.valid_until),
        format_directory_time(*.valid_after)
    )]
    ValidityNotIncreasing {
        /// Start of validity.
        valid_after: SystemTime,
        /// End of validity.
        valid_until: SystemTime,
    },
    /// valid-until is more than 7 days after valid-after.
    #[error(
        "valid-until {} is more than {} days after valid-after {}",
        format_directory_time(*.valid_until),
        .max.as_secs() / 86_400,
        format_directory_time(*.valid_after)
    )]
    ValidityTooLong {
        /// Start of validity.
        valid_after: SystemTime,
        /// End of validity.
        valid_until: SystemTime,
        /// Longest validity allowed (7 days).
        max: Duration,
    },
    /// A number that is not plain decimal digits (signs, spaces, letters, empty).
    #[error("{field} {found:?} is not a decimal number")]
    InvalidNumber {
        /// The field.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// A number with a leading zero; each number has one spelling.
    #[error("{field} {found:?} has a leading zero")]
    LeadingZero {
        /// The field.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// A number too large for any field (more than 64 bits).
    #[error("{field} {found:?} is far out of range")]
    NumberTooLarge {
        /// The field.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// hops is not in 2..=5.
    #[error("hops {found} is not in 2..=5")]
    HopsOutOfRange {
        /// The value found.
        found: u64,
    },
    /// payload-size is not in 1024..=65536.
    #[error("payload-size {found} is not in 1024..=65536")]
    PayloadSizeOutOfRange {
        /// The value found.
        found: u64,
    },
    /// payload-size is not a multiple of 16.
    #[error("payload-size {found} is not a multiple of 16")]
    PayloadSizeNotMultipleOf16 {
        /// The value found.
        found: u64,
    },
    /// mean-delay is not in 0..=86400 seconds.
    #[error("mean-delay {found} is not in 0..=86400 seconds")]
    MeanDelayOutOfRange {
        /// The value found.
        found: u64,
    },
    /// When signing: a mean delay with a fraction of a second.
    #[error("mean-delay must be whole seconds")]
    MeanDelayNotWholeSeconds,
    /// key-period is not in 3600..=604800 seconds.
    #[error("key-period {found} is not in 3600..=604800 seconds")]
    KeyPeriodOutOfRange {
        /// The value found.
        found: u64,
    },
    /// When signing: a key period with a fraction of a second.
    #[error("key-period must be whole seconds")]
    KeyPeriodNotWholeSeconds,
    /// `hops * mean-delay` exceeds `key-period / 8`, so a route's delays
    /// would not fit well inside a key period (SPEC 1, 2).
    #[error(
        "hops {hops} x mean-delay {mean_delay} s = {} s exceeds key-period / 8 = {} s",
        u64::from(*.hops).saturating_mul(*.mean_delay),
        .key_period / 8
    )]
    DelaysExceedKeyPeriod {
        /// The document's hops.
        hops: u8,
        /// Mean per-hop delay, seconds.
        mean_delay: u64,
        /// Key period T, seconds.
        key_period: u64,
    },
    /// More than 8 key periods overlap [valid-after, valid-until).
    #[error("key periods {first}..={last} overlap the validity, more than the {max} allowed")]
    TooManyPeriods {
        /// First overlapping period.
        first: u64,
        /// Last overlapping period.
        last: u64,
        /// Most periods allowed (8).
        max: u64,
    },

    // --- node lines ---
    /// A nickname not matching `[A-Za-z0-9_-]{1,32}`.
    #[error("nickname {found:?} does not match [A-Za-z0-9_-]{{1,32}}")]
    BadNickname {
        /// The nickname found.
        found: String,
    },
    /// A nickname already used by an earlier node.
    #[error("nickname {nickname:?} is already used on line {first_line}")]
    DuplicateNickname {
        /// The nickname.
        nickname: String,
        /// The node line that used it first.
        first_line: usize,
    },
    /// A layer outside 1..=hops.
    #[error("layer {found} is not in 1..={hops}")]
    LayerOutOfRange {
        /// The layer found.
        found: u64,
        /// The document's hops.
        hops: u8,
    },
    /// A layer without any node, so no route could be built (the line is
    /// the hops line, which defines the layers).
    #[error("layer {layer} has no node")]
    EmptyLayer {
        /// The empty layer.
        layer: u8,
    },
    /// An address longer than 254 octets.
    #[error("address is {length} octets, more than 254")]
    AddressTooLong {
        /// Its length.
        length: usize,
    },
    /// An address with a non-ASCII character.
    #[error("address {found:?} is not ASCII")]
    AddressNotAscii {
        /// The address found.
        found: String,
    },
    /// An address without exactly one `@`.
    #[error("address {found:?} must contain exactly one '@'")]
    AddressAtSign {
        /// The address found.
        found: String,
    },
    /// The part before `@` is not a dot-atom of at most 64 octets.
    #[error(
        "local part {found:?} must be 1..=64 of A-Z a-z 0-9 !#$%&'*+-/=?^_`{{|}}~ \
         in dot-separated words"
    )]
    AddressBadLocalPart {
        /// The local part found.
        found: String,
    },
    /// The part after `@` is not a host name.
    #[error(
        "domain {found:?} must be dot-separated labels of 1..=63 letters, digits \
         and inner hyphens"
    )]
    AddressBadDomain {
        /// The domain found.
        found: String,
    },
    /// An address already used by an earlier node (domains compared
    /// case-insensitively).
    #[error("address {address:?} is already used on line {first_line}")]
    DuplicateAddress {
        /// The address.
        address: String,
        /// The node line that used it first.
        first_line: usize,
    },
    /// A field that is not canonical base64 (standard alphabet, `=` padding).
    #[error("{field} {found:?} is not canonical base64")]
    BadBase64 {
        /// `identity`, `x25519-key`, `authority-key` or `sig`.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// A base64 field that decodes to the wrong number of bytes.
    #[error("{field} decodes to {found} bytes, expected {expected}")]
    WrongLength {
        /// `identity`, `x25519-key`, `authority-key` or `sig`.
        field: &'static str,
        /// Bytes required.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// An identity that is not the encoding of a point of Ed25519.
    #[error("identity is not an Ed25519 public key (not a curve point)")]
    IdentityNotAPoint,
    /// An identity whose encoding is not the canonical one of its point
    /// (y >= 2^255 - 19, or a sign bit on x = 0).
    #[error("identity is not a canonical Ed25519 point encoding")]
    IdentityNotCanonical,
    /// An identity of small order: it would verify signatures it never made.
    #[error("identity is an Ed25519 key of small order")]
    IdentitySmallOrder,
    /// An identity already used by an earlier node.
    #[error("identity is already used on line {first_line}")]
    DuplicateIdentity {
        /// The node line that used it first.
        first_line: usize,
    },

    // --- key lines ---
    /// A key line for a period that does not overlap [valid-after, valid-until).
    #[error("key for period {found}, but only periods {first}..={last} overlap the validity")]
    KeyPeriodNotOverlapping {
        /// The period found.
        found: u64,
        /// First overlapping period.
        first: u64,
        /// Last overlapping period.
        last: u64,
    },
    /// A key line whose period is not above the node's previous one
    /// (a repeated or decreasing period).
    #[error("key for period {found} after period {previous}: periods must increase")]
    KeyPeriodNotIncreasing {
        /// The period found.
        found: u64,
        /// The node's previous key period.
        previous: u64,
    },
    /// A node without a key for an overlapping period (the line is where
    /// that key line should be).
    #[error("missing the key line for period {period}")]
    MissingPeriodKey {
        /// The period without a key.
        period: u64,
    },
    /// An X25519 key of 32 zero bytes.
    #[error("x25519 key is all zero")]
    KeyAllZero,
    /// An X25519 key whose u-coordinate is not reduced modulo 2^255 - 19.
    #[error("x25519 key is not a canonical u-coordinate (>= 2^255 - 19)")]
    KeyNotCanonical,
    /// An X25519 key on the quadratic twist rather than on Curve25519.
    #[error("x25519 key is not a point of Curve25519 (it lies on the twist)")]
    KeyNotOnCurve,
    /// An X25519 key of small order (1, 2, 4 or 8): its shared secrets are predictable.
    #[error("x25519 key is a low-order point")]
    KeyLowOrder,
    /// An X25519 key outside the prime-order subgroup (it has a torsion component).
    #[error("x25519 key has a torsion component (not in the prime-order subgroup)")]
    KeyHasTorsion,
    /// An X25519 key already used on an earlier key line (of any node).
    #[error("x25519 key is already used on line {first_line}")]
    DuplicateKey {
        /// The key line that used it first.
        first_line: usize,
    },

    // --- signatures ---
    /// The same authority key signs twice.
    #[error("this authority already signed on line {first_line}")]
    DuplicateSignature {
        /// The signature line by the same key.
        first_line: usize,
    },
    /// A signature that does not verify (by a trusted key when parsing; by
    /// its own key when adding a signature).
    #[error("signature does not verify")]
    InvalidSignature,

    // --- acceptance ---
    /// Too few trusted authorities signed.
    #[error("{valid} valid signatures by trusted authorities, {needed} needed")]
    NotEnoughSignatures {
        /// Valid signatures by distinct trusted keys.
        valid: usize,
        /// The threshold.
        needed: usize,
    },
    /// `now` is before valid-after.
    #[error(
        "not valid before {} (now is {})",
        format_directory_time(*.valid_after),
        format_directory_time(*.now)
    )]
    NotYetValid {
        /// The reader's time.
        now: SystemTime,
        /// Start of validity.
        valid_after: SystemTime,
    },
    /// `now` is at or after valid-until.
    #[error(
        "expired at {} (now is {})",
        format_directory_time(*.valid_until),
        format_directory_time(*.now)
    )]
    Expired {
        /// The reader's time.
        now: SystemTime,
        /// End of validity.
        valid_until: SystemTime,
    },
}

/// At most this many characters of an offending value go into an error, so
/// a hostile 8 MiB line does not become an 8 MiB error message.
const EXCERPT_CHARS: usize = 64;

/// `text`, shortened for an error message.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}
