//! `http-request`, `http-response` and `http-after-response` actions (configuration.txt §4.2).

use super::acl::{split_condition, Condition, MatchMethod};
use super::sample::{parse_sample_expr, SampleExpr};
use super::{parse_time_ms, Legacy};
use crate::diag::{closest, Diagnostic, Span};
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
    "set-timeout",
    "early-hint",
    "normalize-uri",
    "use-service",
    "wait-for-body",
    "track-sc0",
    "track-sc1",
    "track-sc2",
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
    "track-sc0",
    "track-sc1",
    "track-sc2",
];

pub(crate) fn lf(text: &str, span: &Span) -> Result<LogFormat, Diagnostic> {
    LogFormat::parse(text).map_err(|e| Diagnostic::alert(span, format!("in '{text}': {e}")))
}

/// Argument cursor with messages naming the action.
pub(crate) struct Args<'a> {
    pub action: &'a str,
    pub words: &'a [String],
    pub pos: usize,
    pub span: &'a Span,
}

impl<'a> Args<'a> {
    pub fn next(&mut self, what: &str) -> Result<&'a str, Diagnostic> {
        let w = self.words.get(self.pos).ok_or_else(|| {
            Diagnostic::alert(self.span, format!("'{}' expects {what}", self.action))
        })?;
        self.pos += 1;
        Ok(w)
    }
    pub fn peek(&self) -> Option<&'a str> {
        self.words.get(self.pos).map(String::as_str)
    }
    pub fn done(&self) -> Result<(), Diagnostic> {
        match self.words.get(self.pos) {
            None => Ok(()),
            Some(w) => Err(Diagnostic::alert(
                self.span,
                format!("unexpected '{w}' after '{}' arguments", self.action),
            )
            .with_hint("conditions start with 'if' or 'unless'")),
        }
    }
    pub fn int<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, Diagnostic> {
        let w = self.next(what)?;
        w.parse().map_err(|_| {
            Diagnostic::alert(self.span, format!("'{}': '{w}' is not {what}", self.action))
        })
    }
}

/// `set-var(NAME)` / `unset-var(NAME)` → `NAME`, checking the scope.
pub(crate) fn var_name(action: &str, span: &Span) -> Result<String, Diagnostic> {
    let inner = action
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .ok_or_else(|| Diagnostic::alert(span, format!("'{action}': expected 'NAME(var)'")))?;
    let name = inner.split(',').next().unwrap_or_default().to_string();
    check_var_name(&name, span)?;
    Ok(name)
}

pub(crate) fn check_var_name(name: &str, span: &Span) -> Result<(), Diagnostic> {
    let scope = name.split('.').next().unwrap_or_default();
    if ["proc", "sess", "txn", "req", "res", "check"].contains(&scope)
        && name.len() > scope.len() + 1
    {
        Ok(())
    } else {
        Err(Diagnostic::alert(
            span,
            format!(
                "variable '{name}' must be SCOPE.NAME with SCOPE one of proc, sess, txn, req, res"
            ),
        ))
    }
}

fn parse_reply(a: &mut Args, status_kw: &str, default: Option<u16>) -> Result<Reply, Diagnostic> {
    let mut r = Reply {
        status: default,
        content_type: None,
        body: ReplyBody::Default,
        headers: Vec::new(),
    };
    while let Some(w) = a.peek() {
        a.pos += 1;
        match w {
            _ if w == status_kw => {
                let s: u16 = a.int("a status code")?;
                if !(200..=599).contains(&s) {
                    return Err(Diagnostic::alert(
                        a.span,
                        format!("status {s} out of 200..599"),
                    ));
                }
                r.status = Some(s);
            }
            "content-type" => r.content_type = Some(a.next("a content type")?.to_string()),
            "string" => r.body = ReplyBody::Text(a.next("a string")?.to_string()),
            "lf-string" => r.body = ReplyBody::LfText(lf(a.next("a format")?, a.span)?),
            "file" => r.body = ReplyBody::File(a.next("a file")?.to_string()),
            "lf-file" => r.body = ReplyBody::LfFile(a.next("a file")?.to_string()),
            "errorfile" => r.body = ReplyBody::ErrorFile(a.next("a file")?.to_string()),
            "errorfiles" => r.body = ReplyBody::ErrorFiles(a.next("a section name")?.to_string()),
            "default-errorfiles" => r.body = ReplyBody::Default,
            "hdr" => {
                let n = a.next("a header name")?.to_string();
                let v = lf(a.next("a header value")?, a.span)?;
                r.headers.push((n, v));
            }
            other => {
                return Err(Diagnostic::alert(
                    a.span,
                    format!("'{}': unknown argument '{other}'", a.action),
                ))
            }
        }
    }
    let has_body = !matches!(
        r.body,
        ReplyBody::Default | ReplyBody::ErrorFile(_) | ReplyBody::ErrorFiles(_)
    );
    if has_body
        && r.content_type.is_none()
        && matches!(r.body, ReplyBody::Text(_) | ReplyBody::LfText(_))
    {
        return Err(Diagnostic::alert(
            a.span,
            format!("'{}': 'string' needs 'content-type'", a.action),
        ));
    }
    Ok(r)
}

