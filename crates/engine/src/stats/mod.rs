//! The stats page (`stats enable` / `stats uri`, auth, `;csv`, `;json`,
//! `;up`, `;norefresh`, the admin form) and `use-service
//! prometheus-exporter`, answered on the worker from the same snapshots as
//! the runtime API.

pub(crate) mod counters;
mod fetch;
pub(crate) mod monitor;
mod view;

use crate::health_link::{current, Core};
use crate::runtime::{Frontend, Runtime};
use crate::EngineError;
use fulcrum_config::model::{Config, Proxy};
use fulcrum_observe::stats::admin::{redirect_location, AdminOutcome, AdminRequest};
use fulcrum_observe::stats::html::{render_response, PageFormat, PageOptions, PageRequest};
use fulcrum_observe::stats::{auth, prom};
use fulcrum_proto::RequestHead;
use fulcrum_rules::Verdict;
use std::net::SocketAddr;
use std::sync::Arc;

pub(crate) use fetch::CurrentStats;

/// One proxy's `stats …` settings, ready to answer.
pub(crate) struct StatsPage {
    pub uri: String,
    pub realm: String,
    pub auth: Vec<(String, String)>,
    pub opts: PageOptions,
    /// `stats admin if|unless COND`, compiled.
    pub admin: Option<fulcrum_rules::Cond>,
    /// `stats http-request allow|deny|auth …`, compiled; `None` without any.
    pub rules: Option<fulcrum_rules::HttpRules>,
}

