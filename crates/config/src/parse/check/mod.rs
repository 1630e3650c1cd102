//! Parsing of health-check keywords. OWNER: config-sections helper.
//!
//! Contract with the proxy parser: each `*_keyword` function is offered a line and
//! returns `true` when the keyword is its own (having recorded the value, or pushed a
//! diagnostic), `false` when it is not.

mod server;
mod steps;

pub use server::server_option;
pub use steps::parse_hex;
use steps::{http_check, tcp_check};

use std::time::Duration;

use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::model::check::{
    CheckConnect, CheckData, CheckKind, CheckRule, CheckSettings, Expect, ExpectMatch,
    HttpCheckSend, InitState, Observe, OnError, ServerCheck, TrackTarget,
};

/// A time value: `us ms s m h d` units, a bare number is milliseconds.
pub fn parse_time(word: &str) -> Result<Duration, String> {
    super::value::parse_time(word, super::value::TimeUnit::Millis)
}

/// A positive count (`rise`, `fall`, `error-limit`, …).
pub(crate) fn parse_count(word: &str, what: &str) -> Result<u32, String> {
    match word.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{what}' expects a positive integer, not '{word}'")),
    }
}

pub(crate) fn parse_port(word: &str, what: &str) -> Result<u16, String> {
    match word.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "'{what}' expects a port between 1 and 65535, not '{word}'"
        )),
    }
}

/// `words[i]` or an alert saying what `kw` needs.
pub(crate) fn arg<'a>(
    words: &'a [String],
    i: usize,
    kw: &str,
    what: &str,
    span: &Span,
) -> Result<&'a str, Diagnostic> {
    words
        .get(i)
        .map(String::as_str)
        .ok_or_else(|| Diagnostic::alert(span, format!("'{kw}' expects {what}")))
}

/// A proxy-section line (`words[0]` is the keyword, e.g. `option`, `http-check`, `tcp-check`).
pub fn proxy_keyword(
    words: &[String],
    span: &Span,
    s: &mut CheckSettings,
    d: &mut Diagnostics,
) -> bool {
    let Some(kw) = words.first() else {
        return false;
    };
    let res = match kw.as_str() {
        "option" | "no" => return option(words, span, s, d),
        "http-check" => http_check(&words[1..], span, s, d),
        "tcp-check" => tcp_check(&words[1..], span, s, d),
        "external-check" => {
            d.push(
                Diagnostic::notice(span, "'external-check' is accepted but not supported: Fulcrum does not run external check programs")
                    .with_hint("use 'option tcp-check' or 'option httpchk' rules instead"),
            );
            Ok(())
        }
        _ => return false,
    };
    if let Err(e) = res {
        d.push(e);
    }
    true
}

/// Checks once the proxy section is complete: rules that HAProxy would ignore.
pub fn finish_proxy(s: &CheckSettings, proxy: &str, span: &Span, d: &mut Diagnostics) {
    let http = matches!(s.kind, Some(CheckKind::Http(_)));
    if !http
        && s.http_rules
            .iter()
            .any(|r| !matches!(r, CheckRule::Comment(_)))
    {
        d.push(
            Diagnostic::warning(span, format!("'{proxy}' has 'http-check' rules without 'option httpchk', so the rules are ignored"))
                .with_hint("add 'option httpchk'"),
        );
    }
    if s.kind != Some(CheckKind::TcpCheck) && !s.tcp_rules.is_empty() {
        d.push(
            Diagnostic::warning(span, format!("'{proxy}' has 'tcp-check' rules without 'option tcp-check', so the rules are ignored"))
                .with_hint("add 'option tcp-check'"),
        );
    }
}

fn option(words: &[String], span: &Span, s: &mut CheckSettings, d: &mut Diagnostics) -> bool {
    // `no option X` only makes sense for boolean options; check kinds are not negatable.
    let (negated, rest) = if words[0] == "no" {
        match words.get(1).map(String::as_str) {
            Some("option") => (true, &words[2..]),
            _ => return false,
        }
    } else {
        (false, &words[1..])
    };
    let Some(name) = rest.first().map(String::as_str) else {
        return false;
    };
    let args = &rest[1..];
    const KINDS: [&str; 10] = [
        "httpchk",
        "tcp-check",
        "redis-check",
        "ldap-check",
        "ssl-hello-chk",
        "spop-check",
        "mysql-check",
        "pgsql-check",
        "smtpchk",
        "external-check",
    ];
    if !KINDS.contains(&name) {
        return false;
    }
    if negated {
        d.push(
            Diagnostic::alert(span, format!("'no option {name}' is not supported")).with_hint(
                format!("remove the line, or remove 'option {name}' where it is set"),
            ),
        );
        return true;
    }
    let kind = match name {
        "httpchk" => httpchk(args, span).map(|send| {
            if !send.headers.is_empty() {
                d.push(glued_warning(&send, span));
            }
            CheckKind::Http(send)
        }),
        "tcp-check" => no_args(name, args, span).map(|_| CheckKind::TcpCheck),
        "redis-check" => no_args(name, args, span).map(|_| CheckKind::Redis),
        "ldap-check" => no_args(name, args, span).map(|_| CheckKind::Ldap),
        "ssl-hello-chk" => no_args(name, args, span).map(|_| CheckKind::SslHello),
        "spop-check" => no_args(name, args, span).map(|_| CheckKind::Spop),
        "mysql-check" => mysql(args, span),
        "pgsql-check" => pgsql(args, span),
        "smtpchk" => smtp(args, span, d),
        "external-check" => {
            d.push(Diagnostic::notice(
                span,
                "'option external-check' is accepted but not supported: Fulcrum does not run external check programs; servers are checked with a TCP connection",
            ));
            Ok(CheckKind::External)
        }
        _ => return false,
    };
    match kind {
        Ok(k) => s.kind = Some(k),
        Err(e) => d.push(e),
    }
    true
}

