//! fulcrum-engine: the proxy itself. A compiled [`Runtime`] (listeners,
//! frontends, backends with shared server state) is served by worker threads,
//! each a current-thread tokio runtime with its own SO_REUSEPORT sockets and
//! its own pools (I/O buffers, idle server connections).
//!
//! How the binary uses it:
//! 1. [`compile`] the validated `fulcrum_config::model::Config` into a [`Runtime`];
//! 2. [`Engine::start`] binds every listener before returning (drop privileges,
//!    daemonize, write the pidfile after it), with [`EngineOptions`] (thread
//!    count override, a [`LogSink`] for traffic logs);
//! 3. [`EngineHandle::start_ops`] with the same `Config` (before dropping
//!    privileges: it binds the `stats socket`s) starts health checks, the
//!    stats page / `monitor-uri` / Prometheus service and the runtime API;
//!    [`EngineHandle::runtime`] exposes backends and servers for health checks,
//!    stats and the runtime API (server state lives in
//!    `fulcrum_balance::ServerState` atomics; call
//!    [`runtime::Backend::server_changed`] after changing one);
//! 4. on signals: [`EngineHandle::stop_now`] (SIGTERM/SIGINT),
//!    [`EngineHandle::graceful_stop`] (SIGUSR1), then [`EngineHandle::wait`].
//!
//! A client connection goes through explicit stages: for `mode tcp`, connect
//! then a two-way tunnel; for `mode http`, reading head → rules → connecting
//! (queue, retries) → streaming both ways → keep-alive, tunnel after an
//! upgrade, or closing. Heads, framing and chunked validation come from
//! fulcrum-proto, rules from fulcrum-rules, server choice from fulcrum-balance.

mod admin;
mod buf;
mod compile;
mod connect;
mod engine;
mod error;
mod gate;
mod handover;
mod health_link;
mod http;
mod init_addr;
mod limits;
mod listener;
pub mod log;
pub mod log_sample;
mod park;
pub mod persist;
pub mod proxy_proto;
mod rate;
mod readiness;
pub mod runtime;
pub mod select;
mod sessions;
mod snapshot;
mod sockopt;
mod splice;
pub mod srv_name;
mod stats;
mod tcp;
mod tcp_response;
mod tcp_rules;
mod tunnel;
pub mod unix;

pub use buf::buffers_in_use;
pub use compile::compile;
pub use engine::{BoundAddr, Engine, EngineControl, EngineHandle, EngineOptions};
pub use error::EngineError;
pub use handover::Inherited;
pub use health_link::HealthEventSink;
pub use log::LogSink;
pub use runtime::Runtime;
