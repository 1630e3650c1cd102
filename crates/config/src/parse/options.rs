//! `option X …` and `no option X` in proxy sections.

use super::keywords::{self, OPTIONS};
use crate::diag::{closest, Diagnostic, Diagnostics, Span};
use crate::model::addr::IpNet;
use crate::model::options::{Forwardfor, HttpLog, HttpMode, Options, Originalto};
use crate::model::Proxy;

/// Boolean options: name → field.
fn flag<'a>(o: &'a mut Options, name: &str) -> Option<&'a mut bool> {
    Some(match name {
        "httpslog" => &mut o.httpslog,
        "tcplog" => &mut o.tcplog,
        "http-pretend-keepalive" => &mut o.pretend_keepalive,
        "abortonclose" => &mut o.abortonclose,
        "persist" => &mut o.persist,
        "allbackups" => &mut o.allbackups,
        "splice-auto" => &mut o.splice_auto,
        "splice-request" => &mut o.splice_request,
        "splice-response" => &mut o.splice_response,
        "log-health-checks" => &mut o.log_health_checks,
        "contstats" => &mut o.contstats,
        "dontlognull" => &mut o.dontlognull,
        "dontlog-normal" => &mut o.dontlog_normal,
        "log-separate-errors" => &mut o.log_separate_errors,
        "logasap" => &mut o.logasap,
        "accept-invalid-http-request" => &mut o.accept_invalid_http_request,
        "accept-invalid-http-response" => &mut o.accept_invalid_http_response,
        "http-ignore-probes" => &mut o.http_ignore_probes,
        "nolinger" => &mut o.nolinger,
        "tcp-smart-accept" => &mut o.tcp_smart_accept,
        "tcp-smart-connect" => &mut o.tcp_smart_connect,
        "independent-streams" | "independant-streams" => &mut o.independent_streams,
        "http-buffer-request" => &mut o.http_buffer_request,
        "http-no-delay" => &mut o.http_no_delay,
        "http-use-proxy-header" => &mut o.http_use_proxy_header,
        "prefer-last-server" => &mut o.prefer_last_server,
        "tcpka" => &mut o.tcpka,
        "clitcpka" => &mut o.clitcpka,
        "srvtcpka" => &mut o.srvtcpka,
        "socket-stats" => &mut o.socket_stats,
        "transparent" => &mut o.transparent,
        "checkcache" => &mut o.checkcache,
        "disable-h2-upgrade" => &mut o.disable_h2_upgrade,
        "idle-close-on-response" => &mut o.idle_close_on_response,
        "h1-case-adjust-bogus-client" => &mut o.h1_case_adjust_bogus_client,
        "h1-case-adjust-bogus-server" => &mut o.h1_case_adjust_bogus_server,
        "http-drop-request-trailers" => &mut o.http_drop_request_trailers,
        "http-drop-response-trailers" => &mut o.http_drop_response_trailers,
        "http-use-htx" => &mut o.http_use_htx,
        _ => return None,
    })
}

/// Options whose parsing belongs to the health-check parser.
const CHECK_OPTIONS: [&str; 10] = [
    "httpchk",
    "tcp-check",
    "ssl-hello-chk",
    "smtpchk",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "ldap-check",
    "spop-check",
    "external-check",
];

