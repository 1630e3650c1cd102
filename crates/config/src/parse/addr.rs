//! Address words → [`Address`]: binds (`*:80`, `:80`, `[::]:443`, `1.2.3.4:80-89`, `unix@…`,
//! comma lists) and servers (`host[:port]`, `+N` offsets).

use crate::model::addr::{Address, Family, Host, Ports};
use std::net::IpAddr;

/// Where the address is used: the rules for ports differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// `bind`: a port (or range) is required for inet addresses.
    Bind,
    /// `server`, `source`, `log`: the port is optional; servers accept `+N` / `-N`.
    Server,
}

/// One address (no comma list).
pub fn parse_address(word: &str, usage: Use) -> Result<Address, String> {
    let (prefix, rest) = match word.split_once('@') {
        Some((p, r)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            (Some(p), r)
        }
        _ => (None, word),
    };
    let family = match prefix {
        None => Family::Any,
        Some("ipv4") | Some("udp4") | Some("tcp4") => Family::V4,
        Some("ipv6") | Some("udp6") | Some("tcp6") => Family::V6,
        Some("udp") | Some("tcp") => Family::Any,
        Some("unix") | Some("uxst") | Some("uxdg") => {
            return if rest.is_empty() {
                Err(format!("'{word}': missing socket path after 'unix@'"))
            } else {
                Ok(Address::Unix(rest.into()))
            }
        }
        Some("abns") => {
            return if rest.is_empty() {
                Err(format!("'{word}': missing name after 'abns@'"))
            } else {
                Ok(Address::Abns(rest.to_string()))
            }
        }
        Some("fd") => return fd_num(word, rest).map(Address::Fd),
        Some("sockpair") => return fd_num(word, rest).map(Address::Sockpair),
        Some(p) => {
            return Err(format!(
                "'{word}': unknown address family '{p}@' (use ipv4@, ipv6@, unix@, abns@, fd@ or sockpair@)"
            ))
        }
    };
    if prefix.is_none() && rest.starts_with('/') {
        return Ok(Address::Unix(rest.into()));
    }
    let (host_text, port_text) = split_host_port(rest);
    let host = parse_host(host_text, word)?;
    if host == Host::Wildcard && usage == Use::Server {
        return Err(format!(
            "'{word}': a server needs a host name or IP address"
        ));
    }
    if let Host::Ip(ip) = host {
        let ok = match family {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        };
        if !ok {
            return Err(format!(
                "'{word}': address does not match the '{}@' prefix",
                prefix.unwrap_or("")
            ));
        }
    }
    let ports = parse_ports(port_text, word, usage)?;
    Ok(Address::Inet {
        family,
        host,
        ports,
    })
}

/// A comma-separated list, as `bind` accepts (`bind :80,:8080`).
pub fn parse_address_list(word: &str, usage: Use) -> Result<Vec<Address>, String> {
    word.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| parse_address(p, usage))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.is_empty() {
                Err(format!("'{word}' holds no address"))
            } else {
                Ok(v)
            }
        })
}

fn fd_num(word: &str, rest: &str) -> Result<u32, String> {
    rest.parse()
        .map_err(|_| format!("'{word}': expected a file descriptor number after '@'"))
}

/// `[v6]:port`, `host:port`, `::1:80` (last colon splits, as HAProxy does), `host`.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(inner) = s.strip_prefix('[') {
        if let Some((h, after)) = inner.split_once(']') {
            return (h, after.strip_prefix(':'));
        }
    }
    match s.rfind(':') {
        Some(i) => {
            let (h, p) = (&s[..i], &s[i + 1..]);
            // A bare IPv6 address without port (`::1` is a host when `1` is read as
            // part of it) is ambiguous; HAProxy reads the last colon as the port separator.
            (h, Some(p))
        }
        None => (s, None),
    }
}

fn parse_host(h: &str, word: &str) -> Result<Host, String> {
    if h.is_empty() || h == "*" {
        return Ok(Host::Wildcard);
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    let labels: Vec<&str> = h.split('.').collect();
    if labels.len() == 4
        && labels.iter().any(|l| l.parse::<u8>().is_err())
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 3
                && l.bytes().all(|b| b.is_ascii_digit() || b"xX*".contains(&b))
        })
    {
        return Err(format!(
            "'{word}' is not a valid address: '{h}' is a placeholder, not an IPv4 address"
        ));
    }
    let valid = h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-'));
    if !valid || labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!(
            "'{word}' is not a valid address: '{h}' is neither an IP address nor a host name"
        ));
    }
    Ok(Host::Name(h.to_string()))
}

