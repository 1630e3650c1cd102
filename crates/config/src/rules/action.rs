//! `http-request`, `http-response` and `http-after-response` actions (configuration.txt §4.2).

use super::acl::{split_condition, Condition, MatchMethod};
use super::args::{
    lf, parse_capture, parse_normalizer, parse_redirect, parse_reply, unknown_action,
    var_conditions, var_name, Args,
};
use super::sample::{parse_sample_expr, SampleExpr};
use super::{parse_time_ms, Legacy};
use crate::diag::{Diagnostic, Span};
use crate::logformat::LogFormat;

/// Which rule list an [`HttpRule`] was written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpPhase {
    Request,
    Response,
    AfterResponse,
}

/// One HTTP rule: an action and its optional condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRule {
    pub span: Span,
    pub phase: HttpPhase,
    pub action: HttpAction,
    pub cond: Option<Condition>,
}

/// The body of a generated response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyBody {
    /// The proxy's errorfile for the status (or the built-in page).
    Default,
    /// `string TEXT`
    Text(String),
    /// `lf-string FMT`
    LfText(LogFormat),
    /// `file PATH`: the body, read at load.
    File(String),
    /// `lf-file PATH`: a log-format template read at load.
    LfFile(String),
    /// `errorfile PATH`: a full HTTP response read at load.
    ErrorFile(String),
    /// `errorfiles NAME`: an `http-errors` section.
    ErrorFiles(String),
}

/// A generated response as written for `deny`, `tarpit`, `return`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub body: ReplyBody,
    pub headers: Vec<(String, LogFormat)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: LogFormat,
    /// 301, 302 (default), 303, 307 or 308.
    pub code: u16,
    pub drop_query: bool,
    pub append_slash: bool,
    /// `NAME=VALUE` to set.
    pub set_cookie: Option<String>,
    /// `NAME` (or `NAME=`) to clear.
    pub clear_cookie: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    Server,
    Tunnel,
    Client,
}

/// `normalize-uri` normalizers (configuration.txt §4.2 `http-request normalize-uri`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalizer {
    PathMergeSlashes,
    PathStripDot,
    PathStripDotdot { full: bool },
    PercentDecodeUnreserved { strict: bool },
    PercentToUppercase { strict: bool },
    QuerySortByName,
    FragmentStrip,
    FragmentEncode,
}

/// What `replace-path`, `replace-pathq` and `replace-uri` rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriPart {
    Path,
    PathQ,
    Uri,
}

/// The value of `sc-set-gpt0`: an integer or a sample expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GptValue {
    Int(i64),
    Expr(SampleExpr),
}

/// One action with its typed arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpAction {
    Allow,
    Deny(Reply),
    Tarpit(Reply),
    Auth {
        realm: Option<String>,
    },
    Redirect(Redirect),
    AddHeader {
        name: String,
        value: LogFormat,
    },
    SetHeader {
        name: String,
        value: LogFormat,
    },
    DelHeader {
        name: String,
        method: MatchMethod,
    },
    ReplaceHeader {
        name: String,
        regex: String,
        replace: LogFormat,
    },
    ReplaceValue {
        name: String,
        regex: String,
        replace: LogFormat,
    },
    SetPath(LogFormat),
    SetPathQ(LogFormat),
    SetQuery(LogFormat),
    SetUri(LogFormat),
    SetMethod(LogFormat),
    SetVar {
        name: String,
        expr: SampleExpr,
        /// `ifexists`, `ifnotempty`, … all of which must hold.
        conds: Vec<String>,
    },
    SetVarFmt {
        name: String,
        value: LogFormat,
    },
    UnsetVar {
        name: String,
    },
    Return(Reply),
    Capture {
        expr: SampleExpr,
        len: Option<usize>,
        id: Option<usize>,
    },
    SetLogLevel(String),
    SetSrc(SampleExpr),
    SetDst(SampleExpr),
    SetSrcPort(SampleExpr),
    SetDstPort(SampleExpr),
    SetTimeout {
        kind: TimeoutKind,
        ms: u64,
    },
    EarlyHint {
        name: String,
        value: LogFormat,
    },
    NormalizeUri(Normalizer),
    UseService(String),
    WaitForBody {
        time_ms: u64,
        at_least: Option<u64>,
    },
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
    TrackSc {
        counter: u8,
        key: SampleExpr,
        table: Option<String>,
    },
    /// `replace-path` / `replace-pathq` / `replace-uri REGEX FMT`.
    ReplaceUri {
        part: UriPart,
        regex: String,
        replace: LogFormat,
    },
    /// `reject`: close the connection without answering.
    Reject,
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
    /// A 1.x directive executed with its old meaning.
    Legacy(Legacy),
}

