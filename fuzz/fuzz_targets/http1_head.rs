#![no_main]
//! HTTP/1 heads: parsing never panics, every offset stays inside the head,
//! and a rewrite of an accepted head is accepted again.
use fulcrum_proto::http1::{rewrite_request, Edit};
use fulcrum_proto::{parse_request, parse_response, Error, Limits, Method, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, buf)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        accept_invalid: flags & 1 != 0,
        ..Limits::default()
    };
    if let Ok(Parsed::Complete(head, n)) = parse_request(buf, &limits) {
        assert!(n <= buf.len());
        for h in &head.headers {
            assert!(h.line.end as usize <= n && h.value.end <= h.line.end);
        }
        let mut out = Vec::new();
        let edits = [Edit::SetHeader {
            name: b"X-Fuzz",
            value: b"1",
        }];
        assert_eq!(rewrite_request(buf, &head, &edits, &mut out), Ok(true));
        // The added line may cross tune.http.maxhdr or the head size limit; nothing else.
        match parse_request(&out, &limits) {
            Ok(Parsed::Complete(_, m)) => assert_eq!(m, out.len()),
            Err(Error::TooManyHeaders | Error::HeadTooLarge { .. }) => {}
            other => panic!("rewritten head refused: {other:?}"),
        }
    }
    let method = if flags & 2 != 0 {
        Method::Head
    } else {
        Method::Get
    };
    if let Ok(Parsed::Complete(head, n)) = parse_response(buf, method, &limits) {
        assert!(n <= buf.len() && head.start_line.end as usize <= n);
    }
});
