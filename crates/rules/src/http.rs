//! HTTP rule lists: compiled actions and their execution (`http-request`, `http-response`,
//! `http-after-response`, plus the 1.x directives in their historical places).

use fulcrum_config::rules::{
    GptValue, HttpAction, HttpPhase, HttpRule, LegacyOp, MatchMethod, Normalizer, TimeoutKind,
    UriPart,
};
use regex::bytes::Regex;

use crate::acl::{holds, AclScope, Cond};
use crate::error::RuleError;
use crate::fetch::Expr;
use crate::fetch_build::compile_expr;
use crate::fmt::Template;
use crate::legacy::{CLegacy, RedirectRule};
use crate::proxy::CompileEnv;
use crate::reply::{build_reply, compile_reply, tpl, CReply, Verdict};
use crate::target::{ReqT, ResT, Target};
use crate::value::Sample;
use crate::view::{Effect, RequestView, ResponseView, TrackScope};
use fulcrum_persist::track::TrackFrom;

#[derive(Clone, Debug)]
pub(crate) enum CAction {
    Allow,
    Deny(CReply),
    Tarpit(CReply),
    Return(CReply),
    Auth(String),
    Redirect(RedirectRule),
    AddHeader(Vec<u8>, Template),
    SetHeader(Vec<u8>, Template),
    DelHeader(Vec<u8>, MatchMethod, Option<Regex>),
    ReplaceHeader {
        name: Vec<u8>,
        re: Regex,
        with: Template,
        each_value: bool,
    },
    SetPath(Template),
    SetPathQ(Template),
    SetQuery(Template),
    SetUri(Template),
    SetMethod(Template),
    SetVar(String, Expr, Vec<String>),
    SetVarFmt(String, Template),
    UnsetVar(String),
    Capture {
        expr: Expr,
        len: Option<usize>,
        id: Option<usize>,
    },
    SetLogLevel(String),
    SetSrc(Expr),
    SetDst(Expr),
    SetSrcPort(Expr),
    SetDstPort(Expr),
    SetTimeout(TimeoutKind, u64),
    EarlyHint(Vec<u8>, Template),
    Normalize(Normalizer),
    UseService(String),
    WaitForBody(u64, Option<u64>),
    SetStatus(u16, Option<Vec<u8>>),
    TrackSc(crate::stick::Track, Expr),
    ReplaceUri(UriPart, Regex, Template),
    Reject,
    SilentDrop,
    ScIncGpc(u8, u8),
    ScSetGpt0(u8, Result<i64, Expr>),
    Legacy(CLegacy),
}

#[derive(Clone, Debug)]
pub(crate) struct CRule {
    pub cond: Option<Cond>,
    pub action: CAction,
    /// Where this rule runs relative to the others of the list (HAProxy's order).
    pub stage: u8,
}

/// One compiled HTTP rule list.
#[derive(Clone, Debug, Default)]
pub struct HttpRules {
    pub(crate) rules: Vec<CRule>,
}

impl HttpRules {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
}

