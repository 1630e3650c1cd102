//! `http-check` and `tcp-check` rule lines: send, connect, expect and their
//! arguments (configuration.txt §4.2 "http-check", "tcp-check").

use super::*;

pub(super) fn http_check(
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
        v if is_var_step(v) => s.http_rules.push(var_step(v, rest, span, "http-check", d)?),
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

/// `set-var(NAME[,COND…])`, `set-var-fmt(NAME)`, `unset-var(NAME)` (also as
/// bare words, which the name check then refuses with a clear message).
fn is_var_step(word: &str) -> bool {
    ["set-var", "set-var-fmt", "unset-var"]
        .iter()
        .any(|k| word == *k || word.strip_prefix(k).is_some_and(|r| r.starts_with('(')))
}

/// A check's variable step, checked as HAProxy checks it (name, conditions,
/// expression or format) and kept as words: check steps do not read
/// variables here yet (no `uri-lf`, `hdr`, `send-lf` evaluation), hence the notice.
fn var_step(
    word: &str,
    rest: &[String],
    span: &Span,
    kw: &str,
    d: &mut Diagnostics,
) -> Result<CheckRule, Diagnostic> {
    crate::rules::var_name(word, span)?;
    let what = word.split('(').next().unwrap_or(word);
    match what {
        "set-var" => {
            crate::rules::var_conditions(word, span)?;
            let expr = arg(
                rest,
                0,
                &format!("{kw} {what}"),
                "a sample expression",
                span,
            )?;
            crate::rules::parse_sample_expr(expr, span)?;
        }
        "set-var-fmt" => {
            arg(rest, 0, &format!("{kw} {what}"), "a format", span)?;
        }
        _ => {}
    }
    d.push(Diagnostic::notice(
        span,
        format!("'{kw} {what}' is parsed but has no effect yet: check steps do not read variables"),
    ));
    let mut words = vec![word.to_string()];
    words.extend_from_slice(rest);
    Ok(CheckRule::Var(words))
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

pub(super) fn tcp_check(
    args: &[String],
    span: &Span,
    s: &mut CheckSettings,
    d: &mut Diagnostics,
) -> Result<(), Diagnostic> {
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
        v if is_var_step(v) => var_step(v, rest, span, "tcp-check", d)?,
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
