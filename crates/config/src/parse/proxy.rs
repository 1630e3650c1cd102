//! Keywords of `defaults`, `frontend`, `backend` and `listen` sections.

use super::keywords::{self, PROXY_KEYWORDS, TIMEOUTS};
use super::value::{parse_time, parse_uint, TimeUnit};
use crate::diag::{closest, Diagnostic, Diagnostics, Span};
use crate::logformat::LogFormat;
use crate::model::proxy::{
    BackendRef, Capture, CaptureWhat, ErrorKind, ErrorPage, FileRef, HttpReuse,
};
use crate::model::{Mode, Proxy, ProxyKind};
use crate::reader::SourceLine;
use crate::rules;

/// Keywords parsed and kept as written, with a notice: Fulcrum does not act on them yet.
const ACCEPTED: &[&str] = &[
    "compression",
    "filter",
    "declare",
    "http-error",
    "email-alert",
    "dispatch",
    "http-send-name-header",
    "max-keep-alive-queue",
    "server-state-file-name",
    "load-server-state-from-file",
    "use-fcgi-app",
    "log-format-sd",
    "max-session-srv-conns",
];

/// Keywords of the persistence parser.
const PERSIST: &[&str] = &[
    "cookie",
    "appsession",
    "stick-table",
    "stick",
    "persist",
    "dynamic-cookie-key",
];

const RETRY_ON: &[&str] = &[
    "none",
    "conn-failure",
    "empty-response",
    "junk-response",
    "response-timeout",
    "0rtt-rejected",
    "all-retryable-errors",
    "401",
    "403",
    "404",
    "408",
    "425",
    "500",
    "501",
    "502",
    "503",
    "504",
];

pub(crate) fn keyword(line: &SourceLine, p: &mut Proxy, d: &mut Diagnostics) {
    let (kw, args, span) = (line.words[0].as_str(), &line.words[1..], &line.span);
    let Some(caps) = keywords::lookup(PROXY_KEYWORDS, kw) else {
        d.push(unknown(kw, p.kind, span));
        return;
    };
    // `option`/`no option`, `timeout` and `stats` check their own sub-keywords.
    if !matches!(kw, "option" | "no" | "timeout" | "stats")
        && !keywords::allowed(&format!("'{kw}'"), caps, p, span, d)
    {
        return;
    }
    misplaced(kw, span, p, d);
    record_refs(kw, args, span, p);
    if let Err(e) = dispatch(kw, args, &line.words, span, p, d) {
        d.push(Diagnostic::alert(span, e));
    }
}

