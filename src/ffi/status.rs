//! Status codes: what every C function returns.
//!
//! Values are grouped in ranges of a thousand by what went wrong (the call
//! itself, then one range per module of the library), so a caller can test
//! `status / 1000` for the family. C receives them as `uint32_t`
//! (cbindgen writes `typedef uint32_t mixmailer_status;`) and only ever
//! passes them back as `uint32_t`, so an unknown value from C is never an
//! invalid Rust enum.

use std::ffi::{c_char, CStr};

/// The result of every `mixmailer_*` function: `MIXMAILER_STATUS_OK` (0) or
/// the reason for the failure. `mixmailer_status_str` names it and
/// `mixmailer_last_error_message` gives the detail (which line, which header).
/// The X000 code of each range stands for a failure of that family that has
/// no code of its own yet; new codes may be added within a range.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mixmailer_status {
    /// Success.
    Ok = 0,

    // 1xxx: the call itself.
    /// A pointer argument was NULL (the detail names it).
    NullParameter = 1001,
    /// An argument was out of range: a key of the wrong length, a time the
    /// clock cannot hold, a string that is not UTF-8, a threshold of 0.
    InvalidArgument = 1002,
    /// An index was not below the list's count.
    IndexOutOfRange = 1003,
    /// An outcome accessor was called on an outcome of another kind.
    WrongOutcomeKind = 1004,
    /// The library panicked: a bug in MixMailer; the detail has the panic message.
    Panic = 1005,
    /// The operating system's random number generator failed.
    Randomness = 1006,

    // 2xxx: the signed directory.
    /// The directory was refused for a reason without a code of its own.
    DirectoryError = 2000,
    /// The document breaks a rule of the format (the detail names the line).
    DirectoryMalformed = 2001,
    /// Not enough trusted authorities signed it, or a trusted signature is invalid.
    DirectorySignature = 2002,
    /// The time given is outside the directory's validity period.
    DirectoryNotValidNow = 2003,
    /// The document is larger, or lists more nodes, than the format allows.
    DirectoryTooLarge = 2004,
    /// The document is of a format version this library does not read (a
    /// version 1 directory: fetch the network's version 2 directory).
    DirectoryUnsupportedVersion = 2005,

    // 3xxx: routes.
    /// No route could be made for a reason without a code of its own.
    RouteError = 3000,
    /// A nickname is not in the directory.
    RouteUnknownNickname = 3001,
    /// The number of nicknames is not the directory's number of layers.
    RouteWrongLength = 3002,
    /// A named node is not in the layer its position in the route requires.
    RouteWrongLayer = 3003,
    /// The directory lists no key of a route's node for the key period of
    /// the sending time: the directory is too old or too new for that time.
    RouteNoKeyForPeriod = 3004,

    // 4xxx: the message to send (RFC 5322, body, fragments).
    /// The message, its body or a fragment was unusable for a reason without a code of its own.
    MessageError = 4000,
    /// The message has no bytes.
    MessageEmpty = 4001,
    /// The message's header is not RFC 5322 (the detail names the line).
    MessageMalformed = 4002,
    /// The message has no From field, several, or one without an address.
    MessageBadFrom = 4003,
    /// The message has no recipient in To, Cc or Bcc.
    MessageNoRecipient = 4004,
    /// A recipient is invalid or repeated, or there are too many.
    MessageBadRecipient = 4005,
    /// The message does not fit into 255 packets of this network.
    MessageTooLarge = 4006,
    /// A received body is not valid (DEFLATE, size limit, rcpt lines).
    MessageBadBody = 4007,
    /// A received fragment is not valid or does not fit the others.
    MessageBadFragment = 4008,
    /// A recipient the exit will not deliver to (an address literal,
    /// localhost, a name without a dot); the whole message is refused.
    MessageUndeliverableRecipient = 4009,
    /// The message's header is larger than the limit.
    MessageHeaderTooLarge = 4010,
    /// The message's header has more fields than the limit.
    MessageTooManyHeaderFields = 4011,
    /// A MIME part cannot be scrubbed safely; the message is refused rather
    /// than sent half-scrubbed.
    MessageUnscrubbablePart = 4012,
    /// A mailbox (such as the `from` of a carrier email) is not a plain mailbox.
    MessageInvalidMailbox = 4013,
    /// Delivering the message (size times recipients) would cost the exit
    /// more than its limit.
    MessageDeliveryTooCostly = 4014,
    /// A received body inflates by more than the allowed ratio (a compression bomb).
    MessageInflationRatioTooHigh = 4015,
    /// A received body's DEFLATE stream is cut off.
    MessageTruncatedBody = 4016,
    /// Bytes follow the end of a received body's DEFLATE stream.
    MessageTrailingBytes = 4017,
    /// Compressing the message failed.
    MessageDeflate = 4018,

    // 5xxx: carrier emails.
    /// The carrier email could not be read for a reason without a code of its own.
    CarrierError = 5000,
    /// The carrier email's body has no `-----BEGIN MIXMAILER PACKET-----` line.
    CarrierNoPacket = 5001,
    /// The packet block has no END line.
    CarrierUnterminated = 5002,
    /// A line of the packet block is not base64.
    CarrierBadBase64 = 5003,
    /// The packet in the carrier email has the wrong length for this network.
    CarrierWrongLength = 5004,
    /// The packet block does not start with a `Period:` line (not a version 2 carrier).
    CarrierMissingPeriod = 5005,
    /// The `Period:` value is not a canonical decimal number.
    CarrierBadPeriod = 5006,

    // 6xxx: Sphinx packets.
    /// A packet could not be built or processed for a reason without a code of its own.
    PacketError = 6000,
    /// The packet is not 348 + payload-size bytes long.
    PacketWrongLength = 6001,
    /// The header MAC failed: the packet was altered or is not for this node.
    PacketHeaderMac = 6002,
    /// The payload failed its integrity check: it was altered.
    PacketPayloadIntegrity = 6003,
    /// The route cannot be encoded in a packet.
    PacketBadRoute = 6004,
    /// The plaintext does not fit the payload.
    PacketPlaintextTooLong = 6005,
    /// The final hop names a destination reserved for reply blocks.
    PacketUnsupportedDestination = 6006,

    // 7xxx: the mix node.
    /// The node failed for a reason without a code of its own.
    NodeError = 7000,
    /// The node's public key is not in the directory.
    NodeNotInDirectory = 7001,
    /// The packet's next hop is not a node of the directory.
    NodeUnknownNextHop = 7002,
    /// The packet's next hop is not in the next layer.
    NodeWrongNextLayer = 7003,
    /// No longer returned: such a fragment is now dropped
    /// (`MIXMAILER_DROP_REASON_INCONSISTENT_FRAGMENT`). The value stays
    /// reserved so that it never changes meaning.
    NodeInconsistentFragment = 7004,
    /// The node's store failed.
    NodeStorage = 7005,
    /// A secret key given to the node is not the key the directory lists
    /// for the node in that period.
    NodeKeyMismatch = 7006,
    /// A packet of an accepted key period arrived but the node has no
    /// secret key for that period; restore the key (the carrier may be retried).
    NodeMissingPeriodKey = 7007,
}

