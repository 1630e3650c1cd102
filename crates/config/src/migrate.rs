//! `fulcrum migrate`: legacy lines rewritten to their modern form. OWNER: config-sections helper.
//!
//! The output is the input text, byte for byte, except the lines HAProxy 2.x refuses or
//! deprecates: those get their modern equivalent, with the line's indentation and trailing
//! comment kept. Lines with no faithful modern form become a comment explaining what to do,
//! followed by the original line commented out. Real errors (duplicate names, bad addresses)
//! are not migrate's job and stay as written.

use std::collections::HashMap;

use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::parse::check::split_glued_headers;
use crate::parse::{is_section_keyword, PROXY_SECTIONS};
use crate::reader::{read_str, Env, SourceLine};

/// Rewrites every legacy line of `lines_raw` (one file's text). Fails only when the text
/// cannot be read (bad quoting, unterminated `.if`, …).
pub fn migrate(lines_raw: &str, file_name: &str, env: &dyn Env) -> Result<String, Diagnostics> {
    let read = read_str(file_name, lines_raw, env);
    let mut d = Diagnostics::default();
    d.extend(read.diagnostics);
    if d.has_errors() {
        return Err(d);
    }
    let plan: HashMap<u32, Rewrite> = plan(&read.lines)
        .into_iter()
        .map(|(line, rw)| (line.span.line, rw))
        .collect();
    let mut out = String::with_capacity(lines_raw.len() + 256);
    for (i, chunk) in lines_raw.split_inclusive('\n').enumerate() {
        match u32::try_from(i + 1).ok().and_then(|n| plan.get(&n)) {
            Some(rw) => apply(chunk, rw, &mut out),
            None => out.push_str(chunk),
        }
    }
    Ok(out)
}

/// One Warning per legacy line (the lines [`migrate`] rewrites), naming the modern form.
pub fn legacy_findings(lines: &[SourceLine]) -> Vec<Diagnostic> {
    plan(lines)
        .into_iter()
        .map(|(line, rw)| {
            let modern = match &rw {
                Rewrite::Keyword(k) => format!("{k}{}", rest_words(&line.words[1..])),
                Rewrite::Replace { from, to } => line.words.join(" ").replacen(from, to, 1),
                Rewrite::Lines(v) => v.join(" / "),
            };
            Diagnostic::warning(&line.span, format!("'{}' is a legacy form", line.words[0]))
                .with_hint(format!("write '{modern}' (fulcrum migrate does it)"))
        })
        .collect()
}

fn rest_words(w: &[String]) -> String {
    w.iter().map(|x| format!(" {}", quote(x))).collect()
}

/// How one line changes.
#[derive(Clone, Debug, PartialEq)]
enum Rewrite {
    /// The first word becomes this text; the rest of the line stays byte for byte.
    Keyword(String),
    /// The first occurrence of `from` in the line becomes `to`.
    Replace { from: String, to: String },
    /// The line becomes these lines (the first keeps the trailing comment).
    Lines(Vec<String>),
}

/// What the pre-pass knows about the section a line is in.
#[derive(Clone, Debug, Default)]
struct Ctx {
    section: String,
    http: bool,
    has_stick_table: bool,
}

fn plan(lines: &[SourceLine]) -> Vec<(&SourceLine, Rewrite)> {
    // Pre-pass: each section's mode (own `mode` line, else the last defaults' one, else
    // tcp as in HAProxy) and whether it already declares a stick-table.
    let mut ctxs = Vec::with_capacity(lines.len());
    let mut defaults_http = false;
    let mut start = 0;
    while start < lines.len() {
        let end = (start + 1..lines.len())
            .find(|&i| is_section_keyword(&lines[i].words[0]))
            .unwrap_or(lines.len());
        let head = &lines[start].words[0];
        let body = &lines[start..end];
        let own_mode = body
            .iter()
            .rev()
            .find(|l| l.words[0] == "mode")
            .and_then(|l| l.words.get(1));
        let http = own_mode.map_or(defaults_http, |m| m == "http");
        if head == "defaults" {
            defaults_http = http;
        }
        let ctx = Ctx {
            section: if is_section_keyword(head) {
                head.clone()
            } else {
                String::new()
            },
            http,
            has_stick_table: body.iter().any(|l| l.words[0] == "stick-table"),
        };
        ctxs.extend(std::iter::repeat_n(ctx, end - start));
        start = end;
    }
    lines
        .iter()
        .zip(&ctxs)
        .filter_map(|(l, c)| rewrite(&l.words, c).map(|rw| (l, rw)))
        .collect()
}