fn page_of(
    p: &Proxy,
    g: &fulcrum_config::model::Global,
    userlists: &fulcrum_rules::Userlists,
) -> Result<Option<StatsPage>, EngineError> {
    let st = &p.stats;
    let Some(uri) = st.effective_uri() else {
        return Ok(None);
    };
    let (admin, rules) = if st.admin.is_none() && st.http_request.is_empty() {
        (None, None)
    } else {
        let input = fulcrum_rules::ProxyInput {
            name: &p.name,
            acls: &p.acls,
            stats_admin: st.admin.as_ref(),
            http_request: &st.http_request,
            ..Default::default()
        };
        let env = fulcrum_rules::CompileEnv::new(std::path::PathBuf::new())
            .with_userlists(userlists.clone());
        let c = fulcrum_rules::compile_proxy(&input, &env).map_err(|errs| {
            EngineError::Config(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let rules = (!st.http_request.is_empty()).then_some(c.http_request);
        (c.stats_admin, rules)
    };
    let node = |o: &Option<Option<String>>, dflt: &Option<String>| {
        o.as_ref()
            .map(|n| n.clone().or_else(|| dflt.clone()).unwrap_or_default())
    };
    Ok(Some(StatsPage {
        uri: uri.to_string(),
        realm: st.effective_realm().to_string(),
        auth: st.auth.clone(),
        opts: PageOptions {
            uri: uri.to_string(),
            refresh: st
                .refresh
                .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)),
            hide_version: st.hide_version,
            show_node: node(&st.show_node, &g.node),
            show_desc: node(&st.show_desc, &g.description),
            show_legends: st.show_legends,
            admin: false,
            scope: st.scope.clone(),
        },
        admin,
        rules,
    }))
}

/// The page each frontend answers: its own, else its default backend's.
pub(crate) fn pages(
    cfg: &Config,
    rt: &Runtime,
) -> Result<Vec<Option<Arc<StatsPage>>>, EngineError> {
    let userlists = fulcrum_rules::userlists_from_model(cfg);
    let mut out = Vec::new();
    for fe in &rt.frontends {
        let own = cfg
            .proxies
            .iter()
            .find(|p| p.name == fe.name && !p.disabled);
        let be = fe
            .default_backend
            .and_then(|i| rt.backends.get(i))
            .and_then(|b| cfg.proxies.iter().find(|p| p.name == b.name && !p.disabled));
        let mut page = None;
        for p in own.into_iter().chain(be) {
            if let Some(pg) = page_of(p, &cfg.global, &userlists)? {
                page = Some(Arc::new(pg));
                break;
            }
        }
        out.push(page);
    }
    Ok(out)
}

fn response(status: &str, extra: &str, ctype: &str, body: &[u8]) -> Vec<u8> {
    let mut o = format!(
        "HTTP/1.1 {status}\r\nCache-Control: no-cache\r\nConnection: close\r\n{extra}Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    o.extend_from_slice(body);
    o
}

/// The answer when the request is for the frontend's `monitor-uri`;
/// checked before any rule, as HAProxy does.
pub(crate) fn monitor(
    fe: &Frontend,
    req: Option<&RequestHead>,
    buf: &[u8],
    src: SocketAddr,
    dst: SocketAddr,
) -> Option<Vec<u8>> {
    let ops = current()?;
    let core = &ops.core;
    let fi = core.rt.frontends.iter().position(|f| f.name == fe.name)?;
    let m = core.monitors.get(fi)?.as_ref()?;
    let req = req?;
    if !m.matches(&String::from_utf8_lossy(req.target_bytes(buf))) {
        return None;
    }
    let failed = m
        .fail
        .as_ref()
        .is_some_and(|c| fulcrum_rules::eval(c, &view::StatsView::new(fe, req, buf, src, dst)));
    Some(monitor::Monitor::answer(fe, failed))
}

/// The answer when the request is for the frontend's stats page. Called
/// once the frontend's `http-request` rules accepted the request, so that
/// `deny`/`auth` rules protect the page as in HAProxy. `buf` holds the head
/// (and, for the admin form, the body read with it).
pub(crate) fn intercept(
    fe: &Frontend,
    req: Option<&RequestHead>,
    buf: &[u8],
    src: SocketAddr,
    dst: SocketAddr,
) -> Option<Vec<u8>> {
    let ops = current()?;
    let core = &ops.core;
    let fi = core.rt.frontends.iter().position(|f| f.name == fe.name)?;
    // Most frontends have no page: no copy of the URI for them.
    let page = core.pages.get(fi)?.as_ref()?;
    let req = req?;
    let target = String::from_utf8_lossy(req.target_bytes(buf)).into_owned();
    let suffix = target.strip_prefix(page.uri.as_str())?;
    // `stats http-request`: allow skips `stats auth`, deny and auth answer.
    let mut allowed = false;
    if let Some(rules) = &page.rules {
        let mut v = view::StatsView::new(fe, req, buf, src, dst);
        match fulcrum_rules::run_http_request(rules, &mut v) {
            Verdict::Allow => allowed = true,
            Verdict::Auth { realm } => return Some(unauthorized(&realm)),
            Verdict::Continue => {}
            _ => {
                let page = fulcrum_proto::errors::default_error(403);
                return Some(page.to_vec());
            }
        }
    }
    let headers = req.headers_in(buf);
    if !allowed && !page.auth.is_empty() {
        let h = headers
            .get(b"authorization")
            .map(|v| String::from_utf8_lossy(v).into_owned());
        if !auth::check_basic(h.as_deref(), &page.auth) {
            return Some(unauthorized(&page.realm));
        }
    }
    let is_admin = page.admin.as_ref().is_some_and(|c| {
        let v = view::StatsView::new(fe, req, buf, src, dst);
        fulcrum_rules::eval(c, &v)
    });
    if req.method_bytes(buf) == b"POST" {
        let body = buf.get(req.head_len..).unwrap_or_default();
        let outcome = if !is_admin {
            AdminOutcome::Denied
        } else {
            match AdminRequest::parse(body) {
                Ok(r) => fulcrum_observe::api::apply_admin(core.as_ref(), &r),
                Err(_) => AdminOutcome::InvalidParams,
            }
        };
        let loc = format!("Location: {}\r\n", redirect_location(&page.uri, outcome));
        return Some(response("303 See Other", &loc, "text/plain", b""));
    }
    let mut out = page_response(core, page, suffix, is_admin);
    if req.method_bytes(buf) == b"HEAD" {
        // The head only, Content-Length still telling the page's size.
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            out.truncate(end + 4);
        }
    }
    Some(out)
}

/// HAProxy's 401 page asking for `realm`.
fn unauthorized(realm: &str) -> Vec<u8> {
    let body = b"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";
    let extra = format!(
        "WWW-Authenticate: {}\r\n",
        auth::www_authenticate(Some(realm))
    );
    response("401 Unauthorized", &extra, "text/html", body)
}

fn page_response(core: &Core, page: &StatsPage, suffix: &str, is_admin: bool) -> Vec<u8> {
    let preq = PageRequest::parse(suffix);
    let info = crate::snapshot::info(core);
    let mut proxies = crate::snapshot::proxies(core);
    if preq.up_only {
        for p in &mut proxies {
            p.servers.retain(|s| s.status.is_usable());
        }
    }
    let opts = PageOptions {
        admin: is_admin,
        refresh: page.opts.refresh.filter(|_| !preq.norefresh),
        ..page.opts.clone()
    };
    let (ctype, body) = render_response(&info, &proxies, &opts, &preq);
    let extra = match (preq.format, opts.refresh) {
        (PageFormat::Html, Some(r)) => format!("Refresh: {r}\r\n"),
        _ => String::new(),
    };
    response("200 OK", &extra, ctype, body.as_bytes())
}

/// `http-request use-service NAME`: the bytes to answer, for services that
/// exist here (`prometheus-exporter`).
pub(crate) fn service(name: &str) -> Option<Vec<u8>> {
    if name != "prometheus-exporter" {
        return None;
    }
    let ops = current()?;
    let core = &ops.core;
    let text = prom::render(
        &crate::snapshot::info(core),
        &crate::snapshot::proxies(core),
    );
    Some(response(
        "200 OK",
        "",
        "text/plain; version=0.0.4",
        text.as_bytes(),
    ))
}