const REQUEST_ACTIONS: &[&str] = &[
    "allow",
    "deny",
    "tarpit",
    "auth",
    "redirect",
    "add-header",
    "set-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-path",
    "set-pathq",
    "set-query",
    "set-uri",
    "set-method",
    "set-var",
    "set-var-fmt",
    "unset-var",
    "return",
    "capture",
    "set-log-level",
    "set-src",
    "set-dst",
    "set-src-port",
    "set-dst-port",
    "set-timeout",
    "early-hint",
    "normalize-uri",
    "use-service",
    "wait-for-body",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "replace-path",
    "replace-pathq",
    "replace-uri",
    "reject",
    "silent-drop",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
    "sc-set-gpt0",
];

const RESPONSE_ACTIONS: &[&str] = &[
    "allow",
    "deny",
    "redirect",
    "add-header",
    "set-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-status",
    "return",
    "set-var",
    "set-var-fmt",
    "unset-var",
    "capture",
    "set-log-level",
    "wait-for-body",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "silent-drop",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
    "sc-set-gpt0",
];

/// Parses the words after `http-request`, `http-response` or `http-after-response`.
pub fn parse_http_rule(
    words: &[String],
    span: &Span,
    phase: HttpPhase,
) -> Result<HttpRule, Diagnostic> {
    let keyword = match phase {
        HttpPhase::Request => "http-request",
        HttpPhase::Response => "http-response",
        HttpPhase::AfterResponse => "http-after-response",
    };
    let (before, cond) = split_condition(words, span)?;
    let Some(name) = before.first() else {
        return Err(Diagnostic::alert(
            span,
            format!("'{keyword}' needs an action"),
        ));
    };
    let known = if phase == HttpPhase::Request {
        REQUEST_ACTIONS
    } else {
        RESPONSE_ACTIONS
    };
    let base = name.split('(').next().unwrap_or_default();
    if !known.contains(&base) {
        return Err(unknown_action(name, known, span, keyword));
    }
    let mut a = Args {
        action: name,
        words: &before,
        pos: 1,
        span,
    };
    let action = match base {
        "allow" => HttpAction::Allow,
        "deny" => HttpAction::Deny(parse_reply(&mut a, "deny_status", None)?),
        "tarpit" => HttpAction::Tarpit(parse_reply(&mut a, "deny_status", None)?),
        "return" => HttpAction::Return(parse_reply(&mut a, "status", Some(200))?),
        "auth" => {
            let realm = match a.peek() {
                Some("realm") => {
                    a.pos += 1;
                    Some(a.next("a realm")?.to_string())
                }
                _ => None,
            };
            HttpAction::Auth { realm }
        }
        "redirect" => HttpAction::Redirect(parse_redirect(&mut a)?),
        "add-header" | "set-header" | "early-hint" => {
            let n = a.next("a header name")?.to_string();
            let value = lf(a.next("a header value")?, span)?;
            match base {
                "add-header" => HttpAction::AddHeader { name: n, value },
                "set-header" => HttpAction::SetHeader { name: n, value },
                _ => HttpAction::EarlyHint { name: n, value },
            }
        }
        "del-header" => {
            let n = a.next("a header name")?.to_string();
            let method = match a.peek() {
                Some("-m") => {
                    a.pos += 1;
                    let m = a.next("a match method")?;
                    match MatchMethod::from_name(m) {
                        Some(
                            m @ (MatchMethod::Str
                            | MatchMethod::Beg
                            | MatchMethod::End
                            | MatchMethod::Sub
                            | MatchMethod::Reg),
                        ) => m,
                        _ => {
                            return Err(Diagnostic::alert(
                                span,
                                format!("del-header: '-m {m}' must be str, beg, end, sub or reg"),
                            ))
                        }
                    }
                }
                _ => MatchMethod::Str,
            };
            HttpAction::DelHeader { name: n, method }
        }
        "replace-header" | "replace-value" => {
            let n = a.next("a header name")?.to_string();
            let regex = a.next("a regex")?.to_string();
            let replace = lf(a.next("a replacement")?, span)?;
            if base == "replace-header" {
                HttpAction::ReplaceHeader {
                    name: n,
                    regex,
                    replace,
                }
            } else {
                HttpAction::ReplaceValue {
                    name: n,
                    regex,
                    replace,
                }
            }
        }
        "set-path" => HttpAction::SetPath(lf(a.next("a format")?, span)?),
        "set-pathq" => HttpAction::SetPathQ(lf(a.next("a format")?, span)?),
        "set-query" => HttpAction::SetQuery(lf(a.next("a format")?, span)?),
        "set-uri" => HttpAction::SetUri(lf(a.next("a format")?, span)?),
        "set-method" => HttpAction::SetMethod(lf(a.next("a format")?, span)?),
        "set-var" => {
            let n = var_name(name, span)?;
            HttpAction::SetVar {
                name: n,
                expr: parse_sample_expr(a.next("a sample expression")?, span)?,
                conds: var_conditions(name, span)?,
            }
        }
        "set-var-fmt" => {
            let n = var_name(name, span)?;
            HttpAction::SetVarFmt {
                name: n,
                value: lf(a.next("a format")?, span)?,
            }
        }
        "unset-var" => HttpAction::UnsetVar {
            name: var_name(name, span)?,
        },
        "capture" => parse_capture(&mut a)?,
        "set-log-level" => {
            let l = a.next("a log level")?;
            const LEVELS: &[&str] = &[
                "silent", "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
            ];
            if !LEVELS.contains(&l) {
                return Err(Diagnostic::alert(span, format!("unknown log level '{l}'")));
            }
            HttpAction::SetLogLevel(l.to_string())
        }
        "set-src" => HttpAction::SetSrc(parse_sample_expr(a.next("a sample expression")?, span)?),
        "set-dst" => HttpAction::SetDst(parse_sample_expr(a.next("a sample expression")?, span)?),
        "set-src-port" => {
            HttpAction::SetSrcPort(parse_sample_expr(a.next("a sample expression")?, span)?)
        }
        "set-dst-port" => {
            HttpAction::SetDstPort(parse_sample_expr(a.next("a sample expression")?, span)?)
        }
        "set-timeout" => {
            let kind = match a.next("server, tunnel or client")? {
                "server" => TimeoutKind::Server,
                "tunnel" => TimeoutKind::Tunnel,
                "client" => TimeoutKind::Client,
                o => {
                    return Err(Diagnostic::alert(
                        span,
                        format!("set-timeout: unknown timeout '{o}'"),
                    ))
                }
            };
            let t = a.next("a time")?;
            let ms = parse_time_ms(t)
                .ok_or_else(|| Diagnostic::alert(span, format!("'{t}' is not a time")))?;
            HttpAction::SetTimeout { kind, ms }
        }
        "normalize-uri" => HttpAction::NormalizeUri(parse_normalizer(&mut a)?),
        "use-service" => HttpAction::UseService(a.next("a service name")?.to_string()),
        "wait-for-body" => {
            if a.next("'time'")? != "time" {
                return Err(Diagnostic::alert(
                    span,
                    "wait-for-body: expected 'time TIME'",
                ));
            }
            let t = a.next("a time")?;
            let time_ms = parse_time_ms(t)
                .ok_or_else(|| Diagnostic::alert(span, format!("'{t}' is not a time")))?;
            let at_least = match a.peek() {
                Some("at-least") => {
                    a.pos += 1;
                    Some(a.int("a size")?)
                }
                _ => None,
            };
            HttpAction::WaitForBody { time_ms, at_least }
        }
        "set-status" => {
            let status: u16 = a.int("a status code")?;
            if !(100..=999).contains(&status) {
                return Err(Diagnostic::alert(
                    span,
                    format!("set-status: {status} is not a status code"),
                ));
            }
            let reason = match a.peek() {
                Some("reason") => {
                    a.pos += 1;
                    Some(a.next("a reason")?.to_string())
                }
                _ => None,
            };
            HttpAction::SetStatus { status, reason }
        }
        "replace-path" | "replace-pathq" | "replace-uri" => {
            let part = match base {
                "replace-path" => UriPart::Path,
                "replace-pathq" => UriPart::PathQ,
                _ => UriPart::Uri,
            };
            let regex = a.next("a regex")?.to_string();
            let replace = lf(a.next("a replacement")?, span)?;
            HttpAction::ReplaceUri {
                part,
                regex,
                replace,
            }
        }
        "reject" => HttpAction::Reject,
        "silent-drop" => HttpAction::SilentDrop,
        "sc-inc-gpc0" | "sc-inc-gpc1" | "sc-set-gpt0" => {
            let counter = sticky_counter(name, span)?;
            if base == "sc-set-gpt0" {
                let value = gpt_value(a.next("a value")?, span)?;
                HttpAction::ScSetGpt0 { counter, value }
            } else {
                HttpAction::ScIncGpc {
                    counter,
                    gpc: u8::from(base == "sc-inc-gpc1"),
                }
            }
        }
        _ => parse_track(&mut a, base)?,
    };
    a.done()?;
    Ok(HttpRule {
        span: span.clone(),
        phase,
        action,
        cond,
    })
}

