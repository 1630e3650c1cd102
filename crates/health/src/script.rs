//! A check as a sequence of steps (`tcp-check` / `http-check` rules, or the
//! rules HAProxy generates for `option redis-check` and friends), and the
//! interpreter that runs it over any byte stream.
//!
//! The interpreter only needs a way to open a connection (`dial`), so tests
//! run scripts over in-memory pipes and the monitor over TCP sockets.

use crate::error::HealthError;
use crate::expect::{Expectation, HttpResponse, Match, Matcher};
use crate::http;
use crate::status::{CheckStatus, Outcome};
use fulcrum_config::model::check::{
    CheckConnect, CheckData, CheckRule, CheckSettings, HttpCheckSend,
};
use std::future::Future;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

/// Largest response kept for matching (HAProxy's check buffer).
pub const MAX_RECV: usize = 16384;

/// Where a `connect` step goes; `None` fields use the server's check settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectSpec {
    pub port: Option<u16>,
    pub addr: Option<String>,
    /// Send a PROXY v1 header first (`check-send-proxy`, `connect send-proxy`).
    pub send_proxy: bool,
}

impl ConnectSpec {
    fn from_rule(c: &CheckConnect) -> Self {
        ConnectSpec {
            port: c.port.as_deref().and_then(|p| p.parse().ok()),
            addr: c.addr.clone(),
            send_proxy: c.send_proxy,
        }
    }
}

/// One step of a check.
#[derive(Clone, Debug)]
pub enum Step {
    Connect(ConnectSpec),
    Send(Vec<u8>),
    /// Sends an HTTP request built at run time (so `send-state` can add its header).
    HttpSend(HttpCheckSend),
    Expect(Expectation),
    /// An expectation on the HTTP response to the last `HttpSend`.
    HttpExpect(Expectation),
}

/// A compiled check.
#[derive(Clone, Debug)]
pub struct Script {
    pub steps: Vec<Step>,
    /// `http-check disable-on-404`.
    pub disable_on_404: bool,
    /// `http-check send-state`.
    pub send_state: bool,
    /// Built from the user's `tcp-check` rules (success says `(tcp-check)`).
    pub tcp_rules: bool,
    /// The first connect was added, not written.
    pub implicit_connect: bool,
    /// HAProxy's step id of each step (`at step N`): the rule's 1-based
    /// position as written, 0 for an added first connect.
    pub ids: Vec<u32>,
}

/// What the monitor knows at run time.
#[derive(Clone, Debug, Default)]
pub struct RunCtx {
    /// Headers added to every HTTP request (`X-Haproxy-Server-State`).
    pub extra_headers: Vec<(String, String)>,
    /// The server is currently up (for `disable-on-404`).
    pub server_up: bool,
}

/// When the connection and the whole check must be done by.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    pub connect: Instant,
    pub total: Instant,
}

impl Script {
    fn new(steps: Vec<Step>) -> Self {
        Script {
            ids: (1..=steps.len() as u32).collect(),
            steps,
            disable_on_404: false,
            send_state: false,
            tcp_rules: false,
            implicit_connect: false,
        }
    }

    /// A plain TCP connect (no check option).
    pub fn connect_only() -> Self {
        Script::new(vec![Step::Connect(ConnectSpec::default())])
    }

    /// Generated rule sets start with a default connect, then `steps`.
    pub fn with_connect(mut steps: Vec<Step>) -> Self {
        steps.insert(0, Step::Connect(ConnectSpec::default()));
        let mut s = Script::new(steps);
        s.implicit_connect = true;
        s.ids = (0..s.steps.len() as u32).collect();
        s
    }

    /// `option tcp-check` with its `tcp-check` rules.
    pub fn from_tcp_rules(rules: &[CheckRule]) -> Result<Self, HealthError> {
        let mut steps = Vec::new();
        let mut ids = Vec::new();
        for (pos, r) in rules.iter().enumerate() {
            let step = match r {
                CheckRule::Connect(c) => Step::Connect(ConnectSpec::from_rule(c)),
                CheckRule::TcpSend { data, .. } => Step::Send(match data {
                    CheckData::Bytes(b) => b.clone(),
                    // Log-format strings are sent as written (no sample fetches here).
                    CheckData::LogFormat(s) => s.as_bytes().to_vec(),
                    CheckData::BinaryLogFormat(h) => crate::expect::hex_decode(h),
                }),
                CheckRule::Expect(e) => Step::Expect(Expectation::compile(e)?),
                CheckRule::HttpSend(_) | CheckRule::Comment(_) | CheckRule::Var(_) => continue,
            };
            steps.push(step);
            ids.push(pos as u32 + 1);
        }
        let implicit = !matches!(steps.first(), Some(Step::Connect(_)));
        if implicit {
            steps.insert(0, Step::Connect(ConnectSpec::default()));
            ids.insert(0, 0);
        }
        let mut s = Script::new(steps);
        s.tcp_rules = true;
        s.implicit_connect = implicit;
        s.ids = ids;
        Ok(s)
    }

