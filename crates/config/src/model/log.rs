//! `log` lines (configuration.txt §3.1 "log" and §4.2 "log").

use super::addr::Address;
use crate::diag::Span;

/// Syslog facilities in their numeric order (RFC 5424).
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Syslog levels in their numeric order.
pub const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// Where a proxy's logs go: its own targets, the global ones (`log global`), or none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogSetting {
    pub targets: Vec<LogTarget>,
    /// `log global` was written: the global targets apply too.
    pub global: bool,
}

/// `log <address> [len N] [format F] [sample R:S] <facility> [max [min]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogTarget {
    /// UDP address (port defaults to 514), unix socket, `stdout`/`stderr` as `Fd(1|2)`, or `ring@NAME` kept in `ring`.
    pub address: Address,
    pub ring: Option<String>,
    pub len: Option<u32>,
    pub format: Option<String>,
    pub sample: Option<String>,
    /// Index in [`FACILITIES`].
    pub facility: u8,
    /// Index in [`LEVELS`]: messages above this level are not sent.
    pub max_level: u8,
    pub min_level: u8,
    /// The `log` line (a proxy's inherited lines keep their `defaults` line).
    pub span: Span,
}
