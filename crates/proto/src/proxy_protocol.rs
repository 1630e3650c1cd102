//! PROXY protocol v1 (text) and v2 (binary) headers, as HAProxy's
//! `accept-proxy` reads them and `send-proxy` / `send-proxy-v2` write them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::Error;
use crate::http1::{ByteRange, Parsed};

/// The v2 signature that starts every binary header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 line, CRLF included (the spec's bound).
pub const V1_MAX_LEN: usize = 107;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyCommand {
    /// The connection was made by the proxy itself (health checks): use the real addresses.
    Local,
    /// Relayed on behalf of the client described by the addresses.
    Proxy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyAddresses {
    /// v1 `UNKNOWN`, v2 `LOCAL` or `UNSPEC`, or a family other than TCP over IP.
    Unknown,
    /// The client's address (`source`) and the address it connected to.
    Tcp {
        source: SocketAddr,
        destination: SocketAddr,
    },
}

/// A parsed PROXY protocol header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProxyHeader {
    /// 1 or 2.
    pub version: u8,
    pub command: ProxyCommand,
    pub addresses: ProxyAddresses,
    /// v2 TLVs after the address block (empty for v1), as offsets into the buffer.
    pub tlvs: ByteRange,
}

/// Parses a PROXY header at the start of `buf`: `Partial` until it is whole;
/// the count in `Complete` is how many bytes to drop before the client's data.
pub fn parse_proxy_header(buf: &[u8]) -> Result<Parsed<ProxyHeader>, Error> {
    const V1: &[u8] = b"PROXY ";
    if buf.starts_with(&V2_SIGNATURE) {
        parse_v2(buf)
    } else if buf.starts_with(V1) {
        parse_v1(buf)
    } else if V2_SIGNATURE.starts_with(buf) || V1.starts_with(buf) {
        // Too short to tell yet (including an empty buffer).
        Ok(Parsed::Partial)
    } else {
        Err(Error::NotProxyProtocol)
    }
}

fn parse_v1(buf: &[u8]) -> Result<Parsed<ProxyHeader>, Error> {
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let Some(lf) = memchr::memchr(b'\n', window) else {
        return if buf.len() >= V1_MAX_LEN {
            Err(Error::InvalidProxyV1)
        } else {
            Ok(Parsed::Partial)
        };
    };
    if lf == 0 || window[lf - 1] != b'\r' {
        return Err(Error::InvalidProxyV1);
    }
    let line = &window[6..lf - 1];
    let mut fields = line.split(|&b| b == b' ');
    let proto = fields.next().ok_or(Error::InvalidProxyV1)?;
    let addresses = match proto {
        b"UNKNOWN" => ProxyAddresses::Unknown,
        b"TCP4" | b"TCP6" => {
            let v6 = proto == b"TCP6";
            let mut next = || fields.next().ok_or(Error::InvalidProxyV1);
            let (src, dst, sport, dport) = (next()?, next()?, next()?, next()?);
            if fields.next().is_some() {
                return Err(Error::InvalidProxyV1);
            }
            ProxyAddresses::Tcp {
                source: SocketAddr::new(ip_v1(src, v6)?, port_v1(sport)?),
                destination: SocketAddr::new(ip_v1(dst, v6)?, port_v1(dport)?),
            }
        }
        _ => return Err(Error::InvalidProxyV1),
    };
    Ok(Parsed::Complete(
        ProxyHeader {
            version: 1,
            command: ProxyCommand::Proxy,
            addresses,
            tlvs: ByteRange::default(),
        },
        lf + 1,
    ))
}

fn ip_v1(s: &[u8], v6: bool) -> Result<IpAddr, Error> {
    let s = std::str::from_utf8(s).map_err(|_| Error::InvalidProxyV1)?;
    let ip = if v6 {
        IpAddr::V6(s.parse::<Ipv6Addr>().map_err(|_| Error::InvalidProxyV1)?)
    } else {
        IpAddr::V4(s.parse::<Ipv4Addr>().map_err(|_| Error::InvalidProxyV1)?)
    };
    Ok(ip)
}

fn port_v1(s: &[u8]) -> Result<u16, Error> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return Err(Error::InvalidProxyV1);
    }
    let n = s
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
    u16::try_from(n).map_err(|_| Error::InvalidProxyV1)
}