    /// `option httpchk` with its `http-check` rules: the first `send` is laid
    /// over the option's request; a request without an `expect` after it
    /// wants a 2xx or 3xx status.
    pub fn from_http(settings: &CheckSettings) -> Result<Self, HealthError> {
        let base = settings.first_http_request().unwrap_or_default();
        let mut steps = Vec::new();
        let mut sent = false;
        let mut expected = false;
        for r in &settings.http_rules {
            match r {
                CheckRule::Connect(c) => steps.push(Step::Connect(ConnectSpec::from_rule(c))),
                CheckRule::HttpSend(s) => {
                    if sent && !expected {
                        steps.push(Step::HttpExpect(default_http_expect()));
                    }
                    let mut req = if sent { s.clone() } else { base.clone() };
                    req.headers.retain(|(_, v)| !v.is_empty());
                    steps.push(Step::HttpSend(req));
                    sent = true;
                    expected = false;
                }
                CheckRule::Expect(e) => {
                    if !sent {
                        steps.push(Step::HttpSend(base.clone()));
                        sent = true;
                    }
                    steps.push(Step::HttpExpect(Expectation::compile(e)?));
                    expected = true;
                }
                _ => {}
            }
        }
        if !sent {
            steps.push(Step::HttpSend(base));
        }
        if !expected {
            steps.push(Step::HttpExpect(default_http_expect()));
        }
        let implicit = !matches!(steps.first(), Some(Step::Connect(_)));
        if implicit {
            steps.insert(0, Step::Connect(ConnectSpec::default()));
        }
        let mut s = Script::new(steps);
        if implicit {
            s.ids = (0..s.steps.len() as u32).collect();
        }
        s.implicit_connect = implicit;
        s.disable_on_404 = settings.disable_on_404.unwrap_or(false);
        s.send_state = settings.send_state.unwrap_or(false);
        Ok(s)
    }
}

fn default_http_expect() -> Expectation {
    Expectation::new(Matcher::Status(vec![(200, 399)]))
}

