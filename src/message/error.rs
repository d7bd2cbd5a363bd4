/// Why a message, body or fragment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// placeholder
    #[error("{0}")]
    Invalid(String),
}
