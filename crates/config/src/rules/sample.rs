//! Sample expressions `FETCH[(ARGS)][,CONV[(ARGS)]…]` (configuration.txt §7.3) and the
//! tables of known fetches and converters used for arity checks and "did you mean".

use super::stick::{stick_arity, stick_def, stick_fetch, stick_names};
use crate::diag::{closest, Diagnostic, Span};

/// The type a fetch returns; decides an ACL's default match method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmpType {
    Bool,
    Int,
    Ip,
    Str,
    Bin,
}

/// One known fetch: name, argument count bounds, output type.
#[derive(Clone, Copy, Debug)]
pub struct FetchDef {
    pub name: &'static str,
    pub min_args: u8,
    pub max_args: u8,
    pub out: SmpType,
}

const fn f(name: &'static str, min_args: u8, max_args: u8, out: SmpType) -> FetchDef {
    FetchDef {
        name,
        min_args,
        max_args,
        out,
    }
}

use SmpType::{Bin, Bool, Int, Ip, Str};

/// Every fetch the evaluator implements (aliases included).
pub const FETCHES: &[FetchDef] = &[
    f("src", 0, 0, Ip),
    f("src_port", 0, 0, Int),
    f("dst", 0, 0, Ip),
    f("dst_port", 0, 0, Int),
    f("fe_name", 0, 0, Str),
    f("fe_id", 0, 0, Int),
    f("be_name", 0, 0, Str),
    f("be_id", 0, 0, Int),
    f("srv_name", 0, 0, Str),
    f("srv_id", 0, 0, Int),
    f("nbsrv", 0, 1, Int),
    f("be_conn", 0, 1, Int),
    f("fe_conn", 0, 1, Int),
    f("connslots", 0, 1, Int),
    f("srv_conn", 1, 1, Int),
    f("srv_is_up", 1, 1, Bool),
    f("queue", 0, 1, Int),
    f("avg_queue", 0, 1, Int),
    f("always_true", 0, 0, Bool),
    f("always_false", 0, 0, Bool),
    f("method", 0, 0, Str),
    f("path", 0, 0, Str),
    f("pathq", 0, 0, Str),
    f("url", 0, 0, Str),
    f("url_ip", 0, 0, Ip),
    f("url_port", 0, 0, Int),
    f("url_param", 0, 2, Str),
    f("urlp", 0, 2, Str),
    f("urlp_val", 0, 2, Int),
    f("query", 0, 0, Str),
    f("base", 0, 0, Str),
    f("base32", 0, 0, Int),
    f("hdr", 0, 2, Str),
    f("req.hdr", 0, 2, Str),
    f("req.fhdr", 0, 2, Str),
    f("hdr_cnt", 0, 1, Int),
    f("req.hdr_cnt", 0, 1, Int),
    f("req.fhdr_cnt", 0, 1, Int),
    f("hdr_val", 0, 2, Int),
    f("req.hdr_val", 0, 2, Int),
    f("hdr_ip", 0, 2, Ip),
    f("req.hdr_ip", 0, 2, Ip),
    f("req.hdrs", 0, 0, Str),
    f("req.hdrs_len", 0, 0, Int),
    f("cook", 0, 1, Str),
    f("req.cook", 0, 1, Str),
    f("cook_cnt", 0, 1, Int),
    f("req.cook_cnt", 0, 1, Int),
    f("cook_val", 0, 1, Int),
    f("req.cook_val", 0, 1, Int),
    f("res.hdr", 0, 2, Str),
    f("shdr", 0, 2, Str),
    f("res.fhdr", 0, 2, Str),
    f("res.hdr_cnt", 0, 1, Int),
    f("shdr_cnt", 0, 1, Int),
    f("res.hdr_val", 0, 2, Int),
    f("shdr_val", 0, 2, Int),
    f("res.cook", 0, 1, Str),
    f("scook", 0, 1, Str),
    f("res.cook_cnt", 0, 1, Int),
    f("scook_cnt", 0, 1, Int),
    f("status", 0, 0, Int),
    f("req.ver", 0, 0, Str),
    f("req_ver", 0, 0, Str),
    f("res.ver", 0, 0, Str),
    f("resp_ver", 0, 0, Str),
    f("req.body", 0, 0, Bin),
    f("req.body_len", 0, 0, Int),
    f("res.body", 0, 0, Bin),
    f("res.body_len", 0, 0, Int),
    f("req.len", 0, 0, Int),
    f("req_len", 0, 0, Int),
    f("req.payload", 2, 2, Bin),
    f("res.len", 0, 0, Int),
    f("res.payload", 2, 2, Bin),
    f("req.ssl_sni", 0, 0, Str),
    f("req_ssl_sni", 0, 0, Str),
    f("req.ssl_hello_type", 0, 0, Int),
    f("req_ssl_hello_type", 0, 0, Int),
    f("ssl_fc_sni", 0, 0, Str),
    f("ssl_fc", 0, 0, Bool),
    f("rdp_cookie", 0, 1, Str),
    f("req.rdp_cookie", 0, 1, Str),
    f("rdp_cookie_cnt", 0, 1, Int),
    f("req.rdp_cookie_cnt", 0, 1, Int),
    f("http_auth", 1, 1, Bool),
    f("http_auth_group", 1, 1, Str),
    f("http_first_req", 0, 0, Bool),
    f("req.proto_http", 0, 0, Bool),
    f("req_proto_http", 0, 0, Bool),
    f("wait_end", 0, 0, Bool),
    f("var", 1, 2, Str),
    f("env", 1, 1, Str),
    f("date", 0, 2, Int),
    f("rand", 0, 1, Int),
    f("uuid", 0, 1, Str),
    f("unique-id", 0, 0, Str),
    f("capture.req.hdr", 1, 1, Str),
    f("capture.res.hdr", 1, 1, Str),
    f("capture.req.method", 0, 0, Str),
    f("capture.req.uri", 0, 0, Str),
    f("capture.req.ver", 0, 0, Str),
    f("capture.res.ver", 0, 0, Str),
    f("str", 1, 1, Str),
    f("int", 1, 1, Int),
    f("bool", 1, 1, Bool),
    f("ipv4", 1, 1, Ip),
    f("ipv6", 1, 1, Ip),
    f("bin", 1, 1, Bin),
    f("table_cnt", 0, 1, Int),
    f("table_avl", 0, 1, Int),
];

