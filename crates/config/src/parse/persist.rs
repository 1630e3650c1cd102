//! Parsing of persistence keywords. OWNER: config-sections helper. Same contract as `check`.

use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::model::persist::{
    AppSession, AppSessionMode, CookieMode, CookieSettings, PersistSettings, ServerPersist,
    StickKind, StickRule, StickTable, StoreData, TableKeyType,
};
use crate::parse::check::{arg, parse_time};

/// A proxy-section line (`cookie`, `appsession`, `stick-table`, `stick`, `dynamic-cookie-key`, …).
pub fn proxy_keyword(
    words: &[String],
    span: &Span,
    s: &mut PersistSettings,
    d: &mut Diagnostics,
) -> bool {
    let Some(kw) = words.first() else {
        return false;
    };
    let args = &words[1..];
    let res = match kw.as_str() {
        "cookie" => cookie(args, span, d).map(|c| s.cookie = Some(c)),
        "dynamic-cookie-key" => arg(args, 0, kw, "a secret key", span)
            .map(|k| s.dynamic_cookie_key = Some(k.to_string())),
        "appsession" => appsession(args, span).map(|a| {
            d.push(appsession_warning(&a, span));
            s.appsession = Some(a);
        }),
        "stick-table" => stick_table(args, span).map(|t| s.stick_table = Some(t)),
        "stick" => stick(args, span).map(|r| s.stick_rules.push(r)),
        _ => return false,
    };
    if let Err(e) = res {
        d.push(e);
    }
    true
}

/// One persistence option of a `server` / `default-server` line (`cookie VALUE`,
/// `non-stick`, `stick`). Returns how many words it consumed (0 = not ours).
pub fn server_option(
    words: &[String],
    span: &Span,
    s: &mut ServerPersist,
    d: &mut Diagnostics,
) -> usize {
    match words.first().map(String::as_str) {
        Some("non-stick") => {
            s.non_stick = Some(true);
            1
        }
        Some("stick") => {
            s.non_stick = Some(false);
            1
        }
        Some("cookie") => match words.get(1) {
            Some(v) => {
                s.cookie = Some(v.clone());
                2
            }
            None => {
                d.push(
                    Diagnostic::alert(span, "server option 'cookie' expects a value")
                        .with_hint("write e.g. 'cookie web1'"),
                );
                1
            }
        },
        _ => 0,
    }
}

fn cookie(args: &[String], span: &Span, d: &mut Diagnostics) -> Result<CookieSettings, Diagnostic> {
    let name = arg(args, 0, "cookie", "a cookie name", span)?;
    let mut c = CookieSettings::new(name, span.clone());
    let mut i = 1;
    while i < args.len() {
        let opt = args[i].as_str();
        let mut val = || {
            i += 1;
            arg(args, i, &format!("cookie {opt}"), "a value", span).map(str::to_string)
        };
        let mode = match opt {
            "rewrite" => Some(CookieMode::Rewrite),
            "insert" => Some(CookieMode::Insert),
            "prefix" => Some(CookieMode::Prefix),
            _ => None,
        };
        if let Some(m) = mode {
            if c.mode != CookieMode::Passive && c.mode != m {
                return Err(Diagnostic::alert(
                    span,
                    "'cookie': 'rewrite', 'insert' and 'prefix' are mutually exclusive",
                )
                .with_hint("keep only one of them"));
            }
            c.mode = m;
            i += 1;
            continue;
        }
        match opt {
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "dynamic" => c.dynamic = true,
            "domain" => {
                let dom = val()?;
                if !dom.starts_with('.') && !dom.contains('.') {
                    d.push(Diagnostic::warning(span, format!("'cookie': domain '{dom}' has no embedded dot nor starts with a dot; browsers may ignore it"))
                        .with_hint(format!("write 'domain .{dom}'")));
                }
                c.domains.push(dom);
            }
            "maxidle" | "maxlife" => {
                let v = val()?;
                let t = parse_time(&v)
                    .map_err(|e| Diagnostic::alert(span, format!("'cookie {opt}': {e}")))?;
                if opt == "maxidle" {
                    c.maxidle = Some(t)
                } else {
                    c.maxlife = Some(t)
                }
            }
            "attr" => {
                let a = val()?;
                if a.bytes().any(|b| b == b';' || b.is_ascii_control()) {
                    return Err(Diagnostic::alert(
                        span,
                        format!("'cookie attr': '{a}' must not contain ';' or control characters"),
                    ));
                }
                c.attrs.push(a);
            }
            other => {
                const OPTS: [&str; 15] = [
                    "rewrite", "insert", "prefix", "indirect", "nocache", "postonly", "preserve",
                    "httponly", "secure", "domain", "maxidle", "maxlife", "dynamic", "attr",
                    "indirect",
                ];
                let mut diag =
                    Diagnostic::alert(span, format!("'cookie': unknown option '{other}'"));
                diag = match crate::diag::closest(other, OPTS) {
                    Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
                    None => diag.with_hint("options are rewrite, insert, prefix, indirect, nocache, postonly, preserve, httponly, secure, domain, maxidle, maxlife, dynamic, attr"),
                };
                return Err(diag);
            }
        }
        i += 1;
    }
    if c.preserve && c.mode != CookieMode::Insert && !c.indirect {
        return Err(Diagnostic::alert(
            span,
            "'cookie': 'preserve' requires 'insert' or 'indirect'",
        )
        .with_hint("write e.g. 'cookie NAME insert preserve'"));
    }
    if (c.maxidle.is_some() || c.maxlife.is_some()) && c.mode != CookieMode::Insert {
        d.push(
            Diagnostic::warning(
                span,
                "'cookie': 'maxidle' and 'maxlife' only apply to inserted cookies",
            )
            .with_hint("add 'insert'"),
        );
    }
    Ok(c)
}