/// `sc-inc-gpc0(N)` → N (0 to 2: HAProxy's default `tune.stick-counters`).
pub(crate) fn sticky_counter(action: &str, span: &Span) -> Result<u8, Diagnostic> {
    action
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .filter(|n: &u8| *n < 3)
        .ok_or_else(|| {
            Diagnostic::alert(
                span,
                format!("'{action}': expected a stick counter number from 0 to 2, e.g. '(0)'"),
            )
        })
}

/// The value of `sc-set-gpt0(N) VALUE`.
pub(crate) fn gpt_value(v: &str, span: &Span) -> Result<GptValue, Diagnostic> {
    Ok(match v.parse() {
        Ok(n) => GptValue::Int(n),
        Err(_) => GptValue::Expr(parse_sample_expr(v, span)?),
    })
}

/// `track-scN KEY [table T]`.
pub(crate) fn parse_track(a: &mut Args, base: &str) -> Result<HttpAction, Diagnostic> {
    let counter = match base {
        "track-sc0" => 0,
        "track-sc1" => 1,
        "track-sc2" => 2,
        _ => {
            return Err(unknown_action(
                base,
                REQUEST_ACTIONS,
                a.span,
                "http-request",
            ))
        }
    };
    let key = parse_sample_expr(a.next("a sample expression")?, a.span)?;
    let table = match a.peek() {
        Some("table") => {
            a.pos += 1;
            Some(a.next("a table")?.to_string())
        }
        _ => None,
    };
    Ok(HttpAction::TrackSc {
        counter,
        key,
        table,
    })
}
