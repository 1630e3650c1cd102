//! Access and error logs: records, the log-format renderer, syslog framing
//! and the non-blocking logger.

mod forward;
mod logger;
mod policy;
mod record;
mod render;
mod ring;
mod syslog;
mod target;
mod term;

pub use forward::{frame_line, octet_counting};
pub use logger::{LogMessage, Logger, LoggerStats};
pub use policy::LogPolicy;
pub use record::{is_unix, unix_addr, LogRecord, SampleValues, Stamps, Timers, UNIX_IP};
pub use render::{render, render_line, render_var};
pub use ring::{dropped_text, ring_server, Ring, RingRef, Rings, DEFAULT_RING_SIZE};
pub use syslog::{
    frame, Facility, LogServer, LogTarget, Sampling, Severity, SyslogFormat, SyslogHeader,
};
pub use target::{log_server, log_server_in};
pub use term::{CookieRequest, CookieResponse, TermCause, TermPhase, TermState};
