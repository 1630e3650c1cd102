//! `tcp-request` / `tcp-response` rule sets.

use fulcrum_config::rules::{GptValue, TcpAction, TcpLayer, TcpRule, TcpRuleKind};

use crate::acl::{holds, AclScope, Cond};
use crate::error::RuleError;
use crate::fetch::{Ctx, Expr};
use crate::fetch_build::compile_expr;
use crate::fmt::Template;
use crate::proxy::CompileEnv;
use crate::value::Sample;
use crate::view::{Effect, RequestView, ResponseView, SessionView, TrackScope};
use fulcrum_persist::track::TrackFrom;

#[derive(Clone, Debug)]
enum CTcpAction {
    Accept,
    Reject,
    Close,
    Capture(Expr, usize),
    SetVar(String, Expr, Vec<String>),
    SetVarFmt(String, Template),
    UnsetVar(String),
    TrackSc(crate::stick::Track, Expr),
    SetSrc(Expr),
    SetDst(Expr),
    SetSrcPort(Expr),
    SetDstPort(Expr),
    ExpectProxy,
    SetLogLevel(String),
    UseService(String),
    SilentDrop,
    ScIncGpc(u8, u8),
    ScSetGpt0(u8, Result<i64, Expr>),
}

#[derive(Clone, Debug)]
struct CTcpRule {
    cond: Option<Cond>,
    action: CTcpAction,
}

/// The TCP rule sets of one proxy.
#[derive(Clone, Debug, Default)]
pub struct TcpRules {
    /// `tcp-request inspect-delay`.
    pub inspect_delay_ms: Option<u64>,
    /// `tcp-response inspect-delay`.
    pub response_inspect_delay_ms: Option<u64>,
    connection: Vec<CTcpRule>,
    session: Vec<CTcpRule>,
    content: Vec<CTcpRule>,
    response: Vec<CTcpRule>,
}

thread_local! {
    /// Set by payload fetches whose result may change with more data; rules run
    /// synchronously on one thread, so a thread-local flag is exact.
    static INCOMPLETE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(crate) fn note_incomplete() {
    INCOMPLETE.with(|f| f.set(true));
}

fn take_incomplete() -> bool {
    INCOMPLETE.with(|f| f.replace(false))
}

/// The outcome of a TCP rule set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpVerdict {
    /// No final rule matched: go on.
    Continue,
    /// `accept`: stop this set, go on.
    Accept,
    /// `reject`: close the connection (silently at `connection` level).
    Reject,
    /// `close` (response side): close once the server's data is sent.
    Close,
    UseService(String),
    /// `silent-drop`: disappear without a FIN/RST the client would see.
    SilentDrop,
    /// A content rule cannot decide yet: run the set again when more data arrives,
    /// or once `inspect-delay` expired (then `SessionView::wait_ended` is true).
    Wait,
}

