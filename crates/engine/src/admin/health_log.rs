//! Health lines to the `global log` servers, as HAProxy sends a backend's
//! server state changes to its loggers (`log global` in most configs).

use fulcrum_config::model::Global;
use fulcrum_observe::log::{LogMessage, Logger, Rings, Severity, SyslogHeader};
use std::time::SystemTime;

/// A logger over every usable `global log` line (`ring@NAME` ones with `rings`);
/// `None` without any.
pub(crate) fn global_logger(g: &Global, rings: Option<&Rings>) -> Option<Logger> {
    let mut servers = Vec::new();
    for t in &g.logs {
        let server = match rings {
            Some(r) => fulcrum_observe::log::log_server_in(t, r),
            None => fulcrum_observe::log::log_server(t),
        };
        match server {
            Ok(Some(s)) => servers.push(s),
            Ok(None) => {}
            Err(e) => tracing::warn!("health logs: {e}"),
        }
    }
    if servers.is_empty() {
        return None;
    }
    let dflt = SyslogHeader::default();
    let header = SyslogHeader {
        hostname: g.log_send_hostname.clone().flatten(),
        tag: g.log_tag.clone().unwrap_or(dflt.tag),
        pid: std::process::id(),
    };
    match Logger::start(servers, header, 1024) {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!("health logs: {e}");
            None
        }
    }
}

/// Queues one health line at its severity; never blocks.
pub(crate) fn send(l: &Logger, ev: &fulcrum_health::HealthEvent) {
    use fulcrum_health::message::Severity as H;
    let severity = match ev.severity {
        H::Emerg => Severity::Emerg,
        H::Alert => Severity::Alert,
        H::Notice => Severity::Notice,
        H::Info => Severity::Info,
    };
    l.try_log(LogMessage {
        severity,
        time: SystemTime::now(),
        sd: String::new(),
        body: ev.message.clone().into_bytes(),
        tag: None,
    });
}