/// One known converter: name and argument count bounds.
#[derive(Clone, Copy, Debug)]
pub struct ConvDef {
    pub name: &'static str,
    pub min_args: u8,
    pub max_args: u8,
}

const fn c(name: &'static str, min_args: u8, max_args: u8) -> ConvDef {
    ConvDef {
        name,
        min_args,
        max_args,
    }
}

/// Every converter the evaluator implements, except the `map_*` family
/// (recognised by [`is_map_converter`]).
pub const CONVERTERS: &[ConvDef] = &[
    c("lower", 0, 0),
    c("upper", 0, 0),
    c("regsub", 2, 3),
    c("word", 2, 3),
    c("field", 2, 3),
    c("bytes", 1, 2),
    c("base64", 0, 0),
    c("b64dec", 0, 0),
    c("hex", 0, 0),
    c("length", 0, 0),
    c("ipmask", 1, 2),
    c("concat", 0, 3),
    c("json", 0, 1),
    c("url_dec", 0, 1),
    c("add", 1, 1),
    c("sub", 1, 1),
    c("mul", 1, 1),
    c("div", 1, 1),
    c("mod", 1, 1),
    c("and", 1, 1),
    c("or", 1, 1),
    c("xor", 1, 1),
    c("neg", 0, 0),
    c("not", 0, 0),
    c("bool", 0, 0),
    c("odd", 0, 0),
    c("even", 0, 0),
    c("strcmp", 1, 1),
    c("secure_memcmp", 1, 1),
    c("sdbm", 0, 1),
    c("djb2", 0, 1),
    c("wt6", 0, 1),
    c("crc32", 0, 1),
    c("xxh3", 0, 1),
    c("ltrim", 1, 1),
    c("http_date", 0, 2),
    c("utime", 1, 2),
    c("ltime", 1, 2),
    c("rtrim", 1, 1),
    c("url_enc", 0, 1),
    c("hex2i", 0, 0),
    c("cut_crlf", 0, 0),
    c("host_only", 0, 0),
    c("port_only", 0, 0),
    c("be2dec", 2, 3),
    c("le2dec", 2, 3),
    c("sha1", 0, 0),
    c("sha2", 0, 1),
    c("set-var", 1, 5),
    c("unset-var", 1, 1),
    // Stick-table lookups of the input sample (configuration.txt §7.3.1).
    c("in_table", 1, 1),
    c("table_bytes_in_rate", 1, 1),
    c("table_bytes_out_rate", 1, 1),
    c("table_conn_cnt", 1, 1),
    c("table_conn_cur", 1, 1),
    c("table_conn_rate", 1, 1),
    c("table_gpc", 2, 2),
    c("table_gpc_rate", 2, 2),
    c("table_gpc0", 1, 1),
    c("table_gpc0_rate", 1, 1),
    c("table_gpc1", 1, 1),
    c("table_gpc1_rate", 1, 1),
    c("table_gpt", 2, 2),
    c("table_gpt0", 1, 1),
    c("table_http_err_cnt", 1, 1),
    c("table_http_err_rate", 1, 1),
    c("table_http_fail_cnt", 1, 1),
    c("table_http_fail_rate", 1, 1),
    c("table_http_req_cnt", 1, 1),
    c("table_http_req_rate", 1, 1),
    c("table_kbytes_in", 1, 1),
    c("table_kbytes_out", 1, 1),
    c("table_server_id", 1, 1),
    c("table_sess_cnt", 1, 1),
    c("table_sess_rate", 1, 1),
    c("table_trackers", 1, 1),
];

