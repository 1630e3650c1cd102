//! Traffic logs: the engine hands one record per HTTP request or TCP session to this
//! sink, which renders it in the frontend's format (`option httplog [clf]`, `option
//! tcplog`, `log-format`, else HAProxy's "Connect from" line) and queues it to the
//! frontend's loggers (`log global` and/or its own `log` lines) without ever blocking.

use fulcrum_config::logformat::LogFormat;
use fulcrum_config::model::log::LogTarget;
use fulcrum_config::model::Config;
use fulcrum_engine::runtime::Frontend;
use fulcrum_engine::LogSink;
use fulcrum_observe::log::{
    log_server_in, render, LogMessage, LogPolicy, LogRecord, Logger, Rings, SyslogHeader,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A frontend's loggers and options; its formats come compiled with the
/// frontend (`Frontend::http.log_formats`).
struct FrontendLog {
    policy: LogPolicy,
    loggers: Vec<Arc<Logger>>,
    tag: Option<String>,
}

/// The sink the binary gives the engine; `None` from [`TrafficLog::from_config`] when no
/// frontend logs anywhere, so the engine records nothing.
pub struct TrafficLog {
    frontends: HashMap<String, FrontendLog>,
}

impl TrafficLog {
    /// `rings` are the configuration's `ring` sections, for `log ring@NAME` lines.
    pub fn from_config(cfg: &Config, rings: &Rings) -> (Option<Arc<TrafficLog>>, Vec<String>) {
        let mut warnings = Vec::new();
        let header = SyslogHeader {
            hostname: cfg.global.log_send_hostname.clone().flatten(),
            tag: cfg
                .global
                .log_tag
                .clone()
                .unwrap_or_else(|| SyslogHeader::default().tag),
            pid: std::process::id(),
        };
        let global = logger(&cfg.global.logs, rings, &header, &mut warnings);
        let mut frontends = HashMap::new();
        for p in cfg
            .proxies
            .iter()
            .filter(|p| p.kind.is_frontend() && !p.disabled)
        {
            let mut loggers = Vec::new();
            if p.logs.global {
                loggers.extend(global.clone());
            }
            loggers.extend(logger(&p.logs.targets, rings, &header, &mut warnings));
            if loggers.is_empty() {
                continue;
            }
            let o = &p.options;
            let policy = LogPolicy {
                dontlognull: o.dontlognull,
                dontlog_normal: o.dontlog_normal,
                separate_errors: o.log_separate_errors,
            };
            frontends.insert(
                p.name.clone(),
                FrontendLog {
                    policy,
                    loggers,
                    tag: p.log_tag.clone(),
                },
            );
        }
        let sink = (!frontends.is_empty()).then(|| Arc::new(TrafficLog { frontends }));
        (sink, warnings)
    }
}

fn is_http(fe: &Frontend) -> bool {
    matches!(fe.mode, fulcrum_engine::runtime::Mode::Http)
}

impl LogSink for TrafficLog {
    fn emit(&self, frontend: &Frontend, rec: LogRecord) {
        let Some(f) = self.frontends.get(&frontend.name) else {
            return;
        };
        let Some(severity) = f.policy.severity(&rec) else {
            return;
        };
        let Some(formats) = &frontend.http.log_formats else {
            return;
        };
        let mut body = Vec::with_capacity(256);
        let values = &rec.samples;
        if let Some(reason) = &rec.conn_error {
            embryonic(formats, &rec, reason, &mut body);
            for l in &f.loggers {
                let _ = l.try_log(LogMessage {
                    severity,
                    time: rec.accept_date,
                    sd: String::new(),
                    body: body.clone(),
                    tag: f.tag.clone(),
                });
            }
            return;
        }
        // HAProxy's error format is for every line `log-separate-errors` would
        // raise, and for connections that died before a request (its
        // "embryonic" sessions; Fulcrum has those in HTTP only).
        let failed = is_http(frontend) && rec.request_line.is_none();
        let (format, samples) = match &formats.error {
            Some(e) if failed || LogPolicy::is_error(&rec) => (e, &values.error),
            _ => (&formats.format, &values.format),
        };
        render(
            &format.format,
            &rec,
            &|i| samples.get(i).cloned().flatten(),
            &mut body,
        );
        let sd = formats.sd.as_ref().map_or_else(String::new, |sf| {
            let mut v = Vec::new();
            let get = |i: usize| values.sd.get(i).cloned().flatten();
            render(&sf.format, &rec, &get, &mut v);
            String::from_utf8_lossy(&v).into_owned()
        });
        for l in &f.loggers {
            let _ = l.try_log(LogMessage {
                severity,
                time: rec.accept_date,
                sd: sd.clone(),
                body: body.clone(),
                tag: f.tag.clone(),
            });
        }
    }
}

/// The line of a connection that failed before a session existed (HAProxy's
/// embryonic sessions): `error-log-format` when set, else HAProxy's
/// `client [date] frontend/address: reason`.
fn embryonic(
    formats: &fulcrum_engine::log_sample::LogFormats,
    rec: &LogRecord,
    reason: &str,
    out: &mut Vec<u8>,
) {
    static LINE: std::sync::OnceLock<Option<LogFormat>> = std::sync::OnceLock::new();
    if let Some(e) = &formats.error {
        let values = &rec.samples.error;
        render(&e.format, rec, &|i| values.get(i).cloned().flatten(), out);
        return;
    }
    if let Some(f) = LINE.get_or_init(|| LogFormat::parse("%ci:%cp [%t] %ft/%fi:%fp:").ok()) {
        render(f, rec, &|_| None, out);
    }
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
}

/// One logger (one sender thread) for a list of `log` targets; `None` when none is usable.
fn logger(
    targets: &[LogTarget],
    rings: &Rings,
    header: &SyslogHeader,
    warnings: &mut Vec<String>,
) -> Option<Arc<Logger>> {
    let mut servers = Vec::new();
    for t in targets {
        match log_server_in(t, rings) {
            Ok(Some(s)) => servers.push(s),
            Ok(None) => warnings.push(format!(
                "log target {:?} is not supported yet; lines for it are not sent",
                t.address
            )),
            Err(e) => warnings.push(format!("log target {:?}: {e}", t.address)),
        }
    }
    if servers.is_empty() {
        return None;
    }
    match Logger::start(servers, header.clone(), 4096) {
        Ok(l) => Some(Arc::new(l)),
        Err(e) => {
            warnings.push(format!("cannot open log target: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::reader::MapEnv;
    use std::net::UdpSocket;
    use std::time::Duration;

    /// The binary's sink for one frontend `web` logging to a fresh UDP port,
    /// with `lines` added to the frontend; returns what one record sends.
    fn line_for(lines: &str, rec: LogRecord) -> String {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let port = sock.local_addr().unwrap().port();
        let text = format!(
            "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n\
             frontend web\n    bind 127.0.0.1:0\n    log 127.0.0.1:{port} format rfc5424 local0\n\
             \x20   option httplog\n{lines}    default_backend app\n\
             backend app\n    server s 127.0.0.1:9\n"
        );
        let l = fulcrum_config::load_str("t.cfg", &text, &MapEnv::new());
        let cfg = l.config.unwrap();
        let rt = fulcrum_engine::compile(&cfg).unwrap();
        let (sink, _) = TrafficLog::from_config(&cfg, &Rings::from_config(&cfg));
        sink.unwrap().emit(&rt.frontends[0], rec);
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn record(request_line: Option<&str>, status: u16) -> LogRecord {
        LogRecord {
            frontend: "web".into(),
            backend: "app".into(),
            client: Some("192.0.2.1:4000".parse().unwrap()),
            request_line: request_line.map(str::to_string),
            status: Some(status),
            ..Default::default()
        }
    }

    #[test]
    fn error_log_format_is_used_for_connections_without_a_request() {
        let lines = "    error-log-format ERR\\ %ci\\ %ST\n";
        let failed = line_for(lines, record(None, 408));
        assert!(failed.trim_end().ends_with("ERR 192.0.2.1 408"), "{failed}");
        let served = line_for(lines, record(Some("GET / HTTP/1.1"), 200));
        assert!(served.contains("\"GET / HTTP/1.1\""), "{served}");
        assert!(!served.contains("ERR "), "{served}");
    }

    #[test]
    fn log_format_sd_fills_the_rfc5424_structured_data() {
        let sd = "    log-format-sd [exampleSDID@32473\\ client=\\\"%ci\\\"]\n";
        let line = line_for(sd, record(Some("GET / HTTP/1.1"), 200));
        assert!(
            line.contains(" [exampleSDID@32473 client=\"192.0.2.1\"] "),
            "{line}"
        );
        let plain = line_for("", record(Some("GET / HTTP/1.1"), 200));
        assert!(!plain.contains("exampleSDID"), "{plain}");
    }
}
