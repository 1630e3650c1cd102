//! `add server` arguments: HAProxy 2.6's list of keywords a dynamic server
//! accepts, read with the configuration's own `server` parser.

use fulcrum_config::model::check::TrackTarget;
use fulcrum_config::model::{Address, Host, Ports, Proxy};
use std::net::SocketAddr;

/// HAProxy 2.6's keywords accepted by `add server`, with whether each takes
/// a value. Anything else is refused as HAProxy refuses it.
const DYNAMIC_KEYWORDS: &[(&str, bool)] = &[
    ("agent-addr", true),
    ("agent-check", false),
    ("agent-inter", true),
    ("agent-port", true),
    ("agent-send", true),
    ("allow-0rtt", false),
    ("alpn", true),
    ("addr", true),
    ("backup", false),
    ("ca-file", true),
    ("check", false),
    ("check-alpn", true),
    ("check-proto", true),
    ("check-send-proxy", false),
    ("check-sni", true),
    ("check-ssl", false),
    ("check-via-socks4", false),
    ("ciphers", true),
    ("ciphersuites", true),
    ("crl-file", true),
    ("crt", true),
    ("disabled", false),
    ("downinter", true),
    ("enabled", false),
    ("error-limit", true),
    ("fall", true),
    ("fastinter", true),
    ("force-sslv3", false),
    ("force-tlsv10", false),
    ("force-tlsv11", false),
    ("force-tlsv12", false),
    ("force-tlsv13", false),
    ("id", true),
    ("inter", true),
    ("maxconn", true),
    ("maxqueue", true),
    ("minconn", true),
    ("no-ssl-reuse", false),
    ("no-sslv3", false),
    ("no-tlsv10", false),
    ("no-tlsv11", false),
    ("no-tlsv12", false),
    ("no-tlsv13", false),
    ("no-tls-tickets", false),
    ("npn", true),
    ("observe", true),
    ("on-error", true),
    ("on-marked-down", true),
    ("on-marked-up", true),
    ("pool-low-conn", true),
    ("pool-max-conn", true),
    ("pool-purge-delay", true),
    ("port", true),
    ("proto", true),
    ("proxy-v2-options", true),
    ("rise", true),
    ("send-proxy", false),
    ("send-proxy-v2", false),
    ("send-proxy-v2-ssl", false),
    ("send-proxy-v2-ssl-cn", false),
    ("slowstart", true),
    ("sni", true),
    ("source", true),
    ("ssl", false),
    ("ssl-max-ver", true),
    ("ssl-min-ver", true),
    ("tfo", false),
    ("tls-tickets", false),
    ("track", true),
    ("usesrc", true),
    ("verify", true),
    ("verifyhost", true),
    ("weight", true),
    ("ws", true),
];

/// Reads `ADDR [settings…]` with the configuration's own `server` parser, so
/// every setting means what it means in a file; `default-server` does not
/// apply (HAProxy ignores it for dynamic servers).
pub(super) fn parse_server(
    name: &str,
    args: &[String],
    p: &Proxy,
) -> Result<fulcrum_config::model::Server, String> {
    if args.is_empty() {
        return Err("'server' expects <name> and <addr>[:<port>] as arguments.".into());
    }
    let mut i = 1;
    // `track` names a server of the running configuration, which the parser
    // below cannot see: the caller resolves it.
    let mut track = None;
    while let Some(w) = args.get(i) {
        match DYNAMIC_KEYWORDS.iter().find(|(k, _)| k == w) {
            Some(("track", _)) => {
                let v = args
                    .get(i + 1)
                    .ok_or("'track' expects [<proxy>/]<server> as argument.")?;
                track = Some((i, track_target(v)));
                i += 2;
            }
            Some((_, valued)) => i += 1 + usize::from(*valued),
            None => {
                // A known setting HAProxy refuses here, or an unknown word
                // (then the parser below names it).
                check_words(name, args, p)?;
                return Err(format!("'{w}' option is not accepted for dynamic server"));
            }
        }
    }
    let Some((at, t)) = track else {
        return check_words(name, args, p);
    };
    let rest: Vec<String> = (args.iter().enumerate())
        .filter(|(k, _)| *k != at && *k != at + 1)
        .map(|(_, w)| w.clone())
        .collect();
    let mut s = check_words(name, &rest, p)?;
    if s.settings.check.is_enabled() {
        return Err("unable to enable checks and tracking at the same time!".into());
    }
    s.settings.check.track = Some(t);
    Ok(s)
}

