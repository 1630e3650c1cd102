//! Parsing of health-check keywords. OWNER: config-sections helper.
//!
//! Contract with the proxy parser: each `*_keyword` function is offered a line and
//! returns `true` when the keyword is its own (having recorded the value, or pushed a
//! diagnostic), `false` when it is not.

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
        "tcp-check" => tcp_check(&words[1..], span, s),
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

fn http_check(
    args: &[String],
    span: &Span,
    s: &mut CheckSettings,
    d: &mut Diagnostics,
) -> Result<(), Diagnostic> {
    const SUBS: [&str; 9] = [
        "send",
        "expect",
        "connect",
        "disable-on-404",
        "send-state",
        "comment",
        "set-var",
        "unset-var",
        "http-check",
    ];
    let sub = arg(
        args,
        0,
        "http-check",
        "one of 'send', 'expect', 'connect', 'disable-on-404', 'send-state', 'comment'",
        span,
    )?;
    let rest = &args[1..];
    match sub {
        "send" => {
            let send = http_send(rest, span)?;
            // One request per connection: a second send needs its own `connect` first.
            let since_connect = s
                .http_rules
                .iter()
                .rev()
                .take_while(|r| !matches!(r, CheckRule::Connect(_)));
            if since_connect
                .clone()
                .any(|r| matches!(r, CheckRule::HttpSend(_)))
            {
                return Err(Diagnostic::alert(span, format!("'http-check send': unable to add a send rule at step {} (missing connect rule)", s.http_rules.len() + 1))
                    .with_hint("add 'http-check connect' before this line"));
            }
            s.http_rules.push(CheckRule::HttpSend(send));
        }
        "expect" => {
            let e = parse_expect(rest, span, true)?;
            s.http_rules.push(CheckRule::Expect(e));
        }
        "connect" => {
            let c = connect(rest, span, "http-check connect")?;
            first_step_connect(&s.http_rules, "http-check", span)?;
            s.http_rules.push(CheckRule::Connect(c));
        }
        "disable-on-404" => s.disable_on_404 = Some(true),
        "send-state" => s.send_state = Some(true),
        "comment" => s.http_rules.push(CheckRule::Comment(
            arg(rest, 0, "http-check comment", "a text", span)?.to_string(),
        )),
        "set-var" | "unset-var" => s.http_rules.push(CheckRule::Var(args.to_vec())),
        other => {
            let mut diag =
                Diagnostic::alert(span, format!("unknown 'http-check' action '{other}'"));
            if let Some(c) = crate::diag::closest(other, SUBS) {
                diag = diag.with_hint(format!("did you mean 'http-check {c}'?"));
            }
            d.push(diag);
        }
    }
    Ok(())
}

/// `http-check send [meth M] [uri U | uri-lf F] [ver V] [hdr N V]* [body B | body-lf F] [comment C]`.
fn http_send(args: &[String], span: &Span) -> Result<HttpCheckSend, Diagnostic> {
    let mut send = HttpCheckSend::default();
    let mut i = 0;
    while i < args.len() {
        let kw = args[i].as_str();
        let val = |n: usize| {
            arg(
                args,
                i + n,
                &format!("http-check send {kw}"),
                "a value",
                span,
            )
        };
        match kw {
            "meth" => send.method = Some(val(1)?.to_string()),
            "uri" | "uri-lf" => {
                send.uri = Some(val(1)?.to_string());
                send.uri_is_log_format = kw == "uri-lf";
            }
            "ver" => send.version = Some(val(1)?.to_string()),
            "hdr" => {
                let name = val(1)?.to_string();
                let value = arg(
                    args,
                    i + 2,
                    "http-check send hdr",
                    "a name and a value",
                    span,
                )?;
                send.headers.push((name, value.to_string()));
                i += 1;
            }
            "body" | "body-lf" => {
                send.body = Some(val(1)?.to_string());
                send.body_is_log_format = kw == "body-lf";
            }
            "comment" => send.comment = Some(val(1)?.to_string()),
            other => return Err(Diagnostic::alert(
                span,
                format!("'http-check send': unknown option '{other}'"),
            )
            .with_hint(
                "options are 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body', 'body-lf', 'comment'",
            )),
        }
        i += 2;
    }
    Ok(send)
}