fn kw(s: &str) -> Option<Rewrite> {
    Some(Rewrite::Keyword(s.to_string()))
}

fn rewrite(w: &[String], ctx: &Ctx) -> Option<Rewrite> {
    let k = w[0].as_str();
    let args = &w[1..];
    if ctx.section == "global" {
        return match (k, w.get(1).map(String::as_str)) {
            ("nbproc", _) => kw("nbthread"),
            ("stats", Some("bind-process")) => Some(explain(w, NO_PROCESSES)),
            _ => None,
        };
    }
    if !PROXY_SECTIONS.contains(&ctx.section.as_str()) {
        return None;
    }
    let arg0 = args.first().map(String::as_str).unwrap_or("");
    match k {
        "contimeout" => kw("timeout connect"),
        "clitimeout" => kw("timeout client"),
        "srvtimeout" => kw("timeout server"),
        "redispatch" => kw("option redispatch"),
        "transparent" => kw("option transparent"),
        "bind-process" => Some(explain(w, NO_PROCESSES)),
        "grace" => Some(explain(w, "stopping is bounded by 'hard-stop-after' in 'global' now")),
        "listen" | "frontend" if args.len() >= 2 && !matches!(args[1].as_str(), "from") => {
            // 1.x `listen NAME ADDR`: the address moves to its own `bind` line.
            Some(Rewrite::Lines(vec![
                format!("{k} {}", quote(&args[0])),
                format!("    bind{}", rest_words(&args[1..])),
            ]))
        }
        "block" => kw("http-request deny"),
        "stats" if arg0.starts_with("uri/") => Some(Rewrite::Replace {
            from: "uri/".into(),
            to: "uri /".into(),
        }),
        "option" if arg0 == "independant-streams" => Some(Rewrite::Replace {
            from: "independant".into(),
            to: "independent".into(),
        }),
        "option" if arg0 == "http-tunnel" => Some(explain(w, "since 2.1 HTTP is processed request by request and upgraded connections become tunnels by themselves; remove it")),
        "option" if arg0 == "forceclose" => Some(Rewrite::Replace {
            from: "forceclose".into(),
            to: "httpclose".into(),
        }),
        "option" if arg0 == "httpchk" && args.get(3).is_some_and(|v| v.contains("\r\n")) => {
            httpchk(args)
        }
        "monitor-net" if !arg0.is_empty() => Some(monitor_net(arg0, ctx)),
        "appsession" => appsession(w, ctx),
        "reqadd" | "rspadd" => add_header(k, args),
        "reqdel" | "reqidel" | "rspdel" | "rspidel" => del_header(k, w),
        "reqrep" | "reqirep" | "rsprep" | "rspirep" => replace(k, w),
        "reqdeny" | "reqideny" | "reqallow" | "reqiallow" | "reqtarpit" | "reqitarpit"
        | "reqpass" | "reqipass" | "rspdeny" | "rspideny" | "reqsetbe" | "reqisetbe" => {
            filter(k, w)
        }
        _ => None,
    }
}

const NO_PROCESSES: &str = "threads replaced processes and it has no effect; remove it";

/// A line with no faithful modern form: explain, and keep the original as a comment.
fn explain(w: &[String], why: &str) -> Rewrite {
    let name = match w {
        [o, n, ..] if o == "option" || o == "stats" => format!("{o} {n}"),
        _ => w[0].clone(),
    };
    Rewrite::Lines(vec![
        format!("# fulcrum migrate: '{name}' was removed from HAProxy; {why}"),
        format!(
            "# {}",
            w.iter().map(|x| quote(x)).collect::<Vec<_>>().join(" ")
        ),
    ])
}

