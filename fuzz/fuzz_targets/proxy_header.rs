#![no_main]
//! PROXY headers: parsing never panics, and what parses re-encodes to
//! something that parses to the same addresses.
use fulcrum_proto::proxy_protocol::{encode_v1, encode_v2, parse_proxy_header, ProxyAddresses};
use fulcrum_proto::Parsed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Parsed::Complete(h, n)) = parse_proxy_header(data) else {
        return;
    };
    assert!(n <= data.len() && h.tlvs.end as usize <= n);
    if let ProxyAddresses::Tcp {
        source,
        destination,
    } = h.addresses
    {
        if source.is_ipv4() == destination.is_ipv4() {
            for v2 in [false, true] {
                let mut out = Vec::new();
                if v2 {
                    encode_v2(Some((source, destination)), &mut out);
                } else {
                    encode_v1(Some((source, destination)), &mut out);
                }
                let Ok(Parsed::Complete(again, _)) = parse_proxy_header(&out) else {
                    panic!("re-encoded header does not parse");
                };
                assert_eq!(again.addresses, h.addresses);
            }
        }
    }
});
