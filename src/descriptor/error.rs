use crate::directory::{DirectoryError, DirectoryErrorKind};
use std::fmt;

/// Why a descriptor was refused or could not be written: the broken rule
/// ([`DescriptorError::kind`]) and the 1-based line it is on
/// ([`DescriptorError::line`]; when signing, the line the value would have
/// had). Errors about the descriptor as a whole have no line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorError {
    line: Option<usize>,
    kind: DescriptorErrorKind,
}

impl DescriptorError {
    pub(crate) fn at(line: usize, kind: DescriptorErrorKind) -> Self {
        DescriptorError {
            line: Some(line),
            kind,
        }
    }

    pub(crate) fn whole(kind: DescriptorErrorKind) -> Self {
        DescriptorError { line: None, kind }
    }

    /// The 1-based line the error is about, if it comes from a line.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The rule that was broken, with the values involved.
    pub fn kind(&self) -> &DescriptorErrorKind {
        &self.kind
    }
}

/// The rules SPEC 7 shares with the directory keep the directory's kind
/// and line.
impl From<DirectoryError> for DescriptorError {
    fn from(error: DirectoryError) -> Self {
        DescriptorError {
            line: error.line(),
            kind: DescriptorErrorKind::Shared(error.kind().clone()),
        }
    }
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => self.kind.fmt(f),
        }
    }
}

impl std::error::Error for DescriptorError {}

/// The rules of SPEC 7, one variant per rule; the line is in [`DescriptorError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorErrorKind {
    /// A lexical or value rule SPEC 7 shares with the directory (LF only,
    /// one space, line order, numbers, base64, nickname, address, identity,
    /// X25519 key, key periods increasing without gaps, the signature),
    /// reported exactly as the directory reports it.
    #[error(transparent)]
    Shared(DirectoryErrorKind),
    /// More key lines than a descriptor may have (the line is the first one over).
    #[error("more than {max} key lines")]
    TooManyKeys {
        /// Most key lines allowed (64).
        max: usize,
    },
    /// The key lines do not cover P(published) through P(published) + 2, so
    /// authorities could not list the node's keys before their periods start.
    #[error(
        "keys cover periods {first}..={last}, but must cover at least \
         {required_first}..={required_last} (P(published) to P(published) + 2)"
    )]
    KeysDoNotCover {
        /// First period with a key.
        first: u64,
        /// Last period with a key.
        last: u64,
        /// P(published).
        required_first: u64,
        /// P(published) + 2.
        required_last: u64,
    },
    /// A line after the signature line, which ends a descriptor.
    #[error("nothing may follow the signature line, found {found:?}")]
    TextAfterSignature {
        /// The keyword found.
        found: String,
    },
    /// A role other than `mix` or `exit`.
    #[error("role {found:?} is neither \"mix\" nor \"exit\"")]
    BadRole {
        /// The role found.
        found: String,
    },
    /// When signing: the key given is not the descriptor's identity, so the
    /// signature would not verify.
    #[error("the signing key is not the descriptor's identity")]
    IdentityMismatch,
}
