//! `http-request` rules and `use_backend` through fulcrum-rules: the engine's
//! side of the view traits, and what a verdict means on the wire.

use super::errors;
use super::session::Session;
use crate::runtime::{Backend, Frontend, Runtime};
use fulcrum_rules::view::{Effect, RequestView, ResponseView, SessionView, Stats};
use fulcrum_rules::{run_http_request, Answer, Vars, Verdict};
use std::net::SocketAddr;

mod effects;
pub(crate) use effects::send_early_hints;
use effects::Effects;

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
    /// Body bytes buffered so far (`option http-buffer-request`).
    body: Vec<u8>,
    vars: Vars,
    first: bool,
    dirty: bool,
    persist: crate::persist::ViewPersist<'a>,
    fx: &'a mut Effects,
}

impl SessionView for ReqView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        Some(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        Some(self.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.fe.name, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        self.be.map(|b| (b.name.as_str(), 0))
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
    fn tables(&self) -> Option<&fulcrum_persist::Tables> {
        self.persist.tables()
    }
    fn session_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
        self.persist.session_trackers()
    }
    fn stream_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
        self.persist.stream_trackers()
    }
    fn trackers_mut(
        &mut self,
        scope: fulcrum_rules::TrackScope,
    ) -> Option<&mut fulcrum_persist::track::Trackers> {
        self.persist.trackers_mut(scope)
    }
    fn now_ms(&self) -> u64 {
        self.persist.now_ms()
    }
    fn effect(&mut self, e: Effect<'_>) {
        self.fx.record(e, &mut self.src, &mut self.dst);
    }
    fn unique_id(&self) -> Option<&[u8]> {
        self.fx.unique_id.as_deref()
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
    fn set_method(&mut self, method: &[u8]) {
        self.method = method.to_vec();
        self.dirty = true;
    }
    fn set_uri(&mut self, uri: &[u8]) {
        self.uri = uri.to_vec();
        self.dirty = true;
    }
    fn add_header(&mut self, name: &[u8], value: &[u8]) {
        self.headers.push((name.to_vec(), value.to_vec()));
        self.dirty = true;
    }
    fn set_header_value(&mut self, i: usize, value: &[u8]) {
        if let Some(h) = self.headers.get_mut(i) {
            h.1 = value.to_vec();
            self.dirty = true;
        }
    }
    fn remove_header(&mut self, i: usize) {
        if i < self.headers.len() {
            self.headers.remove(i);
            self.dirty = true;
        }
    }
}

fn backend_index(rt: &Runtime, name: &str) -> Option<usize> {
    rt.backends.iter().position(|b| b.name == name)
}

/// Runs the frontend's then the chosen backend's request rules, then applies
/// what their actions asked of the session.
pub(crate) fn decide(s: &mut Session<'_>) -> Decision {
    let mut fx = Effects::default();
    let d = match decide_with(s, &mut fx) {
        Decision::Reply(b) => Decision::Reply(after_local(s, b)),
        Decision::Tarpit(b) => Decision::Tarpit(after_local(s, b)),
        d => d,
    };
    if matches!(d, Decision::Forward { .. }) {
        effects::stash_early_hints(fx.early_response());
    }
    fx.apply(s);
    d
}