fn appsession(args: &[String], span: &Span) -> Result<AppSession, Diagnostic> {
    let usage = "write 'appsession COOKIE len N timeout T [request-learn] [prefix] [mode path-parameters|query-string]'";
    let cookie = arg(args, 0, "appsession", "a cookie name", span)?.to_string();
    let (mut len, mut timeout) = (None, None);
    let mut a = AppSession {
        cookie,
        len: 0,
        timeout: Default::default(),
        request_learn: false,
        prefix: false,
        mode: AppSessionMode::PathParameters,
        span: span.clone(),
    };
    let mut i = 1;
    while i < args.len() {
        let opt = args[i].as_str();
        let v = args.get(i + 1).map(String::as_str);
        match (opt, v) {
            ("len", Some(v)) => {
                len = Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Diagnostic::alert(
                        span,
                        format!("'appsession len' expects a positive integer, not '{v}'"),
                    )
                })?);
                i += 1;
            }
            ("timeout", Some(v)) => {
                timeout =
                    Some(parse_time(v).map_err(|e| {
                        Diagnostic::alert(span, format!("'appsession timeout': {e}"))
                    })?);
                i += 1;
            }
            ("mode", Some("path-parameters")) => {
                (a.mode, i) = (AppSessionMode::PathParameters, i + 1)
            }
            ("mode", Some("query-string")) => (a.mode, i) = (AppSessionMode::QueryString, i + 1),
            ("request-learn", _) => a.request_learn = true,
            ("prefix", _) => a.prefix = true,
            _ => {
                return Err(
                    Diagnostic::alert(span, format!("'appsession': unexpected '{opt}'"))
                        .with_hint(usage),
                )
            }
        }
        i += 1;
    }
    match (len, timeout) {
        (Some(l), Some(t)) => {
            a.len = l;
            a.timeout = t;
            Ok(a)
        }
        _ => Err(
            Diagnostic::alert(span, "'appsession' needs both 'len' and 'timeout'").with_hint(usage),
        ),
    }
}

/// The Warning for an accepted `appsession`, naming the modern lines.
fn appsession_warning(a: &AppSession, span: &Span) -> Diagnostic {
    let mut hint = format!("write: {}", a.modern_lines().join(" / "));
    if a.prefix {
        hint.push_str(" ('prefix' has no modern equivalent: the cookie must be named exactly)");
    }
    Diagnostic::warning(span, "'appsession' is not supported anymore since HAProxy 1.6; Fulcrum keeps its meaning (a stick table on the server's cookie)")
        .with_hint(hint)
}

/// The `stick-table` and `stick` rules equivalent to an `appsession`, as the engine runs it.
pub fn appsession_as_stick(a: &AppSession) -> (Option<StickTable>, Vec<StickRule>) {
    let mut s = PersistSettings::default();
    let mut d = Diagnostics::default();
    for line in a.modern_lines() {
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        proxy_keyword(&words, &a.span, &mut s, &mut d);
    }
    (s.stick_table, s.stick_rules)
}

/// A size with an optional `k`, `m` or `g` suffix (powers of 1024, as HAProxy does).
pub fn parse_size(word: &str) -> Result<u64, String> {
    super::value::parse_size(word)
}