fn dispatch(
    kw: &str,
    args: &[String],
    words: &[String],
    span: &Span,
    p: &mut Proxy,
    d: &mut Diagnostics,
) -> Result<(), String> {
    let one = |what: &str| {
        args.first()
            .map(String::as_str)
            .ok_or_else(|| format!("'{kw}' expects {what}"))
    };
    match kw {
        "mode" => {
            let word = one("'tcp' or 'http'")?;
            p.mode = match word {
                "tcp" | "health" => Mode::Tcp,
                "http" => Mode::Http,
                m => return Err(format!("unknown proxy mode '{m}' (use 'tcp' or 'http')")),
            };
            p.health_mode = word == "health";
            if p.health_mode {
                d.push(super::legacy::mode_health(span));
            }
        }
        "bind" => {
            // A wrong bind still counts as one, so no "has no bind" warning follows.
            let b = super::bind::parse(args, span, "bind", d);
            p.binds.push(b.unwrap_or_else(|| crate::model::Bind {
                span: Some(span.clone()),
                ..Default::default()
            }));
        }
        "server" => super::server::server(args, span, p, d),
        "server-template" => super::server::template(args, span, p, d),
        "default-server" => super::server::default_server(args, span, p, d),
        "timeout" => timeout(args, span, p, d)?,
        "contimeout" | "clitimeout" | "srvtimeout" => super::legacy::old_timeout(kw, args, span, p, d),
        "maxconn" => p.maxconn = Some(parse_uint(one("a number")?, kw)?),
        "rate-limit" => match args {
            [what, n] if what == "sessions" => {
                p.rate_limit_sessions = Some(parse_uint(n, "rate-limit sessions")?)
            }
            _ => return Err("'rate-limit' expects 'sessions' and a number of sessions per second".into()),
        },
        "backlog" => p.backlog = Some(parse_uint(one("a number")?, kw)?),
        "fullconn" => p.fullconn = Some(parse_uint(one("a number")?, kw)?),
        "clitcpka-idle" | "clitcpka-intvl" | "clitcpka-cnt" | "srvtcpka-idle"
        | "srvtcpka-intvl" | "srvtcpka-cnt" => {
            let v = one("a value")?;
            let ka = if kw.starts_with("cli") {
                &mut p.options.clitcpka_params
            } else {
                &mut p.options.srvtcpka_params
            };
            // As in HAProxy, a bare number of seconds (the unit of TCP_KEEPIDLE).
            let secs = |w| parse_time(w, TimeUnit::Seconds).map_err(|e| format!("'{kw}': {e}"));
            match &kw[9..] {
                "idle" => ka.idle = Some(secs(v)?),
                "intvl" => ka.intvl = Some(secs(v)?),
                _ => ka.cnt = Some(parse_uint(v, kw)?),
            }
        }
        "retries" => p.retries = Some(parse_uint(one("a number")?, kw)?),
        "retry-on" => {
            one("a list of failure kinds")?;
            if let Some(bad) = args.iter().find(|a| !RETRY_ON.contains(&a.as_str())) {
                return Err(format!("'retry-on': unknown keyword '{bad}' (use {})", RETRY_ON.join(", ")));
            }
            p.retry_on = args.to_vec();
        }
        "http-reuse" => {
            p.http_reuse = match one("'never', 'safe', 'aggressive' or 'always'")? {
                "never" => HttpReuse::Never,
                "safe" => HttpReuse::Safe,
                "aggressive" => HttpReuse::Aggressive,
                "always" => HttpReuse::Always,
                v => return Err(format!("'http-reuse' expects 'never', 'safe', 'aggressive' or 'always', found '{v}'")),
            }
        }
        // `no log`: drop the inherited log settings.
        "no" if words.get(1).map(String::as_str) == Some("log") => p.logs = Default::default(),
        "option" | "no" => super::options::parse(words, span, p, d),
        "balance" => p.balance = Some(super::balance::balance(args, span)?),
        "hash-type" => p.hash_type = super::balance::hash_type(args)?,
        "hash-balance-factor" => p.hash_balance_factor = Some(parse_uint(one("a percentage")?, kw)?),
        "acl" => push(rules::parse_acl(args, span), &mut p.acls, d),
        "http-request" => push(rules::parse_http_request(args, span), &mut p.http_request, d),
        "http-response" => push(rules::parse_http_response(args, span), &mut p.http_response, d),
        "http-after-response" => push(rules::parse_http_after_response(args, span), &mut p.http_after_response, d),
        "tcp-request" => push(rules::parse_tcp_request(args, span), &mut p.tcp_request, d),
        "tcp-response" => push(rules::parse_tcp_response(args, span), &mut p.tcp_response, d),
        "use_backend" => push(rules::parse_use_target(args, span), &mut p.use_backend, d),
        "use-server" => push(rules::parse_use_target(args, span), &mut p.use_server, d),
        "default_backend" => p.default_backend = Some((one("a backend name")?.to_string(), span.clone())),
        "stats" => super::stats::parse(args, span, p, d),
        "log" => log(args, span, p)?,
        "log-format" => p.log_format = Some(LogFormat::parse(&args.join(" ")).map_err(|e| format!("'log-format': {e}"))?),
        "error-log-format" => p.error_log_format = Some(LogFormat::parse(&args.join(" ")).map_err(|e| format!("'error-log-format': {e}"))?),
        "unique-id-format" => p.unique_id_format = Some(LogFormat::parse(&args.join(" ")).map_err(|e| format!("'unique-id-format': {e}"))?),
        "unique-id-header" => p.unique_id_header = Some(one("a header name")?.to_string()),
        "log-tag" => p.log_tag = Some(one("a tag")?.to_string()),
        "capture" => capture(args, span, p)?,
        "monitor-uri" => p.monitor_uri = Some(one("a URI")?.to_string()),
        "monitor" => match (args.first().map(String::as_str), args.get(1).map(String::as_str)) {
            (Some("fail"), Some("if" | "unless")) => match rules::parse_condition(&args[1..], span) {
                Ok(c) => p.monitor_fail = Some(c),
                Err(e) => d.push(e),
            },
            _ => return Err("'monitor' expects 'fail if COND' or 'fail unless COND'".into()),
        },
        "force-persist" | "ignore-persist" => {
            if !matches!(args.first().map(String::as_str), Some("if" | "unless")) {
                return Err(format!("'{kw}' expects 'if' or 'unless' followed by a condition"));
            }
            match rules::parse_condition(args, span) {
                Ok(c) if kw == "force-persist" => p.force_persist.push(c),
                Ok(c) => p.ignore_persist.push(c),
                Err(e) => d.push(e),
            }
        }
        "monitor-net" => super::legacy::monitor_net(args, span, p, d),
        "errorfile" | "errorloc" | "errorloc302" | "errorloc303" | "errorfiles" => errors(kw, args, span, p)?,
        "id" => p.id = Some(parse_uint(one("a number")?, kw)?),
        "description" => p.description = Some(args.join(" ")),
        "disabled" => p.disabled = true,
        "enabled" => p.disabled = false,
        "source" => {
            p.source = Some(
                super::addr::parse_address(one("an address")?, super::addr::Use::Server)
                    .map_err(|e| format!("'source': {e}"))?,
            );
            if args.len() > 1 {
                p.other.push((kw.to_string(), args.to_vec(), span.clone()));
            }
        }
        "redispatch" | "redisp" => {
            super::legacy::renamed(kw, "option redispatch", span, d);
            p.options.redispatch = Some(1);
        }
        "transparent" => {
            super::legacy::renamed(kw, "option transparent", span, d);
            p.options.transparent = true;
        }
        "bind-process" => d.push(
            Diagnostic::warning(span, "'bind-process' is not supported anymore since HAProxy 2.5; ignored (every thread serves every proxy)")
                .with_hint("remove the line; use 'thread' on 'bind' lines to pin listeners"),
        ),
        "grace" => d.push(
            Diagnostic::warning(span, "'grace' is not supported anymore since HAProxy 2.5; ignored")
                .with_hint("use 'hard-stop-after' in 'global' to bound the stop"),
        ),
        "http-check" | "tcp-check" | "external-check" => {
            if !super::check::proxy_keyword(words, span, &mut p.check, d) {
                accepted(kw, args, span, p, d);
            }
        }
        _ if PERSIST.contains(&kw) => {
            if !super::persist::proxy_keyword(words, span, &mut p.persist, d) {
                if kw == "appsession" {
                    super::legacy::appsession(span, d);
                    p.other.push((kw.to_string(), args.to_vec(), span.clone()));
                } else {
                    accepted(kw, args, span, p, d);
                }
            }
        }
        _ if super::legacy::RULE_KEYWORDS.contains(&kw) => super::legacy::rule(kw, args, span, p, d),
        _ if ACCEPTED.contains(&kw) => accepted(kw, args, span, p, d),
        _ => d.push(unknown(kw, p.kind, span)),
    }
    Ok(())
}

