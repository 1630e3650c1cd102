//! PROXY protocol v1/v2: fixtures from the spec, round trips, partial input.

use std::net::SocketAddr;

use fulcrum_proto::proxy_protocol::{
    encode_v1, encode_v2, parse_proxy_header, ProxyAddresses, ProxyCommand, ProxyHeader,
    V2_SIGNATURE,
};
use fulcrum_proto::{Error, Parsed};
use proptest::prelude::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn complete(buf: &[u8]) -> (ProxyHeader, usize) {
    match parse_proxy_header(buf) {
        Ok(Parsed::Complete(h, n)) => (h, n),
        other => panic!("{other:?}"),
    }
}

#[test]
fn v1_tcp4_with_data_after() {
    let buf = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
    let (h, n) = complete(buf);
    assert_eq!(n, 47);
    assert_eq!(&buf[n..], b"GET / HTTP/1.1\r\n");
    assert_eq!(h.version, 1);
    assert_eq!(h.command, ProxyCommand::Proxy);
    assert_eq!(
        h.addresses,
        ProxyAddresses::Tcp {
            source: sa("192.168.0.1:56324"),
            destination: sa("192.168.0.11:443")
        }
    );
}

#[test]
fn v1_tcp6_and_unknown() {
    let (h, _) = complete(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
    assert_eq!(
        h.addresses,
        ProxyAddresses::Tcp {
            source: sa("[2001:db8::1]:1"),
            destination: sa("[::1]:65535")
        }
    );
    let (h, n) = complete(b"PROXY UNKNOWN\r\n");
    assert_eq!((h.addresses, n), (ProxyAddresses::Unknown, 15));
    let (h, _) = complete(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
    assert_eq!(h.addresses, ProxyAddresses::Unknown);
}

#[test]
fn v1_malformed_lines_are_refused() {
    for buf in [
        &b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"[..],
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        b"PROXY TCP4 ::1 ::1 1 2\r\n",
        b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    ] {
        assert_eq!(
            parse_proxy_header(buf),
            Err(Error::InvalidProxyV1),
            "{buf:?}"
        );
    }
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(120, b'a');
    assert_eq!(parse_proxy_header(&long), Err(Error::InvalidProxyV1));
}

#[test]
fn not_a_proxy_header() {
    assert_eq!(
        parse_proxy_header(b"GET / HTTP/1.1\r\n"),
        Err(Error::NotProxyProtocol)
    );
    assert_eq!(parse_proxy_header(b"PROXX"), Err(Error::NotProxyProtocol));
    assert_eq!(
        parse_proxy_header(b"\r\n\r\n\0\r\nQUIX"),
        Err(Error::NotProxyProtocol)
    );
}

#[test]
fn v2_tcp4_fixture() {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x21, 0x11, 0x00, 0x0f]);
    buf.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0x00, 0x50]);
    buf.extend_from_slice(&[0x04, 0x00, 0x00]); // one empty NOOP TLV
    buf.extend_from_slice(b"data");
    let (h, n) = complete(&buf);
    assert_eq!(n, 16 + 15);
    assert_eq!(h.version, 2);
    assert_eq!(
        h.addresses,
        ProxyAddresses::Tcp {
            source: sa("10.0.0.1:8080"),
            destination: sa("10.0.0.2:80")
        }
    );
    assert_eq!(h.tlvs.get(&buf), &[0x04, 0x00, 0x00]);
    assert_eq!(h.tlvs_in(&buf).collect::<Vec<_>>(), vec![(0x04, &[][..])]);
}

#[test]
fn v2_tlvs_are_listed_and_truncated_ones_refused() {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x21, 0x11, 0x00, 12 + 8 + 4]);
    buf.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1, 0, 1, 0, 2]);
    buf.extend_from_slice(&[0x02, 0x00, 0x05]);
    buf.extend_from_slice(b"a.org");
    buf.extend_from_slice(&[0x05, 0x00, 0x01, 0x2a]);
    let (h, _) = complete(&buf);
    let tlvs: Vec<(u8, &[u8])> = h.tlvs_in(&buf).collect();
    assert_eq!(tlvs, vec![(0x02, &b"a.org"[..]), (0x05, &[0x2a][..])]);

    let mut bad = V2_SIGNATURE.to_vec();
    bad.extend_from_slice(&[0x21, 0x11, 0x00, 12 + 3]);
    bad.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1, 0, 1, 0, 2]);
    bad.extend_from_slice(&[0x02, 0x00, 0x05]);
    assert_eq!(parse_proxy_header(&bad), Err(Error::InvalidProxyV2));
    let mut stub = V2_SIGNATURE.to_vec();
    stub.extend_from_slice(&[0x21, 0x11, 0x00, 12 + 2]);
    stub.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1, 0, 1, 0, 2, 0x02, 0x00]);
    assert_eq!(parse_proxy_header(&stub), Err(Error::InvalidProxyV2));
}

