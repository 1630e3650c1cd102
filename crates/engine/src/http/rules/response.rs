//! The response side of the rules: `http-response` and `http-after-response`
//! over server answers and the proxy's own, and what they ask of the log.

use super::super::session::Session;
use super::answer_bytes;
use super::hdr_edit;
use crate::runtime::{Backend, Frontend};
use fulcrum_rules::view::{RequestView, ResponseView, SessionView, Stats};
use fulcrum_rules::{Vars, Verdict};
use std::net::SocketAddr;

/// The request as `http-response` rules see it (kept only when such rules exist).
pub(crate) struct ReqParts {
    pub(super) method: Vec<u8>,
    pub(super) uri: Vec<u8>,
    pub(super) version: &'static [u8],
    pub(super) headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub(super) vars: Vars,
    pub(super) persist: Option<std::rc::Rc<crate::persist::SessionState>>,
    /// `set-timeout server|tunnel` of this request.
    pub timeouts: super::effects::StreamTimeouts,
    /// The request's capture slots (`capture.req.hdr(N)` in `http-response` rules).
    pub(super) req_slots: Vec<Option<String>>,
    /// `http-response capture` values and `set-log-level`, for the log.
    pub(super) res_captures: Vec<(Option<usize>, String)>,
    pub(super) res_level: Option<crate::log::LevelOverride>,
    /// The response as rules left it, for the log's `%[…]` (only when they read it).
    pub(super) log_res: Option<crate::log_sample::LoggedResponse>,
    /// `http-response deny|return|redirect`: what the client gets instead
    /// (nothing at all when empty: `tcp-response content reject`).
    pub(super) answer: Option<Vec<u8>>,
    /// `tcp-response content close`: the server connection is not kept.
    pub server_close: bool,
    /// The server answering (name, id), for `srv_name`/`srv_id`.
    pub server: Option<(std::sync::Arc<str>, i64)>,
}

/// Moves what `http-response` actions asked of the log (captures, level)
/// into the transaction's log, once the response head went through them.
pub(crate) fn response_effects(s: &mut Session<'_>) {
    let Some(parts) = s.req_parts.as_deref_mut() else {
        return;
    };
    let caps = std::mem::take(&mut parts.res_captures);
    let level = parts.res_level.take();
    let declared = s.fe.http.captures.response_headers.len();
    if let Some(l) = s.log.as_mut() {
        if let Some(level) = level {
            l.set_level(level);
        }
        super::effects::fill_slots(&mut l.response_captures, declared, caps);
    }
}

impl ReqParts {
    /// The request, response and variables, for the log's `%[…]`.
    pub(crate) fn take_seen(&mut self) -> crate::log_sample::Seen {
        crate::log_sample::Seen {
            req: Some(crate::log_sample::Head {
                method: std::mem::take(&mut self.method),
                uri: std::mem::take(&mut self.uri),
                version: self.version.to_vec(),
                headers: std::mem::take(&mut self.headers),
            }),
            res: self.log_res.take(),
            vars: std::mem::take(&mut self.vars),
        }
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
    /// The `capture response header` slots of this response (`capture.res.hdr(N)`).
    declared: Vec<Option<String>>,
    /// The body buffered so far (`res.body`, `wait-for-body`).
    body: super::res_wait::BodySeen<'a>,
    /// The response bytes received so far (`res.len`, `res.payload`).
    raw: &'a [u8],
}

impl SessionView for RespView<'_> {
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
    fn effect(&mut self, e: fulcrum_rules::view::Effect<'_>) {
        use fulcrum_rules::view::Effect;
        match e {
            Effect::Capture { id, value, .. } => self
                .req
                .res_captures
                .push((id, String::from_utf8_lossy(value).into_owned())),
            Effect::SetLogLevel(l) => {
                if let Some(l) = crate::log::LevelOverride::parse(l) {
                    self.req.res_level = Some(l);
                }
            }
            _ => {}
        }
    }
    fn server(&self) -> Option<(&str, i64)> {
        self.req.server.as_ref().map(|(n, id)| (&**n, *id))
    }
    fn captured_header(&self, response: bool, slot: usize) -> Option<&[u8]> {
        if !response {
            return self.req.req_slots.get(slot)?.as_deref().map(str::as_bytes);
        }
        super::effects::captured_slot(&self.req.res_captures, &self.declared, slot)
            .map(str::as_bytes)
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
    fn res_payload(&self) -> &[u8] {
        self.raw
    }
    crate::delegate_persist_view!(persist);
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
    fn res_body(&self) -> &[u8] {
        self.body.bytes
    }
    fn res_body_ready(&self, at_least: Option<u64>) -> bool {
        self.body.ready(at_least)
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
        self.dirty |= hdr_edit::add(&mut self.headers, name, value);
    }
    fn res_set_header_value(&mut self, i: usize, value: &[u8]) {
        self.dirty |= hdr_edit::set_value(&mut self.headers, i, value);
    }
    fn res_remove_header(&mut self, i: usize) {
        self.dirty |= hdr_edit::remove(&mut self.headers, i);
    }
}

impl RespView<'_> {
    /// The head as the rules left it when `wait-for-body` stopped them.
    pub(super) fn paused(&mut self) -> super::res_wait::Paused {
        super::res_wait::Paused {
            status: self.status,
            reason: self.reason.take(),
            headers: std::mem::take(&mut self.headers),
            dirty: self.dirty,
        }
    }

