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
    /// A runtime API command nobody knows; the CLI answers with the help text.
    #[error("Unknown command: '{0}'")]
    UnknownCommand(String),
    /// A known runtime API command used wrongly; the text is what the CLI prints.
    #[error("{0}")]
    Usage(String),
    /// The socket's `level` does not allow the command.
    #[error("Permission denied")]
    PermissionDenied,
}