fn parse_ports(p: Option<&str>, word: &str, usage: Use) -> Result<Ports, String> {
    let port = |t: &str| {
        t.parse::<u16>()
            .map_err(|_| format!("'{word}': invalid port '{t}' (expected 0-65535)"))
    };
    match (p, usage) {
        (None, Use::Bind) | (Some(""), Use::Bind) => Err(format!(
            "'{word}': missing port number (write e.g. '{}:80')",
            word.trim_end_matches(':')
        )),
        (None, Use::Server) | (Some(""), Use::Server) => Ok(Ports::None),
        (Some(t), Use::Server) if t.starts_with('+') || t.starts_with('-') => {
            let n: i32 = t[1..]
                .parse::<u16>()
                .map_err(|_| format!("'{word}': invalid port offset '{t}'"))?
                .into();
            Ok(Ports::Offset(if t.starts_with('-') { -n } else { n }))
        }
        (Some(t), Use::Bind) if t.contains('-') => {
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("'{word}': port range '{t}' is reversed"));
            }
            Ok(if a == b {
                Ports::One(a)
            } else {
                Ports::Range(a, b)
            })
        }
        (Some(t), _) => port(t).map(Ports::One),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn inet(family: Family, host: Host, ports: Ports) -> Address {
        Address::Inet {
            family,
            host,
            ports,
        }
    }

    #[test]
    fn bind_forms() {
        let b = |w| parse_address(w, Use::Bind);
        assert_eq!(
            b("*:80"),
            Ok(inet(Family::Any, Host::Wildcard, Ports::One(80)))
        );
        assert_eq!(
            b(":80"),
            Ok(inet(Family::Any, Host::Wildcard, Ports::One(80)))
        );
        assert_eq!(
            b("[::]:443"),
            Ok(inet(
                Family::Any,
                Host::Ip(Ipv6Addr::UNSPECIFIED.into()),
                Ports::One(443)
            ))
        );
        assert_eq!(
            b(":::443"),
            Ok(inet(
                Family::Any,
                Host::Ip(Ipv6Addr::UNSPECIFIED.into()),
                Ports::One(443)
            ))
        );
        assert_eq!(
            b("ipv4@0.0.0.0:1081"),
            Ok(inet(
                Family::V4,
                Host::Ip(Ipv4Addr::UNSPECIFIED.into()),
                Ports::One(1081)
            ))
        );
        assert_eq!(b("127.0.0.1:8000-8010").map(|a| a.port()), Ok(None));
        assert_eq!(
            b("unix@/run/h.sock"),
            Ok(Address::Unix("/run/h.sock".into()))
        );
        assert_eq!(b("/run/h.sock"), Ok(Address::Unix("/run/h.sock".into())));
        assert_eq!(b("abns@x"), Ok(Address::Abns("x".into())));
        assert_eq!(b("fd@3"), Ok(Address::Fd(3)));
        assert_eq!(
            b("localhost:80"),
            Ok(inet(
                Family::Any,
                Host::Name("localhost".into()),
                Ports::One(80)
            ))
        );
        assert_eq!(
            parse_address_list(":80,:8080", Use::Bind).map(|v| v.len()),
            Ok(2)
        );
    }

    #[test]
    fn server_forms() {
        let s = |w| parse_address(w, Use::Server);
        assert_eq!(s("10.0.0.9:80").map(|a| a.port()), Ok(Some(80)));
        assert_eq!(
            s("backend.local"),
            Ok(inet(
                Family::Any,
                Host::Name("backend.local".into()),
                Ports::None
            ))
        );
        assert_eq!(
            s("10.0.0.1:+1000"),
            Ok(inet(
                Family::Any,
                Host::Ip(Ipv4Addr::new(10, 0, 0, 1).into()),
                Ports::Offset(1000)
            ))
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let e = parse_address("x.x.x.x:80", Use::Bind).unwrap_err();
        assert!(e.contains("placeholder"), "{e}");
        assert!(parse_address("10.0.0.x:80", Use::Bind).is_err());
        assert!(parse_address("1.2.3.4", Use::Bind)
            .unwrap_err()
            .contains("missing port"));
        assert!(parse_address("1.2.3.4:99999", Use::Bind)
            .unwrap_err()
            .contains("invalid port"));
        assert!(parse_address("1.2.3.4:90-80", Use::Bind)
            .unwrap_err()
            .contains("reversed"));
        assert!(parse_address("ipv6@1.2.3.4:80", Use::Bind).is_err());
        assert!(parse_address("foo@bar", Use::Bind)
            .unwrap_err()
            .contains("unknown address family"));
        assert!(parse_address("*:80", Use::Server).is_err());
        assert!(parse_address("300.1.1.1:80", Use::Bind).is_err());
        assert!(parse_address("bad host:80", Use::Bind).is_err());
    }

    proptest! {
        #[test]
        fn ipv4_with_port_roundtrips(a: [u8; 4], p: u16) {
            let ip = Ipv4Addr::from(a);
            let got = parse_address(&format!("{ip}:{p}"), Use::Bind);
            prop_assert_eq!(got, Ok(inet(Family::Any, Host::Ip(ip.into()), Ports::One(p))));
        }

        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse_address(&s, Use::Bind);
            let _ = parse_address(&s, Use::Server);
        }
    }
}