/// With any `connect` rule, the first real step must be a `connect` (HAProxy's rule).
fn first_step_connect(rules: &[CheckRule], kw: &str, span: &Span) -> Result<(), Diagnostic> {
    let first = rules
        .iter()
        .find(|r| !matches!(r, CheckRule::Comment(_) | CheckRule::Var(_)));
    match first {
        None | Some(CheckRule::Connect(_)) => Ok(()),
        Some(_) => Err(Diagnostic::alert(
            span,
            format!("'{kw} connect': the first step must also be a 'connect' (only 'comment', 'set-var' and 'unset-var' may come before it)"),
        )
        .with_hint(format!("add '{kw} connect' as the first {kw} rule"))),
    }
}

/// Options of `tcp-check connect` / `http-check connect`.
fn connect(args: &[String], span: &Span, kw: &str) -> Result<CheckConnect, Diagnostic> {
    let mut c = CheckConnect::default();
    let mut i = 0;
    while i < args.len() {
        let opt = args[i].as_str();
        let mut val = || -> Result<String, Diagnostic> {
            i += 1;
            arg(args, i, &format!("{kw} {opt}"), "a value", span).map(str::to_string)
        };
        match opt {
            "default" => c.default = true,
            "port" => c.port = Some(val()?),
            "addr" => c.addr = Some(val()?),
            "send-proxy" => c.send_proxy = true,
            "via-socks4" => c.via_socks4 = true,
            "ssl" => c.ssl = true,
            "sni" => c.sni = Some(val()?),
            "alpn" => c.alpn = Some(val()?),
            "linger" => c.linger = true,
            "proto" => c.proto = Some(val()?),
            "comment" => c.comment = Some(val()?),
            other => {
                return Err(Diagnostic::alert(span, format!("'{kw}': unknown option '{other}'")).with_hint(
                    "options are 'default', 'port', 'addr', 'send-proxy', 'via-socks4', 'ssl', 'sni', 'alpn', 'linger', 'proto', 'comment'",
                ))
            }
        }
        i += 1;
    }
    Ok(c)
}

fn tcp_check(args: &[String], span: &Span, s: &mut CheckSettings) -> Result<(), Diagnostic> {
    let sub = arg(
        args,
        0,
        "tcp-check",
        "one of 'connect', 'send', 'send-lf', 'send-binary', 'send-binary-lf', 'expect', 'comment'",
        span,
    )?;
    let rest = &args[1..];
    let rule = match sub {
        "connect" => {
            let c = connect(rest, span, "tcp-check connect")?;
            first_step_connect(&s.tcp_rules, "tcp-check", span)?;
            CheckRule::Connect(c)
        }
        "send" | "send-lf" | "send-binary" | "send-binary-lf" => {
            let data = arg(
                rest,
                0,
                &format!("tcp-check {sub}"),
                "the data to send",
                span,
            )?;
            let comment = match rest.get(1..) {
                Some([c, text]) if c == "comment" => Some(text.clone()),
                Some([]) | None => None,
                _ => {
                    return Err(Diagnostic::alert(
                        span,
                        format!("'tcp-check {sub}' expects DATA [comment TEXT]"),
                    ))
                }
            };
            let data = match sub {
                "send" => CheckData::Bytes(data.as_bytes().to_vec()),
                "send-lf" => CheckData::LogFormat(data.to_string()),
                "send-binary" => CheckData::Bytes(parse_hex(data).map_err(|e| {
                    Diagnostic::alert(span, format!("'tcp-check send-binary': {e}"))
                })?),
                _ => CheckData::BinaryLogFormat(data.to_string()),
            };
            CheckRule::TcpSend { data, comment }
        }
        "expect" => CheckRule::Expect(parse_expect(rest, span, false)?),
        "comment" => {
            CheckRule::Comment(arg(rest, 0, "tcp-check comment", "a text", span)?.to_string())
        }
        "set-var" | "unset-var" => CheckRule::Var(args.to_vec()),
        other => {
            let subs = [
                "connect",
                "send",
                "send-lf",
                "send-binary",
                "send-binary-lf",
                "expect",
                "comment",
                "set-var",
                "unset-var",
            ];
            let mut diag = Diagnostic::alert(span, format!("unknown 'tcp-check' action '{other}'"));
            if let Some(c) = crate::diag::closest(other, subs) {
                diag = diag.with_hint(format!("did you mean 'tcp-check {c}'?"));
            }
            return Err(diag);
        }
    };
    s.tcp_rules.push(rule);
    Ok(())
}