#[test]
fn v2_local_and_unspec() {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    let (h, n) = complete(&buf);
    assert_eq!(
        (h.command, h.addresses, n),
        (ProxyCommand::Local, ProxyAddresses::Unknown, 16)
    );
    // LOCAL with addresses: addresses are ignored.
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x20, 0x11, 0x00, 12]);
    buf.extend_from_slice(&[1; 12]);
    assert_eq!(complete(&buf).0.addresses, ProxyAddresses::Unknown);
}

#[test]
fn v2_malformed_headers_are_refused() {
    let mut bad_version = V2_SIGNATURE.to_vec();
    bad_version.extend_from_slice(&[0x11, 0x11, 0x00, 0x00]);
    let mut bad_command = V2_SIGNATURE.to_vec();
    bad_command.extend_from_slice(&[0x22, 0x11, 0x00, 0x00]);
    let mut short_addr = V2_SIGNATURE.to_vec();
    short_addr.extend_from_slice(&[0x21, 0x21, 0x00, 12]);
    short_addr.extend_from_slice(&[0; 12]);
    let mut bad_family = V2_SIGNATURE.to_vec();
    bad_family.extend_from_slice(&[0x21, 0x41, 0x00, 0x00]);
    for buf in [bad_version, bad_command, short_addr, bad_family] {
        assert_eq!(
            parse_proxy_header(&buf),
            Err(Error::InvalidProxyV2),
            "{buf:?}"
        );
    }
}

#[test]
fn encoders_write_what_haproxy_sends() {
    let mut out = Vec::new();
    encode_v1(Some((sa("1.2.3.4:5"), sa("6.7.8.9:10"))), &mut out);
    assert_eq!(out, b"PROXY TCP4 1.2.3.4 6.7.8.9 5 10\r\n");
    out.clear();
    encode_v1(None, &mut out);
    assert_eq!(out, b"PROXY UNKNOWN\r\n");
    out.clear();
    encode_v1(Some((sa("1.2.3.4:5"), sa("[::1]:10"))), &mut out);
    assert_eq!(out, b"PROXY TCP6 ::ffff:1.2.3.4 ::1 5 10\r\n");
    out.clear();
    encode_v2(None, &mut out);
    assert_eq!(out.len(), 16);
    assert_eq!(&out[12..], &[0x20, 0x00, 0x00, 0x00]);
    out.clear();
    encode_v2(Some((sa("10.0.0.1:8080"), sa("10.0.0.2:80"))), &mut out);
    assert_eq!(
        &out[12..],
        &[0x21, 0x11, 0, 12, 10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0, 0x50]
    );
}

#[test]
fn partial_at_every_cut() {
    let mut v1 = Vec::new();
    encode_v1(
        Some((sa("[2001:db8::1]:1234"), sa("[2001:db8::2]:443"))),
        &mut v1,
    );
    let mut v2 = Vec::new();
    encode_v2(
        Some((sa("[2001:db8::1]:1234"), sa("[2001:db8::2]:443"))),
        &mut v2,
    );
    for full in [v1, v2] {
        for cut in 0..full.len() {
            assert_eq!(
                parse_proxy_header(&full[..cut]),
                Ok(Parsed::Partial),
                "cut {cut}"
            );
        }
        assert_eq!(complete(&full).1, full.len());
    }
}

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
    ]
}

fn canonical(a: SocketAddr, mixed: bool) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) if mixed => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        other => other,
    }
}

proptest! {
    #[test]
    fn encode_then_parse_round_trips(src in addr(), dst in addr(), v2 in any::<bool>()) {
        let mut out = Vec::new();
        if v2 { encode_v2(Some((src, dst)), &mut out) } else { encode_v1(Some((src, dst)), &mut out) }
        let (h, n) = complete(&out);
        prop_assert_eq!(n, out.len());
        let mixed = src.is_ipv4() != dst.is_ipv4();
        prop_assert_eq!(h.addresses, ProxyAddresses::Tcp {
            source: canonical(src, mixed),
            destination: canonical(dst, mixed),
        });
    }

    #[test]
    fn random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(Parsed::Complete(_, n)) = parse_proxy_header(&buf) {
            prop_assert!(n <= buf.len());
        }
    }
}
