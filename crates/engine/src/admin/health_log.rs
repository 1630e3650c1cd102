//! Health lines to the `global log` servers, as HAProxy sends a backend's
//! server state changes to its loggers (`log global` in most configs).

use fulcrum_config::model::addr::{Address, Host, Ports};
use fulcrum_config::model::log::{LogTarget, FACILITIES, LEVELS};
use fulcrum_config::model::Global;
use fulcrum_observe::log::{LogMessage, LogServer, Logger, Severity, SyslogHeader};
use std::net::SocketAddr;
use std::time::SystemTime;

/// The words after `log` for one target, as `LogServer::parse` reads them.
fn words(t: &LogTarget) -> Option<Vec<String>> {
    if t.ring.is_some() {
        return None; // rings are not served here
    }
    let addr = match &t.address {
        Address::Inet { host, ports, .. } => {
            let port = match ports {
                Ports::One(p) => *p,
                _ => 514,
            };
            match host {
                Host::Ip(ip) => SocketAddr::new(*ip, port).to_string(),
                Host::Name(n) => format!("{n}:{port}"),
                Host::Wildcard => return None,
            }
        }
        Address::Unix(p) => p.display().to_string(),
        Address::Fd(1) => "stdout".into(),
        Address::Fd(2) => "stderr".into(),
        _ => return None,
    };
    let mut w = vec![addr];
    if let Some(l) = t.len {
        w.extend(["len".to_string(), l.to_string()]);
    }
    if let Some(f) = &t.format {
        w.extend(["format".to_string(), f.clone()]);
    }
    w.push(FACILITIES.get(usize::from(t.facility))?.to_string());
    w.push(LEVELS.get(usize::from(t.max_level))?.to_string());
    w.push(LEVELS.get(usize::from(t.min_level))?.to_string());
    Some(w)
}

/// A logger over every usable `global log` line; `None` without any.
pub(crate) fn global_logger(g: &Global) -> Option<Logger> {
    let mut servers = Vec::new();
    for t in &g.logs {
        let Some(w) = words(t) else { continue };
        let refs: Vec<&str> = w.iter().map(String::as_str).collect();
        match LogServer::parse(&refs) {
            Ok(s) => servers.push(s),
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