/// A hex string (`send-binary`, `expect binary`) → bytes.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() & 1 == 1 {
        return Err(format!("hex string '{s}' has an odd number of digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("'{s}' is not a hex string"))
        })
        .collect()
}

/// `[min-recv N] [comment C] [ok-status S] [error-status S] [tout-status S] [on-success F]
/// [on-error F] [status-code E] [!] MATCH PATTERN` (`http` selects which matches exist).
fn parse_expect(args: &[String], span: &Span, http: bool) -> Result<Expect, Diagnostic> {
    let kw = if http {
        "http-check expect"
    } else {
        "tcp-check expect"
    };
    let mut e = Expect {
        negate: false,
        matcher: ExpectMatch::String(String::new()),
        min_recv: None,
        comment: None,
        ok_status: None,
        error_status: None,
        tout_status: None,
        on_success: None,
        on_error: None,
        status_code: None,
    };
    let mut i = 0;
    loop {
        let w = arg(
            args,
            i,
            kw,
            "a match ('status', 'string', …) and a pattern",
            span,
        )?;
        let val = || arg(args, i + 1, &format!("{kw} {w}"), "a value", span).map(str::to_string);
        match w {
            "min-recv" => {
                let v = val()?;
                e.min_recv = Some(v.parse().map_err(|_| {
                    Diagnostic::alert(
                        span,
                        format!("'{kw} min-recv' expects an integer, not '{v}'"),
                    )
                })?);
            }
            "comment" => e.comment = Some(val()?),
            "ok-status" => e.ok_status = Some(val()?),
            "error-status" => e.error_status = Some(val()?),
            "tout-status" => e.tout_status = Some(val()?),
            "on-success" => e.on_success = Some(val()?),
            "on-error" => e.on_error = Some(val()?),
            "status-code" => e.status_code = Some(val()?),
            "!" => {
                e.negate = true;
                i += 1;
                continue;
            }
            _ => break,
        }
        i += 2;
    }
    let m = args[i].as_str();
    let rest = &args[i + 1..];
    let pat = || arg(rest, 0, &format!("{kw} {m}"), "a pattern", span).map(str::to_string);
    let only_http = |v: ExpectMatch| if http { Ok(v) } else { Err(m) };
    let only_tcp = |v: ExpectMatch| if http { Err(m) } else { Ok(v) };
    let matcher = match m {
        "status" => only_http(ExpectMatch::Status(parse_status_list(&pat()?, span)?)),
        "rstatus" => only_http(ExpectMatch::Rstatus(pat()?)),
        "string" => Ok(ExpectMatch::String(pat()?)),
        "rstring" => Ok(ExpectMatch::Rstring(pat()?)),
        "string-lf" => only_tcp(ExpectMatch::StringLogFormat(pat()?)),
        "binary" => {
            let p = pat()?;
            let bytes = parse_hex(&p)
                .map_err(|e| Diagnostic::alert(span, format!("'{kw} binary': {e}")))?;
            only_tcp(ExpectMatch::Binary(bytes))
        }
        "rbinary" => only_tcp(ExpectMatch::Rbinary(pat()?)),
        "binary-lf" => only_tcp(ExpectMatch::BinaryLogFormat(pat()?)),
        "hdr" | "fhdr" => only_http(expect_header(m == "fhdr", rest, span)?),
        _ => Err(m),
    };
    let matcher = matcher.map_err(|m| {
        let list = if http {
            "'status', 'rstatus', 'string', 'rstring', 'hdr', 'fhdr'"
        } else {
            "'string', 'rstring', 'string-lf', 'binary', 'rbinary', 'binary-lf'"
        };
        Diagnostic::alert(span, format!("'{kw}': unknown match '{m}'"))
            .with_hint(format!("'{kw}' accepts {list}"))
    })?;
    let used = if matches!(m, "hdr" | "fhdr") {
        rest.len()
    } else {
        1
    };
    if let Some(extra) = rest.get(used) {
        return Err(Diagnostic::alert(
            span,
            format!("'{kw} {m}': unexpected word '{extra}' after the pattern"),
        )
        .with_hint("quote patterns that contain spaces"));
    }
    e.matcher = matcher;
    Ok(e)
}

