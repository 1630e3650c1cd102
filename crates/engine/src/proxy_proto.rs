//! PROXY protocol v1/v2: reading it from clients (`accept-proxy`) and writing it
//! to servers (`send-proxy`, `send-proxy-v2`). Kept here until fulcrum-proto
//! provides it; pure functions over bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_MAX: usize = 107;

/// Addresses carried by a header; `None` for LOCAL / UNKNOWN.
pub type Addrs = Option<(SocketAddr, SocketAddr)>;

/// Parses a header at the start of `buf`: `Ok(None)` means more bytes are needed,
/// `Ok(Some((len, addrs)))` gives the header length.
pub fn parse(buf: &[u8]) -> Result<Option<(usize, Addrs)>, &'static str> {
    let sig_len = buf.len().min(12);
    if buf[..sig_len] == V2_SIG[..sig_len] {
        return if buf.len() < 16 {
            Ok(None)
        } else {
            parse_v2(buf)
        };
    }
    let p = buf.len().min(6);
    if buf[..p] != b"PROXY "[..p] {
        return Err("not a PROXY protocol header");
    }
    match memchr::memchr(b'\n', &buf[..buf.len().min(V1_MAX)]) {
        None if buf.len() >= V1_MAX => Err("PROXY v1 line too long"),
        None => Ok(None),
        Some(nl) => parse_v1(&buf[..=nl]).map(|a| Some((nl + 1, a))),
    }
}

fn parse_v1(line: &[u8]) -> Result<Addrs, &'static str> {
    let line = line
        .strip_suffix(b"\r\n")
        .ok_or("PROXY v1 line must end with CRLF")?;
    let text = std::str::from_utf8(line).map_err(|_| "PROXY v1 line is not ASCII")?;
    let mut it = text.split(' ').skip(1);
    let proto = it.next().ok_or("PROXY v1: missing protocol")?;
    if proto == "UNKNOWN" {
        return Ok(None);
    }
    let want_v6 = match proto {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Err("PROXY v1: bad protocol"),
    };
    let mut field = || it.next().ok_or("PROXY v1: missing field");
    let (s, d, sp, dp) = (field()?, field()?, field()?, field()?);
    let ip = |s: &str| -> Result<IpAddr, &'static str> {
        let ip: IpAddr = s.parse().map_err(|_| "PROXY v1: bad address")?;
        if ip.is_ipv6() != want_v6 {
            return Err("PROXY v1: address family mismatch");
        }
        Ok(ip)
    };
    let port = |s: &str| -> Result<u16, &'static str> {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("PROXY v1: bad port");
        }
        s.parse().map_err(|_| "PROXY v1: bad port")
    };
    if it.next().is_some() {
        return Err("PROXY v1: trailing fields");
    }
    Ok(Some((
        SocketAddr::new(ip(s)?, port(sp)?),
        SocketAddr::new(ip(d)?, port(dp)?),
    )))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(usize, Addrs)>, &'static str> {
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err("PROXY v2: bad version");
    }
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = 16 + len;
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[16..total];
    let addrs = match (ver_cmd & 0xf, buf[13]) {
        (0, _) => None,
        (1, 0x11) if body.len() >= 12 => {
            let ip = |o: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[o],
                    body[o + 1],
                    body[o + 2],
                    body[o + 3],
                ))
            };
            let port = |o: usize| u16::from_be_bytes([body[o], body[o + 1]]);
            Some((
                SocketAddr::new(ip(0), port(8)),
                SocketAddr::new(ip(4), port(10)),
            ))
        }
        (1, 0x21) if body.len() >= 36 => {
            let ip = |o: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&body[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            let port = |o: usize| u16::from_be_bytes([body[o], body[o + 1]]);
            Some((
                SocketAddr::new(ip(0), port(32)),
                SocketAddr::new(ip(16), port(34)),
            ))
        }
        (1, 0x00) => None,
        (1, _) => return Err("PROXY v2: unsupported or short address block"),
        _ => return Err("PROXY v2: bad command"),
    };
    Ok(Some((total, addrs)))
}

/// `send-proxy`: a v1 line for the client's addresses.
pub fn v1_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = normalise(src, dst);
    let proto = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {proto} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

/// `send-proxy-v2`: a binary header for the client's addresses.
pub fn v2_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = normalise(src, dst);
    let mut out = Vec::with_capacity(52);
    out.extend_from_slice(V2_SIG);
    out.push(0x21);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[0x11, 0, 12]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.extend_from_slice(&[0x21, 0, 36]);
            out.extend_from_slice(&to_v6(s).octets());
            out.extend_from_slice(&to_v6(d).octets());
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Both addresses in one family, as the header needs.
fn normalise(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    if src.is_ipv4() == dst.is_ipv4() {
        return (src, dst);
    }
    (
        SocketAddr::new(IpAddr::V6(to_v6(src.ip())), src.port()),
        SocketAddr::new(IpAddr::V6(to_v6(dst.ip())), dst.port()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v1_parses_and_incomplete_waits() {
        let h = b"PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\nGET";
        let (len, a) = parse(h).unwrap().unwrap();
        assert_eq!(len, h.len() - 3);
        let (s, d) = a.unwrap();
        assert_eq!(s, "192.0.2.1:5000".parse().unwrap());
        assert_eq!(d, "192.0.2.2:80".parse().unwrap());
        assert_eq!(parse(b"PROXY TCP4 1.2").unwrap(), None);
        assert!(parse(b"GET / HTTP/1.1\r\n").is_err());
        assert!(parse(b"PROXY TCP4 ::1 1.2.3.4 1 2\r\n").is_err());
    }

    proptest! {
        #[test]
        fn v1_and_v2_round_trip(a in any::<[u8;4]>(), b in any::<[u8;16]>(), p in any::<u16>(), q in any::<u16>(), v6 in any::<bool>()) {
            let src = if v6 { SocketAddr::new(IpAddr::V6(b.into()), p) } else { SocketAddr::new(IpAddr::V4(a.into()), p) };
            let dst = SocketAddr::new(IpAddr::V4(a.into()), q);
            for h in [v1_header(src, dst), v2_header(src, dst)] {
                let (len, addrs) = parse(&h).unwrap().unwrap();
                prop_assert_eq!(len, h.len());
                let (s, d) = addrs.unwrap();
                let (ns, nd) = normalise(src, dst);
                prop_assert_eq!((s, d), (ns, nd));
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
        }
    }
}
