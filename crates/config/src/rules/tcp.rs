//! `tcp-request` and `tcp-response` rules (configuration.txt §4.2 `tcp-request connection` …).

use super::acl::{split_condition, Condition};
use super::action::GptValue;
use super::args::{check_var_name, lf, var_conditions, var_name, Args};
use super::parse_time_ms;
use super::sample::{parse_sample_expr, SampleExpr};
use crate::diag::{closest, Diagnostic, Span};
use crate::logformat::LogFormat;

/// When a TCP rule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpLayer {
    /// `tcp-request connection`: right after accept, before any data.
    Connection,
    /// `tcp-request session`: after the handshakes (PROXY header, TLS).
    Session,
    /// `tcp-request content`: on the buffered request data, within `inspect-delay`.
    Content,
    /// `tcp-response content`.
    ResponseContent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpAction {
    Accept,
    Reject,
    /// `tcp-response content close`.
    Close,
    Capture {
        expr: SampleExpr,
        len: usize,
    },
    SetVar {
        name: String,
        expr: SampleExpr,
        /// `set-var(NAME,COND…)` conditions.
        conds: Vec<String>,
    },
    SetVarFmt {
        name: String,
        value: LogFormat,
    },
    UnsetVar {
        name: String,
    },
    TrackSc {
        counter: u8,
        key: SampleExpr,
        table: Option<String>,
    },
    SetSrc(SampleExpr),
    SetDst(SampleExpr),
    SetSrcPort(SampleExpr),
    SetDstPort(SampleExpr),
    /// `expect-proxy layer4`.
    ExpectProxy,
    SetLogLevel(String),
    UseService(String),
    /// `silent-drop`: drop the connection without telling the client.
    SilentDrop,
    /// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)`.
    ScIncGpc {
        counter: u8,
        gpc: u8,
    },
    /// `sc-set-gpt0(N) VALUE`.
    ScSetGpt0 {
        counter: u8,
        value: GptValue,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpRuleKind {
    /// `tcp-request inspect-delay T` / `tcp-response inspect-delay T`.
    InspectDelay { response: bool, ms: u64 },
    Rule {
        layer: TcpLayer,
        action: TcpAction,
        cond: Option<Condition>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpRule {
    pub span: Span,
    pub kind: TcpRuleKind,
}

const ACTIONS: &[&str] = &[
    "accept",
    "reject",
    "close",
    "capture",
    "set-var",
    "set-var-fmt",
    "unset-var",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "set-src",
    "set-dst",
    "set-src-port",
    "set-dst-port",
    "expect-proxy",
    "set-log-level",
    "use-service",
    "silent-drop",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
    "sc-set-gpt0",
];

fn parse_action(layer: TcpLayer, words: &[String], span: &Span) -> Result<TcpAction, Diagnostic> {
    let Some(name) = words.first() else {
        return Err(Diagnostic::alert(span, "missing TCP action"));
    };
    let base = name.split('(').next().unwrap_or_default();
    let mut a = Args {
        action: name,
        words,
        pos: 1,
        span,
    };
    let allowed = match layer {
        TcpLayer::Connection => !matches!(base, "close" | "capture" | "use-service"),
        TcpLayer::Session => !matches!(base, "close" | "capture" | "expect-proxy" | "use-service"),
        TcpLayer::Content => !matches!(base, "close" | "expect-proxy"),
        TcpLayer::ResponseContent => matches!(
            base,
            "accept"
                | "reject"
                | "close"
                | "set-var"
                | "set-var-fmt"
                | "unset-var"
                | "set-log-level"
        ),
    };
    if !ACTIONS.contains(&base) {
        let mut d = Diagnostic::alert(span, format!("unknown TCP action '{name}'"));
        if let Some(s) = closest(base, ACTIONS.iter().copied()) {
            d = d.with_hint(format!("did you mean '{s}'?"));
        }
        return Err(d);
    }
    if !allowed {
        return Err(Diagnostic::alert(
            span,
            format!("TCP action '{base}' is not allowed at this layer"),
        ));
    }
    let action = match base {
        "accept" => TcpAction::Accept,
        "reject" => TcpAction::Reject,
        "close" => TcpAction::Close,
        "capture" => {
            let expr = parse_sample_expr(a.next("a sample expression")?, span)?;
            if a.next("'len'")? != "len" {
                return Err(Diagnostic::alert(span, "capture: expected 'len N'"));
            }
            TcpAction::Capture {
                expr,
                len: a.int("a length")?,
            }
        }
        "set-var" => {
            let n = var_name(name, span)?;
            TcpAction::SetVar {
                name: n,
                expr: parse_sample_expr(a.next("a sample expression")?, span)?,
                conds: var_conditions(name, span)?,
            }
        }
        "set-var-fmt" => {
            let n = var_name(name, span)?;
            TcpAction::SetVarFmt {
                name: n,
                value: lf(a.next("a format")?, span)?,
            }
        }
        "unset-var" => {
            let n = var_name(name, span)?;
            check_var_name(&n, span)?;
            TcpAction::UnsetVar { name: n }
        }
        "track-sc0" | "track-sc1" | "track-sc2" => {
            let counter = base.as_bytes()[8] - b'0';
            let key = parse_sample_expr(a.next("a sample expression")?, span)?;
            let table = match a.peek() {
                Some("table") => {
                    a.pos += 1;
                    Some(a.next("a table")?.to_string())
                }
                _ => None,
            };
            TcpAction::TrackSc {
                counter,
                key,
                table,
            }
        }
        "set-src" => TcpAction::SetSrc(parse_sample_expr(a.next("a sample expression")?, span)?),
        "set-dst" => TcpAction::SetDst(parse_sample_expr(a.next("a sample expression")?, span)?),
        "set-src-port" => {
            TcpAction::SetSrcPort(parse_sample_expr(a.next("a sample expression")?, span)?)
        }
        "set-dst-port" => {
            TcpAction::SetDstPort(parse_sample_expr(a.next("a sample expression")?, span)?)
        }
        "expect-proxy" => {
            if a.next("'layer4'")? != "layer4" {
                return Err(Diagnostic::alert(span, "expect-proxy: expected 'layer4'"));
            }
            TcpAction::ExpectProxy
        }
        "set-log-level" => TcpAction::SetLogLevel(a.next("a log level")?.to_string()),
        "silent-drop" => TcpAction::SilentDrop,
        "sc-inc-gpc0" | "sc-inc-gpc1" => TcpAction::ScIncGpc {
            counter: super::action::sticky_counter(name, span)?,
            gpc: u8::from(base == "sc-inc-gpc1"),
        },
        "sc-set-gpt0" => TcpAction::ScSetGpt0 {
            counter: super::action::sticky_counter(name, span)?,
            value: super::action::gpt_value(a.next("a value")?, span)?,
        },
        _ => TcpAction::UseService(a.next("a service name")?.to_string()),
    };
    a.done()?;
    Ok(action)
}

fn inspect_delay(words: &[String], span: &Span, response: bool) -> Result<TcpRule, Diagnostic> {
    let t = words
        .get(1)
        .ok_or_else(|| Diagnostic::alert(span, "'inspect-delay' expects a time"))?;
    let ms =
        parse_time_ms(t).ok_or_else(|| Diagnostic::alert(span, format!("'{t}' is not a time")))?;
    if words.len() > 2 {
        return Err(Diagnostic::alert(span, "'inspect-delay' takes one time"));
    }
    Ok(TcpRule {
        span: span.clone(),
        kind: TcpRuleKind::InspectDelay { response, ms },
    })
}

/// Words after `tcp-request`.
pub fn parse_tcp_request(words: &[String], span: &Span) -> Result<TcpRule, Diagnostic> {
    let layer = match words.first().map(String::as_str) {
        Some("inspect-delay") => return inspect_delay(words, span, false),
        Some("connection") => TcpLayer::Connection,
        Some("session") => TcpLayer::Session,
        Some("content") => TcpLayer::Content,
        Some(o) => {
            let mut d = Diagnostic::alert(span, format!("'tcp-request {o}': unknown rule set"));
            if let Some(s) = closest(o, ["connection", "session", "content", "inspect-delay"]) {
                d = d.with_hint(format!("did you mean '{s}'?"));
            }
            return Err(d);
        }
        None => {
            return Err(Diagnostic::alert(
                span,
                "'tcp-request' expects connection, session, content or inspect-delay",
            ))
        }
    };
    rule(layer, &words[1..], span)
}

/// Words after `tcp-response`.
pub fn parse_tcp_response(words: &[String], span: &Span) -> Result<TcpRule, Diagnostic> {
    match words.first().map(String::as_str) {
        Some("inspect-delay") => inspect_delay(words, span, true),
        Some("content") => rule(TcpLayer::ResponseContent, &words[1..], span),
        _ => Err(Diagnostic::alert(
            span,
            "'tcp-response' expects content or inspect-delay",
        )),
    }
}

fn rule(layer: TcpLayer, words: &[String], span: &Span) -> Result<TcpRule, Diagnostic> {
    let (before, cond) = split_condition(words, span)?;
    let action = parse_action(layer, &before, span)?;
    Ok(TcpRule {
        span: span.clone(),
        kind: TcpRuleKind::Rule {
            layer,
            action,
            cond,
        },
    })
}