pub(crate) fn parse_redirect(a: &mut Args) -> Result<Redirect, Diagnostic> {
    let kind = match a.next("location, prefix or scheme")? {
        "location" => RedirectKind::Location,
        "prefix" => RedirectKind::Prefix,
        "scheme" => RedirectKind::Scheme,
        other => {
            return Err(Diagnostic::alert(
                a.span,
                format!("redirect: expected location, prefix or scheme, found '{other}'"),
            ))
        }
    };
    let target = lf(a.next("a target")?, a.span)?;
    let mut r = Redirect {
        kind,
        target,
        code: 302,
        drop_query: false,
        append_slash: false,
        set_cookie: None,
        clear_cookie: None,
    };
    while let Some(w) = a.peek() {
        a.pos += 1;
        match w {
            "code" => {
                let c: u16 = a.int("a redirect code")?;
                if ![301, 302, 303, 307, 308].contains(&c) {
                    return Err(Diagnostic::alert(
                        a.span,
                        format!("redirect code {c} is not one of 301, 302, 303, 307, 308"),
                    ));
                }
                r.code = c;
            }
            "drop-query" => r.drop_query = true,
            "append-slash" => r.append_slash = true,
            "keep-query" | "ignore-empty" => {}
            "set-cookie" => r.set_cookie = Some(a.next("a cookie")?.to_string()),
            "clear-cookie" => r.clear_cookie = Some(a.next("a cookie")?.to_string()),
            other => {
                return Err(Diagnostic::alert(
                    a.span,
                    format!("redirect: unknown option '{other}'"),
                ))
            }
        }
    }
    Ok(r)
}

fn parse_normalizer(a: &mut Args) -> Result<Normalizer, Diagnostic> {
    let name = a.next("a normalizer")?;
    let flag = |a: &mut Args, f: &str| {
        let yes = a.peek() == Some(f);
        a.pos += usize::from(yes);
        yes
    };
    Ok(match name {
        "path-merge-slashes" => Normalizer::PathMergeSlashes,
        "path-strip-dot" => Normalizer::PathStripDot,
        "path-strip-dotdot" => Normalizer::PathStripDotdot {
            full: flag(a, "full"),
        },
        "percent-decode-unreserved" => Normalizer::PercentDecodeUnreserved {
            strict: flag(a, "strict"),
        },
        "percent-to-uppercase" => Normalizer::PercentToUppercase {
            strict: flag(a, "strict"),
        },
        "query-sort-by-name" => Normalizer::QuerySortByName,
        "fragment-strip" => Normalizer::FragmentStrip,
        "fragment-encode" => Normalizer::FragmentEncode,
        other => {
            return Err(Diagnostic::alert(
                a.span,
                format!("unknown normalizer '{other}'"),
            ))
        }
    })
}

pub(crate) fn parse_capture(a: &mut Args) -> Result<HttpAction, Diagnostic> {
    let expr = parse_sample_expr(a.next("a sample expression")?, a.span)?;
    let (mut len, mut id) = (None, None);
    match a.peek() {
        Some("len") => {
            a.pos += 1;
            len = Some(a.int("a length")?);
        }
        Some("id") => {
            a.pos += 1;
            id = Some(a.int("a capture slot")?);
        }
        _ => return Err(Diagnostic::alert(a.span, "capture needs 'len N' or 'id N'")),
    }
    Ok(HttpAction::Capture { expr, len, id })
}

fn unknown_action(name: &str, known: &[&str], span: &Span, keyword: &str) -> Diagnostic {
    let mut d = Diagnostic::alert(span, format!("'{keyword}': unknown action '{name}'"));
    if let Some(s) = closest(name, known.iter().copied()) {
        d = d.with_hint(format!("did you mean '{s}'?"));
    }
    d
}

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
