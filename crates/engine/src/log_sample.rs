//! The formats a frontend logs with (`log-format`, `option httplog|httpslog|tcplog`,
//! `error-log-format`, `log-format-sd`) and their `%[sample]` expressions: compiled
//! once at load (an unknown fetch is an error at its line), evaluated when the line
//! is due with what the transaction saw (request and response heads as the rules
//! left them, variables).

use crate::error::EngineError;
use fulcrum_config::diag::Span;
use fulcrum_config::logformat::{Item, LogFormat, HTTPLOG, HTTPLOG_CLF, HTTPSLOG, TCPLOG};
use fulcrum_config::model::{Mode, Proxy};
use fulcrum_observe::log::{LogRecord, SampleValues};
use fulcrum_proto::RequestHead;
use fulcrum_rules::view::{RequestView, ResponseView, SessionView, Stats};
use fulcrum_rules::{CompileEnv, Expr, Vars};
use std::net::SocketAddr;

/// HAProxy's line for a proxy with `log` but no log format option: one line per
/// connection saying who connected to what.
const CONNECT_FROM_HTTP: &str = "Connect from %ci:%cp to %fi:%fp (%f/HTTP)";
const CONNECT_FROM_TCP: &str = "Connect from %ci:%cp to %fi:%fp (%f/TCP)";

/// One format with a value source for each of its `%[…]` items, in order.
#[derive(Debug)]
pub struct CompiledFormat {
    pub format: LogFormat,
    slots: Vec<Slot>,
}

#[derive(Debug)]
enum Slot {
    Expr(Box<Expr>),
    /// A TLS field of the built-in `option httpslog` line: Fulcrum has no TLS.
    Fixed(Option<&'static str>),
}

/// Everything a frontend's log lines are rendered from.
#[derive(Debug)]
pub struct LogFormats {
    /// The line of each request (HTTP) or session (TCP).
    pub format: CompiledFormat,
    /// `error-log-format`: lines of connections that failed before a request.
    pub error: Option<CompiledFormat>,
    /// `log-format-sd`: the RFC 5424 structured data of each line.
    pub sd: Option<CompiledFormat>,
    /// `option logasap`.
    pub logasap: bool,
}

impl LogFormats {
    /// The formats of frontend `p`, as HAProxy picks them.
    pub fn from_proxy(p: &Proxy) -> Result<LogFormats, EngineError> {
        let base = p
            .span
            .as_ref()
            .and_then(|s| {
                std::path::Path::new(&*s.file)
                    .parent()
                    .map(|d| d.to_path_buf())
            })
            .unwrap_or_default();
        let env = CompileEnv::new(base);
        let (format, builtin) = traffic_format(p);
        let format = if builtin {
            CompiledFormat::builtin(format)
        } else {
            CompiledFormat::compile(format, "log-format", p, &env)?
        };
        let error = match &p.error_log_format {
            Some(f) => Some(CompiledFormat::compile(
                f.clone(),
                "error-log-format",
                p,
                &env,
            )?),
            None => None,
        };
        let sd = match sd_format(p)? {
            Some(f) => Some(CompiledFormat::compile(f, "log-format-sd", p, &env)?),
            None => None,
        };
        Ok(LogFormats {
            format,
            error,
            sd,
            logasap: p.options.logasap,
        })
    }

    /// Whether some expression may read the request or response: the engine
    /// then keeps their heads until the line is sent.
    pub(crate) fn reads_messages(&self) -> bool {
        [Some(&self.format), self.error.as_ref(), self.sd.as_ref()]
            .into_iter()
            .flatten()
            .any(|f| f.slots.iter().any(|s| matches!(s, Slot::Expr(_))))
    }

    /// The values of every format's expressions for the line of `rec`.
    pub(crate) fn evaluate(&self, seen: Option<Box<Seen>>, rec: &LogRecord) -> SampleValues {
        let view = LogView {
            rec,
            seen: seen.map(|b| *b).unwrap_or_default(),
        };
        let values = |f: Option<&CompiledFormat>| f.map_or_else(Vec::new, |f| f.values(&view));
        SampleValues {
            format: values(Some(&self.format)),
            error: values(self.error.as_ref()),
            sd: values(self.sd.as_ref()),
        }
    }
}

impl CompiledFormat {
    fn compile(
        format: LogFormat,
        kw: &str,
        p: &Proxy,
        env: &CompileEnv,
    ) -> Result<CompiledFormat, EngineError> {
        let span = format_span(p, kw);
        let mut slots = Vec::new();
        for item in &format.items {
            let Item::Sample { expr, .. } = item else {
                continue;
            };
            let fail = |msg: String| EngineError::Config(format!("{span}: '{kw}': {msg}"));
            let name = expr.fetch.split('(').next().unwrap_or_default();
            if let Some(buffer) = buffer_fetch(name) {
                return Err(fail(format!(
                    "sample fetch <{}> may not be reliably used here because it needs \
                     '{buffer}' which is not available here.",
                    expr.fetch
                )));
            }
            let parsed = fulcrum_config::rules::parse_sample_expr(&expr.text, &span)
                .map_err(|d| fail(d.message))?;
            let e =
                fulcrum_rules::compile_expr(&parsed, &span, env).map_err(|e| fail(e.message))?;
            slots.push(Slot::Expr(Box::new(e)));
        }
        Ok(CompiledFormat { format, slots })
    }

