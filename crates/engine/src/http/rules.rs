//! `http-request` rules and `use_backend` through fulcrum-rules: the engine's
//! side of the view traits, and what a verdict means on the wire.

use super::errors;
use super::session::Session;
use crate::runtime::{Backend, Frontend, Runtime};
use fulcrum_rules::view::{Effect, RequestView, SessionView, Stats};
use fulcrum_rules::{run_http_request, run_http_request_from, Answer, Vars, Verdict};
use std::net::SocketAddr;

mod effects;
mod hdr_edit;
mod res_wait;
mod response;
mod stamp;
pub(crate) use effects::send_early_hints;
use effects::Effects;
pub(crate) use res_wait::{read_more, Waiting};
mod wait;
use response::after_local;
pub(crate) use response::{
    after_error, on_response, response_effects, send_response_answer, ReqParts,
};
pub(crate) use wait::Paused;
use wait::{buffered_body, pause};

/// What to do with a request once rules ran.
pub(crate) enum Decision {
    /// Forward to this backend; `Some(head)` when rules rewrote the head;
    /// `Some(parts)` when `http-response` rules will need the request.
    Forward {
        backend: usize,
        head: Option<Vec<u8>>,
        parts: Option<Box<ReqParts>>,
    },
    /// Answer with these bytes and close.
    Reply(Vec<u8>),
    /// `tarpit`: hold the connection for `timeout tarpit`, then answer.
    Tarpit(Vec<u8>),
    /// No backend matched and there is no default: 503.
    NoBackend,
    /// `reject` / `silent-drop`: close without answering.
    Close,
    /// `wait-for-body`: read more of the body (408 past `time`), then decide
    /// again with `paused`, where the rules stopped.
    WaitBody {
        time: std::time::Duration,
        at_least: Option<u64>,
        paused: Box<Paused>,
    },
}

/// The request as rules see and edit it. Headers are copied only when a proxy
/// has rules, so rule-less configurations pay nothing.
struct ReqView<'a> {
    fe: &'a Frontend,
    be: Option<&'a Backend>,
    src: SocketAddr,
    dst: SocketAddr,
    method: Vec<u8>,
    uri: Vec<u8>,
    version: &'static [u8],
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Body bytes buffered so far (all of them after `option http-buffer-request`).
    body: Vec<u8>,
    /// The request as received so far, head and buffered body (`req.len`, `req.payload`).
    raw: &'a [u8],
    /// The whole body is in, or the buffer is full: `wait-for-body` goes on.
    body_done: bool,
    /// `false` once the session waited enough: `wait-for-body` no longer stops.
    may_wait: bool,
    vars: Vars,
    first: bool,
    dirty: bool,
    persist: crate::persist::ViewPersist<'a>,
    fx: &'a mut Effects,
    stamp: stamp::Stamp,
}

impl SessionView for ReqView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.fe.name, i64::from(self.fe.id))
    }
    fn backend(&self) -> Option<(&str, i64)> {
        self.be.map(|b| (b.name.as_str(), i64::from(b.id)))
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn Stats {
        &crate::stats::CurrentStats
    }
    fn vars(&self) -> &Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.vars
    }
    fn payload(&self) -> &[u8] {
        self.raw
    }
    crate::delegate_persist_view!(persist);
    fn effect(&mut self, e: Effect<'_>) {
        self.fx.record(e, &mut self.src, &mut self.dst);
    }
    fn unique_id(&self) -> Option<&[u8]> {
        self.fx.unique_id.as_deref()
    }
    fn log_var(
        &self,
        var: fulcrum_config::logformat::Var,
        flags: fulcrum_config::logformat::Flags,
        out: &mut Vec<u8>,
    ) -> bool {
        stamp::log_var(self, var, flags, out)
    }
    fn captured_header(&self, response: bool, slot: usize) -> Option<&[u8]> {
        if response {
            return None;
        }
        self.fx.captured(slot).map(str::as_bytes)
    }
}