fn httpchk(args: &[String]) -> Option<Rewrite> {
    let span = Span::new("", 0);
    let (ver, headers) = split_glued_headers(&args[3], &span).ok()?;
    let mut lines = vec![format!(
        "option httpchk {} {} {}",
        quote(&args[1]),
        quote(&args[2]),
        quote(&ver)
    )];
    let (empty, headers): (Vec<_>, Vec<_>) = headers.into_iter().partition(|(_, v)| v.is_empty());
    if !headers.is_empty() {
        let hdrs: String = headers
            .iter()
            .map(|(n, v)| format!(" hdr {} {}", quote(n), quote(&lf_escape(v))))
            .collect();
        lines.push(format!("http-check send{hdrs}"));
    }
    for (n, _) in empty {
        // `hdr` refuses an empty value, and HAProxy never sent such a glued header anyway.
        lines.push(format!("# fulcrum migrate: glued header '{n}' had an empty value; HAProxy does not send it either, so it is left out"));
    }
    Some(Rewrite::Lines(lines))
}

fn monitor_net(net: &str, ctx: &Ctx) -> Rewrite {
    let net = quote(net);
    match (ctx.section.as_str(), ctx.http) {
        ("defaults", _) => Rewrite::Lines(vec![
            format!("# fulcrum migrate: 'monitor-net {net}' was removed from HAProxy; add 'http-request return status 200 if {{ src {net} }}' to each frontend"),
        ]),
        (_, true) => Rewrite::Lines(vec![
            format!("http-request set-log-level silent if {{ src {net} }}"),
            format!("http-request return status 200 if {{ src {net} }}"),
        ]),
        (_, false) => Rewrite::Lines(vec![format!("tcp-request connection reject if {{ src {net} }}")]),
    }
}

fn appsession(w: &[String], ctx: &Ctx) -> Option<Rewrite> {
    let mut s = crate::model::persist::PersistSettings::default();
    let mut d = Diagnostics::default();
    crate::parse::persist::proxy_keyword(w, &Span::new("", 0), &mut s, &mut d);
    let a = s.appsession?;
    if ctx.has_stick_table {
        return Some(explain(w, "this section already has a stick-table: add 'stick store-response res.cook(NAME)' and 'stick on req.cook(NAME)' rules for it"));
    }
    let mut lines = a.modern_lines();
    if a.prefix {
        lines.push(format!("# fulcrum migrate: 'appsession … prefix' has no modern form; the rules above match the cookie named exactly '{}'", a.cookie));
    }
    Some(Rewrite::Lines(lines))
}

/// `reqadd Name:\ value [cond]` → `http-request add-header Name value [cond]`.
fn add_header(k: &str, args: &[String]) -> Option<Rewrite> {
    let dir = if k == "reqadd" {
        "http-request"
    } else {
        "http-response"
    };
    let (name, value) = args.first()?.split_once(':')?;
    let cond = rest_words(args.get(1..).unwrap_or_default());
    Some(Rewrite::Lines(vec![format!(
        "{dir} add-header {} {}{cond}",
        quote(name.trim()),
        quote(&lf_escape(value.trim()))
    )]))
}

fn del_header(k: &str, w: &[String]) -> Option<Rewrite> {
    let dir = if k.starts_with("req") {
        "http-request"
    } else {
        "http-response"
    };
    let re = w.get(1)?;
    match header_regex(re) {
        Some((name, None)) => Some(Rewrite::Lines(vec![format!(
            "{dir} del-header {}{}",
            quote(&name),
            rest_words(&w[2..])
        )])),
        _ => Some(explain(
            w,
            &format!("use '{dir} del-header NAME' (this pattern does not name one header)"),
        )),
    }
}