    /// HAProxy's own lines: only `option httpslog` has expressions, all about
    /// the TLS layer Fulcrum does not have.
    fn builtin(format: LogFormat) -> CompiledFormat {
        let slots = format
            .samples()
            .map(|s| match s.fetch.as_str() {
                // No connection-level error happened on a connection that was logged.
                "fc_err" => Slot::Fixed(Some("0")),
                _ => Slot::Fixed(None),
            })
            .collect();
        CompiledFormat { format, slots }
    }

    fn values(&self, view: &LogView<'_>) -> Vec<Option<String>> {
        let has_req = view.seen.req.is_some();
        let has_res = has_req && (view.seen.res.is_some() || view.rec.status.is_some());
        self.slots
            .iter()
            .map(|slot| match slot {
                Slot::Fixed(v) => v.map(str::to_string),
                Slot::Expr(e) => {
                    let v = if has_res {
                        e.eval_response(view)
                    } else if has_req {
                        e.eval_request(view)
                    } else {
                        e.eval_session(view)
                    };
                    v.map(|s| String::from_utf8_lossy(&s.to_bytes()).into_owned())
                }
            })
            .collect()
    }
}

/// The format a frontend's traffic lines use: `log-format`, else the option's
/// built-in line (`true`), else HAProxy's "Connect from" line.
/// The channel buffer a layer-6 fetch reads. The line is built once the
/// session is over and the buffers are gone, so HAProxy refuses these in
/// log formats at load time, with this wording.
fn buffer_fetch(fetch: &str) -> Option<&'static str> {
    match fetch {
        "req.len" | "req_len" | "req.payload" | "req.payload_lv" | "payload" | "payload_lv"
        | "req.ssl_sni" | "req_ssl_sni" | "req.ssl_hello_type" | "req_ssl_hello_type"
        | "req.ssl_ver" | "req_ssl_ver" | "rdp_cookie" | "req.rdp_cookie" | "rdp_cookie_cnt"
        | "req.rdp_cookie_cnt" | "req.proto_http" | "req_proto_http" => Some("request buffer"),
        "res.len" | "res.payload" | "res.payload_lv" | "res.ssl_hello_type"
        | "rep_ssl_hello_type" => Some("response buffer"),
        _ => None,
    }
}

fn traffic_format(p: &Proxy) -> (LogFormat, bool) {
    let http = p.mode == Mode::Http;
    let o = &p.options;
    let text = match (&p.log_format, &o.httplog) {
        (Some(f), _) => return (f.clone(), false),
        (None, Some(h)) if http && h.clf => HTTPLOG_CLF,
        (None, Some(_)) if http => HTTPLOG,
        (None, None) if http && o.httpslog => HTTPSLOG,
        // HAProxy falls back to the TCP line for an HTTP option in a TCP proxy.
        _ if o.tcplog || o.httplog.is_some() || o.httpslog => TCPLOG,
        _ if http => CONNECT_FROM_HTTP,
        _ => CONNECT_FROM_TCP,
    };
    let format = LogFormat::parse(text).unwrap_or_else(|_| LogFormat {
        source: text.to_string(),
        items: Vec::new(),
    });
    (format, true)
}

/// `log-format-sd`, which the configuration model keeps as written.
fn sd_format(p: &Proxy) -> Result<Option<LogFormat>, EngineError> {
    let Some((_, args, span)) = p.other.iter().rev().find(|(k, _, _)| k == "log-format-sd") else {
        return Ok(None);
    };
    LogFormat::parse(&args.join(" "))
        .map(Some)
        .map_err(|e| EngineError::Config(format!("{span}: 'log-format-sd': {e}")))
}

/// The line where `kw` was written for `p` (or inherited from `defaults`).
fn format_span(p: &Proxy, kw: &str) -> Span {
    p.format_lines
        .iter()
        .rev()
        .find(|(k, _)| k == kw)
        .map(|(_, s)| s.clone())
        .or_else(|| p.span.clone())
        .unwrap_or_else(|| Span::new("", 0))
}

