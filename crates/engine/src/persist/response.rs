//! The response side: appsession learns the server's session id, the server's
//! `Set-Cookie` headers are kept, rewritten or removed, insert mode adds ours,
//! `stick store-response` stores, and the status feeds the tracked counters.

use std::net::SocketAddr;
use std::sync::Arc;

use fulcrum_config::model::persist::StickKind;
use fulcrum_persist::cookie::HeaderEdit;
use fulcrum_proto::http1::Edit;
use fulcrum_proto::{Limits, Method, Parsed, ResponseHead};
use fulcrum_rules::view::{NoStats, RequestView, ResponseView, SessionView, Stats};
use fulcrum_rules::Vars;

use super::request::key_of;
use super::{count_status, now_ms, now_secs, server_id, SessionState};
use crate::runtime::Backend;

/// Statuses cacheable unless told otherwise (HAProxy's `TX_CACHEABLE` rules).
const CACHEABLE: [u16; 11] = [200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501];

/// Edits the response head in `out` (as it will be sent) for persistence.
pub(crate) fn on_response(
    st: Option<&SessionState>,
    be: &Backend,
    method: Method,
    limits: &Limits,
    out: &mut Vec<u8>,
) {
    let Some(st) = st else { return };
    let Ok(Parsed::Complete(head, _)) = fulcrum_proto::parse_response(out, method, limits) else {
        return;
    };
    let now = now_ms();
    count_status(st, head.status, now);
    if !be.persist.is_active() {
        return;
    }
    let Some(new) = edit_head(st, be, &head, out, now) else {
        return;
    };
    *out = new;
}

fn edit_head(
    st: &SessionState,
    be: &Backend,
    head: &ResponseHead,
    buf: &[u8],
    now: u64,
) -> Option<Vec<u8>> {
    let mut r = st.req.try_borrow_mut().ok()?;
    let p = &be.persist;
    let server = r.server;
    let headers = head.headers_in(buf);
    if let (Some(app), Some(srv)) = (&p.routing.appsession, server) {
        let learnt = app.learn_response(headers.get_all(b"set-cookie"), srv, now);
        if let (false, Some(req)) = (learnt, &r.app) {
            app.learn_request(req, srv, now);
        }
    }
    store_response(be, head, buf, server, now);
    let cookie = p.routing.cookie.as_ref()?;
    let ignore = r.ignore;
    let rc = r.cookie;
    let mut rs = r.res_cookie;
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut changed = false;
    for v in headers.get_all(b"set-cookie") {
        match cookie.response_set_cookie(&rc, &mut rs, server, v, ignore) {
            HeaderEdit::Keep => kept.push(v.to_vec()),
            HeaderEdit::Replace(nv) => {
                changed = true;
                kept.push(nv);
            }
            HeaderEdit::Remove => changed = true,
        }
    }
    let cacheable = r.cacheable_method && cacheable(head, buf);
    let add = cookie.response_insert(&rc, &mut rs, server, r.post, cacheable, ignore, now_secs());
    r.res_cookie = rs;
    let pairs = add.pairs();
    if !changed && pairs.is_empty() {
        return None;
    }
    let mut edits: Vec<Edit<'_>> = Vec::new();
    if changed {
        edits.push(Edit::DelHeader {
            name: b"set-cookie",
        });
        for v in &kept {
            edits.push(Edit::AddHeader {
                name: b"Set-Cookie",
                value: v,
            });
        }
    }
    for (n, v) in &pairs {
        edits.push(Edit::AddHeader {
            name: n.as_bytes(),
            value: v.as_bytes(),
        });
    }
    let mut out = Vec::with_capacity(buf.len() + 128);
    match fulcrum_proto::http1::rewrite_response(buf, head, &edits, &mut out) {
        Ok(true) => Some(out),
        _ => None,
    }
}

/// Whether a response may be cached: a cacheable status and no `Cache-Control`
/// forbidding it.
fn cacheable(head: &ResponseHead, buf: &[u8]) -> bool {
    CACHEABLE.contains(&head.status)
        && !head.headers_in(buf).get_all(b"cache-control").any(|v| {
            let v = v.to_ascii_lowercase();
            [&b"private"[..], b"no-cache", b"no-store"]
                .iter()
                .any(|w| v.windows(w.len()).any(|x| x == *w))
        })
}

/// `stick store-response EXPR`: evaluated on the response, stored with the server.
fn store_response(be: &Backend, head: &ResponseHead, buf: &[u8], server: Option<usize>, now: u64) {
    let (Some(rules), Some(i)) = (be.rules.as_deref(), server) else {
        return;
    };
    if be.persist.non_stick.get(i).copied().unwrap_or(false) {
        return;
    }
    let Some(id) = server_id(be, i) else { return };
    let mut view: Option<RespOnly<'_>> = None;
    // The first `store-response` of each table that finds a key stores.
    let mut stored: Vec<*const fulcrum_persist::StickTable> = Vec::new();
    for ((expr, cond), rule) in rules.stick.iter().zip(be.persist.stick_rules()) {
        let Some(table) = &rule.table else { continue };
        if rule.kind != StickKind::StoreResponse || stored.contains(&Arc::as_ptr(table)) {
            continue;
        }
        let v = view.get_or_insert_with(|| RespOnly::new(be, head, buf));
        if cond
            .as_ref()
            .is_some_and(|c| !fulcrum_rules::eval_response(c, &*v))
        {
            continue;
        }
        if let Some(k) = expr
            .eval_response(&*v)
            .and_then(|s| key_of(&s, table.key_type()))
        {
            stored.push(Arc::as_ptr(table));
            let _ = table.stick_store(&k, id, now);
        }
    }
}

/// The response alone, as `stick store-response` sees it.
struct RespOnly<'a> {
    be: &'a Backend,
    status: u16,
    headers: Vec<(&'a [u8], &'a [u8])>,
    vars: Vars,
}

impl<'a> RespOnly<'a> {
    fn new(be: &'a Backend, head: &'a ResponseHead, buf: &'a [u8]) -> Self {
        RespOnly {
            be,
            status: head.status,
            headers: head.headers_in(buf).iter().collect(),
            vars: Vars::default(),
        }
    }
}

impl SessionView for RespOnly<'_> {
    fn src(&self) -> Option<SocketAddr> {
        None
    }
    fn dst(&self) -> Option<SocketAddr> {
        None
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.be.name, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        Some((&self.be.name, 0))
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn Stats {
        &NoStats
    }
    fn vars(&self) -> &Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.vars
    }
}

impl RequestView for RespOnly<'_> {
    fn method(&self) -> &[u8] {
        b""
    }
    fn uri(&self) -> &[u8] {
        b""
    }
    fn version(&self) -> &[u8] {
        b"HTTP/1.1"
    }
    fn header_count(&self) -> usize {
        0
    }
    fn header(&self, _: usize) -> Option<(&[u8], &[u8])> {
        None
    }
    fn set_method(&mut self, _: &[u8]) {}
    fn set_uri(&mut self, _: &[u8]) {}
    fn add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn remove_header(&mut self, _: usize) {}
}

impl ResponseView for RespOnly<'_> {
    fn status(&self) -> u16 {
        self.status
    }
    fn res_version(&self) -> &[u8] {
        b"HTTP/1.1"
    }
    fn res_header_count(&self) -> usize {
        self.headers.len()
    }
    fn res_header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.headers.get(i).copied()
    }
    fn set_status(&mut self, _: u16, _: Option<&[u8]>) {}
    fn res_add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn res_set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn res_remove_header(&mut self, _: usize) {}
}
