//! Lines → model. OWNER: config-model helper, except the submodules `check`, `persist`
//! and `sections`, owned by the config-sections helper.
//!
//! One pass over the reader's lines: a section keyword opens a section, every other
//! line belongs to the open one. Proxies copy their `defaults` when they open, as
//! HAProxy does, so later `defaults` sections never change earlier proxies.

pub mod addr;
mod balance;
mod bind;
pub mod check;
mod finish;
mod global;
mod keywords;
mod legacy;
mod log;
mod options;
pub mod persist;
mod proxy;
pub mod sections;
mod server;
mod stats;
pub mod value;

use crate::diag::{closest, Diagnostic, Diagnostics, Span};
use crate::model::{Config, Proxy, ProxyKind, RawSection};
use crate::reader::SourceLine;

/// Sections another parser owns; their lines are collected as [`RawSection`]s.
const OTHER_SECTIONS: [&str; 11] = [
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "http-errors",
    "ring",
    "program",
    "cache",
    "fcgi-app",
    "log-forward",
    "crt-store",
];

pub(crate) const PROXY_SECTIONS: [&str; 4] = ["defaults", "frontend", "backend", "listen"];

/// Whether `kw` opens a section; the reader and `migrate` ask too, so all agree.
pub(crate) fn is_section_keyword(kw: &str) -> bool {
    kw == "global" || PROXY_SECTIONS.contains(&kw) || OTHER_SECTIONS.contains(&kw)
}

enum Open {
    None,
    Global,
    Proxy(Box<Proxy>),
    Extra(crate::model::sections::ExtraSection, RawSection),
    Other(RawSection),
}

/// The words a line like `bind` or `server` takes after its first argument.
pub(crate) struct OptionWords {
    /// What messages call one of them: "option", "setting".
    pub noun: &'static str,
    /// Words that stand alone.
    pub flags: &'static [&'static str],
    /// Words followed by a value.
    pub valued: &'static [&'static str],
}

/// The value after the valued word `args[i]` on a `what` line. `None` once the word was
/// reported as unknown (with the closest known one as hint) or as missing its value.
pub(crate) fn option_value<'a>(
    words: &OptionWords,
    args: &'a [String],
    i: usize,
    what: &str,
    span: &Span,
    d: &mut Diagnostics,
) -> Option<&'a String> {
    let w = args.get(i)?.as_str();
    if !words.valued.contains(&w) {
        let diag = Diagnostic::alert(span, format!("'{what}': unknown {} '{w}'", words.noun));
        let all = words.flags.iter().chain(words.valued.iter()).copied();
        d.push(match closest(w, all) {
            Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
            None => diag,
        });
        return None;
    }
    let v = args.get(i + 1);
    if v.is_none() {
        d.push(Diagnostic::alert(
            span,
            format!("'{what} … {w}' expects a value"),
        ));
    }
    v
}

/// Parses every line into a [`Config`], pushing every problem found to `d`.
pub fn parse_lines(lines: &[SourceLine], d: &mut Diagnostics) -> Config {
    let mut cfg = Config::default();
    let mut open = Open::None;
    // The defaults a new proxy copies: the last `defaults` section, or HAProxy's built-in ones.
    let mut current_defaults = Proxy::default();
    for line in lines {
        // The reader never yields an empty line; skip one rather than trust it blindly.
        let Some(kw) = line.words.first().map(String::as_str) else {
            continue;
        };
        if is_section_keyword(kw) {
            close(open, &mut cfg, &mut current_defaults, d);
            open = start_section(line, &cfg, &current_defaults, d);
            continue;
        }
        match &mut open {
            Open::None => d.push(out_of_section(line)),
            Open::Global => global::keyword(line, &mut cfg.global, d),
            Open::Proxy(p) => proxy::keyword(line, p, d),
            Open::Extra(s, raw) => {
                sections::section_keyword(s, &line.words, &line.span, d);
                raw.lines.push(line.clone());
            }
            Open::Other(s) => s.lines.push(line.clone()),
        }
    }
    close(open, &mut cfg, &mut current_defaults, d);
    cfg
}

fn out_of_section(line: &SourceLine) -> Diagnostic {
    let kw = &line.words[0];
    let all = PROXY_SECTIONS
        .iter()
        .chain(OTHER_SECTIONS.iter())
        .copied()
        .chain(["global"]);
    let diag = Diagnostic::alert(&line.span, format!("unknown keyword '{kw}' out of section"));
    match closest(kw, all) {
        Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
        None => {
            diag.with_hint("start a section first, e.g. 'global', 'defaults' or 'frontend NAME'")
        }
    }
}

