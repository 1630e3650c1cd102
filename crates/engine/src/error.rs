//! The engine's one error type.

use std::io;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("cannot bind {addr} for frontend '{frontend}': {source}")]
    Bind {
        frontend: String,
        addr: String,
        source: io::Error,
    },
    #[error("cannot use inherited socket fd@{fd} for frontend '{frontend}': {source}")]
    InheritedFd {
        frontend: String,
        fd: i32,
        source: io::Error,
    },
    #[error("cannot start worker thread {thread}: {source}")]
    Thread { thread: usize, source: io::Error },
    #[error("frontend '{frontend}' uses backend #{index}, which does not exist")]
    NoSuchBackend { frontend: String, index: usize },
    #[error("cannot connect to server {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("PROXY protocol header: {0}")]
    ProxyHeader(&'static str),
    #[error("configuration: {0}")]
    Config(String),
}