/// `200`, `200,300-399`.
fn parse_status_list(s: &str, span: &Span) -> Result<Vec<(u16, u16)>, Diagnostic> {
    let bad = || {
        Diagnostic::alert(span, format!("'expect status': '{s}' is not a status list"))
            .with_hint("write codes and ranges separated by commas, e.g. '200,300-399'")
    };
    s.split(',')
        .map(|part| {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let lo: u16 = lo.parse().map_err(|_| bad())?;
            let hi: u16 = hi.parse().map_err(|_| bad())?;
            if !(100..=999).contains(&lo) || hi < lo || hi > 999 {
                return Err(bad());
            }
            Ok((lo, hi))
        })
        .collect()
}

/// `hdr name [-m M] NAME [value [-m M] VALUE]`.
fn expect_header(full: bool, args: &[String], span: &Span) -> Result<ExpectMatch, Diagnostic> {
    use crate::model::check::{HeaderMatchMethod as M, HeaderPattern};
    let usage = || {
        Diagnostic::alert(
            span,
            "'expect hdr' expects 'name [-m str|beg|end|sub|reg] NAME [value [-m METH] VALUE]'",
        )
    };
    let mut name = None;
    let mut value = None;
    let mut i = 0;
    while i < args.len() {
        let which = args[i].as_str();
        if which != "name" && which != "value" {
            return Err(usage());
        }
        let mut method = M::Str;
        i += 1;
        if args.get(i).map(String::as_str) == Some("-m") {
            method = args
                .get(i + 1)
                .and_then(|m| M::from_keyword(m))
                .ok_or_else(usage)?;
            i += 2;
        }
        let pattern = args.get(i).ok_or_else(usage)?.clone();
        let p = HeaderPattern { method, pattern };
        if which == "name" {
            name = Some(p)
        } else {
            value = Some(p)
        }
        i += 1;
    }
    let name = name.ok_or_else(usage)?;
    Ok(ExpectMatch::Header { full, name, value })
}

/// One option of a `server` / `default-server` line starting at `words[0]`
/// (e.g. `["inter", "3s", …]`). Returns how many words it consumed (0 = not a check option).
pub fn server_option(
    words: &[String],
    span: &Span,
    s: &mut ServerCheck,
    d: &mut Diagnostics,
) -> usize {
    let Some(kw) = words.first().map(String::as_str) else {
        return 0;
    };
    let flag = |v: &mut Option<bool>, on: bool| {
        *v = Some(on);
        1
    };
    match kw {
        "check" => return flag(&mut s.enabled, true),
        "no-check" => return flag(&mut s.enabled, false),
        "check-send-proxy" => return flag(&mut s.send_proxy, true),
        "no-check-send-proxy" => return flag(&mut s.send_proxy, false),
        "agent-check" => return flag(&mut s.agent.enabled, true),
        "no-agent-check" => return flag(&mut s.agent.enabled, false),
        "check-ssl" | "no-check-ssl" => {
            if kw == "check-ssl" {
                d.push(Diagnostic::notice(
                    span,
                    "'check-ssl' is accepted but Fulcrum runs health checks without TLS for now",
                ));
            }
            return flag(&mut s.ssl, kw == "check-ssl");
        }
        _ => {}
    }
    const WITH_VALUE: [&str; 20] = [
        "inter",
        "fastinter",
        "downinter",
        "rise",
        "fall",
        "port",
        "addr",
        "init-state",
        "slowstart",
        "track",
        "on-marked-down",
        "on-marked-up",
        "agent-port",
        "agent-inter",
        "agent-send",
        "agent-addr",
        "observe",
        "error-limit",
        "on-error",
        "check-sni",
    ];
    if !WITH_VALUE.contains(&kw) {
        return 0;
    }
    let Some(v) = words.get(1).map(String::as_str) else {
        d.push(Diagnostic::alert(
            span,
            format!("server option '{kw}' expects a value"),
        ));
        return 1;
    };
    if let Err(msg) = server_value(kw, v, s) {
        let mut diag = Diagnostic::alert(span, msg);
        if let Some(h) = server_hint(kw) {
            diag = diag.with_hint(h);
        }
        d.push(diag);
    }
    if kw == "check-sni" {
        d.push(Diagnostic::notice(
            span,
            "'check-sni' is accepted but Fulcrum runs health checks without TLS for now",
        ));
    }
    2
}