/// `words` is the whole line (`option …` or `no option …`).
pub(crate) fn parse(words: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    let negated = words[0] == "no";
    let rest = if negated { &words[1..] } else { words };
    if rest.first().map(String::as_str) != Some("option") {
        d.push(
            Diagnostic::alert(
                span,
                format!(
                    "'no' must be followed by 'option', got '{}'",
                    rest.first().map_or("", String::as_str)
                ),
            )
            .with_hint("write 'no option NAME'"),
        );
        return;
    }
    let Some(name) = rest.get(1).map(String::as_str) else {
        d.push(Diagnostic::alert(span, "'option' expects an option name"));
        return;
    };
    let args = &rest[2..];
    let Some(caps) = keywords::lookup(OPTIONS, name) else {
        let diag = Diagnostic::alert(span, format!("unknown option '{name}'"));
        d.push(match closest(name, keywords::names(OPTIONS)) {
            Some(s) => diag.with_hint(format!("did you mean 'option {s}'?")),
            None => diag,
        });
        return;
    };
    let prefix = if negated { "no option" } else { "option" };
    if !keywords::allowed(&format!("'{prefix} {name}'"), caps, p, span, d) {
        return;
    }
    if CHECK_OPTIONS.contains(&name) {
        if !super::check::proxy_keyword(words, span, &mut p.check, d) {
            d.push(Diagnostic::notice(
                span,
                format!("'option {name}' parsed, not yet supported"),
            ));
        }
        return;
    }
    let o = &mut p.options;
    if let Some(f) = flag(o, name) {
        if let Some(a) = args.first() {
            d.push(Diagnostic::alert(
                span,
                format!("'option {name}' takes no argument, found '{a}'"),
            ));
            return;
        }
        *f = !negated;
        if name == "tcp-smart-accept" {
            o.no_tcp_smart_accept = negated;
        }
        if name == "independant-streams" {
            super::legacy::renamed(
                "option independant-streams",
                "option independent-streams",
                span,
                d,
            );
        }
        if name == "http-use-htx" {
            d.push(Diagnostic::notice(
                span,
                "'option http-use-htx' is always on; the line has no effect",
            ));
        }
        return;
    }
    let r = match name {
        "httplog" => httplog(args, negated, o),
        "forwardfor" => forwardfor(args, negated, o),
        "originalto" => originalto(args, negated, o),
        "redispatch" => redispatch(args, negated, o),
        "http-restrict-req-hdr-names" => match (negated, args.first().map(String::as_str)) {
            (true, _) => {
                o.http_restrict_req_hdr_names = None;
                Ok(())
            }
            (false, Some(v @ ("preserve" | "delete" | "reject"))) => {
                o.http_restrict_req_hdr_names = Some(v.to_string());
                Ok(())
            }
            _ => Err(
                "'option http-restrict-req-hdr-names' expects 'preserve', 'delete' or 'reject'"
                    .to_string(),
            ),
        },
        "http-keep-alive" | "http-server-close" | "httpclose" | "forceclose" => {
            http_mode(name, negated, o, span, d);
            Ok(())
        }
        "http-tunnel" => {
            d.push(
                Diagnostic::warning(span, "'option http-tunnel' is not supported anymore since HAProxy 2.1; ignored")
                    .with_hint("remove it: connections are kept alive, and upgraded ones (WebSocket) are tunneled"),
            );
            Ok(())
        }
        "http_proxy" => {
            d.push(
                Diagnostic::notice(span, "'option http_proxy' parsed, not yet supported")
                    .with_hint("HAProxy 2.6 replaced it with 'http-request set-dst' and a 'server … 0.0.0.0:0'"),
            );
            Ok(())
        }
        _ => {
            d.push(Diagnostic::notice(
                span,
                format!("'option {name}' parsed, not yet supported"),
            ));
            Ok(())
        }
    };
    if let Err(e) = r {
        d.push(Diagnostic::alert(span, e));
    }
}

fn httplog(args: &[String], negated: bool, o: &mut Options) -> Result<(), String> {
    let clf = match args.first().map(String::as_str) {
        None => false,
        Some("clf") => true,
        Some(a) => return Err(format!("'option httplog' only accepts 'clf', found '{a}'")),
    };
    o.httplog = (!negated).then_some(HttpLog { clf });
    Ok(())
}

/// `except NET`, `header NAME`, `if-none` in any order.
fn forwardfor(args: &[String], negated: bool, o: &mut Options) -> Result<(), String> {
    if negated {
        o.forwardfor = None;
        return Ok(());
    }
    let mut f = Forwardfor {
        except: None,
        header: "X-Forwarded-For".to_string(),
        if_none: false,
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "except" => f.except = Some(net_arg(args, i, "forwardfor")?),
            "header" => f.header = word_arg(args, i, "forwardfor header")?,
            "if-none" => {
                f.if_none = true;
                i += 1;
                continue;
            }
            other => {
                return Err(format!(
                    "'option forwardfor' accepts 'except NET', 'header NAME' and 'if-none', found '{other}'"
                ))
            }
        }
        i += 2;
    }
    o.forwardfor = Some(f);
    Ok(())
}

