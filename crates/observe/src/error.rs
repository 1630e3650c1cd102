//! The crate's one error type.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A `log` line argument that is not valid (bad facility, level, format…).
    #[error("invalid log setting: {0}")]
    LogConfig(String),
    /// Opening a log target failed.
    #[error("cannot open log target {target}: {source}")]
    LogTarget {
        target: String,
        #[source]
        source: io::Error,
    },
    /// A stats page admin form that does not parse.
    #[error("invalid admin request: {0}")]
    Admin(String),
}