/// Compiles one rule list; `proxy` names the realm of `auth` without one.
pub(crate) fn compile_rules(
    list: &[HttpRule],
    scope: &AclScope,
    env: &CompileEnv,
    proxy: &str,
) -> Result<HttpRules, Vec<RuleError>> {
    let mut rules = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for r in list {
        match compile_rule(r, scope, env, proxy) {
            Ok(c) => rules.push(c),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Stable: `block`, `http-request`, `req*`, `redirect`, `reqadd` (1.x order).
    rules.sort_by_key(|r| r.stage);
    Ok(HttpRules { rules })
}

fn compile_rule(
    r: &HttpRule,
    scope: &AclScope,
    env: &CompileEnv,
    proxy: &str,
) -> Result<CRule, RuleError> {
    let span = &r.span;
    let cond = r
        .cond
        .as_ref()
        .map(|c| scope.compile_cond(c, env))
        .transpose()?;
    let response = r.phase != HttpPhase::Request;
    let deny_default = if response { 502 } else { 403 };
    let re = |s: &str, icase: bool| {
        crate::regex_util::compile(s, icase).map_err(|e| RuleError::new(span, e))
    };
    let mut stage = 1;
    let action = match &r.action {
        HttpAction::Allow => CAction::Allow,
        HttpAction::Deny(x) => CAction::Deny(compile_reply(x, deny_default, span, env)?),
        HttpAction::Tarpit(x) => CAction::Tarpit(compile_reply(x, 500, span, env)?),
        HttpAction::Return(x) => CAction::Return(compile_reply(x, 200, span, env)?),
        HttpAction::Auth { realm } => {
            CAction::Auth(realm.clone().unwrap_or_else(|| proxy.to_string()))
        }
        HttpAction::Redirect(rd) => CAction::Redirect(RedirectRule::compile(rd, span, env)?),
        HttpAction::AddHeader { name, value } => {
            CAction::AddHeader(name.as_bytes().to_vec(), tpl(value, span, env)?)
        }
        HttpAction::SetHeader { name, value } => {
            CAction::SetHeader(name.as_bytes().to_vec(), tpl(value, span, env)?)
        }
        HttpAction::DelHeader { name, method } => {
            let rx = if *method == MatchMethod::Reg {
                Some(re(name, true)?)
            } else {
                None
            };
            CAction::DelHeader(name.as_bytes().to_vec(), *method, rx)
        }
        HttpAction::ReplaceHeader {
            name,
            regex,
            replace,
        }
        | HttpAction::ReplaceValue {
            name,
            regex,
            replace,
        } => CAction::ReplaceHeader {
            name: name.as_bytes().to_vec(),
            re: re(regex, false)?,
            with: tpl(replace, span, env)?,
            each_value: matches!(r.action, HttpAction::ReplaceValue { .. }),
        },
        HttpAction::SetPath(f) => CAction::SetPath(tpl(f, span, env)?),
        HttpAction::SetPathQ(f) => CAction::SetPathQ(tpl(f, span, env)?),
        HttpAction::SetQuery(f) => CAction::SetQuery(tpl(f, span, env)?),
        HttpAction::SetUri(f) => CAction::SetUri(tpl(f, span, env)?),
        HttpAction::SetMethod(f) => CAction::SetMethod(tpl(f, span, env)?),
        HttpAction::SetVar { name, expr, conds } => {
            CAction::SetVar(name.clone(), compile_expr(expr, span, env)?, conds.clone())
        }
        HttpAction::SetVarFmt { name, value } => {
            CAction::SetVarFmt(name.clone(), tpl(value, span, env)?)
        }
        HttpAction::UnsetVar { name } => CAction::UnsetVar(name.clone()),
        HttpAction::Capture { expr, len, id } => CAction::Capture {
            expr: compile_expr(expr, span, env)?,
            len: *len,
            id: *id,
        },
        HttpAction::SetLogLevel(l) => CAction::SetLogLevel(l.clone()),
        HttpAction::SetSrc(e) => CAction::SetSrc(compile_expr(e, span, env)?),
        HttpAction::SetDst(e) => CAction::SetDst(compile_expr(e, span, env)?),
        HttpAction::SetSrcPort(e) => CAction::SetSrcPort(compile_expr(e, span, env)?),
        HttpAction::SetDstPort(e) => CAction::SetDstPort(compile_expr(e, span, env)?),
        HttpAction::SetTimeout { kind, ms } => CAction::SetTimeout(*kind, *ms),
        HttpAction::EarlyHint { name, value } => {
            CAction::EarlyHint(name.as_bytes().to_vec(), tpl(value, span, env)?)
        }
        HttpAction::NormalizeUri(n) => CAction::Normalize(*n),
        HttpAction::UseService(s) => CAction::UseService(s.clone()),
        HttpAction::WaitForBody { time_ms, at_least } => CAction::WaitForBody(*time_ms, *at_least),
        HttpAction::SetStatus { status, reason } => {
            CAction::SetStatus(*status, reason.as_ref().map(|r| r.as_bytes().to_vec()))
        }
        HttpAction::TrackSc {
            counter,
            key,
            table,
        } => CAction::TrackSc(
            crate::stick::Track::compile(*counter, table, span, env)?,
            compile_expr(key, span, env)?,
        ),
        HttpAction::ReplaceUri {
            part,
            regex,
            replace,
        } => CAction::ReplaceUri(*part, re(regex, false)?, tpl(replace, span, env)?),
        HttpAction::Reject => CAction::Reject,
        HttpAction::SilentDrop => CAction::SilentDrop,
        HttpAction::ScIncGpc { counter, gpc } => CAction::ScIncGpc(*counter, *gpc),
        HttpAction::ScSetGpt0 { counter, value } => CAction::ScSetGpt0(
            *counter,
            match value {
                GptValue::Int(n) => Ok(*n),
                GptValue::Expr(e) => Err(compile_expr(e, span, env)?),
            },
        ),
        HttpAction::Legacy(l) => {
            // 1.x order: block, http-request, req* filters, redirect, then reqadd.
            stage = match l.op {
                LegacyOp::Block => 0,
                LegacyOp::Redirect(_) => 3,
                LegacyOp::Add(_) => 4,
                _ => 2,
            };
            CAction::Legacy(CLegacy::compile(l, span, env)?)
        }
    };
    Ok(CRule {
        cond,
        action,
        stage,
    })
}

/// Runs `http-request` rules (and the legacy request directives compiled with them).
pub fn run_http_request<V: RequestView>(rules: &HttpRules, view: &mut V) -> Verdict {
    run(rules, &mut ReqT(view), None)
}

/// Goes on with `http-request` rules after [`Verdict::WaitForBody`]: from the
/// `wait-for-body` rule `rule` itself, whose condition is not evaluated again
/// (HAProxy resumes a yielding action the same way); the rules before it are
/// not run again, so their effects on the view must still be there.
pub fn run_http_request_from<V: RequestView>(
    rules: &HttpRules,
    view: &mut V,
    rule: usize,
) -> Verdict {
    run(rules, &mut ReqT(view), Some(rule))
}

/// Runs `http-response` rules (and `rsp*` directives).
pub fn run_http_response<V: ResponseView>(rules: &HttpRules, view: &mut V) -> Verdict {
    run(rules, &mut ResT(view), None)
}

/// Goes on with `http-response` rules after [`Verdict::WaitForBody`], as
/// [`run_http_request_from`] does for requests.
pub fn run_http_response_from<V: ResponseView>(
    rules: &HttpRules,
    view: &mut V,
    rule: usize,
) -> Verdict {
    run(rules, &mut ResT(view), Some(rule))
}

/// Runs `http-after-response` rules (also on responses Fulcrum generated).
pub fn run_http_after_response<V: ResponseView>(rules: &HttpRules, view: &mut V) -> Verdict {
    run(rules, &mut ResT(view), None)
}

/// `resume`: the index of a `wait-for-body` rule to go on from (see
/// [`run_http_request_from`]); `allow` cannot have been met before it.
fn run<T: Target>(rules: &HttpRules, t: &mut T, resume: Option<usize>) -> Verdict {
    let mut legacy_allowed = false;
    // `allow` ends the `http-request` rules only: the 1.x `req*` and `redirect`
    // rules, a separate step in HAProxy, still run after it.
    let mut allowed = false;
    let start = resume.unwrap_or(0);
    for (i, r) in rules.rules.iter().enumerate().skip(start) {
        if allowed && r.stage == 1 {
            continue;
        }
        if resume != Some(i) && !holds(&r.cond, &t.ctx()) {
            continue;
        }
        if let CAction::Legacy(l) = &r.action {
            if let Some(v) = l.exec(t, &mut legacy_allowed) {
                return v;
            }
            continue;
        }
        match exec(&r.action, t) {
            Some(Verdict::Allow) => allowed = true,
            Some(Verdict::WaitForBody {
                time_ms, at_least, ..
            }) => {
                return Verdict::WaitForBody {
                    time_ms,
                    at_least,
                    rule: i,
                }
            }
            Some(v) => return v,
            None => {}
        }
    }
    if allowed {
        Verdict::Allow
    } else {
        Verdict::Continue
    }
}

fn name_matches(n: &[u8], want: &[u8], m: MatchMethod, rx: Option<&Regex>) -> bool {
    match m {
        MatchMethod::Beg => n.len() >= want.len() && n[..want.len()].eq_ignore_ascii_case(want),
        MatchMethod::End => {
            n.len() >= want.len() && n[n.len() - want.len()..].eq_ignore_ascii_case(want)
        }
        MatchMethod::Sub => n
            .windows(want.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(want)),
        // The regex was compiled case-insensitive.
        MatchMethod::Reg => rx.is_some_and(|r| r.is_match(n)),
        _ => n.eq_ignore_ascii_case(want),
    }
}

pub(crate) fn del_headers<T: Target + ?Sized>(
    t: &mut T,
    want: &[u8],
    m: MatchMethod,
    rx: Option<&Regex>,
) {
    let mut i = t.hdr_count();
    while i > 0 {
        i -= 1;
        if t.hdr(i).is_some_and(|(n, _)| name_matches(n, want, m, rx)) {
            t.hdr_remove(i);
        }
    }
}

/// The comma-separated elements of a header value, untrimmed; commas inside
/// double quotes do not separate (HAProxy's value walk).
fn value_elements(v: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &c) in v.iter().enumerate() {
        match c {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out
}

/// `replace-header` rewrites whole values; `replace-value` each element, as
/// HAProxy 2.6 does: a matching element (compared without its surrounding
/// spaces) is replaced together with those spaces, the others stay byte for byte.
fn replace_headers<T: Target>(t: &mut T, name: &[u8], re: &Regex, with: &[u8], each_value: bool) {
    for i in 0..t.hdr_count() {
        let Some((n, v)) = t.hdr(i) else { continue };
        if !n.eq_ignore_ascii_case(name) {
            continue;
        }
        let parts = if each_value {
            value_elements(v)
        } else {
            vec![v]
        };
        let mut changed = false;
        let mut out = Vec::with_capacity(v.len() + with.len());
        for (k, p) in parts.into_iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            match re.captures(p.trim_ascii()) {
                Some(caps) => {
                    crate::regex_util::expand(&caps, with, &mut out);
                    changed = true;
                }
                None => out.extend_from_slice(p),
            }
        }
        if changed {
            t.hdr_set(i, &out);
        }
    }
}

fn exec<T: Target>(a: &CAction, t: &mut T) -> Option<Verdict> {
    match a {
        CAction::Allow => return Some(Verdict::Allow),
        CAction::Deny(r) => return Some(Verdict::Deny(build_reply(r, &t.ctx()))),
        CAction::Tarpit(r) => return Some(Verdict::Tarpit(build_reply(r, &t.ctx()))),
        CAction::Return(r) => return Some(Verdict::Return(build_reply(r, &t.ctx()))),
        CAction::Auth(realm) => {
            return Some(Verdict::Auth {
                realm: realm.clone(),
            })
        }
        CAction::Redirect(r) => return r.build(&t.ctx()).map(Verdict::Redirect),
        CAction::UseService(s) => return Some(Verdict::UseService(s.clone())),
        CAction::AddHeader(n, v) => {
            let v = v.render_vec(&t.ctx());
            t.hdr_add(n, &v);
        }
        CAction::SetHeader(n, v) => {
            let v = v.render_vec(&t.ctx());
            del_headers(t, n, MatchMethod::Str, None);
            t.hdr_add(n, &v);
        }
        CAction::DelHeader(n, m, rx) => del_headers(t, n, *m, rx.as_ref()),
        CAction::ReplaceHeader {
            name,
            re,
            with,
            each_value,
        } => {
            let with = with.render_vec(&t.ctx());
            replace_headers(t, name, re, &with, *each_value);
        }
        CAction::SetPath(f)
        | CAction::SetPathQ(f)
        | CAction::SetQuery(f)
        | CAction::SetUri(f)
        | CAction::SetMethod(f) => {
            let v = f.render_vec(&t.ctx());
            let req = t.req_mut()?;
            let uri = req.uri().to_vec();
            match a {
                CAction::SetMethod(_) => req.set_method(&v),
                CAction::SetUri(_) => req.set_uri(&v),
                CAction::SetPath(_) => req.set_uri(&crate::legacy::with_path(&uri, &v, false)),
                CAction::SetPathQ(_) => req.set_uri(&crate::legacy::with_path(&uri, &v, true)),
                _ => req.set_uri(&crate::legacy::with_query(&uri, &v)),
            }
        }
        CAction::Normalize(n) => {
            if let Some(req) = t.req_mut() {
                let uri = req.uri().to_vec();
                let new = crate::legacy::normalize(&uri, *n);
                if new != uri {
                    req.set_uri(&new);
                }
            }
        }
        CAction::SetVar(name, e, conds) => {
            let v = e.one(&t.ctx()).map(Sample::into_owned);
            if let Some(v) = v {
                let vars = t.sess_mut().vars_mut();
                if crate::value::set_var_allowed(conds, vars.get(name).as_ref(), &v) {
                    vars.set(name, v);
                }
            }
        }
        CAction::SetVarFmt(name, f) => {
            let v = f.render_vec(&t.ctx());
            t.sess_mut().vars_mut().set(name, Sample::owned_str(v));
        }
        CAction::UnsetVar(name) => t.sess_mut().vars_mut().unset(name),
        CAction::Capture { expr, len, id } => {
            let v = expr.one(&t.ctx()).map(|s| s.into_bytes().into_owned());
            if let Some(mut v) = v {
                if let Some(l) = len {
                    v.truncate(*l);
                }
                t.sess_mut().effect(Effect::Capture {
                    id: *id,
                    len: *len,
                    value: &v,
                });
            }
        }
        CAction::SetLogLevel(l) => t.sess_mut().effect(Effect::SetLogLevel(l)),
        CAction::SetSrc(e) | CAction::SetDst(e) => {
            if let Some(ip) = e.one(&t.ctx()).and_then(|s| s.to_ip()) {
                let eff = if matches!(a, CAction::SetSrc(_)) {
                    Effect::SetSrc(ip)
                } else {
                    Effect::SetDst(ip)
                };
                t.sess_mut().effect(eff);
            }
        }
        CAction::SetSrcPort(e) | CAction::SetDstPort(e) => {
            if let Some(p) = e.one(&t.ctx()).and_then(|s| crate::value::port_of(&s)) {
                let eff = if matches!(a, CAction::SetSrcPort(_)) {
                    Effect::SetSrcPort(p)
                } else {
                    Effect::SetDstPort(p)
                };
                t.sess_mut().effect(eff);
            }
        }
        CAction::SetTimeout(kind, ms) => t.sess_mut().effect(Effect::SetTimeout {
            kind: *kind,
            ms: *ms,
        }),
        CAction::EarlyHint(n, f) => {
            let v = f.render_vec(&t.ctx());
            t.sess_mut()
                .effect(Effect::EarlyHint { name: n, value: &v });
        }
        CAction::WaitForBody(ms, at_least) => {
            if !t.body_ready(*at_least) {
                // `run` fills in the rule's place.
                return Some(Verdict::WaitForBody {
                    time_ms: *ms,
                    at_least: *at_least,
                    rule: 0,
                });
            }
        }
        CAction::SetStatus(s, reason) => t.set_status(*s, reason.as_deref()),
        CAction::TrackSc(track, key) => {
            if let Some(k) = key.one(&t.ctx()).map(Sample::into_owned) {
                // From HTTP rules the current request (and a 4xx) counts at once.
                let from = if t.is_response() {
                    TrackFrom::HttpResponse { status: t.status() }
                } else {
                    TrackFrom::HttpRequest
                };
                track.run(t.sess_mut(), &k, TrackScope::Stream, from);
            }
        }
        CAction::Reject => return Some(Verdict::Reject),
        CAction::SilentDrop => return Some(Verdict::SilentDrop),
        CAction::ReplaceUri(part, re, with) => {
            let with = with.render_vec(&t.ctx());
            let req = t.req_mut()?;
            let uri = req.uri().to_vec();
            let target = match part {
                UriPart::Path => crate::uri::path(&uri),
                UriPart::PathQ => crate::uri::pathq(&uri),
                UriPart::Uri => &uri[..],
            };
            if let Some(caps) = re.captures(target) {
                let mut new = Vec::new();
                crate::regex_util::expand(&caps, &with, &mut new);
                let rebuilt = match part {
                    UriPart::Path => crate::legacy::with_path(&uri, &new, false),
                    UriPart::PathQ => crate::legacy::with_path(&uri, &new, true),
                    UriPart::Uri => new,
                };
                req.set_uri(&rebuilt);
            }
        }
        CAction::ScIncGpc(counter, gpc) => crate::stick::inc_gpc(t.sess_mut(), *counter, *gpc),
        CAction::ScSetGpt0(counter, value) => {
            let v = match value {
                Ok(n) => Some(*n),
                Err(e) => e.one(&t.ctx()).and_then(|s| s.to_int()),
            };
            if let Some(value) = v {
                crate::stick::set_gpt0(t.sess_mut(), *counter, value);
            }
        }
        CAction::Legacy(_) => {}
    }
    None
}
