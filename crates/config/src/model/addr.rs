//! Socket addresses as HAProxy writes them (configuration.txt §11 "Address formats").

use std::net::IpAddr;
use std::path::PathBuf;

/// Which family a name must resolve to: `ipv4@`/`ipv6@` force one, otherwise any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

/// The host part of an inet address. Names are kept as written and resolved by
/// the engine at start (HAProxy resolves them when the proxy starts, not at `-c`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// `*`, empty (`:80`), meaning every local address.
    Wildcard,
    Ip(IpAddr),
    Name(String),
}

/// The port part: absent (servers then use the client's destination port), one
/// port, a range (binds only) or an offset from the client's port (`+N`/`-N`, servers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ports {
    None,
    One(u16),
    Range(u16, u16),
    Offset(i32),
}

/// One address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Inet {
        family: Family,
        host: Host,
        ports: Ports,
    },
    /// `unix@PATH` or a word starting with `/`.
    Unix(PathBuf),
    /// `abns@NAME`: Linux abstract namespace socket.
    Abns(String),
    /// `fd@N`: an inherited file descriptor.
    Fd(u32),
    /// `sockpair@N`: a socketpair fd receiving connections.
    Sockpair(u32),
}

impl Address {
    /// The single port for inet addresses that have one.
    pub fn port(&self) -> Option<u16> {
        match self {
            Address::Inet {
                ports: Ports::One(p),
                ..
            } => Some(*p),
            _ => None,
        }
    }
}

/// A network (`127.0.0.0/8`, `10.0.0.1` = a /32), as `option forwardfor except` and
/// `monitor-net` take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// `ADDR[/PREFIX]`; IPv4 also accepts a dotted mask (`10.0.0.0/255.0.0.0`).
    pub fn parse(word: &str) -> Result<IpNet, String> {
        let bad = || format!("'{word}' is not a network (write e.g. '10.0.0.0/8' or '192.0.2.1')");
        let (a, p) = match word.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (word, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                Ok(_) => return Err(bad()),
                Err(_) => match p.parse::<std::net::Ipv4Addr>() {
                    Ok(m) if addr.is_ipv4() => {
                        let bits = u32::from(m);
                        if bits.leading_ones() + bits.trailing_zeros() != 32 {
                            return Err(bad());
                        }
                        bits.leading_ones() as u8
                    }
                    _ => return Err(bad()),
                },
            },
        };
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IpNet;

    #[test]
    fn networks() {
        let n = IpNet::parse("127.0.0.0/8").unwrap();
        assert!(n.contains("127.1.2.3".parse().unwrap()));
        assert!(!n.contains("128.0.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        assert_eq!(IpNet::parse("10.0.0.0/255.0.0.0").unwrap().prefix, 8);
        assert_eq!(IpNet::parse("192.0.2.7").unwrap().prefix, 32);
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("203.0.113.9".parse().unwrap()));
        assert!(IpNet::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "10.0.0.0/255.0.255.0", "nope", "10.0.0.0/"] {
            assert!(IpNet::parse(bad).is_err(), "{bad}");
        }
    }
}