/// The output type of a converter that changes it to a number or a boolean
/// (the stick-table lookups); an ACL ending with one matches that type.
pub fn converter_out(name: &str) -> Option<SmpType> {
    match name {
        "in_table" => Some(Bool),
        "hex2i" | "port_only" => Some(Int),
        n if n.starts_with("table_") => Some(Int),
        _ => None,
    }
}

/// Map match kinds accepted after `map_` (configuration.txt §7.3.1 `map`).
pub const MAP_MATCHES: &[&str] = &[
    "str", "beg", "end", "sub", "dom", "dir", "reg", "regm", "ip", "int",
];

/// `map`, `map_<match>` or `map_<match>_<out>` with `<out>` one of `str`, `int`, `ip`.
pub fn is_map_converter(name: &str) -> bool {
    if name == "map" {
        return true;
    }
    let Some(rest) = name.strip_prefix("map_") else {
        return false;
    };
    let (m, out) = match rest.split_once('_') {
        Some((m, o)) => (m, Some(o)),
        None => (rest, None),
    };
    MAP_MATCHES.contains(&m) && out.is_none_or(|o| ["str", "int", "ip"].contains(&o))
}

/// Looks a fetch up by name.
pub fn fetch_def(name: &str) -> Option<&'static FetchDef> {
    FETCHES.iter().find(|d| d.name == name)
}

/// One converter call in a sample expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Converter {
    pub name: String,
    pub args: Vec<String>,
}

/// A parsed sample expression. `text` is the expression as written, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleExpr {
    pub fetch: String,
    pub args: Vec<String>,
    pub convs: Vec<Converter>,
    pub text: String,
}

/// Splits `name(args)` calls separated by top-level commas. Arguments keep their
/// backslashes except before `, ( ) ' " \` and may be quoted (HAProxy's second quoting level).
pub(crate) fn split_calls(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut name = String::new();
        while let Some(&ch) = chars.peek() {
            if ch == '(' || ch == ',' {
                break;
            }
            name.push(ch);
            chars.next();
        }
        if name.is_empty() {
            return Err(format!("missing name in '{text}'"));
        }
        let mut args = Vec::new();
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut cur = String::new();
            let mut quote: Option<char> = None;
            let mut closed = false;
            // Whether the argument being read was written at all (`f('')` has one).
            let mut seen = false;
            while let Some(ch) = chars.next() {
                match (quote, ch) {
                    (Some(q), '\\') if chars.peek() == Some(&q) || chars.peek() == Some(&'\\') => {
                        if let Some(n) = chars.next() {
                            cur.push(n);
                        }
                    }
                    (Some(q), _) if ch == q => quote = None,
                    (Some(_), _) => cur.push(ch),
                    (None, '\'' | '"') => {
                        quote = Some(ch);
                        seen = true;
                    }
                    (None, '\\') => match chars.next() {
                        Some(n @ (',' | '(' | ')' | '\'' | '"' | '\\')) => cur.push(n),
                        Some(n) => {
                            cur.push('\\');
                            cur.push(n);
                        }
                        None => cur.push('\\'),
                    },
                    (None, ',') => {
                        args.push(std::mem::take(&mut cur));
                        seen = true;
                    }
                    (None, ')') => {
                        closed = true;
                        break;
                    }
                    (None, _) => cur.push(ch),
                }
            }
            if !closed {
                return Err(format!("missing ')' in '{text}'"));
            }
            // `f()` has no argument, `f(,x)` has an empty first one.
            if seen || !cur.is_empty() {
                args.push(cur);
            }
        }
        out.push((name, args));
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(ch) => return Err(format!("unexpected '{ch}' after ')' in '{text}'")),
        }
    }
    Ok(out)
}

fn arity_error(span: &Span, kind: &str, name: &str, n: usize, min: u8, max: u8) -> Diagnostic {
    let want = if min == max {
        format!("{min}")
    } else {
        format!("{min} to {max}")
    };
    Diagnostic::alert(
        span,
        format!("{kind} '{name}' takes {want} argument(s), {n} given"),
    )
}