fn no_args(name: &str, args: &[String], span: &Span) -> Result<(), Diagnostic> {
    match args.first() {
        None => Ok(()),
        Some(w) => Err(Diagnostic::alert(
            span,
            format!("'option {name}' takes no argument, found '{w}'"),
        )
        .with_hint(format!("write 'option {name}'"))),
    }
}

/// `option httpchk`, `option httpchk URI`, `option httpchk METHOD URI [VERSION]`.
fn httpchk(args: &[String], span: &Span) -> Result<HttpCheckSend, Diagnostic> {
    let mut send = HttpCheckSend::default();
    match args {
        [] => {}
        [uri] => send.uri = Some(uri.clone()),
        [meth, uri] => {
            send.method = Some(meth.clone());
            send.uri = Some(uri.clone());
        }
        [meth, uri, ver] => {
            send.method = Some(meth.clone());
            send.uri = Some(uri.clone());
            let (v, headers) = split_glued_headers(ver, span)?;
            send.version = Some(v);
            send.headers = headers;
        }
        _ => {
            return Err(Diagnostic::alert(
                span,
                "'option httpchk' expects at most 3 arguments: [METHOD] [URI] [VERSION]",
            )
            .with_hint("put headers in 'http-check send hdr NAME VALUE' lines"))
        }
    }
    if let Some(m) = &send.method {
        if !m
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(Diagnostic::alert(
                span,
                format!("'option httpchk': invalid method '{m}'"),
            ));
        }
    }
    Ok(send)
}

/// HAProxy 2.2+ still reads headers glued to the version but warns; so does Fulcrum.
fn glued_warning(send: &HttpCheckSend, span: &Span) -> Diagnostic {
    let hdrs: String = send
        .headers
        .iter()
        // empty-valued glued headers are never sent by HAProxy, and `hdr` refuses them
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| format!(" hdr {n} {}", crate::migrate::quote(v)))
        .collect();
    Diagnostic::warning(
        span,
        "'option httpchk': headers glued to the version string are deprecated",
    )
    .with_hint(format!(
        "write 'option httpchk {} {} {}' and 'http-check send{hdrs}' (fulcrum migrate does it)",
        send.method_or_default(),
        send.uri_or_default(),
        send.version_or_default()
    ))
}

/// The legacy form glues headers after the version: `HTTP/1.1\r\nHost:\ example`.
/// The reader has turned the escapes into bytes; here they become header pairs.
pub fn split_glued_headers(
    ver: &str,
    span: &Span,
) -> Result<(String, Vec<(String, String)>), Diagnostic> {
    let mut parts = ver.split("\r\n");
    let version = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    for line in parts {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Diagnostic::alert(
                span,
                format!("'option httpchk': header '{line}' glued to the version has no ':'"),
            )
            .with_hint("write each header as 'http-check send hdr NAME VALUE'"));
        };
        let name = name.trim();
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':') {
            return Err(Diagnostic::alert(
                span,
                format!("'option httpchk': invalid header name in '{line}'"),
            ));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok((version, headers))
}

fn mysql(args: &[String], span: &Span) -> Result<CheckKind, Diagnostic> {
    match args {
        [] => Ok(CheckKind::Mysql {
            user: None,
            post41: false,
        }),
        [u, name] if u == "user" => Ok(CheckKind::Mysql {
            user: Some(name.clone()),
            post41: false,
        }),
        [u, name, v] if u == "user" && (v == "post-41" || v == "pre-41") => Ok(CheckKind::Mysql {
            user: Some(name.clone()),
            post41: v == "post-41",
        }),
        _ => Err(Diagnostic::alert(
            span,
            "'option mysql-check' expects nothing or 'user NAME [post-41|pre-41]'",
        )
        .with_hint("write e.g. 'option mysql-check user haproxy post-41'")),
    }
}

fn pgsql(args: &[String], span: &Span) -> Result<CheckKind, Diagnostic> {
    match args {
        [u, name] if u == "user" => Ok(CheckKind::Pgsql { user: name.clone() }),
        _ => Err(
            Diagnostic::alert(span, "'option pgsql-check' expects 'user NAME'")
                .with_hint("write e.g. 'option pgsql-check user haproxy'"),
        ),
    }
}

/// HAProxy sends `HELO localhost` unless given exactly `HELO|EHLO DOMAIN` (case-sensitive).
fn smtp(args: &[String], span: &Span, d: &mut Diagnostics) -> Result<CheckKind, Diagnostic> {
    match args {
        [h, dom] if h == "HELO" || h == "EHLO" => Ok(CheckKind::Smtp {
            hello: h.clone(),
            domain: dom.clone(),
        }),
        _ => {
            if !args.is_empty() {
                d.push(
                    Diagnostic::warning(span, format!("'option smtpchk {}' is not 'HELO|EHLO DOMAIN': HAProxy and Fulcrum send 'HELO localhost'", args.join(" ")))
                        .with_hint("write e.g. 'option smtpchk EHLO mail.example.com'"),
                );
            }
            Ok(CheckKind::Smtp {
                hello: "HELO".into(),
                domain: "localhost".into(),
            })
        }
    }
}
