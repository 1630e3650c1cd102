//! The crate's one error type.

/// Why a check cannot be built or the monitor cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    #[error("invalid regex '{pattern}' in a check rule: {source}")]
    Regex {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("unknown check status '{0}' (expected L4OK, L7STS, ...)")]
    UnknownStatus(String),
    #[error("invalid check address '{0}'")]
    Address(String),
    #[error("server '{0}' not found")]
    NoSuchServer(String),
    #[error("cannot start the health-check thread: {0}")]
    Thread(#[from] std::io::Error),
}