/// Header lines (name, value) in wire order.
pub(crate) type Lines = Vec<(Vec<u8>, Vec<u8>)>;
/// A response as the log sees it: status and header lines.
pub(crate) type LoggedResponse = (u16, Lines);

/// A message head as the log sees it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Head {
    pub method: Vec<u8>,
    pub uri: Vec<u8>,
    pub version: Vec<u8>,
    pub headers: Lines,
}

/// What a transaction's expressions read when its line is due.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    pub req: Option<Head>,
    /// The response status and headers as the rules left them.
    pub res: Option<LoggedResponse>,
    pub vars: Vars,
}

impl Seen {
    /// A request head as received (`buf` holds the head `req` points into).
    pub(crate) fn request(req: &RequestHead, buf: &[u8]) -> Seen {
        Seen {
            req: Some(Head {
                method: req.method_bytes(buf).to_vec(),
                uri: req.target_bytes(buf).to_vec(),
                version: req.version.as_bytes().to_vec(),
                headers: req
                    .headers_in(buf)
                    .iter()
                    .map(|(n, v)| (n.to_vec(), v.to_vec()))
                    .collect(),
            }),
            ..Seen::default()
        }
    }
}

/// The finished transaction as rules' fetches see it.
struct LogView<'a> {
    rec: &'a LogRecord,
    seen: Seen,
}

impl SessionView for LogView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        self.rec.client
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.rec.frontend_addr
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.rec.frontend, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        Some((&self.rec.backend, 0))
    }
    fn server(&self) -> Option<(&str, i64)> {
        self.rec.server.as_deref().map(|s| (s, 0))
    }
    fn stats(&self) -> &dyn Stats {
        &crate::stats::CurrentStats
    }
    fn vars(&self) -> &Vars {
        &self.seen.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.seen.vars
    }
    fn unique_id(&self) -> Option<&[u8]> {
        self.rec.unique_id.as_deref().map(str::as_bytes)
    }
    fn captured_header(&self, response: bool, slot: usize) -> Option<&[u8]> {
        let caps = if response {
            &self.rec.response_captures
        } else {
            &self.rec.request_captures
        };
        caps.get(slot)?.as_deref().map(str::as_bytes)
    }
}

fn pair(h: &[(Vec<u8>, Vec<u8>)], i: usize) -> Option<(&[u8], &[u8])> {
    h.get(i).map(|(n, v)| (n.as_slice(), v.as_slice()))
}

impl RequestView for LogView<'_> {
    fn method(&self) -> &[u8] {
        self.seen.req.as_ref().map_or(&[], |r| &r.method)
    }
    fn uri(&self) -> &[u8] {
        self.seen.req.as_ref().map_or(&[], |r| &r.uri)
    }
    fn version(&self) -> &[u8] {
        self.seen.req.as_ref().map_or(&[], |r| &r.version)
    }
    fn header_count(&self) -> usize {
        self.seen.req.as_ref().map_or(0, |r| r.headers.len())
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        pair(&self.seen.req.as_ref()?.headers, i)
    }
    // The line is written after the fact: nothing can be edited any more.
    fn set_method(&mut self, _: &[u8]) {}
    fn set_uri(&mut self, _: &[u8]) {}
    fn add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn remove_header(&mut self, _: usize) {}
}

impl ResponseView for LogView<'_> {
    fn status(&self) -> u16 {
        // The status the client got: the server's as rules left it, or the proxy's own.
        self.rec
            .status
            .or(self.seen.res.as_ref().map(|r| r.0))
            .unwrap_or(0)
    }
    fn res_version(&self) -> &[u8] {
        b"HTTP/1.1"
    }
    fn res_header_count(&self) -> usize {
        self.seen.res.as_ref().map_or(0, |r| r.1.len())
    }
    fn res_header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        pair(&self.seen.res.as_ref()?.1, i)
    }
    fn set_status(&mut self, _: u16, _: Option<&[u8]>) {}
    fn res_add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn res_set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn res_remove_header(&mut self, _: usize) {}
}