impl mixmailer_status {
    /// Every status, for `mixmailer_status_str` and the tests.
    pub const ALL: &'static [mixmailer_status] = &[
        Self::Ok,
        Self::NullParameter,
        Self::InvalidArgument,
        Self::IndexOutOfRange,
        Self::WrongOutcomeKind,
        Self::Panic,
        Self::Randomness,
        Self::DirectoryError,
        Self::DirectoryMalformed,
        Self::DirectorySignature,
        Self::DirectoryNotValidNow,
        Self::DirectoryTooLarge,
        Self::DirectoryUnsupportedVersion,
        Self::RouteError,
        Self::RouteUnknownNickname,
        Self::RouteWrongLength,
        Self::RouteWrongLayer,
        Self::RouteNoKeyForPeriod,
        Self::MessageError,
        Self::MessageEmpty,
        Self::MessageMalformed,
        Self::MessageBadFrom,
        Self::MessageNoRecipient,
        Self::MessageBadRecipient,
        Self::MessageTooLarge,
        Self::MessageBadBody,
        Self::MessageBadFragment,
        Self::MessageUndeliverableRecipient,
        Self::MessageHeaderTooLarge,
        Self::MessageTooManyHeaderFields,
        Self::MessageUnscrubbablePart,
        Self::MessageInvalidMailbox,
        Self::MessageDeliveryTooCostly,
        Self::MessageInflationRatioTooHigh,
        Self::MessageTruncatedBody,
        Self::MessageTrailingBytes,
        Self::MessageDeflate,
        Self::CarrierError,
        Self::CarrierNoPacket,
        Self::CarrierUnterminated,
        Self::CarrierBadBase64,
        Self::CarrierWrongLength,
        Self::CarrierMissingPeriod,
        Self::CarrierBadPeriod,
        Self::PacketError,
        Self::PacketWrongLength,
        Self::PacketHeaderMac,
        Self::PacketPayloadIntegrity,
        Self::PacketBadRoute,
        Self::PacketPlaintextTooLong,
        Self::PacketUnsupportedDestination,
        Self::NodeError,
        Self::NodeNotInDirectory,
        Self::NodeUnknownNextHop,
        Self::NodeWrongNextLayer,
        Self::NodeInconsistentFragment,
        Self::NodeStorage,
        Self::NodeKeyMismatch,
        Self::NodeMissingPeriodKey,
    ];

    /// The status with this code, if there is one.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| *s as u32 == code)
    }

    /// A short static description (the match is exhaustive, so a new
    /// status cannot be added without one).
    pub fn message(self) -> &'static CStr {
        use mixmailer_status as S;
        match self {
            S::Ok => c"success",
            S::NullParameter => c"a pointer argument was NULL",
            S::InvalidArgument => c"an argument was out of range or malformed",
            S::IndexOutOfRange => c"index out of range",
            S::WrongOutcomeKind => c"the outcome is not of the kind this function reads",
            S::Panic => c"internal error: the library panicked (please report this bug)",
            S::Randomness => c"the operating system's random number generator failed",
            S::DirectoryError => c"the directory was refused",
            S::DirectoryMalformed => c"the directory breaks a rule of its format",
            S::DirectorySignature => c"the directory is not signed by enough trusted authorities",
            S::DirectoryNotValidNow => c"the directory is not valid at this time",
            S::DirectoryTooLarge => c"the directory is too large",
            S::DirectoryUnsupportedVersion => {
                c"the directory is of a format version this library does not read"
            }
            S::RouteError => c"no route could be made",
            S::RouteUnknownNickname => c"a nickname is not in the directory",
            S::RouteWrongLength => c"a route needs one node per layer",
            S::RouteWrongLayer => c"a node of the route is in the wrong layer",
            S::RouteNoKeyForPeriod => {
                c"the directory lists no key for the key period of the sending time"
            }
            S::MessageError => c"the message is not usable",
            S::MessageEmpty => c"the message is empty",
            S::MessageMalformed => c"the message header is not RFC 5322",
            S::MessageBadFrom => c"the message needs exactly one From field with an address",
            S::MessageNoRecipient => c"the message has no recipient",
            S::MessageBadRecipient => c"a recipient of the message is invalid",
            S::MessageTooLarge => c"the message is too large for this network",
            S::MessageBadBody => c"a received message body is invalid",
            S::MessageBadFragment => c"a received fragment is invalid",
            S::MessageUndeliverableRecipient => c"the exit will not deliver to a recipient",
            S::MessageHeaderTooLarge => c"the message header is too large",
            S::MessageTooManyHeaderFields => c"the message header has too many fields",
            S::MessageUnscrubbablePart => c"a MIME part of the message cannot be scrubbed",
            S::MessageInvalidMailbox => c"a mailbox is not a plain mailbox",
            S::MessageDeliveryTooCostly => c"delivering the message would cost the exit too much",
            S::MessageInflationRatioTooHigh => c"a received body inflates too much",
            S::MessageTruncatedBody => c"a received body is cut off",
            S::MessageTrailingBytes => c"bytes follow the end of a received body",
            S::MessageDeflate => c"compressing the message failed",
            S::CarrierError => c"the carrier email could not be read",
            S::CarrierNoPacket => c"the carrier email has no packet block",
            S::CarrierUnterminated => c"the carrier email's packet block has no END line",
            S::CarrierBadBase64 => c"the carrier email's packet block is not base64",
            S::CarrierWrongLength => c"the carrier email's packet has the wrong length",
            S::CarrierMissingPeriod => c"the carrier email's packet block has no Period line",
            S::CarrierBadPeriod => c"the carrier email's Period line is not a decimal number",
            S::PacketError => c"the packet could not be built or processed",
            S::PacketWrongLength => c"the packet has the wrong length",
            S::PacketHeaderMac => c"the packet header failed its integrity check",
            S::PacketPayloadIntegrity => c"the packet payload failed its integrity check",
            S::PacketBadRoute => c"the route cannot be encoded in a packet",
            S::PacketPlaintextTooLong => c"the plaintext does not fit the packet payload",
            S::PacketUnsupportedDestination => {
                c"the packet's final hop names an unsupported destination"
            }
            S::NodeError => c"the mix node failed",
            S::NodeNotInDirectory => c"the node's public key is not in the directory",
            S::NodeUnknownNextHop => c"the packet's next hop is not in the directory",
            S::NodeWrongNextLayer => c"the packet's next hop is not in the next layer",
            S::NodeInconsistentFragment => c"a fragment disagrees with earlier fragments",
            S::NodeStorage => c"the node's store failed",
            S::NodeKeyMismatch => c"a node key is not the one the directory lists",
            S::NodeMissingPeriodKey => c"the node has no secret key for the packet's key period",
        }
    }
}

