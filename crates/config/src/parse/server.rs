//! `server NAME ADDR [settings…]` and `default-server [settings…]` (configuration.txt §5.2).

use super::addr::{parse_address, Use};
use super::value::{parse_time, parse_uint, TimeUnit};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::model::server::SendProxy;
use crate::model::{Proxy, Server, ServerSettings};

const FLAGS: &[&str] = &[
    "backup",
    "no-backup",
    "disabled",
    "enabled",
    "send-proxy",
    "no-send-proxy",
    "send-proxy-v2",
    "no-send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl",
    "no-ssl",
    "tfo",
    "no-tfo",
    "non-stick",
    "stick",
    "no-tls-tickets",
    "tls-tickets",
    "allow-0rtt",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "ssl-reuse",
    "no-ssl-reuse",
    "no-verifyhost",
    // Health-check flags, used when the check parser does not take them.
    "check",
    "no-check",
    "check-ssl",
    "no-check-ssl",
    "check-send-proxy",
    "agent-check",
    "no-agent-check",
    "no-check-send-proxy",
];

const VALUED: &[&str] = &[
    "weight",
    "maxconn",
    "maxqueue",
    "minconn",
    "id",
    "cookie",
    "source",
    "usesrc",
    "interface",
    "init-addr",
    "redir",
    "resolvers",
    "resolve-prefer",
    "resolve-net",
    "resolve-opts",
    "verify",
    "verifyhost",
    "sni",
    "alpn",
    "npn",
    "proto",
    "pool-max-conn",
    "pool-purge-delay",
    "pool-low-conn",
    "max-reuse",
    "ca-file",
    "crl-file",
    "crt",
    "ciphers",
    "ciphersuites",
    "curves",
    "ssl-min-ver",
    "ssl-max-ver",
    "namespace",
    "tcp-ut",
    "proxy-v2-options",
    "log-proto",
    "ws",
    "shard",
    "hash-key",
    "sigalgs",
    "client-sigalgs",
    "guid",
    // Health-check settings, used when the check parser does not take them.
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "port",
    "addr",
    "agent-port",
    "agent-inter",
    "agent-send",
    "agent-addr",
    "init-state",
    "slowstart",
    "track",
    "observe",
    "error-limit",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "check-sni",
    "check-alpn",
    "check-proto",
];

const WORDS: super::OptionWords = super::OptionWords {
    noun: "setting",
    flags: FLAGS,
    valued: VALUED,
};

/// `server` line: words after `server`.
pub(crate) fn server(args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    let (Some(name), Some(addr)) = (args.first(), args.get(1)) else {
        d.push(
            Diagnostic::alert(span, "'server' expects a name and an address")
                .with_hint("write e.g. 'server web1 192.0.2.10:80 check'"),
        );
        return;
    };
    if !super::valid_name(name) {
        d.push(
            Diagnostic::alert(
                span,
                format!("character not allowed in server name '{name}'"),
            )
            .with_hint("use only letters, digits, '-', '_', '.' and ':'"),
        );
    }
    let addr = match parse_address(addr, Use::Server) {
        Ok(a) => Some(a),
        Err(e) => {
            d.push(
                Diagnostic::alert(span, format!("server '{name}': {e}")).with_hint(
                    "write an IP address or host name, with an optional port, e.g. '192.0.2.10:80'",
                ),
            );
            None
        }
    };
    let mut settings = p.default_server.clone();
    // Persistence settings merge as their parser defines (a cookie value is never inherited).
    settings.persist = Default::default();
    let ok = settings_from(&args[2..], span, "server", &mut settings, d);
    settings.persist.inherit_from(&p.default_server.persist);
    if settings.ssl {
        d.push(Diagnostic::notice(
            span,
            format!("server '{name}': 'ssl' parsed, not yet supported"),
        ));
    }
    if let (Some(addr), true) = (addr, ok) {
        p.servers.push(Server {
            name: name.clone(),
            span: span.clone(),
            addr,
            settings,
        });
    }
}

