//! Traffic logs: the engine hands one record per HTTP request or TCP session to this
//! sink, which renders it in the frontend's format (`option httplog [clf]`, `option
//! tcplog`, `log-format`, else HAProxy's "Connect from" line) and queues it to the
//! frontend's loggers (`log global` and/or its own `log` lines) without ever blocking.

use fulcrum_config::logformat::{LogFormat, HTTPLOG, HTTPLOG_CLF, TCPLOG};
use fulcrum_config::model::log::LogTarget;
use fulcrum_config::model::{Config, Proxy};
use fulcrum_engine::runtime::Frontend;
use fulcrum_engine::LogSink;
use fulcrum_observe::log::{
    log_server, render, LogMessage, LogPolicy, LogRecord, Logger, SyslogHeader,
};
use std::collections::HashMap;
use std::sync::Arc;

/// HAProxy's line for a proxy with `log` but no log format option: one line per
/// connection saying who connected to what.
const CONNECT_FROM_HTTP: &str = "Connect from %ci:%cp to %fi:%fp (%f/HTTP)";
const CONNECT_FROM_TCP: &str = "Connect from %ci:%cp to %fi:%fp (%f/TCP)";

struct FrontendLog {
    format: LogFormat,
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
    pub fn from_config(cfg: &Config) -> (Option<Arc<TrafficLog>>, Vec<String>) {
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
        let global = logger(&cfg.global.logs, &header, &mut warnings);
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
            loggers.extend(logger(&p.logs.targets, &header, &mut warnings));
            if loggers.is_empty() {
                continue;
            }
            let o = &p.options;
            let policy = LogPolicy {
                dontlognull: o.dontlognull,
                dontlog_normal: o.dontlog_normal,
                separate_errors: o.log_separate_errors,
            };
            let http = p.mode == fulcrum_config::model::Mode::Http;
            frontends.insert(
                p.name.clone(),
                FrontendLog {
                    format: format_of(p, http),
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

/// The proxy's line layout, as HAProxy picks it.
fn format_of(p: &Proxy, http: bool) -> LogFormat {
    let text = match (&p.log_format, &p.options.httplog, p.options.tcplog) {
        (Some(f), _, _) => return f.clone(),
        (None, Some(h), _) if http && h.clf => HTTPLOG_CLF,
        (None, Some(_), _) if http => HTTPLOG,
        (None, _, true) | (None, Some(_), _) => TCPLOG,
        (None, None, false) if http => CONNECT_FROM_HTTP,
        (None, None, false) => CONNECT_FROM_TCP,
    };
    LogFormat::parse(text).unwrap_or_else(|_| LogFormat {
        source: text.to_string(),
        items: Vec::new(),
    })
}

impl LogSink for TrafficLog {
    fn emit(&self, frontend: &Frontend, rec: LogRecord) {
        let Some(f) = self.frontends.get(&frontend.name) else {
            return;
        };
        let Some(severity) = f.policy.severity(&rec) else {
            return;
        };
        let mut body = Vec::with_capacity(256);
        // `%[sample]` items of a custom `log-format` are not evaluated yet: they print
        // `-`, as HAProxy prints a sample it cannot fetch.
        let samples = |_: usize| None;
        render(&f.format, &rec, &samples, &mut body);
        for l in &f.loggers {
            let _ = l.try_log(LogMessage {
                severity,
                time: rec.accept_date,
                sd: String::new(),
                body: body.clone(),
                tag: f.tag.clone(),
            });
        }
    }
}

/// One logger (one sender thread) for a list of `log` targets; `None` when none is usable.
fn logger(
    targets: &[LogTarget],
    header: &SyslogHeader,
    warnings: &mut Vec<String>,
) -> Option<Arc<Logger>> {
    let mut servers = Vec::new();
    for t in targets {
        match log_server(t) {
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