impl RequestView for ReqView<'_> {
    fn method(&self) -> &[u8] {
        &self.method
    }
    fn uri(&self) -> &[u8] {
        &self.uri
    }
    fn version(&self) -> &[u8] {
        self.version
    }
    fn header_count(&self) -> usize {
        self.headers.len()
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.headers
            .get(i)
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
    fn is_first_request(&self) -> bool {
        self.first
    }
    fn body(&self) -> &[u8] {
        &self.body
    }
    fn body_ready(&self, at_least: Option<u64>) -> bool {
        let enough = at_least.is_some_and(|n| n > 0 && self.body.len() as u64 >= n);
        !self.may_wait || self.body_done || enough
    }
    fn set_method(&mut self, method: &[u8]) {
        self.method = method.to_vec();
        self.dirty = true;
    }
    fn set_uri(&mut self, uri: &[u8]) {
        self.uri = uri.to_vec();
        self.dirty = true;
    }
    fn add_header(&mut self, name: &[u8], value: &[u8]) {
        self.dirty |= hdr_edit::add(&mut self.headers, name, value);
    }
    fn set_header_value(&mut self, i: usize, value: &[u8]) {
        self.dirty |= hdr_edit::set_value(&mut self.headers, i, value);
    }
    fn remove_header(&mut self, i: usize) {
        self.dirty |= hdr_edit::remove(&mut self.headers, i);
    }
}

fn backend_index(rt: &Runtime, name: &str) -> Option<usize> {
    rt.backends.iter().position(|b| b.name == name)
}

/// Runs the frontend's then the chosen backend's request rules, then applies
/// what their actions asked of the session. `may_wait`: a `wait-for-body` rule
/// may ask for more of the body ([`Decision::WaitBody`], nothing applied yet);
/// `resume`: the rules go on where that left them.
pub(crate) fn decide(s: &mut Session<'_>, may_wait: bool, resume: Option<Box<Paused>>) -> Decision {
    let (mut fx, resume) = match resume {
        Some(mut p) => (std::mem::take(&mut p.fx), Some(p)),
        None => (Effects::default(), None),
    };
    // `%rt` is the request's from its start: its unique id and log line agree.
    if let Some(l) = s.log.as_mut() {
        l.counter();
    }
    let d = match decide_with(s, &mut fx, may_wait, resume) {
        Decision::Reply(b) => Decision::Reply(after_local(s, b, fx.log_vars.clone())),
        Decision::Tarpit(b) => Decision::Tarpit(after_local(s, b, fx.log_vars.clone())),
        Decision::WaitBody {
            time,
            at_least,
            mut paused,
        } => {
            paused.fx = fx;
            return Decision::WaitBody {
                time,
                at_least,
                paused,
            };
        }
        d => d,
    };
    // HTTP/1.0 clients do not expect interim responses (RFC 8297).
    let http11 = s
        .req
        .as_ref()
        .is_some_and(|r| r.version != fulcrum_proto::Version::Http10);
    if matches!(d, Decision::Forward { .. }) && http11 {
        effects::stash_early_hints(fx.early_response());
    }
    fx.apply(s);
    d
}