/// HAProxy runs `http-request`, then `redirect`, then `use_backend`, then `use-server`,
/// whatever their order in the file; a line placed after a later stage gets its warning.
fn misplaced(kw: &str, span: &Span, p: &Proxy, d: &mut Diagnostics) {
    let later: &[(&str, bool)] = &[
        ("use-server", !p.use_server.is_empty()),
        ("use_backend", !p.use_backend.is_empty()),
    ];
    let stage = match kw {
        "http-request" | "redirect" => 2,
        "use_backend" => 1,
        _ => return,
    };
    if let Some((after, _)) = later[..stage].iter().find(|(_, seen)| *seen) {
        d.push(
            Diagnostic::warning(
                span,
                format!(
                    "a '{kw}' rule placed after a '{after}' rule will still be processed before"
                ),
            )
            .with_hint(format!("move it above the first '{after}' line")),
        );
    }
}

/// Remembers backend names and files named on the line, for `validate`.
fn record_refs(kw: &str, args: &[String], span: &Span, p: &mut Proxy) {
    if matches!(
        kw,
        "log-format" | "error-log-format" | "log-format-sd" | "unique-id-format"
    ) {
        p.format_lines.push((kw.to_string(), span.clone()));
    }
    if matches!(kw, "use_backend" | "default_backend") {
        if let Some(n) = args.first().filter(|n| !n.contains("%[")) {
            p.backend_refs.push(BackendRef {
                name: n.clone(),
                span: span.clone(),
            });
        }
    }
    // Pattern files: `acl NAME FETCH -f FILE` and anonymous ACLs in conditions
    // (`… if { src -f FILE }`).
    let mut in_cond = kw == "acl";
    let mut it = args.iter().peekable();
    while let Some(w) = it.next() {
        in_cond |= matches!(w.as_str(), "if" | "unless");
        if in_cond && w == "-f" {
            if let Some(f) = it.peek() {
                p.files.push(FileRef {
                    path: f.as_str().into(),
                    what: "ACL",
                    span: span.clone(),
                });
            }
        }
        for file in map_files(w) {
            p.files.push(FileRef {
                path: file.into(),
                what: "map",
                span: span.clone(),
            });
        }
    }
}

