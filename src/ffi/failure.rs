//! A failed call: the status C gets back and the detail it can ask for.
//! Every library error maps to the most specific status its family has.

use super::status::mixmailer_status as S;
use crate::carrier::CarrierError;
use crate::directory::DirectoryError;
use crate::message::MessageError;
use crate::node::NodeError;
use crate::route::RouteError;
use crate::sphinx::PacketError;
use crate::Error;

/// Why a C call failed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: S,
    pub(crate) detail: String,
}

impl Failure {
    pub(crate) fn new(status: S, detail: impl Into<String>) -> Self {
        Failure {
            status,
            detail: detail.into(),
        }
    }

    /// A NULL pointer where `name` must point somewhere.
    pub(crate) fn null(name: &str) -> Self {
        Self::new(S::NullParameter, format!("argument `{name}` is NULL"))
    }

    /// `name` is unusable for the reason `why`.
    pub(crate) fn invalid(name: &str, why: impl std::fmt::Display) -> Self {
        Self::new(S::InvalidArgument, format!("argument `{name}`: {why}"))
    }

    pub(crate) fn index(name: &str, index: usize, count: usize) -> Self {
        Self::new(
            S::IndexOutOfRange,
            format!("`{name}` is {index}, but there are only {count}"),
        )
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::Directory(e) => directory_status(e),
            Error::Route(e) => route_status(e),
            Error::Message(e) => message_status(e),
            Error::Carrier(e) => carrier_status(e),
            Error::Packet(e) => packet_status(e),
            Error::Node(e) => node_status(e),
            Error::Randomness(_) => S::Randomness,
        };
        Failure::new(status, error.to_string())
    }
}

impl From<DirectoryError> for Failure {
    fn from(error: DirectoryError) -> Self {
        Error::from(error).into()
    }
}

impl From<RouteError> for Failure {
    fn from(error: RouteError) -> Self {
        Error::from(error).into()
    }
}

impl From<MessageError> for Failure {
    fn from(error: MessageError) -> Self {
        Error::from(error).into()
    }
}

impl From<NodeError> for Failure {
    fn from(error: NodeError) -> Self {
        Error::from(error).into()
    }
}

// FAMILY_CODES: the error enums are `#[non_exhaustive]` and grow; a cause
// without a code of its own gets its family's X000 code, so C callers still
// learn the family, and the detail string names the cause.

#[allow(unreachable_patterns)] // see FAMILY_CODES
fn directory_status(error: &DirectoryError) -> S {
    use crate::directory::DirectoryErrorKind as D;
    match error.kind() {
        // The caller's arguments, not the document.
        D::ZeroThreshold | D::ThresholdAboveTrusted { .. } | D::InvalidTrustedKey { .. } => {
            S::InvalidArgument
        }
        D::NotEnoughSignatures { .. } | D::InvalidSignature => S::DirectorySignature,
        D::NotYetValid { .. } | D::Expired { .. } => S::DirectoryNotValidNow,
        D::TooLarge { .. } | D::TooManyNodes { .. } => S::DirectoryTooLarge,
        // A version 1 document: the caller fetched from an old source.
        D::UnsupportedVersion { .. } => S::DirectoryUnsupportedVersion,
        // Every other rule of the format names its line.
        _ if error.line().is_some() => S::DirectoryMalformed,
        _ => S::DirectoryError,
    }
}

#[allow(unreachable_patterns)] // see FAMILY_CODES
fn route_status(error: &RouteError) -> S {
    match error {
        RouteError::UnknownNickname { .. } => S::RouteUnknownNickname,
        RouteError::WrongLength { .. } => S::RouteWrongLength,
        RouteError::WrongLayer { .. } => S::RouteWrongLayer,
        RouteError::NoKeyForPeriod { .. } => S::RouteNoKeyForPeriod,
        _ => S::RouteError,
    }
}

#[allow(unreachable_patterns)] // see FAMILY_CODES
fn message_status(error: &MessageError) -> S {
    use MessageError as M;
    match error {
        M::Empty => S::MessageEmpty,
        M::NulInHeader { .. }
        | M::BareCarriageReturn { .. }
        | M::ContinuationWithoutField { .. }
        | M::MissingColon { .. }
        | M::InvalidFieldName { .. }
        | M::UnterminatedHeader { .. }
        | M::UnparsableField { .. } => S::MessageMalformed,
        M::MissingFrom | M::MultipleFrom { .. } | M::FromWithoutAddress => S::MessageBadFrom,
        M::NoRecipient => S::MessageNoRecipient,
        M::TooManyRecipients { .. } | M::InvalidRecipient { .. } | M::DuplicateRecipient { .. } => {
            S::MessageBadRecipient
        }
        M::UndeliverableRecipient { .. } => S::MessageUndeliverableRecipient,
        M::InvalidMailbox { .. } => S::MessageInvalidMailbox,
        M::HeaderTooLarge { .. } => S::MessageHeaderTooLarge,
        M::TooManyHeaderFields { .. } => S::MessageTooManyHeaderFields,
        M::UnscrubbablePart { .. } => S::MessageUnscrubbablePart,
        M::Randomness(_) => S::Randomness,
        M::MessageTooLarge { .. } | M::TooManyFragments { .. } => S::MessageTooLarge,
        M::DeliveryTooCostly { .. } => S::MessageDeliveryTooCostly,
        M::InflationRatioTooHigh { .. } => S::MessageInflationRatioTooHigh,
        M::TruncatedBody => S::MessageTruncatedBody,
        M::TrailingBytes { .. } => S::MessageTrailingBytes,
        M::Deflate(_) => S::MessageDeflate,
        M::NotDeflate(_)
        | M::InflatedTooLarge { .. }
        | M::BadRcptLine { .. }
        | M::MissingSeparator => S::MessageBadBody,
        M::FragmentLength { .. }
        | M::UnsupportedVersion(_)
        | M::ZeroDataFragments
        | M::FewerFragmentsThanData { .. }
        | M::IndexOutOfRange { .. }
        | M::BodyLengthTooLarge { .. }
        | M::NonZeroTail { .. }
        | M::ShardLength { .. }
        | M::NoFragments
        | M::InconsistentFragments { .. }
        | M::NotEnoughFragments { .. } => S::MessageBadFragment,
        // PayloadTooSmall, ErasureCode: a network or codec fault, not the message's.
        _ => S::MessageError,
    }
}