/// Checks a converter's name and argument count.
pub(crate) fn check_converter(name: &str, nargs: usize, span: &Span) -> Result<(), Diagnostic> {
    if is_map_converter(name) {
        if !(1..=2).contains(&nargs) {
            return Err(arity_error(span, "converter", name, nargs, 1, 2));
        }
        return Ok(());
    }
    match CONVERTERS.iter().find(|d| d.name == name) {
        Some(d) if (d.min_args as usize..=d.max_args as usize).contains(&nargs) => Ok(()),
        Some(d) => Err(arity_error(
            span,
            "converter",
            name,
            nargs,
            d.min_args,
            d.max_args,
        )),
        None => {
            let names = CONVERTERS.iter().map(|d| d.name).chain(["map", "map_str"]);
            let mut diag = Diagnostic::alert(span, format!("unknown converter '{name}'"));
            if let Some(s) = closest(name, names) {
                diag = diag.with_hint(format!("did you mean '{s}'?"));
            }
            Err(diag)
        }
    }
}

/// Checks a fetch's name and argument count.
pub(crate) fn check_fetch(
    name: &str,
    nargs: usize,
    span: &Span,
) -> Result<&'static FetchDef, Diagnostic> {
    if let Some((source, counter)) = stick_fetch(name) {
        let (min, max) = stick_arity(source, counter);
        if !(min..=max).contains(&nargs) {
            return Err(arity_error(
                span, "fetch", name, nargs, min as u8, max as u8,
            ));
        }
        return Ok(stick_def(counter));
    }
    match fetch_def(name) {
        Some(d) if (d.min_args as usize..=d.max_args as usize).contains(&nargs) => Ok(d),
        Some(d) => Err(arity_error(
            span, "fetch", name, nargs, d.min_args, d.max_args,
        )),
        None => {
            let mut diag = Diagnostic::alert(span, format!("unknown sample fetch '{name}'"));
            let stick = stick_names();
            let names = FETCHES
                .iter()
                .map(|d| d.name)
                .chain(stick.iter().map(String::as_str));
            if let Some(s) = closest(name, names) {
                diag = diag.with_hint(format!("did you mean '{s}'?"));
            }
            Err(diag)
        }
    }
}

pub(crate) fn parse_converters(
    calls: impl Iterator<Item = (String, Vec<String>)>,
    span: &Span,
) -> Result<Vec<Converter>, Diagnostic> {
    calls
        .map(|(name, args)| {
            check_converter(&name, args.len(), span)?;
            Ok(Converter { name, args })
        })
        .collect()
}

/// Parses one sample expression word.
pub fn parse_sample_expr(word: &str, span: &Span) -> Result<SampleExpr, Diagnostic> {
    let calls = split_calls(word).map_err(|e| Diagnostic::alert(span, e))?;
    let mut it = calls.into_iter();
    let Some((fetch, args)) = it.next() else {
        return Err(Diagnostic::alert(span, "empty sample expression"));
    };
    check_fetch(&fetch, args.len(), span)?;
    let convs = parse_converters(it, span)?;
    Ok(SampleExpr {
        fetch,
        args,
        convs,
        text: word.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> Span {
        Span::new("t.cfg", 1)
    }

    #[test]
    fn parses_fetch_args_and_converters() {
        let e = parse_sample_expr("hdr(host,1),lower,map_beg(/x.map,def)", &sp()).unwrap();
        assert_eq!(e.fetch, "hdr");
        assert_eq!(e.args, ["host", "1"]);
        assert_eq!(e.convs.len(), 2);
        assert_eq!(e.convs[1].args, ["/x.map", "def"]);
    }

    #[test]
    fn quoted_and_escaped_args_keep_regex_text() {
        let e = parse_sample_expr(r"path,regsub('^/a\(b',x,g)", &sp()).unwrap();
        assert_eq!(e.convs[0].args, [r"^/a\(b", "x", "g"]);
        let e = parse_sample_expr(r"path,regsub(\.,\,)", &sp()).unwrap();
        assert_eq!(e.convs[0].args, [r"\.", ","]);
    }

    #[test]
    fn unknown_names_suggest() {
        let d = parse_sample_expr("hdrr(host)", &sp()).unwrap_err();
        assert_eq!(d.hint.as_deref(), Some("did you mean 'hdr'?"));
        let d = parse_sample_expr("path,lowr", &sp()).unwrap_err();
        assert_eq!(d.hint.as_deref(), Some("did you mean 'lower'?"));
        assert!(parse_sample_expr("src(1)", &sp()).is_err());
        assert!(parse_sample_expr("path,map_foo(x)", &sp()).is_err());
    }

    use proptest::prelude::*;

    proptest! {
        /// Any argument text survives when single-quoted (with `\'` for quotes).
        #[test]
        fn quoted_arguments_round_trip(a in "[ -~]{0,12}", b in "[ -~]{0,12}") {
            let q = |x: &str| format!("'{}'", x.replace('\\', "\\\\").replace('\'', "\\'"));
            let text = format!("str({}),concat({},,)", q(&a), q(&b));
            let e = parse_sample_expr(&text, &sp()).unwrap();
            prop_assert_eq!(e.args, vec![a]);
            prop_assert_eq!(&e.convs[0].args[0], &b);
        }
    }
}