/// `reqrep SEARCH REPLACE [cond]` on a header line → `replace-header`; on the request line
/// (`^([^ :]*) PATH…` → `\1 …`) → `replace-uri`.
fn replace(k: &str, w: &[String]) -> Option<Rewrite> {
    let (search, repl) = (w.get(1)?, w.get(2)?);
    let dir = if k.starts_with("req") {
        "http-request"
    } else {
        "http-response"
    };
    let icase = if k.contains("irep") { "(?i)" } else { "" };
    let cond = rest_words(&w[3..]);
    if let Some((name, value_re)) = header_regex(search) {
        let prefix_len = name.len() + 1;
        let repl_value = repl
            .get(..prefix_len)
            .filter(|p| p.eq_ignore_ascii_case(&format!("{name}:")))
            .map(|_| repl[prefix_len..].trim_start());
        if let Some(v) = repl_value {
            let re = format!("{icase}{}", value_re.unwrap_or_else(|| "^(.*)".into()));
            return Some(Rewrite::Lines(vec![format!(
                "{dir} replace-header {} {} {}{cond}",
                quote(&name),
                quote(&re),
                quote(&lf_escape(v))
            )]));
        }
    }
    if dir == "http-request" {
        let uri_re = ["^([^ :]*) ", "^([^ :]+) ", "^([^: ]*) ", "^([^: ]+) "]
            .iter()
            .find_map(|p| search.strip_prefix(p));
        let uri_repl = repl.strip_prefix("\\1 ");
        if let (Some(s), Some(r)) = (uri_re, uri_repl) {
            if !s.contains(' ') && !r.contains(' ') && !r.contains("\\1") {
                let r = shift_backrefs(r);
                return Some(Rewrite::Lines(vec![format!(
                    "http-request replace-uri {} {}{cond}",
                    quote(&format!("{icase}^{s}")),
                    quote(&lf_escape(&r))
                )]));
            }
        }
    }
    Some(explain(
        w,
        &format!("write it as '{dir} replace-header', 'replace-path' or 'replace-uri' by hand"),
    ))
}

/// `reqdeny`/`reqallow`/`reqtarpit`/`reqsetbe`/`rspdeny` on one header → a rule with an
/// anonymous ACL on that header.
fn filter(k: &str, w: &[String]) -> Option<Rewrite> {
    let re = w.get(1)?;
    let req = k.starts_with("req");
    let icase = k.contains("req i") || k.starts_with("reqi") || k.starts_with("rspi");
    let base = k
        .trim_start_matches("req")
        .trim_start_matches("rsp")
        .trim_start_matches('i');
    let (action, rest) = match base {
        "setbe" => (format!("use_backend {}", quote(w.get(2)?)), &w[3..]),
        "pass" => {
            return Some(explain(
                w,
                "it only stopped other filters on matching lines; remove it",
            ))
        }
        other if req => (format!("http-request {other}"), &w[2..]),
        other => (format!("http-response {other}"), &w[2..]),
    };
    let Some((name, value)) = header_regex(re) else {
        return Some(explain(
            w,
            &format!(
                "write '{action} if {{ … }}' with an ACL on the header or request line it matched"
            ),
        ));
    };
    let fetch = format!("{}.fhdr({name})", if req { "req" } else { "res" });
    let acl = match value {
        None => format!("{{ {fetch} -m found }}"),
        Some(v) => format!(
            "{{ {fetch}{} -m reg {} }}",
            if icase { " -i" } else { "" },
            quote(&v)
        ),
    };
    let cond = match rest.first().map(String::as_str) {
        None => String::new(),
        Some("if") => rest_words(&rest[1..]),
        Some("unless") if rest.len() == 2 => format!(" !{}", quote(&rest[1])),
        _ => {
            return Some(explain(
                w,
                &format!("write '{action} if {acl} …' combining its condition by hand"),
            ))
        }
    };
    Some(Rewrite::Lines(vec![format!("{action} if {acl}{cond}")]))
}