/// A static, NUL-terminated English description of `status`; the string
/// `"unknown status"` for a code that is not a `mixmailer_status`.
/// Never NULL. For the detail of the last failure on this thread, see
/// `mixmailer_last_error_message`.
///
/// Ownership: the returned string is static; never free it.
#[no_mangle]
pub extern "C" fn mixmailer_status_str(status: u32) -> *const c_char {
    ffi_boundary!(fallback = c"unknown status".as_ptr(); {
        mixmailer_status::from_code(status)
            .map_or(c"unknown status", mixmailer_status::message)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_described() {
        for (i, a) in mixmailer_status::ALL.iter().enumerate() {
            assert_eq!(mixmailer_status::from_code(*a as u32), Some(*a));
            for b in &mixmailer_status::ALL[i + 1..] {
                assert_ne!(*a as u32, *b as u32);
                assert_ne!(a.message(), b.message());
            }
        }
    }

    #[test]
    fn unknown_codes_get_a_static_string() {
        for code in [1, 999, 1000, 2999, u32::MAX] {
            let text = unsafe { CStr::from_ptr(mixmailer_status_str(code)) };
            assert_eq!(text, c"unknown status");
        }
        let ok = unsafe { CStr::from_ptr(mixmailer_status_str(0)) };
        assert_eq!(ok, c"success");
    }
}
