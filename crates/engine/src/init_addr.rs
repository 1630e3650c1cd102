//! A server's first address when it is written as a name: `init-addr`
//! methods tried in order (default `last,libc`), as HAProxy does at start:
//! - `last`: the address saved in the server-state file, read only when the
//!   backend says `load-server-state-from-file global` (the global
//!   `server-state-file`) or `local` (`server-state-file-name`, default the
//!   backend's name); relative names are under `server-state-base`;
//! - `libc`: the system resolver;
//! - `none`: start without an address (the server stays in maintenance until
//!   `set server addr` gives it one);
//! - an IP address: use it.
//!
//! When every method fails, the configuration is refused.

use fulcrum_config::model::{Address, Config, Host, Ports, Proxy, Server};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// The host name and port of a server written as a name, else `None`.
pub(crate) fn named(a: &Address) -> Option<(&str, u16)> {
    match a {
        Address::Inet {
            host: Host::Name(n),
            ports,
            ..
        } => match ports {
            Ports::One(p) => Some((n.as_str(), *p)),
            Ports::None => Some((n.as_str(), 0)),
            _ => None,
        },
        _ => None,
    }
}

/// The address `init-addr none` gives: none at all.
pub(crate) fn no_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
}

/// Resolves server `s` of backend `p`, named `host`, by its `init-addr`.
pub(crate) fn resolve(
    cfg: &Config,
    p: &Proxy,
    s: &Server,
    host: &str,
    port: u16,
) -> Result<SocketAddr, String> {
    let default = ["last".to_string(), "libc".to_string()];
    let methods: &[String] = if s.settings.init_addr.is_empty() {
        &default
    } else {
        &s.settings.init_addr
    };
    for m in methods {
        let found = match m.as_str() {
            "last" => last(cfg, p, &s.name).map(|ip| SocketAddr::new(ip, port)),
            "libc" => libc(host, port),
            "none" => Some(no_addr()),
            ip => ip
                .parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, port)),
        };
        if let Some(a) = found {
            return Ok(a);
        }
    }
    Err(format!(
        "server '{}': could not resolve address '{host}' (init-addr {})",
        s.name,
        methods.join(",")
    ))
}

/// The system resolver's address for `host` (IPv4 first).
pub(crate) fn libc(host: &str, port: u16) -> Option<SocketAddr> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
}

/// The last value of a proxy keyword kept as written.
fn keyword<'a>(p: &'a Proxy, kw: &str) -> Option<&'a [String]> {
    p.other
        .iter()
        .rev()
        .find(|(k, _, _)| k == kw)
        .map(|(_, a, _)| a.as_slice())
}

/// The server-state file this backend loads, if any.
fn state_file(cfg: &Config, p: &Proxy) -> Option<PathBuf> {
    let mode = keyword(p, "load-server-state-from-file")?.first()?.as_str();
    let base = cfg.global.server_state_base.clone();
    let path = match mode {
        "global" => cfg.global.server_state_file.clone()?,
        "local" => match keyword(p, "server-state-file-name").and_then(|a| a.first()) {
            Some(n) if n != "use-backend-name" => PathBuf::from(n),
            _ => PathBuf::from(&p.name),
        },
        _ => return None,
    };
    Some(match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path,
    })
}

/// `srv_addr` of backend `p`'s server `srv` in its server-state file
/// (version 1: `be_id be_name srv_id srv_name srv_addr …`).
fn last(cfg: &Config, p: &Proxy, srv: &str) -> Option<IpAddr> {
    let text = std::fs::read_to_string(state_file(cfg, p)?).ok()?;
    text.lines()
        .skip(1)
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[1] == p.name && f[3] == srv)
        .and_then(|f| f[4].parse().ok())
}
