//! ACL definitions and conditions (configuration.txt §7.1, §7.2).

use super::sample::{
    check_fetch, parse_converters, split_calls, FetchDef, SampleExpr, SmpType, FETCHES,
};
use crate::diag::{closest, Diagnostic, Span};

/// How an ACL compares a fetched sample with its patterns (`-m METHOD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchMethod {
    Found,
    Bool,
    Int,
    Ip,
    Bin,
    Len,
    Str,
    Sub,
    Reg,
    Beg,
    End,
    Dir,
    Dom,
}

impl MatchMethod {
    pub const ALL: &'static [(&'static str, MatchMethod)] = &[
        ("found", MatchMethod::Found),
        ("bool", MatchMethod::Bool),
        ("int", MatchMethod::Int),
        ("ip", MatchMethod::Ip),
        ("bin", MatchMethod::Bin),
        ("len", MatchMethod::Len),
        ("str", MatchMethod::Str),
        ("sub", MatchMethod::Sub),
        ("reg", MatchMethod::Reg),
        ("beg", MatchMethod::Beg),
        ("end", MatchMethod::End),
        ("dir", MatchMethod::Dir),
        ("dom", MatchMethod::Dom),
    ];

    pub fn from_name(name: &str) -> Option<MatchMethod> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The method used when an ACL names none: the fetch's output type.
    pub fn default_for(ty: SmpType) -> MatchMethod {
        match ty {
            SmpType::Bool => MatchMethod::Bool,
            SmpType::Int => MatchMethod::Int,
            SmpType::Ip => MatchMethod::Ip,
            SmpType::Str => MatchMethod::Str,
            SmpType::Bin => MatchMethod::Bin,
        }
    }
}

/// `acl NAME FETCH[,CONV…] [-i] [-f FILE] [-m METHOD] [-n] [-M] [-u ID] [--] VALUE…`,
/// or the inside of an anonymous `{ … }` ACL (then `name` is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclDef {
    pub name: String,
    pub span: Span,
    /// The fetch with a suffix such as `_beg` removed (`hdr_beg(host)` → `hdr(host)`).
    pub expr: SampleExpr,
    pub method: MatchMethod,
    /// The fetch's own output type, before converters.
    pub fetch_type: SmpType,
    /// `-i`: patterns compare case-insensitively.
    pub icase: bool,
    /// `-f FILE`: one pattern per line, read at load, relative to the configuration.
    pub files: Vec<String>,
    /// `-M`: the `-f` files are map files (only the key column is a pattern).
    pub map_files: bool,
    /// `-n`: no DNS resolution of IP patterns (we never resolve, so only recorded).
    pub no_dns: bool,
    pub unique_id: Option<String>,
    pub patterns: Vec<String>,
}

/// Suffixes that imply a match method on a fetch name (`hdr_beg`, `path_end`, `url_sub` …).
const SUFFIXES: &[&str] = &[
    "beg", "end", "sub", "reg", "dom", "dir", "len", "str", "found",
];

fn resolve_fetch(name: &str) -> Option<(&'static FetchDef, Option<MatchMethod>)> {
    if let Some(d) = FETCHES.iter().find(|d| d.name == name) {
        return Some((d, None));
    }
    if let Some((_, counter)) = super::stick::stick_fetch(name) {
        return Some((super::stick::stick_def(counter), None));
    }
    let (base, suffix) = name.rsplit_once('_')?;
    if !SUFFIXES.contains(&suffix) {
        return None;
    }
    let d = FETCHES.iter().find(|d| d.name == base)?;
    Some((d, MatchMethod::from_name(suffix)))
}

