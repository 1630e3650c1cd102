//! The request side: `force-persist`/`ignore-persist` and `stick` keys while
//! rules run, then the cookie, appsession and stick-table decision in HAProxy's
//! order, and the `Cookie` header edits (`indirect`, `prefix`).

use fulcrum_config::model::persist::StickKind;
use fulcrum_persist::cookie::{HeaderEdit, PersistDecision, RequestOpts};
use fulcrum_persist::{Key, KeyType};
use fulcrum_proto::http1::Edit;
use fulcrum_proto::{Method, RequestHead};
use fulcrum_rules::view::RequestView;
use fulcrum_rules::Sample;

use super::{alive, now_ms, now_secs, server_index, SessionState, Source, Target};
use crate::runtime::Backend;

/// The key of a table of type `ty` for a sample (addresses stay addresses).
pub(super) fn key_of(s: &Sample<'_>, ty: KeyType) -> Option<Key> {
    match s {
        Sample::Ip(ip) => Key::from_ip(ty, *ip).ok(),
        Sample::Int(i) => Key::from_int(ty, *i).ok(),
        other => Key::from_text(ty, &other.to_bytes()).ok(),
    }
}

/// While the backend's rules run (the view sees the request as rules left it):
/// evaluates `force-persist`/`ignore-persist` and the keys of `stick on`,
/// `stick match` and `stick store-request`.
pub(crate) fn on_rules<V: RequestView>(st: Option<&SessionState>, be: &Backend, view: &V) {
    let (Some(st), Some(rules)) = (st, be.rules.as_deref()) else {
        return;
    };
    let Ok(mut r) = st.req.try_borrow_mut() else {
        return;
    };
    // HAProxy stops at the first matching rule of either list.
    r.force = rules
        .force_persist
        .iter()
        .any(|c| fulcrum_rules::eval(c, view));
    r.ignore = !r.force
        && rules
            .ignore_persist
            .iter()
            .any(|c| fulcrum_rules::eval(c, view));
    r.use_server = rules
        .routing
        .server(view, &|n| be.servers.iter().any(|s| s.name == n))
        .and_then(|n| be.servers.iter().position(|s| s.name == *n));
    r.stick_keys.clear();
    for (i, ((expr, cond), rule)) in rules.stick.iter().zip(be.persist.stick_rules()).enumerate() {
        let Some(table) = &rule.table else { continue };
        if rule.kind == StickKind::StoreResponse
            || cond.as_ref().is_some_and(|c| !fulcrum_rules::eval(c, view))
        {
            continue;
        }
        if let Some(k) = expr
            .eval_request(view)
            .and_then(|s| key_of(&s, table.key_type()))
        {
            r.stick_keys.push((i, k));
        }
    }
}

/// Reads the request's persistence cookie and application session, looks the
/// stick keys up, and decides where the request goes. Returns the new `Cookie`
/// header values when they must change before the request reaches the server.
pub(crate) fn on_request(
    st: Option<&SessionState>,
    be: &Backend,
    buf: &[u8],
    req: &RequestHead,
) -> Option<Vec<Vec<u8>>> {
    let st = st?;
    let p = &be.persist;
    if !p.is_active() {
        return None;
    }
    let mut r = st.req.try_borrow_mut().ok()?;
    let now = now_ms();
    p.maybe_purge(now);
    r.post = req.method == Method::Post;
    r.cacheable_method = matches!(req.method, Method::Get | Method::Head);
    // `use-server` comes first; a down server is skipped unless persistence is forced.
    let assigned = r
        .use_server
        .filter(|i| alive(be, *i) || p.option_persist || r.force);
    let opts = RequestOpts {
        option_persist: p.option_persist,
        force_persist: r.force,
        ignore_persist: r.ignore,
        assigned: assigned.is_some(),
    };
    let up = |i: usize| alive(be, i);
    let headers = req.headers_in(buf);
    let mut new_values = None;
    if let Some(cookie) = &p.routing.cookie {
        r.has_cookie = true;
        let mut values = Vec::new();
        let mut changed = false;
        for v in headers.get_all(b"cookie") {
            match cookie.request_header(&mut r.cookie, v, &up, &opts, now_secs()) {
                HeaderEdit::Keep => values.push(v.to_vec()),
                HeaderEdit::Replace(nv) => {
                    changed = true;
                    values.push(nv);
                }
                HeaderEdit::Remove => changed = true,
            }
        }
        new_values = changed.then_some(values);
    }
    let mut target = match r.cookie.decision() {
        _ if assigned.is_some() => assigned.map(|i| Target {
            server: i,
            source: Source::UseServer,
        }),
        PersistDecision::Direct(i) | PersistDecision::DirectDown(i) => Some(Target {
            server: i,
            source: Source::Cookie,
        }),
        PersistDecision::Balance => None,
    };
    if let (None, Some(app)) = (target, &p.routing.appsession) {
        let a = app.request(
            headers.get_all(b"cookie"),
            req.target.get(buf),
            &up,
            &opts,
            now,
        );
        if let PersistDecision::Direct(i) | PersistDecision::DirectDown(i) = a.decision {
            target = Some(Target {
                server: i,
                source: Source::AppSession,
            });
        }
        r.app = Some(a);
    }
    if target.is_none() {
        target = stick_match(be, &r.stick_keys, opts.force_persist, now);
    }
    r.target = target;
    new_values
}

/// `stick match` / `stick on`: the first key found in its table names the server.
pub(super) fn stick_match(
    be: &Backend,
    keys: &[(usize, Key)],
    force: bool,
    now: u64,
) -> Option<Target> {
    let rules = be.persist.stick_rules();
    for (i, key) in keys {
        let Some(rule) = rules.get(*i) else { continue };
        if !matches!(rule.kind, StickKind::On | StickKind::Match) {
            continue;
        }
        let Some(table) = &rule.table else { continue };
        let Some(srv) = table
            .stick_match(key, now)
            .and_then(|id| server_index(be, id))
        else {
            continue;
        };
        if alive(be, srv) || be.persist.option_persist || force {
            return Some(Target {
                server: srv,
                source: Source::Stick,
            });
        }
    }
    None
}

/// The edits replacing the request's `Cookie` headers, when they changed.
pub(crate) fn cookie_edits<'a>(values: &'a Option<Vec<Vec<u8>>>, edits: &mut Vec<Edit<'a>>) {
    let Some(values) = values else { return };
    edits.push(Edit::DelHeader { name: b"cookie" });
    for v in values {
        edits.push(Edit::AddHeader {
            name: b"Cookie",
            value: v,
        });
    }
}