fn decide_with(
    s: &Session<'_>,
    fx: &mut Effects,
    may_wait: bool,
    resume: Option<Box<Paused>>,
) -> Decision {
    let (rt, fe) = (s.rt, s.fe);
    let (src, dst) = (s.addrs.src, s.addrs.dst);
    if let Some(r) = crate::stats::monitor(fe, s.req.as_ref(), s.cbuf.readable(), src, dst) {
        return Decision::Reply(r);
    }
    if fe.rules.is_none() {
        if let Some(r) = crate::stats::intercept(fe, s.req.as_ref(), s.cbuf.readable(), src, dst) {
            return Decision::Reply(r);
        }
    }
    let default = fe.default_backend.filter(|i| *i < rt.backends.len());
    let be_rules = |i: usize| rt.backends[i].rules.is_some() && rt.backends[i].name != fe.name;
    let uid = fe.http.unique_id.as_deref();
    // Log lines reading the request keep it (and the response) as rules saw it.
    let log_reads = fe
        .http
        .log_formats
        .as_ref()
        .is_some_and(|f| f.reads_messages());
    if fe.rules.is_none() && uid.is_none() && !log_reads && !default.is_some_and(be_rules) {
        return default.map_or(Decision::NoBackend, |backend| Decision::Forward {
            backend,
            head: None,
            parts: None,
        });
    }
    let Some(req) = s.req.as_ref() else {
        return Decision::Reply(errors::page(500, None, &fe.errors).to_vec());
    };
    let buf = s.cbuf.readable();
    let (body, complete) = buffered_body(req, buf, s.limits.max_head);
    let body_done = complete || s.cbuf.is_full();
    let mut view = ReqView {
        fe,
        be: None,
        src: s.addrs.src,
        dst: s.addrs.dst,
        method: req.method_bytes(buf).to_vec(),
        uri: req.target_bytes(buf).to_vec(),
        version: req.version.as_bytes(),
        headers: req
            .headers_in(buf)
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
        body: body.to_vec(),
        raw: buf,
        body_done,
        may_wait,
        vars: Vars::with_session(s.sess_vars.clone()),
        first: s.requests <= 1,
        dirty: false,
        persist: crate::persist::ViewPersist::new(s.persist.as_deref()),
        fx,
        stamp: stamp::Stamp::of(s),
    };
    // Where `wait-for-body` stopped the rules: `(backend, rule)`.
    let at = resume.map(|p| p.restore(&mut view));
    let in_backend = at.and_then(|(b, rule)| b.map(|b| (b, rule)));
    if at.is_none() {
        // `capture request header` values, for `capture.req.hdr(N)` in the rules.
        let caps = &fe.http.captures;
        if !caps.request_headers.is_empty() {
            view.fx.declared = caps.request(buf, &req.headers).0;
        }
        // Made before the rules run so `unique-id` fetches in them see it.
        if let Some(u) = uid {
            view.fx.unique_id = Some(u.format.render_request(&view));
        }
    }
    let mut chosen = in_backend.map(|(b, _)| b);
    if let Some(r) = fe.rules.as_ref().filter(|_| in_backend.is_none()) {
        let v = match at {
            Some((None, rule)) => run_http_request_from(&r.http_request, &mut view, rule),
            _ => {
                if let Some(d) = tcp_content(r, &mut view, fe, None) {
                    return d;
                }
                run_http_request(&r.http_request, &mut view)
            }
        };
        match v {
            Verdict::UseBackend(name) => chosen = backend_index(rt, &name),
            Verdict::WaitForBody {
                time_ms,
                at_least,
                rule,
            } => return pause(view, time_ms, at_least, None, rule),
            v => {
                if let Some(d) = final_verdict(v, fe, None) {
                    view.fx.log_vars = Some(view.vars.clone());
                    return d;
                }
            }
        }
        // The rules let the request through: the stats page may answer it.
        if let Some(r) = crate::stats::intercept(fe, Some(req), buf, src, dst) {
            return Decision::Reply(r);
        }
        if chosen.is_none() {
            let exists = |n: &str| backend_index(rt, n).is_some();
            chosen = r
                .routing
                .backend(&view, &exists)
                .and_then(|n| backend_index(rt, &n));
        }
    }
    let Some(bi) = chosen.or(default) else {
        // The 503's log line reads the variables the rules set.
        view.fx.log_vars = Some(view.vars.clone());
        return Decision::NoBackend;
    };
    let be = &rt.backends[bi];
    view.be = Some(be);
    if be.name != fe.name {
        if let Some(r) = &be.rules {
            let v = match in_backend {
                Some((_, rule)) => run_http_request_from(&r.http_request, &mut view, rule),
                None => {
                    if let Some(d) = tcp_content(r, &mut view, fe, Some(be)) {
                        return d;
                    }
                    run_http_request(&r.http_request, &mut view)
                }
            };
            if let Verdict::WaitForBody {
                time_ms,
                at_least,
                rule,
            } = v
            {
                return pause(view, time_ms, at_least, Some(bi), rule);
            }
            if let Some(d) = final_verdict(v, fe, Some(be)) {
                view.fx.log_vars = Some(view.vars.clone());
                return d;
            }
        }
    }
    // `unique-id-header` goes on the request after the rules, as in HAProxy.
    if let Some((h, id)) = uid
        .and_then(|u| u.header.as_deref())
        .zip(view.fx.unique_id.clone())
    {
        view.add_header(h.as_bytes(), &id);
    }
    crate::persist::on_rules(s.persist.as_deref(), be, &view);
    let head = view.dirty.then(|| {
        let mut h = Vec::with_capacity(buf.len().min(4096));
        for part in [
            &view.method[..],
            b" ",
            &view.uri,
            b" ",
            view.version,
            b"\r\n",
        ] {
            h.extend_from_slice(part);
        }
        for (n, v) in &view.headers {
            for part in [&n[..], b": ", v, b"\r\n"] {
                h.extend_from_slice(part);
            }
        }
        h.extend_from_slice(b"\r\n");
        h
    });
    let timeouts = view.fx.timeouts;
    let wants_parts = has_response_rules(fe, be) || timeouts.is_some() || log_reads;
    let parts = wants_parts.then(|| {
        Box::new(ReqParts {
            method: view.method,
            uri: view.uri,
            version: view.version,
            headers: view.headers,
            vars: view.vars,
            persist: s.persist.clone(),
            timeouts: timeouts.unwrap_or_default(),
            req_slots: view.fx.request_slots(),
            res_captures: Vec::new(),
            res_level: None,
            log_res: None,
            answer: None,
            server_close: false,
            server: None,
        })
    });
    Decision::Forward {
        backend: bi,
        head,
        parts,
    }
}