    pub(super) fn restore(&mut self, p: super::res_wait::Paused) {
        self.status = p.status;
        self.reason = p.reason;
        self.headers = p.headers;
        self.dirty = p.dirty;
    }
}

/// Runs the backend's then the frontend's `http-response` rules over a
/// response head; returns the rewritten head bytes (blank line included) when
/// rules changed it, `Err(())` for a deny (the client gets a 502). When a
/// `wait-for-body` stops them, `Ok(None)` with `wait.until()` set: the caller
/// reads more of the body and calls again (`full`: the buffer has no room).
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
    (wait, full): (&mut super::res_wait::Waiting, bool),
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
        declared: declared_slots(fe, buf, head),
        raw: buf,
        body: wait.body(head, buf, full),
    };
    let at = wait.resume(&mut view);
    if at.is_none() {
        // `req.` variables live only while the request is processed (configuration.txt "set-var").
        view.req.vars.clear_scope("req");
    }
    // `tcp-response content` rules come first, as HAProxy's analysers run them.
    // After a `wait-for-body`, they already ran.
    let inspected = match at {
        Some(_) => crate::tcp_response::HttpInspected::Pass,
        None => crate::tcp_response::run_http(be, &mut view),
    };
    match inspected {
        crate::tcp_response::HttpInspected::Pass => {}
        crate::tcp_response::HttpInspected::CloseServer => view.req.server_close = true,
        crate::tcp_response::HttpInspected::Reject => {
            view.req.answer = Some(Vec::new());
            return Err(());
        }
    }
    let lists = [
        (be.name != fe.name).then_some(be.rules.as_ref()).flatten(),
        fe.rules.as_ref(),
    ];
    for (li, r) in lists.into_iter().enumerate() {
        let Some(r) = r else { continue };
        let v = match at {
            Some((l, _)) if li < l => continue,
            Some((l, rule)) if li == l => {
                fulcrum_rules::run_http_response_from(&r.http_response, &mut view, rule)
            }
            _ => fulcrum_rules::run_http_response(&r.http_response, &mut view),
        };
        match v {
            Verdict::WaitForBody { time_ms, rule, .. } => {
                wait.pause(&mut view, li, rule, time_ms);
                return Ok(None);
            }
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
    if fe
        .http
        .log_formats
        .as_ref()
        .is_some_and(|f| f.reads_messages())
    {
        view.req.log_res = Some((view.status, view.headers.clone()));
    }
    if !view.dirty {
        return Ok(None);
    }
    Ok(Some(render_head(&view, connection)))
}

/// The frontend's `capture response header` values of a response head.
fn declared_slots(
    fe: &Frontend,
    buf: &[u8],
    head: &fulcrum_proto::ResponseHead,
) -> Vec<Option<String>> {
    let caps = &fe.http.captures;
    if caps.response_headers.is_empty() {
        return Vec::new();
    }
    caps.response(buf, &head.headers).0
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
/// An error page (502, 503, 504, 408…) as `http-after-response` rules leave
/// it; `None` when the frontend has none, so the page is sent as stored.
pub(crate) fn after_error(s: &Session<'_>, page: &[u8]) -> Option<Vec<u8>> {
    let has =
        s.fe.rules
            .as_deref()
            .is_some_and(|r| !r.http_after_response.is_empty());
    has.then(|| after_local(s, page.to_vec(), None))
}

/// `vars`: the request rules' variables, when they answered.
pub(super) fn after_local(s: &Session<'_>, reply: Vec<u8>, vars: Option<Vars>) -> Vec<u8> {
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
        vars: vars.unwrap_or_else(|| Vars::with_session(s.sess_vars.clone())),
        persist: s.persist.clone(),
        timeouts: Default::default(),
        req_slots: Vec::new(),
        res_captures: Vec::new(),
        res_level: None,
        log_res: None,
        answer: None,
        server_close: false,
        server: None,
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
        declared: declared_slots(fe, &reply, &head),
        raw: &[],
        body: Default::default(),
    };
    let _ = fulcrum_rules::run_http_after_response(&rules.http_after_response, &mut view);
    if !view.dirty {
        return reply;
    }
    let mut out = render_head(&view, None);
    out.extend_from_slice(reply.get(head_len..).unwrap_or_default());
    out
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
