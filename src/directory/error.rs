/// Why a directory was refused; every variant that comes from a line names it (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// placeholder
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number
        line: usize,
        /// what is wrong
        reason: String,
    },
}