fn has_response_rules(fe: &Frontend, be: &Backend) -> bool {
    let any = |r: &fulcrum_rules::CompiledProxy| {
        !r.http_response.is_empty() || !r.http_after_response.is_empty()
    };
    let fe_r = fe.rules.as_deref().is_some_and(any);
    let be_r = be.name != fe.name && be.rules.as_deref().is_some_and(any);
    fe_r || be_r || crate::tcp_response::wanted(be)
}

/// `tcp-request content` rules of an HTTP proxy: HAProxy runs them on the parsed
/// request, ahead of the same proxy's `http-request` rules (the frontend's once the
/// request is read, the backend's once it is chosen). `None` lets processing go on.
fn tcp_content(
    r: &fulcrum_rules::CompiledProxy,
    view: &mut ReqView<'_>,
    fe: &Frontend,
    be: Option<&Backend>,
) -> Option<Decision> {
    use fulcrum_rules::TcpVerdict;
    if !r.tcp.has(fulcrum_config::rules::TcpLayer::Content) {
        return None;
    }
    match fulcrum_rules::run_tcp_http(&r.tcp, fulcrum_config::rules::TcpLayer::Content, view) {
        TcpVerdict::Reject | TcpVerdict::SilentDrop | TcpVerdict::Close => {
            final_verdict(Verdict::Reject, fe, be)
        }
        TcpVerdict::UseService(name) => final_verdict(Verdict::UseService(name), fe, be),
        // The head is complete here: nothing more can arrive that rules wait for.
        TcpVerdict::Continue | TcpVerdict::Accept | TcpVerdict::Wait => None,
    }
}

/// The bytes of a deny/return answer: an error page or a built response.
fn answer_bytes(a: Answer, fe: &Frontend, be: Option<&Backend>) -> Vec<u8> {
    match a {
        Answer::Errorfile(status) | Answer::Errorfiles { status, .. } => {
            errors::page(status, be.map(|b| &b.errors), &fe.errors).to_vec()
        }
        Answer::Raw(b) => b.to_vec(),
        Answer::Built(r) => r.to_bytes(),
    }
}

/// Maps a stopping verdict to a decision; `None` lets processing go on.
fn final_verdict(v: Verdict, fe: &Frontend, be: Option<&Backend>) -> Option<Decision> {
    let bytes = |a: Answer| answer_bytes(a, fe, be);
    if matches!(
        v,
        Verdict::Reject | Verdict::SilentDrop | Verdict::Deny(_) | Verdict::Tarpit(_)
    ) {
        crate::stats::counters::denied(&fe.name, be.map(|b| b.name.as_str()));
    }
    match v {
        Verdict::Continue | Verdict::Allow | Verdict::UseBackend(_) => None,
        Verdict::Reject | Verdict::SilentDrop => Some(Decision::Close),
        Verdict::Deny(a) | Verdict::Return(a) => Some(Decision::Reply(bytes(a))),
        Verdict::Tarpit(a) => Some(Decision::Tarpit(bytes(a))),
        Verdict::Redirect(r) => Some(Decision::Reply(r.to_bytes())),
        Verdict::Auth { realm } => Some(Decision::Reply(auth_page(&realm))),
        // The callers pause the rules on it before asking here.
        Verdict::WaitForBody { .. } => None,
        // No services exist yet (stats, prometheus): answer as HAProxy does for
        // an unknown one.
        Verdict::UseService(name) => Some(Decision::Reply(
            crate::stats::service(&name)
                .unwrap_or_else(|| errors::page(503, None, &fe.errors).to_vec()),
        )),
    }
}

/// HAProxy's 401 page with the realm to authenticate against.
fn auth_page(realm: &str) -> Vec<u8> {
    let page = fulcrum_proto::errors::default_error(401);
    let split = page
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(page.len());
    let mut out = page[..split].to_vec();
    out.extend_from_slice(format!("\r\nWWW-Authenticate: Basic realm=\"{realm}\"").as_bytes());
    out.extend_from_slice(&page[split..]);
    out
}