fn decide_with(s: &Session<'_>, fx: &mut Effects) -> Decision {
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
    if fe.rules.is_none() && uid.is_none() && !default.is_some_and(be_rules) {
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
        body: if fe.http.buffer_request {
            buf.get(req.head_len..).unwrap_or_default().to_vec()
        } else {
            Vec::new()
        },
        vars: Vars::default(),
        first: s.requests <= 1,
        dirty: false,
        persist: crate::persist::ViewPersist::new(s.persist.as_deref()),
        fx,
    };
    // Made before the rules run so `unique-id` fetches in them see it.
    if let Some(u) = uid {
        view.fx.unique_id = Some(u.format.render_request(&view));
    }
    let mut chosen = None;
    if let Some(r) = &fe.rules {
        match run_http_request(&r.http_request, &mut view) {
            Verdict::UseBackend(name) => chosen = backend_index(rt, &name),
            v => {
                if let Some(d) = final_verdict(v, fe, None) {
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
        return Decision::NoBackend;
    };
    let be = &rt.backends[bi];
    view.be = Some(be);
    if be.name != fe.name {
        if let Some(r) = &be.rules {
            let v = run_http_request(&r.http_request, &mut view);
            if let Some(d) = final_verdict(v, fe, Some(be)) {
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
    let wants_parts = has_response_rules(fe, be) || timeouts.is_some();
    let parts = wants_parts.then(|| {
        Box::new(ReqParts {
            method: view.method,
            uri: view.uri,
            version: view.version,
            headers: view.headers,
            vars: view.vars,
            persist: s.persist.clone(),
            timeouts: timeouts.unwrap_or_default(),
            res_captures: Vec::new(),
            res_silent: false,
            answer: None,
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
    fe_r || be_r
}

/// The request as `http-response` rules see it (kept only when such rules exist).
pub(crate) struct ReqParts {
    method: Vec<u8>,
    uri: Vec<u8>,
    version: &'static [u8],
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    vars: Vars,
    persist: Option<std::rc::Rc<crate::persist::SessionState>>,
    /// `set-timeout server|tunnel` of this request.
    pub timeouts: effects::StreamTimeouts,
    /// `http-response capture` values and `set-log-level silent`, for the log.
    res_captures: Vec<(Option<usize>, String)>,
    res_silent: bool,
    /// `http-response deny|return|redirect`: what the client gets instead.
    answer: Option<Vec<u8>>,
}

/// Moves what `http-response` actions asked of the log (captures, silence)
/// into the transaction's log, once the response head went through them.
pub(crate) fn response_effects(s: &mut Session<'_>) {
    let Some(parts) = s.req_parts.as_deref_mut() else {
        return;
    };
    let caps = std::mem::take(&mut parts.res_captures);
    let silent = parts.res_silent;
    let declared = s.fe.http.captures.response_headers.len();
    if let Some(l) = s.log.as_mut() {
        l.silent |= silent;
        effects::fill_slots(&mut l.response_captures, declared, caps);
    }
}

/// A response head as rules see and edit it.
pub(crate) struct RespView<'a> {
    fe: &'a Frontend,
    /// `None` for an answer the proxy gave before choosing a backend.
    be: Option<&'a Backend>,
    src: SocketAddr,
    dst: SocketAddr,
    req: &'a mut ReqParts,
    pub status: u16,
    reason: Option<Vec<u8>>,
    version: &'static [u8],
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub dirty: bool,
    persist: crate::persist::ViewPersist<'a>,
}

impl SessionView for RespView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        Some(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        Some(self.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.fe.name, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        self.be.map(|b| (b.name.as_str(), 0))
    }
    fn effect(&mut self, e: fulcrum_rules::view::Effect<'_>) {
        use fulcrum_rules::view::Effect;
        match e {
            Effect::Capture { id, value, .. } => self
                .req
                .res_captures
                .push((id, String::from_utf8_lossy(value).into_owned())),
            Effect::SetLogLevel(l) => self.req.res_silent = l == "silent",
            _ => {}
        }
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn Stats {
        &crate::stats::CurrentStats
    }
    fn vars(&self) -> &Vars {
        &self.req.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.req.vars
    }
    fn tables(&self) -> Option<&fulcrum_persist::Tables> {
        self.persist.tables()
    }
    fn session_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
        self.persist.session_trackers()
    }
    fn stream_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
        self.persist.stream_trackers()
    }
    fn trackers_mut(
        &mut self,
        scope: fulcrum_rules::TrackScope,
    ) -> Option<&mut fulcrum_persist::track::Trackers> {
        self.persist.trackers_mut(scope)
    }
    fn now_ms(&self) -> u64 {
        self.persist.now_ms()
    }
}

impl RequestView for RespView<'_> {
    fn method(&self) -> &[u8] {
        &self.req.method
    }
    fn uri(&self) -> &[u8] {
        &self.req.uri
    }
    fn version(&self) -> &[u8] {
        self.req.version
    }
    fn header_count(&self) -> usize {
        self.req.headers.len()
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.req
            .headers
            .get(i)
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
    // The request is gone by now: edits to it have no effect.
    fn set_method(&mut self, _: &[u8]) {}
    fn set_uri(&mut self, _: &[u8]) {}
    fn add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn remove_header(&mut self, _: usize) {}
}

impl ResponseView for RespView<'_> {
    fn status(&self) -> u16 {
        self.status
    }
    fn res_version(&self) -> &[u8] {
        self.version
    }
    fn res_header_count(&self) -> usize {
        self.headers.len()
    }
    fn res_header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.headers
            .get(i)
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
    fn set_status(&mut self, status: u16, reason: Option<&[u8]>) {
        self.status = status;
        self.reason = reason.map(<[u8]>::to_vec);
        self.dirty = true;
    }
    fn res_add_header(&mut self, name: &[u8], value: &[u8]) {
        self.headers.push((name.to_vec(), value.to_vec()));
        self.dirty = true;
    }
    fn res_set_header_value(&mut self, i: usize, value: &[u8]) {
        if let Some(h) = self.headers.get_mut(i) {
            h.1 = value.to_vec();
            self.dirty = true;
        }
    }
    fn res_remove_header(&mut self, i: usize) {
        if i < self.headers.len() {
            self.headers.remove(i);
            self.dirty = true;
        }
    }
}

/// Runs the backend's then the frontend's `http-response` rules over a
/// response head; returns the rewritten head bytes (blank line included) when
/// rules changed it, `Err(())` for a deny (the client gets a 502).
#[allow(clippy::too_many_arguments, clippy::result_unit_err)]
pub(crate) fn on_response(
    fe: &Frontend,
    be: &Backend,
    src: SocketAddr,
    dst: SocketAddr,
    req: &mut ReqParts,
    head: &fulcrum_proto::ResponseHead,
    buf: &[u8],
    connection: Option<Option<&[u8]>>,
) -> Result<Option<Vec<u8>>, ()> {
    let st = req.persist.clone();
    let mut view = RespView {
        fe,
        be: Some(be),
        src,
        dst,
        req,
        status: head.status,
        reason: None,
        version: head.version.as_bytes(),
        headers: head
            .headers_in(buf)
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
        dirty: false,
        persist: crate::persist::ViewPersist::new(st.as_deref()),
    };
    let lists = [
        (be.name != fe.name).then_some(be.rules.as_ref()).flatten(),
        fe.rules.as_ref(),
    ];
    for r in lists.into_iter().flatten() {
        match fulcrum_rules::run_http_response(&r.http_response, &mut view) {
            Verdict::Tarpit(_) | Verdict::Reject | Verdict::SilentDrop => return Err(()),
            // The client gets this answer instead of the server's.
            Verdict::Deny(a) | Verdict::Return(a) => {
                view.req.answer = Some(answer_bytes(a, fe, Some(be)));
                return Err(());
            }
            Verdict::Redirect(r) => {
                view.req.answer = Some(r.to_bytes());
                return Err(());
            }
            _ => {}
        }
    }
    // `http-after-response` comes last; it cannot refuse the response.
    for r in lists.into_iter().flatten() {
        let _ = fulcrum_rules::run_http_after_response(&r.http_after_response, &mut view);
    }
    if !view.dirty {
        return Ok(None);
    }
    Ok(Some(render_head(&view, connection)))
}

/// The response head as rules left it, blank line included.
fn render_head(view: &RespView<'_>, connection: Option<Option<&[u8]>>) -> Vec<u8> {
    let reason = view.reason.clone().unwrap_or_else(|| {
        fulcrum_proto::errors::reason_phrase(view.status)
            .as_bytes()
            .to_vec()
    });
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(view.version);
    out.extend_from_slice(format!(" {} ", view.status).as_bytes());
    out.extend_from_slice(&reason);
    out.extend_from_slice(b"\r\n");
    for (n, v) in &view.headers {
        if connection.is_some() && n.eq_ignore_ascii_case(b"connection") {
            continue;
        }
        for part in [&n[..], b": ", v, b"\r\n"] {
            out.extend_from_slice(part);
        }
    }
    if let Some(Some(c)) = connection {
        out.extend_from_slice(b"Connection: ");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Runs the frontend's `http-after-response` rules over an answer the proxy
/// generated itself (deny, return, redirect, errors), as HAProxy does.
fn after_local(s: &Session<'_>, reply: Vec<u8>) -> Vec<u8> {
    let fe = s.fe;
    let Some(rules) = fe
        .rules
        .as_deref()
        .filter(|r| !r.http_after_response.is_empty())
    else {
        return reply;
    };
    let Ok(fulcrum_proto::Parsed::Complete(head, head_len)) =
        fulcrum_proto::parse_response(&reply, fulcrum_proto::Method::Get, &s.limits)
    else {
        return reply;
    };
    let buf = s.cbuf.readable();
    let mut parts = ReqParts {
        method: s
            .req
            .as_ref()
            .map(|r| r.method_bytes(buf).to_vec())
            .unwrap_or_default(),
        uri: s
            .req
            .as_ref()
            .map(|r| r.target_bytes(buf).to_vec())
            .unwrap_or_default(),
        version: s.req.as_ref().map_or(b"HTTP/1.1", |r| r.version.as_bytes()),
        headers: s
            .req
            .as_ref()
            .map(|r| {
                r.headers_in(buf)
                    .iter()
                    .map(|(n, v)| (n.to_vec(), v.to_vec()))
                    .collect()
            })
            .unwrap_or_default(),
        vars: Vars::default(),
        persist: s.persist.clone(),
        timeouts: Default::default(),
        res_captures: Vec::new(),
        res_silent: false,
        answer: None,
    };
    let st = s.persist.clone();
    let mut view = RespView {
        fe,
        be: None,
        src: s.addrs.src,
        dst: s.addrs.dst,
        req: &mut parts,
        status: head.status,
        reason: None,
        version: head.version.as_bytes(),
        headers: head
            .headers_in(&reply)
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
        dirty: false,
        persist: crate::persist::ViewPersist::new(st.as_deref()),
    };
    let _ = fulcrum_rules::run_http_after_response(&rules.http_after_response, &mut view);
    if !view.dirty {
        return reply;
    }
    let mut out = render_head(&view, None);
    out.extend_from_slice(reply.get(head_len..).unwrap_or_default());
    out
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

/// Sends the answer an `http-response deny|return|redirect` chose in place of
/// the server's; `false` when there is none (the client then gets a 502).
pub(crate) async fn send_response_answer(s: &mut Session<'_>) -> bool {
    let Some(a) = s.req_parts.as_deref_mut().and_then(|p| p.answer.take()) else {
        return false;
    };
    if let Some(l) = s.log.as_mut() {
        l.status = a
            .get(9..12)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|c| c.parse().ok());
    }
    let _ = s.send_reply(&a).await;
    true
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