/// `server-template PREFIX NUM|FIRST-LAST ADDR [settings…]`: servers PREFIX<n>, all at
/// ADDR (HAProxy then fills their addresses from DNS through `resolvers`).
pub(crate) fn template(args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    let usage =
        "'server-template' expects a prefix, a count or range (e.g. '3' or '1-3') and an address";
    let (Some(prefix), Some(range), Some(_)) = (args.first(), args.get(1), args.get(2)) else {
        d.push(
            Diagnostic::alert(span, usage)
                .with_hint("write e.g. 'server-template web 3 app.example:80 check'"),
        );
        return;
    };
    let bounds = match range.split_once('-') {
        Some((a, b)) => a.parse::<u32>().ok().zip(b.parse::<u32>().ok()),
        None => range.parse::<u32>().ok().map(|n| (1, n)),
    };
    let Some((first, last)) = bounds.filter(|(a, b)| *a >= 1 && a <= b && b - a < 10_000) else {
        d.push(
            Diagnostic::alert(
                span,
                format!("'server-template': invalid count or range '{range}'"),
            )
            .with_hint(usage),
        );
        return;
    };
    let named = matches!(
        parse_address(&args[2], Use::Server),
        Ok(crate::model::Address::Inet {
            host: crate::model::Host::Name(_),
            ..
        })
    );
    if named && !args.iter().any(|w| w == "resolvers") {
        d.push(Diagnostic::notice(span, "'server-template' without 'resolvers': every server gets the address resolved at start"));
    }
    for n in first..=last {
        let mut line = vec![format!("{prefix}{n}")];
        line.extend_from_slice(&args[2..]);
        let before = d.items.len();
        server(&line, span, p, d);
        if d.items[before..].iter().any(Diagnostic::is_error) {
            // One report per line is enough; the same settings are wrong for every server.
            d.items.truncate(before + 1);
            return;
        }
        if n > first {
            // Notices about the shared settings were given for the first server.
            d.items.truncate(before);
        }
    }
}

/// `default-server` line: words after the keyword.
pub(crate) fn default_server(args: &[String], span: &Span, p: &mut Proxy, d: &mut Diagnostics) {
    let mut s = p.default_server.clone();
    if settings_from(args, span, "default-server", &mut s, d) {
        p.default_server = s;
    }
}

/// Applies every setting in `args`; false when one was wrong (already reported).
pub(crate) fn settings_from(
    args: &[String],
    span: &Span,
    what: &str,
    s: &mut ServerSettings,
    d: &mut Diagnostics,
) -> bool {
    let mut i = 0;
    let mut ok = true;
    while i < args.len() {
        let before = d.items.len();
        let mut used = super::check::server_option(&args[i..], span, &mut s.check, d);
        if used == 0 {
            used = super::persist::server_option(&args[i..], span, &mut s.persist, d);
        }
        if used > 0 {
            ok &= !d.items[before..].iter().any(Diagnostic::is_error);
            i += used;
            continue;
        }
        let w = args[i].as_str();
        if FLAGS.contains(&w) {
            flag(s, w);
            i += 1;
            continue;
        }
        let Some(v) = super::option_value(&WORDS, args, i, what, span, d) else {
            return false;
        };
        if let Err(e) = valued(s, w, v) {
            d.push(Diagnostic::alert(span, format!("'{what}': {e}")));
            ok = false;
        }
        i += 2;
    }
    ok
}

fn flag(s: &mut ServerSettings, w: &str) {
    match w {
        "backup" => s.backup = true,
        "no-backup" => s.backup = false,
        "disabled" => s.disabled = true,
        "enabled" => s.disabled = false,
        "send-proxy" => s.send_proxy = SendProxy::V1,
        "send-proxy-v2" | "send-proxy-v2-ssl" | "send-proxy-v2-ssl-cn" => {
            s.send_proxy = SendProxy::V2
        }
        "no-send-proxy" | "no-send-proxy-v2" => s.send_proxy = SendProxy::None,
        "ssl" => s.ssl = true,
        "no-ssl" => s.ssl = false,
        "tfo" => s.tfo = true,
        "no-tfo" => s.tfo = false,
        "check" => s.check.enabled = Some(true),
        "no-check" => s.check.enabled = Some(false),
        other => s.other.push((other.to_string(), Vec::new())),
    }
}

