//! Argument parsing shared by the HTTP and TCP actions: cursor, replies, redirects, variables.

use super::action::{HttpAction, Normalizer, Redirect, RedirectKind, Reply, ReplyBody};
use super::sample::parse_sample_expr;
use crate::diag::{closest, Diagnostic, Span};
use crate::logformat::LogFormat;

pub(crate) fn lf(text: &str, span: &Span) -> Result<LogFormat, Diagnostic> {
    // Spaces in action arguments are literal text, unlike in `log-format`.
    LogFormat::parse_text(text).map_err(|e| Diagnostic::alert(span, format!("in '{text}': {e}")))
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

/// The conditions of `set-var(NAME,COND…)` (HAProxy 2.7+).
pub const SET_VAR_CONDS: &[&str] = &[
    "ifexists",
    "ifnotexists",
    "ifempty",
    "ifnotempty",
    "ifset",
    "ifnotset",
    "ifgt",
    "iflt",
];

/// `set-var(NAME,ifnotexists,…)` → the conditions after the name, checked.
pub(crate) fn var_conditions(action: &str, span: &Span) -> Result<Vec<String>, Diagnostic> {
    let inner = action
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or_default();
    inner
        .split(',')
        .skip(1)
        .map(|c| {
            if SET_VAR_CONDS.contains(&c) {
                Ok(c.to_string())
            } else {
                let mut d = Diagnostic::alert(span, format!("'{action}': unknown condition '{c}'"));
                if let Some(s) = closest(c, SET_VAR_CONDS.iter().copied()) {
                    d = d.with_hint(format!("did you mean '{s}'?"));
                }
                Err(d)
            }
        })
        .collect()
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

pub(crate) fn parse_reply(
    a: &mut Args,
    status_kw: &str,
    default: Option<u16>,
) -> Result<Reply, Diagnostic> {
    let mut r = Reply {
        status: default,
        content_type: None,
        body: ReplyBody::Default,
        headers: Vec::new(),
    };
    while let Some(w) = a.peek() {
        a.pos += 1;
        match w {
            // HAProxy 2.2+ accepts `status` wherever `deny_status` was written.
            _ if w == status_kw || w == "status" => {
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

pub(crate) fn parse_normalizer(a: &mut Args) -> Result<Normalizer, Diagnostic> {
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

pub(crate) fn unknown_action(name: &str, known: &[&str], span: &Span, keyword: &str) -> Diagnostic {
    let mut d = Diagnostic::alert(span, format!("'{keyword}': unknown action '{name}'"));
    if let Some(s) = closest(name, known.iter().copied()) {
        d = d.with_hint(format!("did you mean '{s}'?"));
    }
    d
}