/// Files named by `map(FILE)`, `map_str(FILE,default)`, `map_beg_int(FILE)`, … in a word.
fn map_files(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = word[from..].find("map").map(|i| i + from) {
        from = i + 3;
        let starts_word = i == 0 || matches!(word.as_bytes()[i - 1], b',' | b'(' | b' ' | b'[');
        let Some(open) = word[from..].find('(').map(|o| o + from) else {
            break;
        };
        let conv = &word[from..open];
        let is_map = conv.is_empty()
            || (conv.starts_with('_')
                && conv[1..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'));
        if starts_word && is_map {
            let file = word[open + 1..].split([',', ')']).next().unwrap_or("");
            if !file.is_empty() {
                out.push(file);
            }
        }
    }
    out
}

fn push<T>(r: Result<T, Diagnostic>, to: &mut Vec<T>, d: &mut Diagnostics) {
    match r {
        Ok(v) => to.push(v),
        Err(e) => d.push(e),
    }
}

fn accepted(kw: &str, args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    p.other.push((kw.to_string(), args.to_vec(), span.clone()));
    // The engine reads `dispatch` and `log-format-sd` from here: they work, so no notice.
    if kw == "dispatch" || kw == "log-format-sd" {
        return;
    }
    d.push(Diagnostic::notice(
        span,
        format!("'{kw}' parsed, not yet supported"),
    ));
}

/// Unknown keyword: a typo (closest known keyword) or a keyword glued to its value.
fn unknown(kw: &str, kind: ProxyKind, span: &Span) -> Diagnostic {
    let diag = Diagnostic::alert(
        span,
        format!("unknown keyword '{kw}' in '{}' section", kind.word()),
    );
    let glued = keywords::names(PROXY_KEYWORDS).find(|k| {
        kw.len() > k.len()
            && kw.starts_with(*k)
            && !kw[k.len()..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if let Some(k) = glued {
        return diag.with_hint(format!(
            "did you mean '{k} {}'? A space is missing",
            &kw[k.len()..]
        ));
    }
    match closest(kw, keywords::names(PROXY_KEYWORDS)) {
        Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
        None => diag,
    }
}

fn timeout(args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) -> Result<(), String> {
    let Some(name) = args.first().map(String::as_str) else {
        return Err("'timeout' expects a name and a time, e.g. 'timeout client 30s'".into());
    };
    let Some(caps) = keywords::lookup(TIMEOUTS, name) else {
        let m = format!("unknown timeout '{name}'");
        d.push(match closest(name, keywords::names(TIMEOUTS)) {
            Some(s) => Diagnostic::alert(span, m).with_hint(format!("did you mean 'timeout {s}'?")),
            None => Diagnostic::alert(span, m).with_hint(format!(
                "use one of: {}",
                keywords::names(TIMEOUTS).collect::<Vec<_>>().join(", ")
            )),
        });
        return Ok(());
    };
    if !keywords::allowed(&format!("'timeout {name}'"), caps, p, span, d) {
        return Ok(());
    }
    let v = args.get(1).ok_or_else(|| {
        format!("'timeout {name}' expects a time, e.g. '30s' (a bare number is in milliseconds)")
    })?;
    let t = parse_time(v, TimeUnit::Millis).map_err(|e| format!("'timeout {name}': {e}"))?;
    let tm = &mut p.timeouts;
    let slot = match name {
        "check" => &mut tm.check,
        "client" => &mut tm.client,
        "client-fin" => &mut tm.client_fin,
        "connect" => &mut tm.connect,
        "http-keep-alive" => &mut tm.http_keep_alive,
        "http-request" => &mut tm.http_request,
        "queue" => &mut tm.queue,
        "server" => &mut tm.server,
        "server-fin" => &mut tm.server_fin,
        "tarpit" => &mut tm.tarpit,
        _ => &mut tm.tunnel,
    };
    *slot = Some(t);
    Ok(())
}

fn log(args: &[String], span: &Span, p: &mut Proxy) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("global") => p.logs.global = true,
        _ => {
            let t = super::log::parse_target(args, span).map_err(|e| e.message)?;
            p.logs.targets.push(t);
        }
    }
    Ok(())
}

fn capture(args: &[String], span: &Span, p: &mut Proxy) -> Result<(), String> {
    let usage = "'capture' expects 'request header NAME len N', 'response header NAME len N' or 'cookie NAME len N'";
    let (what, rest) = match (
        args.first().map(String::as_str),
        args.get(1).map(String::as_str),
    ) {
        (Some("request"), Some("header")) => (CaptureWhat::RequestHeader, &args[2..]),
        (Some("response"), Some("header")) => (CaptureWhat::ResponseHeader, &args[2..]),
        (Some("cookie"), _) => (CaptureWhat::Cookie, &args[1..]),
        _ => return Err(usage.into()),
    };
    match rest {
        [name, l, n] if l == "len" => {
            let len: u32 = parse_uint(n, "capture … len")?;
            if len == 0 {
                return Err("'capture … len' must be greater than 0".into());
            }
            p.captures.push(Capture {
                span: span.clone(),
                what,
                name: name.clone(),
                len,
            });
            Ok(())
        }
        _ => Err(usage.into()),
    }
}

fn errors(kw: &str, args: &[String], span: &Span, p: &mut Proxy) -> Result<(), String> {
    let status = |w: Option<&String>| -> Result<u16, String> {
        let w = w.ok_or_else(|| format!("'{kw}' expects a status code"))?;
        match w.parse::<u16>() {
            Ok(n) if (200..600).contains(&n) => Ok(n),
            _ => Err(format!("'{kw}': '{w}' is not an HTTP status code")),
        }
    };
    let kind = match kw {
        "errorfiles" => ErrorKind::Section {
            name: args
                .first()
                .cloned()
                .ok_or("'errorfiles' expects an http-errors section name")?,
            codes: args[1..]
                .iter()
                .map(|c| status(Some(c)))
                .collect::<Result<_, _>>()?,
        },
        "errorfile" => ErrorKind::File {
            status: status(args.first())?,
            path: args
                .get(1)
                .ok_or("'errorfile' expects a status code and a file")?
                .into(),
        },
        _ => ErrorKind::Location {
            status: status(args.first())?,
            url: args
                .get(1)
                .cloned()
                .ok_or_else(|| format!("'{kw}' expects a status code and a URL"))?,
            code: if kw == "errorloc303" { 303 } else { 302 },
        },
    };
    p.errors.retain(|e| !same_status(&e.kind, &kind));
    p.errors.push(ErrorPage {
        span: span.clone(),
        kind,
    });
    Ok(())
}

/// A later `errorfile`/`errorloc` for the same status replaces the earlier one (and the inherited one).
fn same_status(a: &ErrorKind, b: &ErrorKind) -> bool {
    let st = |k: &ErrorKind| match k {
        ErrorKind::File { status, .. } | ErrorKind::Location { status, .. } => Some(*status),
        ErrorKind::Section { .. } => None,
    };
    st(a).is_some() && st(a) == st(b)
}

#[cfg(test)]
mod tests {
    use super::map_files;

    #[test]
    fn finds_map_files_in_expressions() {
        assert_eq!(
            map_files("req.hdr(host),lower,map(/etc/h.map,bk)"),
            vec!["/etc/h.map"]
        );
        assert_eq!(map_files("%[src,map_ip(/m/ip.map)]"), vec!["/m/ip.map"]);
        assert_eq!(map_files("set-map(/x.map)"), Vec::<&str>::new());
        assert_eq!(map_files("mapping"), Vec::<&str>::new());
    }
}