/// Words after `stick-table` (also used by `table NAME …` in a `peers` section).
pub fn stick_table(args: &[String], span: &Span) -> Result<StickTable, Diagnostic> {
    let err = |m: String| Diagnostic::alert(span, format!("'stick-table': {m}"));
    let (mut key, mut size, mut len) = (None, None, None);
    let mut t = StickTable {
        key: TableKeyType::Ip,
        size: 0,
        expire: None,
        nopurge: false,
        peers: None,
        srvkey_addr: false,
        write_to: None,
        recv_only: false,
        store: Vec::new(),
        span: span.clone(),
    };
    let mut i = 0;
    while i < args.len() {
        let opt = args[i].as_str();
        let mut val = || {
            i += 1;
            arg(args, i, &format!("stick-table {opt}"), "a value", span).map(str::to_string)
        };
        match opt {
            "type" => {
                let ty = val()?;
                key = Some(match ty.as_str() {
                    "ip" => TableKeyType::Ip,
                    "ipv6" => TableKeyType::Ipv6,
                    "integer" => TableKeyType::Integer,
                    "string" => TableKeyType::String { len: 32 },
                    "binary" => TableKeyType::Binary { len: 32 },
                    _ => return Err(err(format!("unknown type '{ty}'")).with_hint("types are ip, ipv6, integer, string, binary")),
                });
            }
            "len" => {
                let v = val()?;
                len = Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| err(format!("'len' expects a positive integer, not '{v}'")))?);
            }
            "size" => size = Some(parse_size(&val()?).map_err(err)?),
            "expire" => t.expire = Some(parse_time(&val()?).map_err(|e| err(format!("'expire': {e}")))?),
            "peers" => t.peers = Some(val()?),
            "write-to" => t.write_to = Some(val()?),
            "nopurge" => t.nopurge = true,
            "recv-only" => t.recv_only = true,
            "srvkey" => {
                t.srvkey_addr = match val()?.as_str() {
                    "name" => false,
                    "addr" => true,
                    other => return Err(err(format!("'srvkey' expects 'name' or 'addr', not '{other}'"))),
                }
            }
            "store" => {
                for item in split_store(&val()?) {
                    t.store.push(parse_store(item).map_err(err)?);
                }
            }
            other => return Err(err(format!("unknown option '{other}'")).with_hint("options are type, len, size, expire, nopurge, peers, srvkey, write-to, recv-only, store")),
        }
        i += 1;
    }
    t.key = key.ok_or_else(|| {
        err("missing 'type'".into())
            .with_hint("write e.g. 'stick-table type ip size 100k expire 30m'")
    })?;
    t.size = size
        .filter(|s| *s > 0)
        .ok_or_else(|| err("missing 'size'".into()).with_hint("add e.g. 'size 100k'"))?;
    if let Some(l) = len {
        t.key = match t.key {
            TableKeyType::String { .. } => TableKeyType::String { len: l },
            TableKeyType::Binary { .. } => TableKeyType::Binary { len: l },
            _ => {
                return Err(err(
                    "'len' only applies to 'string' and 'binary' types".into()
                ))
            }
        };
    }
    Ok(t)
}