fn close(open: Open, cfg: &mut Config, current_defaults: &mut Proxy, d: &mut Diagnostics) {
    match open {
        Open::None | Open::Global => {}
        Open::Proxy(p) => {
            let mut p = *p;
            finish::finish(&mut p, d);
            if p.kind != ProxyKind::Defaults || p.from.is_some() {
                let base = base_defaults(cfg, p.from.as_deref(), current_defaults);
                p.check.inherit_from(&base.check);
                p.persist.inherit_from(&base.persist);
            }
            if p.kind == ProxyKind::Defaults {
                *current_defaults = p.clone();
                cfg.defaults.push(p);
            } else {
                cfg.proxies.push(p);
            }
        }
        Open::Extra(s, raw) => {
            sections::end_section(&s, d);
            cfg.sections.push(s);
            cfg.other_sections.push(raw);
        }
        Open::Other(s) => cfg.other_sections.push(s),
    }
}

fn base_defaults<'a>(cfg: &'a Config, from: Option<&str>, current: &'a Proxy) -> &'a Proxy {
    from.and_then(|n| cfg.defaults.iter().rev().find(|d| d.name == n))
        .unwrap_or(current)
}

/// Characters HAProxy accepts in proxy and server names.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

fn start_section(line: &SourceLine, cfg: &Config, current: &Proxy, d: &mut Diagnostics) -> Open {
    let w = &line.words;
    let kw = w[0].as_str();
    let span = &line.span;
    if kw == "global" {
        if w.len() > 1 {
            d.push(
                Diagnostic::alert(span, "'global' takes no argument")
                    .with_hint("write 'global' alone on its line"),
            );
        }
        return Open::Global;
    }
    let raw = RawSection {
        kind: kw.to_string(),
        name: w.get(1).cloned(),
        span: span.clone(),
        lines: Vec::new(),
    };
    if let Some(s) = sections::begin_section(w, span, d) {
        return Open::Extra(s, raw);
    }
    if OTHER_SECTIONS.contains(&kw) {
        d.push(Diagnostic::notice(
            span,
            format!("'{kw}' section parsed, not yet supported"),
        ));
        return Open::Other(raw);
    }
    let kind = match kw {
        "defaults" => ProxyKind::Defaults,
        "frontend" => ProxyKind::Frontend,
        "backend" => ProxyKind::Backend,
        _ => ProxyKind::Listen,
    };
    let (name, rest) = match w.get(1).map(String::as_str) {
        Some("from") if kind == ProxyKind::Defaults => (String::new(), &w[1..]),
        Some(n) => (n.to_string(), &w[2..]),
        None if kind == ProxyKind::Defaults => (String::new(), &w[1..]),
        None => {
            d.push(
                Diagnostic::alert(span, format!("'{kw}' needs a name"))
                    .with_hint(format!("write '{kw} NAME'")),
            );
            (String::new(), &w[1..])
        }
    };
    if !name.is_empty() && !valid_name(&name) {
        d.push(
            Diagnostic::alert(span, format!("character not allowed in {kw} name '{name}'"))
                .with_hint("use only letters, digits, '-', '_', '.' and ':'"),
        );
    }
    let mut from = None;
    let mut rest = rest;
    if rest.first().map(String::as_str) == Some("from") {
        match rest.get(1) {
            Some(n)
                if cfg
                    .defaults
                    .iter()
                    .any(|d| !d.name.is_empty() && &d.name == n) =>
            {
                from = Some(n.clone())
            }
            Some(n) => d.push(
                Diagnostic::alert(
                    span,
                    format!("{kw} '{name}': no defaults section named '{n}' before this line"),
                )
                .with_hint(named_defaults_hint(cfg, n)),
            ),
            None => d.push(Diagnostic::alert(
                span,
                "'from' needs the name of a defaults section",
            )),
        }
        rest = rest.get(2..).unwrap_or(&[]);
    }
    // `listen NAME ADDR[,ADDR] [bind options]` was the 1.x form of a bind line.
    let mut legacy_bind = None;
    if let Some(extra) = rest.first() {
        if kind == ProxyKind::Listen || kind == ProxyKind::Frontend {
            legacy_bind = bind::parse(rest, span, "bind", d);
            d.push(
                Diagnostic::warning(
                    span,
                    format!("{kw} '{name}': an address after the name is not supported anymore since HAProxy 2.x; read as a 'bind' line"),
                )
                .with_hint(format!("move it to its own line: 'bind {}'", rest.join(" "))),
            );
        } else {
            d.push(Diagnostic::alert(
                span,
                format!("unexpected '{extra}' after {kw} name"),
            ));
        }
    }
    let base = if kind == ProxyKind::Defaults && from.is_none() {
        Proxy::default()
    } else {
        let mut b = base_defaults(cfg, from.as_deref(), current).clone();
        // Check and persistence settings are merged when the section closes (see `close`).
        b.check = Default::default();
        b.persist = Default::default();
        b
    };
    let mut p = base;
    p.name = name;
    p.span = Some(span.clone());
    p.kind = kind;
    p.from = from;
    p.binds.extend(legacy_bind);
    Open::Proxy(Box::new(p))
}

fn named_defaults_hint(cfg: &Config, n: &str) -> String {
    let names = cfg
        .defaults
        .iter()
        .filter(|d| !d.name.is_empty())
        .map(|d| d.name.as_str());
    match closest(n, names) {
        Some(s) => format!("did you mean '{s}'?"),
        None => "declare 'defaults NAME' above this section".to_string(),
    }
}