/// What an HTTP transaction's line reads, when its formats read messages:
/// the request (and response) as rules saw them when it was forwarded
/// (`parts`), else the request head as received with the variables the rules
/// left before answering (`prev`).
pub(crate) fn seen_http(
    fe: &crate::runtime::Frontend,
    parts: Option<&mut crate::http::ReqParts>,
    req: Option<&RequestHead>,
    buf: &[u8],
    prev: Option<Box<Seen>>,
) -> Option<Box<Seen>> {
    if !fe.http.log_formats.as_ref()?.reads_messages() {
        return None;
    }
    match (parts, req) {
        (Some(p), _) => Some(Box::new(p.take_seen())),
        (None, Some(r)) => Some(Box::new(Seen {
            vars: prev.map(|p| p.vars).unwrap_or_default(),
            ..Seen::request(r, buf)
        })),
        (None, None) => prev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::reader::MapEnv;

    /// The formats of frontend `fe` in a config whose frontend has `lines`.
    fn formats(mode: &str, lines: &str) -> Result<LogFormats, EngineError> {
        let text = format!(
            "defaults\n    mode {mode}\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n\
             frontend fe\n    bind 127.0.0.1:0\n{lines}    default_backend be\n\
             backend be\n    server s 127.0.0.1:9\n"
        );
        let l = fulcrum_config::load_str("t.cfg", &text, &MapEnv::new());
        let cfg = l.config.expect("config");
        let p = cfg.proxies.iter().find(|p| p.name == "fe").expect("fe");
        LogFormats::from_proxy(p)
    }

    fn source(mode: &str, lines: &str) -> String {
        formats(mode, lines).expect("formats").format.format.source
    }

    #[test]
    fn the_format_is_picked_as_haproxy_does() {
        assert_eq!(source("http", "    option httplog\n"), HTTPLOG);
        assert_eq!(source("http", "    option httplog clf\n"), HTTPLOG_CLF);
        assert_eq!(source("http", "    option httpslog\n"), HTTPSLOG);
        // An HTTP option in a TCP proxy falls back to the TCP line.
        assert_eq!(source("tcp", "    option httplog\n"), TCPLOG);
        assert_eq!(source("tcp", ""), CONNECT_FROM_TCP);
        assert_eq!(source("http", "    log-format %ci\n"), "%ci");
    }

    #[test]
    fn httpslog_tls_fields_are_fixed_and_custom_samples_compile() {
        let f = formats("http", "    option httpslog\n").expect("formats");
        assert!(!f.reads_messages());
        let rec = LogRecord::default();
        let v = f.evaluate(None, &rec).format;
        assert_eq!(v.first(), Some(&Some("0".to_string())));
        assert!(v.iter().skip(1).all(Option::is_none), "{v:?}");
        let f =
            formats("http", "    log-format %[src]\\ %[req.hdr(host),lower]\n").expect("formats");
        assert!(f.reads_messages());
        let rec = LogRecord {
            client: Some("192.0.2.7:1000".parse().expect("addr")),
            ..LogRecord::default()
        };
        let seen = Seen {
            req: Some(Head {
                method: b"GET".to_vec(),
                uri: b"/".to_vec(),
                version: b"HTTP/1.1".to_vec(),
                headers: vec![(b"Host".to_vec(), b"WWW.X".to_vec())],
            }),
            ..Seen::default()
        };
        let v = f.evaluate(Some(Box::new(seen)), &rec).format;
        assert_eq!(v, vec![Some("192.0.2.7".into()), Some("www.x".into())]);
    }

    #[test]
    fn buffer_fetches_are_refused_as_haproxy_does() {
        // HAProxy 2.6: "sample fetch <req.len> may not be reliably used here
        // because it needs 'request buffer' which is not available here."
        for (mode, fetch, buffer) in [
            ("tcp", "req.payload(0,4)", "request buffer"),
            ("tcp", "req.len", "request buffer"),
            ("http", "req.len", "request buffer"),
            ("tcp", "res.len", "response buffer"),
            ("tcp", "req.ssl_sni", "request buffer"),
        ] {
            let line = format!("    log-format \"%ci %[{fetch}]\"\n");
            let e = formats(mode, &line).expect_err(fetch).to_string();
            let want = format!(
                "sample fetch <{fetch}> may not be reliably used here because it needs '{buffer}'"
            );
            assert!(e.contains(&want) && e.contains("t.cfg:8"), "{e}");
        }
        assert!(formats("tcp", "    log-format \"%[wait_end] %[src]\"\n").is_ok());
    }

    #[test]
    fn an_unknown_fetch_is_an_error_at_its_line() {
        let e = formats("http", "    log-format %[nope]\n").expect_err("unknown fetch");
        let msg = e.to_string();
        assert!(msg.contains("t.cfg:8") && msg.contains("nope"), "{msg}");
        let e = formats("http", "    log-format-sd [x\\ a=\\\"%[nope2]\\\"]\n").expect_err("sd");
        assert!(e.to_string().contains("t.cfg:8"), "{e}");
    }
}
