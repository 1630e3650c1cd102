//! fulcrum-engine: the proxy itself. A compiled [`Runtime`] (listeners,
//! frontends, backends with shared server state) is served by worker threads,
//! each a current-thread tokio runtime with its own SO_REUSEPORT sockets.
//!
//! A client connection goes through explicit stages: for `mode tcp`, connect
//! then [`tunnel`]; for `mode http`, reading head → connecting → streaming →
//! (tunnel after an upgrade) → closing, see [`http`].

mod buf;
mod compile;
mod connect;
mod engine;
mod error;
pub mod http;
mod limits;
mod listener;
pub mod log;
pub mod proxy_proto;
pub mod runtime;
pub mod select;
mod splice;
mod tcp;
mod tunnel;

pub use compile::compile;
pub use engine::{BoundAddr, Engine, EngineHandle, EngineOptions};
pub use error::EngineError;
pub use log::LogSink;
pub use runtime::Runtime;