/// `track [<proxy>/]<server>`.
fn track_target(v: &str) -> TrackTarget {
    match v.split_once('/') {
        Some((b, s)) => TrackTarget {
            backend: Some(b.to_string()),
            server: s.to_string(),
        },
        None => TrackTarget {
            backend: None,
            server: v.to_string(),
        },
    }
}

fn check_words(
    name: &str,
    args: &[String],
    p: &Proxy,
) -> Result<fulcrum_config::model::Server, String> {
    // Single quotes keep every word literal (no `${VAR}` expansion, no `#`).
    if let Some(w) = std::iter::once(name)
        .chain(args.iter().map(String::as_str))
        .find(|w| w.contains(['\'', '\\']) || w.chars().any(char::is_control))
    {
        return Err(format!("invalid character in '{w}'"));
    }
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let mode = match p.mode {
        fulcrum_config::model::Mode::Http => "http",
        fulcrum_config::model::Mode::Tcp => "tcp",
    };
    let text = format!(
        "backend dynamic\n    mode {mode}\n    server '{name}' {}\n",
        quoted.join(" ")
    );
    let env = fulcrum_config::reader::MapEnv::new();
    let loaded = fulcrum_config::load_str("cli", &text, &env);
    if let Some(d) = loaded.diagnostics.items.iter().find(|d| d.is_error()) {
        return Err(d.message.clone());
    }
    loaded
        .config
        .and_then(|c| c.proxies.into_iter().next())
        .and_then(|p| p.servers.into_iter().next())
        .ok_or_else(|| "invalid server line".to_string())
}

/// A dynamic server's address, with the port given or 0. A name is resolved
/// now through the system resolver, as `init-addr libc` resolves configured
/// servers (this runs on the stats socket's own thread, never a worker's);
/// one that does not resolve leaves the server without an address, shown
/// `-` and held in maintenance until `set server … addr` gives one, as
/// HAProxy 2.6 registers an unresolved name.
pub(super) fn server_addr(a: &Address) -> Result<SocketAddr, String> {
    let Address::Inet { host, ports, .. } = a else {
        return Err("a dynamic server needs an IPv4 or IPv6 address or a host name".into());
    };
    let port = match ports {
        Ports::One(p) => *p,
        Ports::None => 0,
        _ => return Err("port ranges and offsets are not supported".into()),
    };
    match host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        Host::Name(name) => {
            Ok(crate::init_addr::libc(name, port).unwrap_or_else(crate::init_addr::no_addr))
        }
        Host::Wildcard => Err("a dynamic server needs an address, not '*'".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_go_through_the_server_parser() {
        let p = Proxy::default();
        let args = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = parse_server("n1", &args(&["127.0.0.1:8080", "weight", "7", "check"]), &p)
            .expect("valid");
        assert_eq!(s.settings.weight, 7);
        assert!(s.settings.check.is_enabled());
        let e = parse_server("n1", &args(&["127.0.0.1:1", "cookie", "x"]), &p).unwrap_err();
        assert_eq!(e, "'cookie' option is not accepted for dynamic server");
        let e = parse_server("n1", &args(&["127.0.0.1:1", "bogus"]), &p).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let s = parse_server(
            "n1",
            &args(&["127.0.0.1:1", "track", "b/s", "weight", "3"]),
            &p,
        )
        .expect("valid");
        let t = s.settings.check.track.expect("track kept");
        assert_eq!((t.backend.as_deref(), t.server.as_str()), (Some("b"), "s"));
        assert_eq!(s.settings.weight, 3);
        let e = parse_server("n1", &args(&["127.0.0.1:1", "track", "s", "check"]), &p).unwrap_err();
        assert_eq!(e, "unable to enable checks and tracking at the same time!");
        assert!(parse_server("n1", &args(&["127.0.0.1:1", "inter", "${X}'"]), &p).is_err());
    }
}