/// Parses `FETCH [flags] VALUE…` (everything after the ACL name).
pub fn parse_acl_body(name: &str, words: &[String], span: &Span) -> Result<AclDef, Diagnostic> {
    let Some(first) = words.first() else {
        return Err(Diagnostic::alert(
            span,
            format!("acl '{name}' needs a sample fetch"),
        ));
    };
    let calls = split_calls(first).map_err(|e| Diagnostic::alert(span, e))?;
    let mut calls = calls.into_iter();
    let Some((fname, fargs)) = calls.next() else {
        return Err(Diagnostic::alert(span, "empty sample expression"));
    };
    let (def, implied) = match resolve_fetch(&fname) {
        Some(x) => x,
        None => {
            // Re-use the plain fetch check for its message and suggestion.
            let stick = super::stick::stick_names();
            let names = FETCHES
                .iter()
                .map(|d| d.name)
                .chain([
                    "hdr_beg", "hdr_end", "hdr_sub", "hdr_reg", "hdr_dom", "path_beg", "path_end",
                    "url_sub",
                ])
                .chain(stick.iter().map(String::as_str));
            let mut d = Diagnostic::alert(span, format!("unknown sample fetch '{fname}'"));
            if let Some(s) = closest(&fname, names) {
                d = d.with_hint(format!("did you mean '{s}'?"));
            }
            return Err(d);
        }
    };
    let full_name = implied.is_none();
    check_fetch(if full_name { &fname } else { def.name }, fargs.len(), span)?;
    let convs = parse_converters(calls, span)?;
    // `hdr()` follows the direction it is used in, but its ACL derivatives
    // (`hdr_beg` …) always read the request (configuration.txt `hdr`).
    let fetch = if full_name {
        fname.as_str()
    } else if def.name == "hdr" {
        "req.hdr"
    } else {
        def.name
    };
    let expr = SampleExpr {
        fetch: fetch.to_string(),
        args: fargs,
        convs,
        text: first.clone(),
    };
    // A stick-table converter last (`src,table_http_req_rate(t)`) gives a number.
    let out = expr
        .convs
        .last()
        .and_then(|c| super::sample::converter_out(&c.name))
        .unwrap_or(def.out);
    let mut acl = AclDef {
        name: name.to_string(),
        span: span.clone(),
        method: implied.unwrap_or(MatchMethod::default_for(out)),
        fetch_type: out,
        expr,
        icase: false,
        files: Vec::new(),
        map_files: false,
        no_dns: false,
        unique_id: None,
        patterns: Vec::new(),
    };
    let mut explicit_method = false;
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if !w.starts_with('-') || w == "-" {
            break;
        }
        let mut value = || {
            i += 1;
            words
                .get(i)
                .cloned()
                .ok_or_else(|| Diagnostic::alert(span, format!("ACL flag '{w}' needs an argument")))
        };
        match w.as_str() {
            "--" => {
                i += 1;
                break;
            }
            "-i" => acl.icase = true,
            "-n" => acl.no_dns = true,
            "-M" => acl.map_files = true,
            "-f" => acl.files.push(value()?),
            "-u" => acl.unique_id = Some(value()?),
            "-m" => {
                explicit_method = true;
                let m = value()?;
                acl.method = MatchMethod::from_name(&m).ok_or_else(|| {
                    let mut d = Diagnostic::alert(span, format!("unknown match method '{m}'"));
                    if let Some(s) = closest(&m, MatchMethod::ALL.iter().map(|(n, _)| *n)) {
                        d = d.with_hint(format!("did you mean '{s}'?"));
                    }
                    d
                })?;
            }
            other => {
                return Err(
                    Diagnostic::alert(span, format!("'{other}' is not a valid ACL option"))
                        .with_hint("write '--' before a value starting with '-'"),
                )
            }
        }
        i += 1;
    }
    acl.patterns = words.get(i..).unwrap_or_default().to_vec();
    // HTTP methods compare case-insensitively in ACLs.
    if def.name == "method" {
        acl.icase = true;
    }
    // `var()` has no fixed type: integer-looking patterns compare as integers.
    if def.name == "var" && implied.is_none() && !explicit_method {
        let int_like = |p: &String| {
            matches!(p.as_str(), "eq" | "ge" | "gt" | "le" | "lt")
                || p.split(':')
                    .all(|x| x.is_empty() || x.parse::<i64>().is_ok())
        };
        if !acl.patterns.is_empty() && acl.patterns.iter().all(int_like) {
            acl.method = MatchMethod::Int;
        }
    }
    Ok(acl)
}

/// One possibly negated ACL reference in a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondTerm {
    pub negated: bool,
    pub acl: AclRef,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AclRef {
    /// A named ACL of the proxy, or a predefined one (`TRUE`, `METH_GET`, …).
    Named(String),
    /// `{ FETCH … }`.
    Anonymous(Box<AclDef>),
}

/// `if|unless TERM…`: an OR of AND-groups, `unless` negating the whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub span: Span,
    pub unless: bool,
    /// OR of these groups; each group is an AND of its terms.
    pub groups: Vec<Vec<CondTerm>>,
}

/// Parses words starting with `if` or `unless`.
pub fn parse_condition(words: &[String], span: &Span) -> Result<Condition, Diagnostic> {
    let unless = match words.first().map(String::as_str) {
        Some("if") => false,
        Some("unless") => true,
        Some(w) => {
            return Err(Diagnostic::alert(
                span,
                format!("expected 'if' or 'unless', found '{w}'"),
            ))
        }
        None => return Err(Diagnostic::alert(span, "missing condition")),
    };
    let mut groups = vec![Vec::new()];
    let mut negated = false;
    let mut i = 1;
    while let Some(w) = words.get(i) {
        i += 1;
        let mut w = w.as_str();
        // `!name` and `!{` are accepted like `! name` and `! {`.
        while w.len() > 1 && w.starts_with('!') {
            negated = !negated;
            w = &w[1..];
        }
        match w {
            "!" => negated = !negated,
            "||" | "or" => {
                if negated || groups.last().is_none_or(|g| g.is_empty()) {
                    return Err(Diagnostic::alert(
                        span,
                        format!("'{w}' without a term before it"),
                    ));
                }
                groups.push(Vec::new());
            }
            "{" => {
                let start = i;
                let end = words[start..]
                    .iter()
                    .position(|w| w == "}")
                    .map(|p| start + p)
                    .ok_or_else(|| Diagnostic::alert(span, "missing '}' after anonymous ACL"))?;
                let acl = parse_acl_body("", &words[start..end], span)?;
                push_term(&mut groups, &mut negated, AclRef::Anonymous(Box::new(acl)));
                i = end + 1;
            }
            "}" => return Err(Diagnostic::alert(span, "'}' without '{'")),
            name => {
                push_term(&mut groups, &mut negated, AclRef::Named(name.to_string()));
            }
        }
    }
    if negated || groups.iter().any(Vec::is_empty) {
        return Err(Diagnostic::alert(
            span,
            "incomplete condition: an ACL name is missing",
        ));
    }
    Ok(Condition {
        span: span.clone(),
        unless,
        groups,
    })
}

fn push_term(groups: &mut [Vec<CondTerm>], negated: &mut bool, acl: AclRef) {
    if let Some(g) = groups.last_mut() {
        g.push(CondTerm {
            negated: std::mem::take(negated),
            acl,
        });
    }
}

/// Splits `words` at the first `if`/`unless`: (before, condition).
pub fn split_condition(
    words: &[String],
    span: &Span,
) -> Result<(Vec<String>, Option<Condition>), Diagnostic> {
    match words.iter().position(|w| w == "if" || w == "unless") {
        Some(p) => Ok((
            words[..p].to_vec(),
            Some(parse_condition(&words[p..], span)?),
        )),
        None => Ok((words.to_vec(), None)),
    }
}