fn originalto(args: &[String], negated: bool, o: &mut Options) -> Result<(), String> {
    if negated {
        o.originalto = None;
        return Ok(());
    }
    let mut t = Originalto {
        except: None,
        header: "X-Original-To".to_string(),
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "except" => t.except = Some(net_arg(args, i, "originalto")?),
            "header" => t.header = word_arg(args, i, "originalto header")?,
            other => {
                return Err(format!(
                    "'option originalto' accepts 'except NET' and 'header NAME', found '{other}'"
                ))
            }
        }
        i += 2;
    }
    o.originalto = Some(t);
    Ok(())
}

fn net_arg(args: &[String], i: usize, opt: &str) -> Result<IpNet, String> {
    let w = args
        .get(i + 1)
        .ok_or_else(|| format!("'option {opt} except' expects a network, e.g. '127.0.0.0/8'"))?;
    IpNet::parse(w).map_err(|e| format!("'option {opt} except': {e}"))
}

fn word_arg(args: &[String], i: usize, what: &str) -> Result<String, String> {
    args.get(i + 1)
        .cloned()
        .ok_or_else(|| format!("'option {what}' expects a name"))
}

fn redispatch(args: &[String], negated: bool, o: &mut Options) -> Result<(), String> {
    if negated {
        o.redispatch = None;
        return Ok(());
    }
    let interval = match args.first() {
        None => 1,
        Some(a) => a
            .parse::<i32>()
            .map_err(|_| format!("'option redispatch' expects an integer interval, found '{a}'"))?,
    };
    o.redispatch = Some(interval);
    Ok(())
}

/// HAProxy 2.x: the last of the three options wins; `no option X` returns to keep-alive
/// when X was the mode in force. `forceclose` is the 1.x name of `httpclose`.
fn http_mode(name: &str, negated: bool, o: &mut Options, span: &Span, d: &mut Diagnostics) {
    let mode = match name {
        "http-keep-alive" => HttpMode::KeepAlive,
        "http-server-close" => HttpMode::ServerClose,
        "forceclose" => {
            super::legacy::renamed("option forceclose", "option httpclose", span, d);
            HttpMode::Close
        }
        _ => HttpMode::Close,
    };
    if !negated {
        o.http_mode = mode;
    } else if o.http_mode == mode {
        o.http_mode = HttpMode::KeepAlive;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProxyKind;

    fn run(line: &str, p: &mut Proxy) -> Diagnostics {
        let mut d = Diagnostics::default();
        let w: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse(&w, &Span::new("t", 1), p, &mut d);
        d
    }

    #[test]
    fn typed_options() {
        let mut p = Proxy {
            kind: ProxyKind::Listen,
            ..Proxy::default()
        };
        for l in [
            "option forwardfor except 127.0.0.0/8 header X-Real-IP if-none",
            "option redispatch 3",
            "option httplog clf",
            "option originalto",
            "option http-restrict-req-hdr-names delete",
        ] {
            assert!(run(l, &mut p).items.is_empty(), "{l}");
        }
        let f = p.options.forwardfor.clone().unwrap();
        assert_eq!((f.header.as_str(), f.if_none), ("X-Real-IP", true));
        assert_eq!(f.except.unwrap().prefix, 8);
        assert_eq!(p.options.redispatch, Some(3));
        assert_eq!(p.options.httplog, Some(HttpLog { clf: true }));
        assert_eq!(
            p.options.originalto.as_ref().unwrap().header,
            "X-Original-To"
        );
        assert!(run("no option forwardfor", &mut p).items.is_empty());
        assert!(p.options.forwardfor.is_none());
    }

    #[test]
    fn option_errors() {
        let mut p = Proxy {
            kind: ProxyKind::Listen,
            ..Proxy::default()
        };
        let d = run("option forwardfor except nonsense", &mut p);
        assert!(d.items[0].message.contains("not a network"));
        let d = run("option dontlognull now", &mut p);
        assert!(d.items[0].message.contains("takes no argument"));
        let d = run("no optoin httplog", &mut p);
        assert!(d.items[0].is_error());
        let d = run("option http-tunnel", &mut p);
        assert_eq!(d.items[0].level, crate::diag::Level::Warning);
    }
}
