use crate::time::format_directory_time;
use std::time::SystemTime;

/// Why a directory was refused or could not be written.
///
/// Every variant caused by a line of the document names it (1-based, as an
/// editor counts); [`DirectoryError::line`] returns it for callers that only
/// want to point at the place. When signing, the line is the one the value
/// would have had in the written document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
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
        /// Largest size allowed (8 MiB).
        max: usize,
    },
    /// More `node` lines than the spec allows.
    #[error("line {line}: more than {max} node lines")]
    TooManyNodes {
        /// The first node line over the limit.
        line: usize,
        /// Most node lines allowed.
        max: usize,
    },
    /// The document is not valid UTF-8.
    #[error("line {line}: not valid UTF-8")]
    NotUtf8 {
        /// Line holding the first invalid byte.
        line: usize,
    },
    /// A carriage return; lines end in LF alone.
    #[error("line {line}: carriage return (lines must end in LF only)")]
    CarriageReturn {
        /// Line holding the first CR.
        line: usize,
    },
    /// The last line does not end in LF.
    #[error("line {line}: the last line does not end in LF")]
    MissingFinalNewline {
        /// The unterminated last line.
        line: usize,
    },

    // --- line structure ---
    /// Fields must be separated by exactly one space, with none before the
    /// first or after the last.
    #[error("line {line}, column {column}: fields must be separated by exactly one space")]
    BadSpacing {
        /// The offending line.
        line: usize,
        /// 1-based byte column of the offending space.
        column: usize,
    },
    /// The first line is not `mixmailer-directory 1`.
    #[error("line {line}: expected \"mixmailer-directory 1\", found {found:?}")]
    BadMagic {
        /// Always 1.
        line: usize,
        /// What the line starts with.
        found: String,
    },
    /// A format version this reader does not know.
    #[error("line {line}: unsupported directory version {found:?} (this reader knows 1)")]
    UnsupportedVersion {
        /// Always 1.
        line: usize,
        /// The version found.
        found: String,
    },
    /// A line other than the one the fixed order requires.
    #[error("line {line}: expected a {expected:?} line, found {found:?}")]
    UnexpectedLine {
        /// The offending line.
        line: usize,
        /// The keyword(s) allowed here.
        expected: &'static str,
        /// The keyword found.
        found: String,
    },
    /// The document ends before a required line.
    #[error("line {line}: missing {expected:?} line (the document ends here)")]
    MissingLine {
        /// Where the line should be.
        line: usize,
        /// The keyword required.
        expected: &'static str,
    },
    /// A line with too many or too few fields.
    #[error("line {line}: a {keyword:?} line has {expected} fields, found {found}")]
    FieldCount {
        /// The offending line.
        line: usize,
        /// Its keyword.
        keyword: &'static str,
        /// Fields required, keyword included.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// No `node` line.
    #[error("line {line}: at least one node line is required")]
    NoNodes {
        /// Where the first node line should be.
        line: usize,
    },
    /// No `signature` line.
    #[error("line {line}: at least one signature line is required")]
    NoSignatures {
        /// Where the first signature line should be.
        line: usize,
    },
    /// Something other than a signature line after the signatures.
    #[error("line {line}: only signature lines may follow the signatures, found {found:?}")]
    TextAfterSignatures {
        /// The offending line.
        line: usize,
        /// Its keyword.
        found: String,
    },

    // --- values ---
    /// The network name does not match `[a-z0-9-]{1,64}`.
    #[error("line {line}: network name {found:?} does not match [a-z0-9-]{{1,64}}")]
    BadNetworkName {
        /// The network line.
        line: usize,
        /// The name found.
        found: String,
    },
    /// A time not of the form `YYYY-MM-DDTHH:MM:SSZ` (or an impossible date).
    #[error("line {line}: {field} {found:?} is not a YYYY-MM-DDTHH:MM:SSZ time")]
    BadTime {
        /// The offending line.
        line: usize,
        /// `valid-after` or `valid-until`.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// When signing: a time the document format cannot express (fractions
    /// of a second, before 1970 or after 9999).
    #[error("line {line}: {field} cannot be written as whole seconds between 1970 and 9999")]
    UnrepresentableTime {
        /// The line the time would be on.
        line: usize,
        /// `valid-after` or `valid-until`.
        field: &'static str,
    },
    /// valid-until is not later than valid-after.
    #[error(
        "line {line}: valid-until {} must be later than valid-after {}",
        format_directory_time(*.valid_until),
        format_directory_time(*.valid_after)
    )]
    ValidityNotIncreasing {
        /// The valid-until line.
        line: usize,
        /// Start of validity.
        valid_after: SystemTime,
        /// End of validity.
        valid_until: SystemTime,
    },
    /// A number that is not plain decimal digits (signs, spaces, letters, empty).
    #[error("line {line}: {field} {found:?} is not a decimal number")]
    InvalidNumber {
        /// The offending line.
        line: usize,
        /// The field.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// A number with a leading zero; each number has one spelling.
    #[error("line {line}: {field} {found:?} has a leading zero")]
    LeadingZero {
        /// The offending line.
        line: usize,
        /// The field.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// A number too large for any field.
    #[error("line {line}: {field} {found:?} is far out of range")]
    NumberTooLarge {
        /// The offending line.
        line: usize,
        /// The field.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// hops is not in 1..=5.
    #[error("line {line}: hops {found} is not in 1..=5")]
    HopsOutOfRange {
        /// The hops line.
        line: usize,
        /// The value found.
        found: u64,
    },
    /// payload-size is not in 1024..=65536.
    #[error("line {line}: payload-size {found} is not in 1024..=65536")]
    PayloadSizeOutOfRange {
        /// The payload-size line.
        line: usize,
        /// The value found.
        found: u64,
    },
    /// payload-size is not a multiple of 16.
    #[error("line {line}: payload-size {found} is not a multiple of 16")]
    PayloadSizeNotMultipleOf16 {
        /// The payload-size line.
        line: usize,
        /// The value found.
        found: u64,
    },
    /// mean-delay is not in 0..=86400 seconds.
    #[error("line {line}: mean-delay {found} is not in 0..=86400 seconds")]
    MeanDelayOutOfRange {
        /// The mean-delay line.
        line: usize,
        /// The value found.
        found: u64,
    },
    /// When signing: a mean delay with a fraction of a second.
    #[error("line {line}: mean-delay must be whole seconds")]
    MeanDelayNotWholeSeconds {
        /// The line the delay would be on.
        line: usize,
    },
    /// A nickname not matching `[A-Za-z0-9_-]{1,32}`.
    #[error("line {line}: nickname {found:?} does not match [A-Za-z0-9_-]{{1,32}}")]
    BadNickname {
        /// The node line.
        line: usize,
        /// The nickname found.
        found: String,
    },
    /// A nickname already used by an earlier node.
    #[error("line {line}: nickname {nickname:?} is already used on line {first_line}")]
    DuplicateNickname {
        /// The later node line.
        line: usize,
        /// The nickname.
        nickname: String,
        /// The node line that used it first.
        first_line: usize,
    },
    /// A layer outside 1..=hops.
    #[error("line {line}: layer {found} is not in 1..={hops}")]
    LayerOutOfRange {
        /// The node line.
        line: usize,
        /// The layer found.
        found: u64,
        /// The document's hops.
        hops: u8,
    },
    /// A layer without any node, so no route could be built.
    #[error("line {line}: layer {layer} has no node")]
    EmptyLayer {
        /// The hops line, which defines the layers.
        line: usize,
        /// The empty layer.
        layer: u8,
    },
    /// An address longer than 254 octets.
    #[error("line {line}: address is {length} octets, more than 254")]
    AddressTooLong {
        /// The node line.
        line: usize,
        /// Its length.
        length: usize,
    },
    /// An address with a non-ASCII character.
    #[error("line {line}: address {found:?} is not ASCII")]
    AddressNotAscii {
        /// The node line.
        line: usize,
        /// The address found.
        found: String,
    },
    /// An address without exactly one `@`.
    #[error("line {line}: address {found:?} must contain exactly one '@'")]
    AddressAtSign {
        /// The node line.
        line: usize,
        /// The address found.
        found: String,
    },
    /// The part before `@` is not a dot-atom of at most 64 octets.
    #[error(
        "line {line}: local part {found:?} must be 1..=64 of A-Z a-z 0-9 !#$%&'*+-/=?^_`{{|}}~ \
         in dot-separated words"
    )]
    AddressBadLocalPart {
        /// The node line.
        line: usize,
        /// The local part found.
        found: String,
    },
    /// The part after `@` is not a host name.
    #[error(
        "line {line}: domain {found:?} must be dot-separated labels of 1..=63 letters, digits \
         and inner hyphens"
    )]
    AddressBadDomain {
        /// The node line.
        line: usize,
        /// The domain found.
        found: String,
    },
    /// An address already used by an earlier node (domains compared
    /// case-insensitively).
    #[error("line {line}: address {address:?} is already used on line {first_line}")]
    DuplicateAddress {
        /// The later node line.
        line: usize,
        /// The address.
        address: String,
        /// The node line that used it first.
        first_line: usize,
    },
    /// A field that is not canonical base64 (standard alphabet, `=` padding).
    #[error("line {line}: {field} {found:?} is not canonical base64")]
    BadBase64 {
        /// The offending line.
        line: usize,
        /// `key`, `authority-key` or `sig`.
        field: &'static str,
        /// The text found.
        found: String,
    },
    /// A base64 field that decodes to the wrong number of bytes.
    #[error("line {line}: {field} decodes to {found} bytes, expected {expected}")]
    WrongLength {
        /// The offending line.
        line: usize,
        /// `key`, `authority-key` or `sig`.
        field: &'static str,
        /// Bytes required.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A node key of 32 zero bytes.
    #[error("line {line}: node key is all zero")]
    KeyAllZero {
        /// The node line.
        line: usize,
    },
    /// A node key whose u-coordinate is not reduced modulo 2^255 - 19.
    #[error("line {line}: node key is not a canonical u-coordinate (>= 2^255 - 19)")]
    KeyNotCanonical {
        /// The node line.
        line: usize,
    },
    /// A node key on the quadratic twist rather than on Curve25519.
    #[error("line {line}: node key is not a point of Curve25519 (it lies on the twist)")]
    KeyNotOnCurve {
        /// The node line.
        line: usize,
    },
    /// A node key of small order (1, 2, 4 or 8): its shared secrets are predictable.
    #[error("line {line}: node key is a low-order point")]
    KeyLowOrder {
        /// The node line.
        line: usize,
    },
    /// A node key outside the prime-order subgroup (it has a torsion component).
    #[error("line {line}: node key has a torsion component (not in the prime-order subgroup)")]
    KeyHasTorsion {
        /// The node line.
        line: usize,
    },
    /// A node key already used by an earlier node.
    #[error("line {line}: node key is already used on line {first_line}")]
    DuplicateKey {
        /// The later node line.
        line: usize,
        /// The node line that used it first.
        first_line: usize,
    },
    /// The same authority key signs twice.
    #[error("line {line}: this authority already signed on line {first_line}")]
    DuplicateSignature {
        /// The later signature line.
        line: usize,
        /// The signature line by the same key.
        first_line: usize,
    },
    /// A signature that does not verify (by a trusted key when parsing; by
    /// its own key when adding a signature).
    #[error("line {line}: signature does not verify")]
    InvalidSignature {
        /// The signature line.
        line: usize,
    },

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

impl DirectoryError {
    /// The 1-based line the error is about, if it comes from a line.
    pub fn line(&self) -> Option<usize> {
        use DirectoryError::*;
        match self {
            ZeroThreshold
            | ThresholdAboveTrusted { .. }
            | InvalidTrustedKey { .. }
            | TooLarge { .. }
            | NotEnoughSignatures { .. }
            | NotYetValid { .. }
            | Expired { .. } => None,
            TooManyNodes { line, .. }
            | NotUtf8 { line }
            | CarriageReturn { line }
            | MissingFinalNewline { line }
            | BadSpacing { line, .. }
            | BadMagic { line, .. }
            | UnsupportedVersion { line, .. }
            | UnexpectedLine { line, .. }
            | MissingLine { line, .. }
            | FieldCount { line, .. }
            | NoNodes { line }
            | NoSignatures { line }
            | TextAfterSignatures { line, .. }
            | BadNetworkName { line, .. }
            | BadTime { line, .. }
            | UnrepresentableTime { line, .. }
            | ValidityNotIncreasing { line, .. }
            | InvalidNumber { line, .. }
            | LeadingZero { line, .. }
            | NumberTooLarge { line, .. }
            | HopsOutOfRange { line, .. }
            | PayloadSizeOutOfRange { line, .. }
            | PayloadSizeNotMultipleOf16 { line, .. }
            | MeanDelayOutOfRange { line, .. }
            | MeanDelayNotWholeSeconds { line }
            | BadNickname { line, .. }
            | DuplicateNickname { line, .. }
            | LayerOutOfRange { line, .. }
            | EmptyLayer { line, .. }
            | AddressTooLong { line, .. }
            | AddressNotAscii { line, .. }
            | AddressAtSign { line, .. }
            | AddressBadLocalPart { line, .. }
            | AddressBadDomain { line, .. }
            | DuplicateAddress { line, .. }
            | BadBase64 { line, .. }
            | WrongLength { line, .. }
            | KeyAllZero { line }
            | KeyNotCanonical { line }
            | KeyNotOnCurve { line }
            | KeyLowOrder { line }
            | KeyHasTorsion { line }
            | DuplicateKey { line, .. }
            | DuplicateSignature { line, .. }
            | InvalidSignature { line } => Some(*line),
        }
    }
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
