//! The fuzz targets' property, run by CI on random input: parsers never
//! panic, never claim bytes they were not given, and agree with themselves.

use fulcrum_proto::http1::{rewrite_request, Edit};
use fulcrum_proto::{parse_request, parse_response, Error, Limits, Method, Parsed};
use proptest::prelude::*;

/// Bytes that look like heads often enough to reach deep states.
fn heady() -> impl Strategy<Value = Vec<u8>> {
    let start = prop_oneof![
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"POST http://a/b?c HTTP/1.0\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.0 304 Not Modified\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..24),
    ];
    let piece = prop_oneof![
        Just(b"Host: a\r\n".to_vec()),
        Just(b"Content-Length: 3\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Connection: close, upgrade\r\n".to_vec()),
        Just(b"X-A: \"q,v\", w\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b":".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    (start, prop::collection::vec(piece, 0..8), any::<bool>()).prop_map(|(s, p, end)| {
        let mut v = s;
        v.extend(p.concat());
        if end {
            v.extend_from_slice(b"\r\n");
        }
        v
    })
}

fn check_ranges(buf: &[u8], n: usize, ranges: impl Iterator<Item = (u32, u32)>) {
    assert!(n <= buf.len());
    for (s, e) in ranges {
        assert!(
            s <= e && e as usize <= n,
            "range {s}..{e} outside head of {n}"
        );
    }
}

proptest! {
    #[test]
    fn request_parser_is_total(buf in heady(), relaxed in any::<bool>()) {
        let limits = Limits { accept_invalid: relaxed, ..Limits::default() };
        if let Ok(Parsed::Complete(h, n)) = parse_request(&buf, &limits) {
            let ranges = h.headers.iter().flat_map(|e| [e.name, e.value, e.line])
                .chain([h.method_range, h.target, h.start_line])
                .map(|r| (r.start, r.end));
            check_ranges(&buf, n, ranges);
            // Parsing only the head gives the same head.
            prop_assert_eq!(parse_request(&buf[..n], &limits), Ok(Parsed::Complete(h.clone(), n)));
            // A rewrite of a valid head is itself a valid head.
            let mut out = Vec::new();
            let edits = [Edit::AddHeader { name: b"X-Fuzz", value: b"1" }];
            prop_assert_eq!(rewrite_request(&buf, &h, &edits, &mut out), Ok(true));
            let again = parse_request(&out, &limits);
            let fine = match again {
                Ok(Parsed::Complete(_, m)) => m == out.len(),
                // The added line may cross tune.http.maxhdr or the size limit; nothing else.
                Err(Error::TooManyHeaders | Error::HeadTooLarge { .. }) => true,
                _ => false,
            };
            prop_assert!(fine, "{:?}", again);
        }
    }

    #[test]
    fn response_parser_is_total(buf in heady(), head in any::<bool>(), relaxed in any::<bool>()) {
        let limits = Limits { accept_invalid: relaxed, ..Limits::default() };
        let method = if head { Method::Head } else { Method::Get };
        if let Ok(Parsed::Complete(h, n)) = parse_response(&buf, method, &limits) {
            let ranges = h.headers.iter().flat_map(|e| [e.name, e.value, e.line])
                .chain([h.reason, h.start_line])
                .map(|r| (r.start, r.end));
            check_ranges(&buf, n, ranges);
        }
    }

    #[test]
    fn random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_request(&buf, &Limits::default());
        let _ = parse_response(&buf, Method::Get, &Limits::default());
        let relaxed = Limits { accept_invalid: true, ..Limits::default() };
        let _ = parse_request(&buf, &relaxed);
        let _ = parse_response(&buf, Method::Connect, &relaxed);
    }
}