/// `conn_cnt,gpc_rate(3,10s),http_req_rate(10s)`: commas inside parentheses do not split.
fn split_store(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_store(item: &str) -> Result<StoreData, String> {
    let (name, arg) = match item.split_once('(') {
        Some((n, rest)) => match rest.strip_suffix(')') {
            Some(a) => (n, Some(a)),
            None => return Err(format!("'{item}': missing ')'")),
        },
        None => (item, None),
    };
    let period = || {
        let a = arg.ok_or_else(|| format!("'{name}' needs a period, e.g. '{name}(10s)'"))?;
        parse_time(a).map_err(|e| format!("'{name}': {e}"))
    };
    let count = |a: &str| {
        a.parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("'{name}': '{a}' is not a positive count"))
    };
    use StoreData as S;
    let plain = |v: StoreData| match arg {
        None => Ok(v),
        Some(_) => Err(format!("'{name}' takes no argument")),
    };
    match name {
        "server_id" => plain(S::ServerId),
        "server_key" => plain(S::ServerKey),
        "gpc0" => plain(S::Gpc0),
        "gpc1" => plain(S::Gpc1),
        "gpt0" => plain(S::Gpt0),
        "conn_cnt" => plain(S::ConnCnt),
        "conn_cur" => plain(S::ConnCur),
        "sess_cnt" => plain(S::SessCnt),
        "http_req_cnt" => plain(S::HttpReqCnt),
        "http_err_cnt" => plain(S::HttpErrCnt),
        "http_fail_cnt" => plain(S::HttpFailCnt),
        "bytes_in_cnt" => plain(S::BytesInCnt),
        "bytes_out_cnt" => plain(S::BytesOutCnt),
        "gpc0_rate" => Ok(S::Gpc0Rate(period()?)),
        "gpc1_rate" => Ok(S::Gpc1Rate(period()?)),
        "conn_rate" => Ok(S::ConnRate(period()?)),
        "sess_rate" => Ok(S::SessRate(period()?)),
        "http_req_rate" => Ok(S::HttpReqRate(period()?)),
        "http_err_rate" => Ok(S::HttpErrRate(period()?)),
        "http_fail_rate" => Ok(S::HttpFailRate(period()?)),
        "bytes_in_rate" => Ok(S::BytesInRate(period()?)),
        "bytes_out_rate" => Ok(S::BytesOutRate(period()?)),
        "gpc" => Ok(S::Gpc(count(
            arg.ok_or("'gpc' needs a count, e.g. 'gpc(2)'")?,
        )?)),
        "gpt" => Ok(S::Gpt(count(
            arg.ok_or("'gpt' needs a count, e.g. 'gpt(2)'")?,
        )?)),
        "gpc_rate" => {
            let a = arg.ok_or("'gpc_rate' needs a count and a period, e.g. 'gpc_rate(2,10s)'")?;
            let (n, p) = a
                .split_once(',')
                .ok_or("'gpc_rate' needs a count and a period, e.g. 'gpc_rate(2,10s)'")?;
            Ok(S::GpcRate(
                count(n)?,
                parse_time(p).map_err(|e| format!("'gpc_rate': {e}"))?,
            ))
        }
        other => {
            const KNOWN: [&str; 26] = [
                "server_id",
                "server_key",
                "gpc0",
                "gpc1",
                "gpt0",
                "gpc",
                "gpt",
                "gpc_rate",
                "conn_cnt",
                "conn_cur",
                "sess_cnt",
                "http_req_cnt",
                "http_err_cnt",
                "http_fail_cnt",
                "bytes_in_cnt",
                "bytes_out_cnt",
                "gpc0_rate",
                "gpc1_rate",
                "conn_rate",
                "sess_rate",
                "http_req_rate",
                "http_err_rate",
                "http_fail_rate",
                "bytes_in_rate",
                "bytes_out_rate",
                "server_name",
            ];
            Err(match crate::diag::closest(other, KNOWN) {
                Some(c) => format!("unknown data type '{other}' in 'store' (did you mean '{c}'?)"),
                None => format!("unknown data type '{other}' in 'store'"),
            })
        }
    }
}

fn stick(args: &[String], span: &Span) -> Result<StickRule, Diagnostic> {
    let kind = match args.first().map(String::as_str) {
        Some("on") => StickKind::On,
        Some("match") => StickKind::Match,
        Some("store-request") => StickKind::StoreRequest,
        Some("store-response") => StickKind::StoreResponse,
        other => {
            let mut e = Diagnostic::alert(
                span,
                format!(
                    "'stick' expects 'on', 'match', 'store-request' or 'store-response'{}",
                    other.map(|o| format!(", not '{o}'")).unwrap_or_default()
                ),
            );
            if let Some(c) = other.and_then(|o| {
                crate::diag::closest(o, ["on", "match", "store-request", "store-response"])
            }) {
                e = e.with_hint(format!("did you mean 'stick {c}'?"));
            }
            return Err(e);
        }
    };
    let kw = format!("stick {}", args[0]);
    let expr_word = arg(
        args,
        1,
        &kw,
        "a sample expression, e.g. 'src' or 'req.cook(SRV)'",
        span,
    )?;
    let expr = crate::rules::parse_sample_expr(expr_word, span)?;
    let mut table = None;
    let mut i = 2;
    if args.get(i).map(String::as_str) == Some("table") {
        table = Some(arg(args, i + 1, &format!("{kw} … table"), "a table name", span)?.to_string());
        i += 2;
    }
    let cond = match args.get(i).map(String::as_str) {
        None => None,
        Some("if" | "unless") => Some(crate::rules::parse_condition(&args[i..], span)?),
        Some(other) => {
            return Err(Diagnostic::alert(
                span,
                format!("'{kw}': unexpected '{other}' after the expression"),
            )
            .with_hint("write '[table NAME] [if|unless CONDITION]' after the expression"))
        }
    };
    Ok(StickRule {
        kind,
        expr,
        table,
        cond,
        span: span.clone(),
    })
}