impl TcpRules {
    pub(crate) fn compile(
        list: &[TcpRule],
        scope: &AclScope,
        env: &CompileEnv,
    ) -> Result<TcpRules, Vec<RuleError>> {
        let mut out = TcpRules::default();
        let mut errors = Vec::new();
        for r in list {
            let span = &r.span;
            match &r.kind {
                TcpRuleKind::InspectDelay {
                    response: false,
                    ms,
                } => out.inspect_delay_ms = Some(*ms),
                TcpRuleKind::InspectDelay { response: true, ms } => {
                    out.response_inspect_delay_ms = Some(*ms)
                }
                TcpRuleKind::Rule {
                    layer,
                    action,
                    cond,
                } => {
                    let compiled = (|| -> Result<CTcpRule, RuleError> {
                        let cond = cond
                            .as_ref()
                            .map(|c| scope.compile_cond(c, env))
                            .transpose()?;
                        let e = |x| compile_expr(x, span, env);
                        let action = match action {
                            TcpAction::Accept => CTcpAction::Accept,
                            TcpAction::Reject => CTcpAction::Reject,
                            TcpAction::Close => CTcpAction::Close,
                            TcpAction::Capture { expr, len } => CTcpAction::Capture(e(expr)?, *len),
                            TcpAction::SetVar { name, expr, conds } => {
                                CTcpAction::SetVar(name.clone(), e(expr)?, conds.clone())
                            }
                            TcpAction::SetVarFmt { name, value } => CTcpAction::SetVarFmt(
                                name.clone(),
                                Template::compile(value, span, env)?,
                            ),
                            TcpAction::UnsetVar { name } => CTcpAction::UnsetVar(name.clone()),
                            TcpAction::TrackSc {
                                counter,
                                key,
                                table,
                            } => CTcpAction::TrackSc(
                                crate::stick::Track::compile(*counter, table, span, env)?,
                                e(key)?,
                            ),
                            TcpAction::SetSrc(x) => CTcpAction::SetSrc(e(x)?),
                            TcpAction::SetDst(x) => CTcpAction::SetDst(e(x)?),
                            TcpAction::SetSrcPort(x) => CTcpAction::SetSrcPort(e(x)?),
                            TcpAction::SetDstPort(x) => CTcpAction::SetDstPort(e(x)?),
                            TcpAction::ExpectProxy => CTcpAction::ExpectProxy,
                            TcpAction::SetLogLevel(l) => CTcpAction::SetLogLevel(l.clone()),
                            TcpAction::UseService(s) => CTcpAction::UseService(s.clone()),
                            TcpAction::SilentDrop => CTcpAction::SilentDrop,
                            TcpAction::ScIncGpc { counter, gpc } => {
                                CTcpAction::ScIncGpc(*counter, *gpc)
                            }
                            TcpAction::ScSetGpt0 { counter, value } => CTcpAction::ScSetGpt0(
                                *counter,
                                match value {
                                    GptValue::Int(n) => Ok(*n),
                                    GptValue::Expr(x) => Err(e(x)?),
                                },
                            ),
                        };
                        Ok(CTcpRule { cond, action })
                    })();
                    match compiled {
                        Ok(c) => match layer {
                            TcpLayer::Connection => out.connection.push(c),
                            TcpLayer::Session => out.session.push(c),
                            TcpLayer::Content => out.content.push(c),
                            TcpLayer::ResponseContent => out.response.push(c),
                        },
                        Err(e) => errors.push(e),
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    pub fn has(&self, layer: TcpLayer) -> bool {
        !self.list(layer).is_empty()
    }

    fn list(&self, layer: TcpLayer) -> &[CTcpRule] {
        match layer {
            TcpLayer::Connection => &self.connection,
            TcpLayer::Session => &self.session,
            TcpLayer::Content => &self.content,
            TcpLayer::ResponseContent => &self.response,
        }
    }
}

/// Runs one TCP rule set against the session (and its buffered payload).
pub fn run_tcp<V: SessionView>(rules: &TcpRules, layer: TcpLayer, view: &mut V) -> TcpVerdict {
    run_with(rules, layer, view, |v: &V| Ctx::session(v))
}

/// Like [`run_tcp`] in an HTTP proxy, once the request head is parsed: HTTP
/// fetches (`req.hdr`, `path`, …) then work in `tcp-request content` rules.
pub fn run_tcp_http<V: RequestView>(rules: &TcpRules, layer: TcpLayer, view: &mut V) -> TcpVerdict {
    run_with(rules, layer, view, |v: &V| Ctx::request(v))
}

/// `tcp-response content` rules in an HTTP backend, once the response head is
/// parsed: HTTP fetches (`status`, `res.hdr`, …) work in them too.
pub fn run_tcp_http_response<V: ResponseView>(rules: &TcpRules, view: &mut V) -> TcpVerdict {
    run_with(rules, TcpLayer::ResponseContent, view, |v: &V| {
        Ctx::response(v)
    })
}

fn run_with<V: SessionView>(
    rules: &TcpRules,
    layer: TcpLayer,
    view: &mut V,
    mk: for<'a> fn(&'a V) -> Ctx<'a>,
) -> TcpVerdict {
    let content = matches!(layer, TcpLayer::Content | TcpLayer::ResponseContent);
    for r in rules.list(layer) {
        take_incomplete();
        if !holds(&r.cond, &mk(&*view)) {
            // HAProxy waits rather than skip a rule that more data could make true.
            if content && take_incomplete() && !view.wait_ended() {
                return TcpVerdict::Wait;
            }
            continue;
        }
        let one = |e: &Expr, v: &V| e.one(&mk(v)).map(Sample::into_owned);
        match &r.action {
            CTcpAction::Accept => return TcpVerdict::Accept,
            CTcpAction::Reject => return TcpVerdict::Reject,
            CTcpAction::Close => return TcpVerdict::Close,
            CTcpAction::UseService(s) => return TcpVerdict::UseService(s.clone()),
            CTcpAction::SilentDrop => return TcpVerdict::SilentDrop,
            CTcpAction::Capture(e, len) => {
                if let Some(s) = one(e, view) {
                    let mut b = s.into_bytes().into_owned();
                    b.truncate(*len);
                    view.effect(Effect::Capture {
                        id: None,
                        len: Some(*len),
                        value: &b,
                    });
                }
            }
            CTcpAction::SetVar(n, e, conds) => {
                if let Some(s) = one(e, view) {
                    let vars = view.vars_mut();
                    if crate::value::set_var_allowed(conds, vars.get(n).as_ref(), &s) {
                        vars.set(n, s);
                    }
                }
            }
            CTcpAction::SetVarFmt(n, t) => {
                let v = t.render_vec(&mk(&*view));
                view.vars_mut().set(n, Sample::owned_str(v));
            }
            CTcpAction::UnsetVar(n) => view.vars_mut().unset(n),
            CTcpAction::TrackSc(track, e) => {
                if let Some(s) = one(e, view) {
                    // Connection and session rules track for the whole session.
                    let scope = if content {
                        TrackScope::Stream
                    } else {
                        TrackScope::Session
                    };
                    track.run(view, &s, scope, TrackFrom::Tcp);
                }
            }
            CTcpAction::SetSrc(e) | CTcpAction::SetDst(e) => {
                if let Some(ip) = one(e, view).and_then(|s| s.to_ip()) {
                    let eff = if matches!(r.action, CTcpAction::SetSrc(_)) {
                        Effect::SetSrc(ip)
                    } else {
                        Effect::SetDst(ip)
                    };
                    view.effect(eff);
                }
            }
            CTcpAction::SetSrcPort(e) | CTcpAction::SetDstPort(e) => {
                if let Some(p) = one(e, view).and_then(|s| crate::value::port_of(&s)) {
                    let eff = if matches!(r.action, CTcpAction::SetSrcPort(_)) {
                        Effect::SetSrcPort(p)
                    } else {
                        Effect::SetDstPort(p)
                    };
                    view.effect(eff);
                }
            }
            CTcpAction::ExpectProxy => view.effect(Effect::ExpectProxy),
            CTcpAction::ScIncGpc(c, g) => crate::stick::inc_gpc(view, *c, *g),
            CTcpAction::ScSetGpt0(c, v) => {
                let v = match v {
                    Ok(n) => Some(*n),
                    Err(e) => one(e, view).and_then(|s| s.to_int()),
                };
                if let Some(v) = v {
                    crate::stick::set_gpt0(view, *c, v);
                }
            }
            CTcpAction::SetLogLevel(l) => view.effect(Effect::SetLogLevel(l)),
        }
    }
    TcpVerdict::Continue
}