/// Runs `script`; `dial` opens the connection each `connect` step asks for.
pub async fn run<C, F, Fut>(script: &Script, ctx: &RunCtx, dl: Deadlines, mut dial: F) -> Outcome
where
    C: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(ConnectSpec) -> Fut,
    Fut: Future<Output = io::Result<C>>,
{
    let mut conn: Option<C> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    let mut response: Option<HttpResponse> = None;
    let mut method = String::from("OPTIONS");
    let mut last = Outcome::new(CheckStatus::L4Ok);
    for (i, step) in script.steps.iter().enumerate() {
        let n = script.ids.get(i).copied().unwrap_or(i as u32 + 1);
        // Connection-level failures of user tcp-check rules say where they happened.
        let at = || script.failure_suffix(i);
        match step {
            Step::Connect(spec) => {
                let deadline = dl.connect.min(dl.total);
                conn = match timeout_at(deadline, dial(spec.clone())).await {
                    Ok(Ok(c)) => Some(c),
                    Ok(Err(e)) => {
                        return Outcome::with_info(CheckStatus::L4Con, os_text(&e) + &at())
                    }
                    Err(_) => return Outcome::with_info(CheckStatus::L4Tout, at()),
                };
                buf.clear();
                eof = false;
            }
            Step::Send(_) | Step::HttpSend(_) => {
                let Some(c) = conn.as_mut() else {
                    return Outcome::with_info(CheckStatus::SockErr, "no connection");
                };
                let bytes = match step {
                    Step::HttpSend(req) => {
                        method = req.method_or_default().to_string();
                        http::build_request(req, &ctx.extra_headers)
                    }
                    _ => bytes_of(step),
                };
                match timeout_at(dl.total, c.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        return Outcome::with_info(CheckStatus::SockErr, os_text(&e) + &at())
                    }
                    Err(_) => return Outcome::with_info(CheckStatus::L7Tout, at()),
                }
                // Replies to this request are matched from the start.
                buf.clear();
                eof = false;
                response = None;
            }
            Step::Expect(e) => {
                let Some(c) = conn.as_mut() else {
                    return Outcome::with_info(CheckStatus::SockErr, "no connection");
                };
                loop {
                    if eof && buf.is_empty() {
                        return Outcome::with_info(
                            e.error_status.unwrap_or(CheckStatus::L7Rsp),
                            format!("TCPCHK got an empty response at step {n}"),
                        );
                    }
                    match e.match_tcp(&buf, eof) {
                        Match::Pass => {
                            let info = e.on_success.clone().unwrap_or_default();
                            last =
                                Outcome::with_info(e.ok_status.unwrap_or(CheckStatus::L7Ok), info);
                            break;
                        }
                        Match::Fail => {
                            let info = e.on_error.clone().unwrap_or_else(|| {
                                let what = if e.negate {
                                    "matched unwanted"
                                } else {
                                    "did not match"
                                };
                                format!("TCPCHK {what} content{} at step {n}", e.describe())
                            });
                            return Outcome::with_info(
                                e.error_status.unwrap_or(CheckStatus::L7Rsp),
                                info,
                            );
                        }
                        Match::Decided(o) => {
                            if o.status.verdict() == crate::status::Verdict::Failed {
                                return o;
                            }
                            last = o;
                            break;
                        }
                        Match::NeedMore => {}
                    }
                    match read_more(c, &mut buf, dl.total).await {
                        Ok(0) => eof = true,
                        Ok(_) => {}
                        Err(ReadErr::Timeout) => {
                            let st = e.tout_status.unwrap_or(CheckStatus::L7Tout);
                            return Outcome::with_info(st, at());
                        }
                        Err(ReadErr::Io(err)) => {
                            return Outcome::with_info(CheckStatus::SockErr, os_text(&err) + &at())
                        }
                    }
                }
            }
            Step::HttpExpect(e) => {
                let Some(c) = conn.as_mut() else {
                    return Outcome::with_info(CheckStatus::SockErr, "no connection");
                };
                if response.is_none() {
                    let with_body = script.steps[i..]
                        .iter()
                        .any(|s| matches!(s, Step::HttpExpect(x) if x.needs_body()));
                    match http::read_response(c, &mut buf, &method, with_body, dl.total).await {
                        Ok(r) => response = Some(r),
                        Err(http::ReadFail::Empty) => {
                            let info = format!("TCPCHK got an empty response at step {n}");
                            return Outcome::with_info(CheckStatus::L7Rsp, info);
                        }
                        Err(http::ReadFail::Other(o)) => return o,
                    }
                }
                let Some(r) = response.as_ref() else { continue };
                let code = u32::from(r.status);
                if script.disable_on_404 && r.status == 404 && ctx.server_up {
                    return Outcome::new(CheckStatus::L7OkC).code(code);
                }
                if e.match_http(r) {
                    let info = e.on_success.clone().unwrap_or_default();
                    last = Outcome::with_info(e.ok_status.unwrap_or(CheckStatus::L7Ok), info)
                        .code(code);
                } else {
                    // Status and header mismatches report the reason phrase.
                    let default = if e.needs_body() {
                        CheckStatus::L7Rsp
                    } else {
                        CheckStatus::L7Sts
                    };
                    let info = e.on_error.clone().unwrap_or_else(|| match e.needs_body() {
                        false => r.reason.clone(),
                        true if e.negate => "HTTP check matched unwanted content".to_string(),
                        true => "HTTP content check did not match".to_string(),
                    });
                    return Outcome::with_info(e.error_status.unwrap_or(default), info).code(code);
                }
            }
        }
    }
    if let Some(mut c) = conn {
        // Best effort: the verdict is already known.
        let _ = timeout_at(dl.total, c.shutdown()).await;
    }
    if script.tcp_rules {
        // User tcp-check rule sets say so when nothing more specific was given.
        match script.steps.last() {
            Some(Step::Connect(_)) if !script.implicit_connect || script.steps.len() > 1 => {
                last.info = "(tcp-check)".into()
            }
            Some(Step::Send(_)) => last = Outcome::with_info(CheckStatus::L7Ok, "(tcp-check)"),
            Some(Step::Expect(_)) if last.info.is_empty() => last.info = "(tcp-check)".into(),
            _ => {}
        }
    }
    last
}

impl Script {
    /// HAProxy's ` at step N of tcp-check (…)` after a connection-level error,
    /// for user `tcp-check` rule sets only.
    fn failure_suffix(&self, i: usize) -> String {
        if !self.tcp_rules {
            return String::new();
        }
        let id = self.ids.get(i).copied().unwrap_or(0);
        if id == 0 {
            return " at initial connection step of tcp-check".into();
        }
        let what = match self.steps.get(i) {
            Some(Step::Connect(c)) => match c.port {
                Some(p) => format!(" (connect port {p})"),
                None => " (connect)".into(),
            },
            Some(Step::Expect(e)) => e.describe_wait(),
            Some(Step::Send(_)) => " (send)".into(),
            _ => String::new(),
        };
        format!(" at step {id} of tcp-check{what}")
    }
}

fn bytes_of(step: &Step) -> Vec<u8> {
    match step {
        Step::Send(b) => b.clone(),
        _ => Vec::new(),
    }
}

pub(crate) enum ReadErr {
    Timeout,
    Io(io::Error),
}

/// Reads once more into `buf` (at most [`MAX_RECV`] kept); `Ok(0)` is EOF.
pub(crate) async fn read_more<C: AsyncRead + Unpin>(
    c: &mut C,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, ReadErr> {
    let mut chunk = [0u8; 4096];
    let room = MAX_RECV.saturating_sub(buf.len()).min(chunk.len());
    if room == 0 {
        // A full buffer decides like EOF: matchers see all they will get.
        return Ok(0);
    }
    match timeout_at(deadline, c.read(&mut chunk[..room])).await {
        Ok(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(n)
        }
        Ok(Err(e)) => Err(ReadErr::Io(e)),
        Err(_) => Err(ReadErr::Timeout),
    }
}

/// The OS's words for an error, as HAProxy prints `strerror()`: without
/// Rust's ` (os error N)` suffix.
pub fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