fn valued(s: &mut ServerSettings, w: &str, v: &str) -> Result<(), String> {
    match w {
        "weight" => {
            let n: u32 = parse_uint(v, "weight")?;
            if n > 256 {
                return Err(format!("'weight' must be between 0 and 256, found '{v}'"));
            }
            s.weight = n;
        }
        "maxconn" => s.maxconn = Some(parse_uint(v, "maxconn")?),
        "maxqueue" => s.maxqueue = Some(parse_uint(v, "maxqueue")?),
        "minconn" => s.minconn = Some(parse_uint(v, "minconn")?),
        "id" => s.id = Some(parse_uint(v, "id")?),
        "cookie" => s.persist.cookie = Some(v.to_string()),
        "source" => {
            s.source = Some(parse_address(v, Use::Server).map_err(|e| format!("'source': {e}"))?)
        }
        "usesrc" => s.usesrc = Some(v.to_string()),
        "init-addr" => s.init_addr = v.split(',').map(str::to_string).collect(),
        "redir" => s.redir = Some(v.to_string()),
        "resolvers" => s.resolvers = Some(v.to_string()),
        "resolve-prefer" => match v {
            "ipv4" | "ipv6" => s.resolve_prefer = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "'resolve-prefer' expects 'ipv4' or 'ipv6', found '{v}'"
                ))
            }
        },
        "verify" => match v {
            "none" | "required" => s.verify = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "'verify' expects 'none' or 'required', found '{v}'"
                ))
            }
        },
        "sni" => s.sni = Some(v.to_string()),
        "alpn" => s.alpn = Some(v.to_string()),
        "proto" => s.proto = Some(v.to_string()),
        "pool-max-conn" => {
            s.pool_max_conn = Some(
                v.parse()
                    .map_err(|_| format!("'pool-max-conn' expects an integer, found '{v}'"))?,
            )
        }
        "pool-purge-delay" => {
            s.pool_purge_delay = Some(
                parse_time(v, TimeUnit::Millis).map_err(|e| format!("'pool-purge-delay': {e}"))?,
            )
        }
        "max-reuse" => {
            s.max_reuse = Some(
                v.parse()
                    .map_err(|_| format!("'max-reuse' expects an integer, found '{v}'"))?,
            )
        }
        other => s.other.push((other.to_string(), vec![v.to_string()])),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::addr::Address;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn server_takes_default_server_then_overrides() {
        let mut d = Diagnostics::default();
        let sp = Span::new("t", 1);
        let mut p = Proxy::default();
        default_server(
            &words("maxconn 100 weight 5 send-proxy"),
            &sp,
            &mut p,
            &mut d,
        );
        server(
            &words("a 10.0.0.1:80 weight 10 cookie a backup"),
            &sp,
            &mut p,
            &mut d,
        );
        server(&words("b 10.0.0.2"), &sp, &mut p, &mut d);
        assert!(d.items.is_empty(), "{:?}", d.items);
        let (a, b) = (&p.servers[0].settings, &p.servers[1].settings);
        assert_eq!((a.weight, a.maxconn, a.backup), (10, Some(100), true));
        assert_eq!(a.persist.cookie.as_deref(), Some("a"));
        assert_eq!(a.send_proxy, SendProxy::V1);
        assert_eq!((b.weight, b.maxconn, b.backup), (5, Some(100), false));
        assert_eq!(p.servers[1].addr.port(), None);
        assert!(matches!(p.servers[1].addr, Address::Inet { .. }));
    }

    #[test]
    fn server_template_expands() {
        let mut d = Diagnostics::default();
        let sp = Span::new("t", 1);
        let mut p = Proxy::default();
        template(&words("web 2-4 10.0.0.1:80 check"), &sp, &mut p, &mut d);
        let names: Vec<&str> = p.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["web2", "web3", "web4"]);
        assert!(d.items.is_empty(), "{:?}", d.items);
        template(&words("web 0 10.0.0.1:80"), &sp, &mut p, &mut d);
        template(&words("x 2 10.0.0.1:80 wieght 3"), &sp, &mut p, &mut d);
        assert_eq!(d.items.len(), 2, "{:?}", d.items);
        assert_eq!(p.servers.len(), 3);
    }

    #[test]
    fn server_errors() {
        let mut d = Diagnostics::default();
        let sp = Span::new("t", 1);
        let mut p = Proxy::default();
        server(&words("a 10.0.0.1:80 wieght 10"), &sp, &mut p, &mut d);
        server(&words("b 10.0.0.1:80 weight 300"), &sp, &mut p, &mut d);
        server(&words("c"), &sp, &mut p, &mut d);
        assert!(p.servers.is_empty());
        assert_eq!(d.items.len(), 3);
        assert_eq!(d.items[0].hint.as_deref(), Some("did you mean 'weight'?"));
        assert!(d.items[1].message.contains("between 0 and 256"));
    }
}