#[allow(unreachable_patterns)] // see FAMILY_CODES
fn carrier_status(error: &CarrierError) -> S {
    match error {
        CarrierError::NoPacket => S::CarrierNoPacket,
        CarrierError::Unterminated { .. } => S::CarrierUnterminated,
        CarrierError::BadBase64 { .. } => S::CarrierBadBase64,
        CarrierError::WrongLength { .. } => S::CarrierWrongLength,
        CarrierError::MissingPeriod { .. } => S::CarrierMissingPeriod,
        CarrierError::BadPeriod { .. } => S::CarrierBadPeriod,
        _ => S::CarrierError,
    }
}

#[allow(unreachable_patterns)] // see FAMILY_CODES
fn packet_status(error: &PacketError) -> S {
    match error {
        PacketError::WrongLength { .. } => S::PacketWrongLength,
        PacketError::HeaderMac => S::PacketHeaderMac,
        PacketError::PayloadIntegrity => S::PacketPayloadIntegrity,
        PacketError::HopCount { .. } | PacketError::DelayCount { .. } => S::PacketBadRoute,
        PacketError::PlaintextTooLong { .. } => S::PacketPlaintextTooLong,
        PacketError::UnsupportedDestination => S::PacketUnsupportedDestination,
        _ => S::PacketError,
    }
}

#[allow(unreachable_patterns)] // see FAMILY_CODES
fn node_status(error: &NodeError) -> S {
    match error {
        NodeError::NotInDirectory => S::NodeNotInDirectory,
        NodeError::UnknownNextHop => S::NodeUnknownNextHop,
        NodeError::WrongNextLayer { .. } => S::NodeWrongNextLayer,
        NodeError::Store(_) => S::NodeStorage,
        NodeError::KeyMismatch { .. } => S::NodeKeyMismatch,
        NodeError::MissingPeriodKey { .. } => S::NodeMissingPeriodKey,
        _ => S::NodeError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_keep_their_cause_and_detail() {
        let failure = Failure::from(Error::Carrier(CarrierError::BadBase64 { line: 12 }));
        assert_eq!(failure.status, S::CarrierBadBase64);
        assert!(failure.detail.contains("line 12"), "{}", failure.detail);
        let failure = Failure::from(Error::Node(NodeError::WrongNextLayer { own: 1, next: 3 }));
        assert_eq!(failure.status, S::NodeWrongNextLayer);
        let failure = Failure::from(Error::Packet(PacketError::HeaderMac));
        assert_eq!(failure.status, S::PacketHeaderMac);
        let failure = Failure::from(Error::Randomness(rand::rngs::SysError::UNEXPECTED));
        assert_eq!(failure.status, S::Randomness);
    }

    #[test]
    fn v2_causes_have_codes_of_their_own() {
        let cases: Vec<(Error, S)> = vec![
            (
                CarrierError::MissingPeriod {
                    line: 11,
                    found: "AAAA".into(),
                }
                .into(),
                S::CarrierMissingPeriod,
            ),
            (
                CarrierError::BadPeriod {
                    line: 11,
                    found: "07".into(),
                }
                .into(),
                S::CarrierBadPeriod,
            ),
            (
                RouteError::NoKeyForPeriod {
                    nickname: "n1".into(),
                    period: 3,
                }
                .into(),
                S::RouteNoKeyForPeriod,
            ),
            (
                NodeError::KeyMismatch { period: 3 }.into(),
                S::NodeKeyMismatch,
            ),
            (
                NodeError::MissingPeriodKey { period: 3 }.into(),
                S::NodeMissingPeriodKey,
            ),
            (
                MessageError::HeaderTooLarge { max: 1 }.into(),
                S::MessageHeaderTooLarge,
            ),
            (
                MessageError::TooManyHeaderFields { max: 1 }.into(),
                S::MessageTooManyHeaderFields,
            ),
            (MessageError::TruncatedBody.into(), S::MessageTruncatedBody),
            (
                MessageError::TrailingBytes { count: 1 }.into(),
                S::MessageTrailingBytes,
            ),
            (
                MessageError::Randomness(rand::rngs::SysError::UNEXPECTED).into(),
                S::Randomness,
            ),
        ];
        for (error, status) in cases {
            let detail = error.to_string();
            let failure = Failure::from(error);
            assert_eq!(failure.status, status, "{detail}");
            assert_eq!(failure.detail, detail);
        }
    }
}
