//! fulcrum-observe: what Fulcrum tells its operators.
//!
//! - [`log`]: log lines from a [`fulcrum_config::logformat::LogFormat`] and a
//!   [`log::LogRecord`], syslog framing, and a non-blocking [`log::Logger`];
//! - [`stats`]: counters snapshots rendered as HAProxy's CSV, JSON, HTML page
//!   and Prometheus text, plus the stats page's admin form;
//! - [`api`]: the runtime API (stats socket) command language and its outputs.
//!
//! Nothing here knows the engine: it fills the snapshot and record types, and
//! implements [`api::Runtime`] for the commands that act.

pub mod api;
pub mod error;
pub mod log;
pub mod stats;
pub mod time;

pub use error::ObserveError;