fn server_value(kw: &str, v: &str, s: &mut ServerCheck) -> Result<(), String> {
    let time = |v: &str| parse_time(v).map_err(|e| format!("'{kw}': {e}"));
    let positive_time = |v: &str| match time(v)? {
        t if t.is_zero() => Err(format!("'{kw}' must be greater than zero")),
        t => Ok(t),
    };
    match kw {
        "inter" => s.inter = Some(positive_time(v)?),
        "fastinter" => s.fastinter = Some(positive_time(v)?),
        "downinter" => s.downinter = Some(positive_time(v)?),
        "agent-inter" => s.agent.inter = Some(positive_time(v)?),
        "slowstart" => s.slowstart = Some(time(v)?),
        "rise" => s.rise = Some(parse_count(v, kw)?),
        "fall" => s.fall = Some(parse_count(v, kw)?),
        "error-limit" => s.error_limit = Some(parse_count(v, kw)?),
        "port" => s.port = Some(parse_port(v, kw)?),
        "agent-port" => s.agent.port = Some(parse_port(v, kw)?),
        "addr" => s.addr = Some(v.to_string()),
        "agent-addr" => s.agent.addr = Some(v.to_string()),
        "agent-send" => s.agent.send = Some(v.to_string()),
        "check-sni" => s.sni = Some(v.to_string()),
        "init-state" => {
            s.init_state = Some(keyword(
                kw,
                v,
                InitState::from_keyword,
                InitState::KEYWORDS,
            )?)
        }
        "track" => {
            let (backend, server) = match v.split_once('/') {
                Some((b, srv)) => (Some(b.to_string()), srv),
                None => (None, v),
            };
            if server.is_empty() || backend.as_deref() == Some("") {
                return Err(format!("'track' expects [BACKEND/]SERVER, not '{v}'"));
            }
            s.track = Some(TrackTarget {
                backend,
                server: server.to_string(),
            });
        }
        "on-marked-down" if v == "shutdown-sessions" => s.shutdown_sessions_on_down = Some(true),
        "on-marked-up" if v == "shutdown-backup-sessions" => {
            s.shutdown_backup_sessions_on_up = Some(true)
        }
        "on-marked-down" | "on-marked-up" => return Err(format!("'{kw}' does not accept '{v}'")),
        "observe" => s.observe = Some(keyword(kw, v, Observe::from_keyword, Observe::KEYWORDS)?),
        "on-error" => s.on_error = Some(keyword(kw, v, OnError::from_keyword, OnError::KEYWORDS)?),
        _ => return Err(format!("unknown server option '{kw}'")),
    }
    Ok(())
}

/// A value that must be one of an enum's keywords.
fn keyword<T>(kw: &str, v: &str, parse: fn(&str) -> Option<T>, all: &[&str]) -> Result<T, String> {
    parse(v).ok_or_else(|| {
        format!(
            "'{kw}' does not accept '{v}' (write one of: {})",
            all.join(", ")
        )
    })
}

fn server_hint(kw: &str) -> Option<&'static str> {
    Some(match kw {
        "inter" | "fastinter" | "downinter" | "agent-inter" | "slowstart" => {
            "write a time such as '2s' or '500ms'"
        }
        "on-marked-down" => "write 'on-marked-down shutdown-sessions'",
        "on-marked-up" => "write 'on-marked-up shutdown-backup-sessions'",
        "track" => "write 'track SERVER' or 'track BACKEND/SERVER'",
        _ => return None,
    })
}