fn parse_v2(buf: &[u8]) -> Result<Parsed<ProxyHeader>, Error> {
    if buf.len() < 16 {
        return Ok(Parsed::Partial);
    }
    let ver_cmd = buf[12];
    let family = buf[13];
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if ver_cmd >> 4 != 2 {
        return Err(Error::InvalidProxyV2);
    }
    let command = match ver_cmd & 0x0f {
        0 => ProxyCommand::Local,
        1 => ProxyCommand::Proxy,
        _ => return Err(Error::InvalidProxyV2),
    };
    let total = 16 + len;
    if buf.len() < total {
        return Ok(Parsed::Partial);
    }
    let body = &buf[16..total];
    let (addresses, used) = match family {
        // TCP over IPv4
        0x11 => {
            let a = body.get(..12).ok_or(Error::InvalidProxyV2)?;
            let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]));
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            (tcp(ip(0), port(8), ip(4), port(10)), 12)
        }
        // TCP over IPv6
        0x21 => {
            let a = body.get(..36).ok_or(Error::InvalidProxyV2)?;
            let ip = |o: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&a[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(b))
            };
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            (tcp(ip(0), port(32), ip(16), port(34)), 36)
        }
        0x00 => (ProxyAddresses::Unknown, 0),
        // UDP and unix sockets: known families HAProxy does not relay as TCP.
        0x12 | 0x22 => (
            ProxyAddresses::Unknown,
            len.min(if family == 0x12 { 12 } else { 36 }),
        ),
        0x31 | 0x32 => (ProxyAddresses::Unknown, len.min(216)),
        _ => return Err(Error::InvalidProxyV2),
    };
    let addresses = match command {
        ProxyCommand::Local => ProxyAddresses::Unknown,
        ProxyCommand::Proxy => addresses,
    };
    // Like HAProxy, refuse a TLV that runs past the header.
    if tlv_iter(&body[used..]).any(|t| t.is_none()) {
        return Err(Error::InvalidProxyV2);
    }
    Ok(Parsed::Complete(
        ProxyHeader {
            version: 2,
            command,
            addresses,
            tlvs: ByteRange::new(16 + used, total),
        },
        total,
    ))
}

/// `Some((type, value))` per TLV, `None` (then the end) for a truncated one.
fn tlv_iter(mut rest: &[u8]) -> impl Iterator<Item = Option<(u8, &[u8])>> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let item = match rest {
            [kind, hi, lo, tail @ ..] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                tail.get(..len).map(|v| {
                    let item = (*kind, v);
                    rest = &tail[len..];
                    item
                })
            }
            _ => None,
        };
        if item.is_none() {
            rest = &[];
        }
        Some(item)
    })
}

impl ProxyHeader {
    /// The v2 TLVs as `(type, value)`, e.g. `0x02` (authority) or `0x20` (SSL);
    /// `buf` is the buffer given to [`parse_proxy_header`].
    pub fn tlvs_in<'a>(&self, buf: &'a [u8]) -> impl Iterator<Item = (u8, &'a [u8])> {
        tlv_iter(self.tlvs.get(buf)).map_while(|t| t)
    }
}

fn tcp(sip: IpAddr, sport: u16, dip: IpAddr, dport: u16) -> ProxyAddresses {
    ProxyAddresses::Tcp {
        source: SocketAddr::new(sip, sport),
        destination: SocketAddr::new(dip, dport),
    }
}

/// Both addresses in one family: mixed pairs become IPv6 (v4-mapped), as HAProxy sends them.
fn same_family(src: SocketAddr, dst: SocketAddr) -> (IpAddr, IpAddr) {
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V6(d)) => (IpAddr::V6(s.to_ipv6_mapped()), IpAddr::V6(d)),
        (IpAddr::V6(s), IpAddr::V4(d)) => (IpAddr::V6(s), IpAddr::V6(d.to_ipv6_mapped())),
        (s, d) => (s, d),
    }
}

/// Appends a v1 line for a client connection `(source, destination)`;
/// `None` writes `PROXY UNKNOWN` (the connection has no IP addresses).
pub fn encode_v1(addrs: Option<(SocketAddr, SocketAddr)>, out: &mut Vec<u8>) {
    let Some((src, dst)) = addrs else {
        out.extend_from_slice(b"PROXY UNKNOWN\r\n");
        return;
    };
    let (sip, dip) = same_family(src, dst);
    let proto = if sip.is_ipv4() { "TCP4" } else { "TCP6" };
    let line = format!(
        "PROXY {proto} {sip} {dip} {} {}\r\n",
        src.port(),
        dst.port()
    );
    out.extend_from_slice(line.as_bytes());
}

/// Appends a v2 header for `(source, destination)`; `None` writes a `LOCAL` header.
pub fn encode_v2(addrs: Option<(SocketAddr, SocketAddr)>, out: &mut Vec<u8>) {
    out.extend_from_slice(&V2_SIGNATURE);
    let Some((src, dst)) = addrs else {
        out.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        return;
    };
    match same_family(src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[0x21, 0x11, 0x00, 12]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V6(v) => v.octets(),
                IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
            };
            out.extend_from_slice(&[0x21, 0x21, 0x00, 36]);
            out.extend_from_slice(&v6(s));
            out.extend_from_slice(&v6(d));
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
}
