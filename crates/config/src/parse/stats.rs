//! `stats …` in proxy sections (configuration.txt §4.2 "stats"). As in HAProxy, any
//! of `uri`, `realm`, `auth`, `refresh`, `scope`, `hide-version`, `show-*` alone
//! enables the page, at `/haproxy?stats` unless `stats uri` says otherwise.

use super::keywords::{self, B, F};
use super::value::{parse_time, TimeUnit};
use crate::diag::{closest, Diagnostic, Diagnostics, Span};
use crate::model::Proxy;

const SUBS: &[&str] = &[
    "enable",
    "uri",
    "realm",
    "auth",
    "refresh",
    "hide-version",
    "show-node",
    "show-desc",
    "show-legends",
    "show-modules",
    "scope",
    "admin",
    "http-request",
    "bind-process",
];

/// Words after `stats`.
pub(crate) fn parse(args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    let Some(sub) = args.first().map(String::as_str) else {
        d.push(
            Diagnostic::alert(span, "'stats' expects a keyword")
                .with_hint(format!("use one of: {}", SUBS.join(", "))),
        );
        return;
    };
    let rest = &args[1..];
    let one = |d: &mut Diagnostics, what: &str| -> Option<String> {
        let v = rest.first().cloned();
        if v.is_none() {
            d.push(Diagnostic::alert(
                span,
                format!("'stats {sub}' expects {what}"),
            ));
        }
        v
    };
    let s = &mut p.stats;
    match sub {
        "enable" => s.enable = true,
        "uri" => {
            if let Some(u) = one(d, "a URI prefix, e.g. '/stats'") {
                s.uri = Some(u);
                s.enable = true;
            }
        }
        "realm" => {
            if let Some(r) = one(d, "a realm") {
                // HAProxy joins the remaining words: `stats realm My\ Stats` is one word, `My Stats` two.
                s.realm = Some(
                    std::iter::once(r)
                        .chain(rest[1..].iter().cloned())
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                s.enable = true;
            }
        }
        "auth" => {
            if let Some(a) = one(d, "'user:password'") {
                match a.split_once(':') {
                    Some((u, pw)) if !u.is_empty() => {
                        s.auth.push((u.to_string(), pw.to_string()));
                        s.enable = true;
                    }
                    _ => d.push(
                        Diagnostic::alert(
                            span,
                            format!("'stats auth' expects 'user:password', found '{a}'"),
                        )
                        .with_hint(format!("write 'stats auth {a}:PASSWORD'")),
                    ),
                }
            }
        }
        "refresh" => {
            if let Some(t) = one(d, "a delay, e.g. '10s'") {
                // A bare number is seconds here, unlike timeouts.
                match parse_time(&t, TimeUnit::Seconds) {
                    Ok(v) => {
                        s.refresh = Some(v);
                        s.enable = true;
                    }
                    Err(e) => d.push(Diagnostic::alert(span, format!("'stats refresh': {e}"))),
                }
            }
        }
        // As HAProxy documents, each of these alone enables the statistics page.
        "hide-version" => {
            s.hide_version = true;
            s.enable = true;
        }
        "show-legends" => {
            s.show_legends = true;
            s.enable = true;
        }
        "show-modules" => {
            s.show_modules = true;
            s.enable = true;
        }
        "show-node" => {
            s.show_node = Some(rest.first().cloned());
            s.enable = true;
        }
        "show-desc" => {
            s.show_desc = Some((!rest.is_empty()).then(|| rest.join(" ")));
            s.enable = true;
        }
        "scope" => {
            if let Some(sc) = one(d, "a proxy name or '.'") {
                s.scope.push(sc);
                s.enable = true;
            }
        }
        "bind-process" => d.push(
            Diagnostic::warning(
                span,
                "'stats bind-process' is not supported anymore since HAProxy 2.5; ignored",
            )
            .with_hint("remove the line"),
        ),
        "admin" | "http-request" => {
            if !keywords::allowed(&format!("'stats {sub}'"), F | B, p, span, d) {
                return;
            }
            if sub == "admin" {
                admin(rest, span, p, d);
            } else {
                match crate::rules::parse_http_request(rest, span) {
                    Ok(r) => p.stats.http_request.push(r),
                    Err(e) => d.push(e),
                }
            }
        }
        other => d.push(unknown(other, span)),
    }
}

fn admin(rest: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    match rest.first().map(String::as_str) {
        Some("if" | "unless") => match crate::rules::parse_condition(rest, span) {
            Ok(c) => p.stats.admin = Some(c),
            Err(e) => d.push(e),
        },
        _ => d.push(
            Diagnostic::alert(span, "'stats admin' requires a condition")
                .with_hint("write 'stats admin if TRUE' or 'stats admin if LOCALHOST'"),
        ),
    }
}

/// An unknown `stats` keyword: a typo, or a keyword glued to its value (`uri/admin?stats`).
fn unknown(word: &str, span: &Span) -> Diagnostic {
    let diag = Diagnostic::alert(span, format!("unknown 'stats' keyword '{word}'"));
    if let Some(sub) = SUBS.iter().find(|s| {
        word.len() > s.len()
            && word.starts_with(**s)
            && !word[s.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
    }) {
        let value = word[sub.len()..].trim_start_matches([':', '=']);
        return diag.with_hint(format!(
            "did you mean 'stats {sub} {value}'? A space is missing"
        ));
    }
    match closest(word, SUBS.iter().copied()) {
        Some(s) => diag.with_hint(format!("did you mean 'stats {s}'?")),
        None => diag.with_hint(format!("use one of: {}", SUBS.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProxyKind;
    use std::time::Duration;

    fn run(line: &str, p: &mut Proxy) -> Diagnostics {
        let mut d = Diagnostics::default();
        let w: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse(&w, &Span::new("t", 3), p, &mut d);
        d
    }

    #[test]
    fn stats_settings() {
        let mut p = Proxy {
            kind: ProxyKind::Listen,
            ..Proxy::default()
        };
        for l in [
            "uri /admin?stats",
            "realm Haproxy stats",
            "auth a:b",
            "auth c:d",
            "refresh 30",
            "hide-version",
            "admin if TRUE",
        ] {
            assert!(run(l, &mut p).items.is_empty(), "{l}");
        }
        let s = &p.stats;
        assert!(s.enable && s.hide_version && s.admin.is_some());
        assert_eq!(s.uri.as_deref(), Some("/admin?stats"));
        assert_eq!(s.realm.as_deref(), Some("Haproxy stats"));
        assert_eq!(s.auth.len(), 2);
        assert_eq!(s.refresh, Some(Duration::from_secs(30)));
    }

    #[test]
    fn glued_uri_suggests_the_split() {
        let mut p = Proxy::default();
        let d = run("uri/admin?stats", &mut p);
        assert_eq!(d.items.len(), 1);
        assert!(d.items[0].is_error());
        assert_eq!(
            d.items[0].message,
            "unknown 'stats' keyword 'uri/admin?stats'"
        );
        assert_eq!(
            d.items[0].hint.as_deref(),
            Some("did you mean 'stats uri /admin?stats'? A space is missing")
        );
        let d = run("hide-versoin", &mut p);
        assert_eq!(
            d.items[0].hint.as_deref(),
            Some("did you mean 'stats hide-version'?")
        );
    }

    #[test]
    fn admin_not_in_defaults() {
        let mut p = Proxy::default();
        let d = run("admin if TRUE", &mut p);
        assert!(d.items[0].is_error());
        assert!(d.items[0].message.contains("not allowed in 'defaults'"));
    }
}
