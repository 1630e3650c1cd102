//! fulcrum-observe: what Fulcrum tells its operators.
//!
//! - [`log`]: log lines from a [`fulcrum_config::logformat::LogFormat`] and a
//!   [`log::LogRecord`], syslog framing, and a non-blocking [`log::Logger`];
//! - [`stats`]: counters snapshots rendered as HAProxy's CSV, JSON, HTML page
//!   and Prometheus text, plus the stats page's admin form and auth;
//! - [`api`]: the runtime API (stats socket) command language and its outputs.
//!
//! Nothing here knows the engine: it fills the snapshot and record types, and
//! implements [`api::Runtime`] for the commands that act. No tokio, no
//! sockets except the logger's own datagram/stdout writers.
//!
//! How the engine uses it:
//! - at load: `LogFormat::parse` for `log-format` (or the `HTTPLOG` / `TCPLOG`
//!   constants), [`log::LogServer::parse`] per `log` line, one
//!   [`log::Logger::start`] per distinct set of servers;
//! - per request: fill a [`log::LogRecord`] (timers via
//!   [`log::Timers::from_stamps`]), ask [`log::LogPolicy::severity`], then
//!   [`log::render`] into a buffer and [`log::Logger::try_log`] (never blocks;
//!   drops are counted for `DroppedLogs`);
//! - stats page: [`stats::html::PageRequest::parse`] on the URI suffix,
//!   [`stats::auth::check_basic`], [`stats::html::render_response`], and for a
//!   POST [`stats::admin::AdminRequest::parse`] + [`api::apply_admin`] +
//!   [`stats::admin::redirect_location`] (303);
//! - stats socket: one [`api::CliSession`] per connection, fed line by line.

pub mod api;
pub mod error;
pub mod log;
pub mod stats;
pub mod time;

pub use error::ObserveError;