/// `^Name:…` → the header name and the value regex (`None`: any value).
fn header_regex(re: &str) -> Option<(String, Option<String>)> {
    let r = re.strip_prefix('^')?;
    let n = r
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(r.len());
    let (name, rest) = r.split_at(n);
    let rest = rest.strip_prefix(':')?;
    if name.is_empty() {
        return None;
    }
    let mut v = rest;
    for ws in ["[ \\t]*", "[\\t ]*", "\\s*", "\\s+", " *", " +", " ?", " "] {
        if let Some(x) = v.strip_prefix(ws) {
            v = x;
            break;
        }
    }
    let value = match v {
        "" | ".*" | "(.*)" => None,
        v => Some(format!("^{v}")),
    };
    Some((name.to_string(), value))
}

/// `\2` → `\1`, `\3` → `\2`, …: the request-line method group is gone.
fn shift_backrefs(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' {
            if let Some(d) = chars
                .peek()
                .and_then(|d| d.to_digit(10))
                .filter(|d| *d >= 2)
            {
                chars.next();
                out.push(char::from_digit(d - 1, 10).unwrap_or('0'));
            }
        }
    }
    out
}

/// A literal text used where HAProxy expects a log-format string.
fn lf_escape(s: &str) -> String {
    s.replace('%', "%%")
}

/// A word written so that HAProxy's reader gives it back unchanged.
pub fn quote(w: &str) -> String {
    let plain = !w.is_empty()
        && !w
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b"#\"'\\$".contains(&b));
    if plain {
        w.to_string()
    } else if !w.contains('\'') && !w.contains(['\r', '\n', '\t']) {
        format!("'{w}'")
    } else {
        let mut s = String::from("\"");
        for c in w.chars() {
            match c {
                '"' | '\\' | '$' => {
                    s.push('\\');
                    s.push(c);
                }
                '\r' => s.push_str("\\r"),
                '\n' => s.push_str("\\n"),
                '\t' => s.push_str("\\t"),
                c => s.push(c),
            }
        }
        s.push('"');
        s
    }
}

/// Splits a line into indentation, body and tail (spaces + `#` comment + spaces).
fn split_line(line: &str) -> (&str, &str, &str) {
    let indent_len = line.len() - line.trim_start().len();
    let (mut sq, mut dq, mut esc) = (false, false, false);
    let mut comment = line.len();
    for (i, c) in line.char_indices().skip_while(|(i, _)| *i < indent_len) {
        match c {
            _ if esc => esc = false,
            '\\' if !sq => esc = true,
            '\'' if !dq => sq = !sq,
            '"' if !sq => dq = !dq,
            '#' if !sq && !dq => {
                comment = i;
                break;
            }
            _ => {}
        }
    }
    let body_end = line[..comment].trim_end().len().max(indent_len);
    (
        &line[..indent_len],
        &line[indent_len..body_end],
        &line[body_end..],
    )
}

fn apply(chunk: &str, rw: &Rewrite, out: &mut String) {
    let (line, ending) = match chunk.strip_suffix("\r\n") {
        Some(l) => (l, "\r\n"),
        None => chunk.strip_suffix('\n').map_or((chunk, ""), |l| (l, "\n")),
    };
    let (indent, body, tail) = split_line(line);
    let nl = if ending.is_empty() { "\n" } else { ending };
    match rw {
        Rewrite::Keyword(new) => {
            let first_end = body.find(char::is_whitespace).unwrap_or(body.len());
            out.push_str(&format!(
                "{indent}{new}{}{tail}{ending}",
                &body[first_end..]
            ));
        }
        Rewrite::Replace { from, to } => {
            out.push_str(&format!(
                "{indent}{}{tail}{ending}",
                body.replacen(from.as_str(), to, 1)
            ));
        }
        Rewrite::Lines(lines) => {
            for (i, l) in lines.iter().enumerate() {
                let (t, e) = if i == 0 {
                    (tail, if lines.len() == 1 { ending } else { nl })
                } else {
                    ("", if i + 1 == lines.len() { ending } else { nl })
                };
                out.push_str(&format!("{indent}{l}{t}{e}"));
            }
        }
    }
}
