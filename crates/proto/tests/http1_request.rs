//! Request heads: what the engine learns from them, and every smuggling
//! vector refused with the fault named and HAProxy's status.

use fulcrum_proto::http1::{ConnectionTokens, TargetForm};
use fulcrum_proto::{
    parse_request, BodyFraming, Error, Limits, Method, Parsed, RequestHead, Side, Version,
};

fn ok(buf: &[u8]) -> (RequestHead, usize) {
    match parse_request(buf, &Limits::default()) {
        Ok(Parsed::Complete(h, n)) => (h, n),
        other => panic!("expected a complete head, got {other:?}"),
    }
}

fn err(buf: &[u8]) -> Error {
    match parse_request(buf, &Limits::default()) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn relaxed() -> Limits {
    Limits {
        accept_invalid: true,
        ..Limits::default()
    }
}

#[test]
fn simple_get_keeps_offsets_into_the_buffer() {
    let buf = b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Y:  v  \r\n\r\nNEXT";
    let (h, n) = ok(buf);
    assert_eq!(n, buf.len() - 4);
    assert_eq!(h.head_len, n);
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.method_bytes(buf), b"GET");
    assert_eq!(h.target_bytes(buf), b"/a/b?x=1");
    assert_eq!(h.target_form, TargetForm::Origin);
    assert_eq!(h.path(buf), b"/a/b");
    assert_eq!(h.query(buf), Some(&b"x=1"[..]));
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.start_line.get(buf), b"GET /a/b?x=1 HTTP/1.1\r\n");
    assert_eq!(h.headers.len(), 2);
    assert_eq!(h.headers[1].name.get(buf), b"X-Y");
    assert_eq!(h.headers[1].value.get(buf), b"v");
    assert_eq!(h.headers[1].line.get(buf), b"X-Y:  v  \r\n");
    assert_eq!(h.host.map(|r| r.get(buf)), Some(&b"example.com"[..]));
    assert_eq!(h.framing, BodyFraming::None);
    assert!(h.keep_alive());
    assert!(!h.expect_continue);
}

#[test]
fn partial_until_the_empty_line() {
    let full = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(
            parse_request(&full[..cut], &Limits::default()),
            Ok(Parsed::Partial),
            "cut at {cut}"
        );
    }
    assert_eq!(ok(full).0.framing, BodyFraming::ContentLength(3));
}

#[test]
fn pipelined_requests_parse_one_after_the_other() {
    let buf = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    let (h1, n1) = ok(buf);
    assert_eq!(h1.target_bytes(buf), b"/1");
    let rest = &buf[n1..];
    let (h2, n2) = ok(rest);
    assert_eq!(h2.target_bytes(rest), b"/2");
    assert_eq!(n1 + n2, buf.len());
}

#[test]
fn keep_alive_defaults_by_version_and_tokens() {
    let (h, _) = ok(b"GET / HTTP/1.0\r\n\r\n");
    assert!(!h.keep_alive_by_default());
    assert!(!h.keep_alive());
    let (h, _) = ok(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(h.keep_alive());
    let (h, _) = ok(b"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n");
    assert!(!h.keep_alive());
    assert_eq!(
        h.connection,
        ConnectionTokens {
            close: true,
            keep_alive: false,
            upgrade: false
        }
    );
}

#[test]
fn websocket_upgrade_is_detected() {
    let buf = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let (h, _) = ok(buf);
    assert!(h.connection.upgrade);
    assert!(h.wants_upgrade());
    assert_eq!(h.upgrade.map(|r| r.get(buf)), Some(&b"websocket"[..]));
}

#[test]
fn expect_100_continue_is_detected() {
    let (h, _) =
        ok(b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 10\r\n\r\n");
    assert!(h.expect_continue);
    let (h, _) = ok(b"PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
    assert!(
        !h.expect_continue,
        "HTTP/1.0 clients get no interim response"
    );
}

#[test]
fn empty_lines_before_the_request_line_are_skipped() {
    let buf = b"\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    let (h, n) = ok(buf);
    assert_eq!(n, buf.len());
    assert_eq!(h.start_line.get(buf), b"GET /x HTTP/1.1\r\n");
    assert_eq!(h.target_bytes(buf), b"/x");
}

#[test]
fn chunked_request_framing() {
    let (h, _) = ok(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Chunked);
    assert!(h.keep_alive());
    let (h, _) = ok(b"POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Chunked);
}

#[test]
fn transfer_encoding_in_http10_is_served_then_closed() {
    let (h, _) =
        ok(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Chunked);
    assert!(h.must_close);
    assert!(!h.keep_alive());
}

#[test]
fn equal_content_length_duplicates_are_one_value() {
    let (h, _) = ok(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::ContentLength(5));
    let (h, _) = ok(b"POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::ContentLength(7));
}

#[test]
fn smuggling_te_with_cl_is_refused() {
    let e = err(b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(e, Error::TransferEncodingWithContentLength);
    assert_eq!(e.status(Side::Request), 400);
}

#[test]
fn smuggling_differing_content_lengths_are_refused() {
    for buf in [
        &b"POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 4, 5\r\n\r\n",
    ] {
        assert_eq!(err(buf), Error::DuplicateContentLength);
    }
}

#[test]
fn invalid_content_length_values_are_refused() {
    for v in [
        "",
        "abc",
        "-1",
        "+5",
        "5 5",
        "0x10",
        "18446744073709551616",
        "5,",
    ] {
        let buf = format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\n");
        assert_eq!(err(buf.as_bytes()), Error::InvalidContentLength, "{v:?}");
    }
}

#[test]
fn transfer_codings_as_haproxy_judges_them() {
    let cases: [(&str, Error, u16); 5] = [
        ("chunked, chunked", Error::InvalidTransferEncoding, 400),
        (
            "chunked, gzip, chunked",
            Error::InvalidTransferEncoding,
            400,
        ),
        ("chunked, gzip", Error::InvalidTransferEncoding, 400),
        ("gzip", Error::InvalidTransferEncoding, 400),
        ("gzip, chunked", Error::UnsupportedTransferEncoding, 501),
    ];
    for (te, want, status) in cases {
        let buf = format!("POST / HTTP/1.1\r\nTransfer-Encoding: {te}\r\n\r\n");
        let e = err(buf.as_bytes());
        assert_eq!(e, want, "{te}");
        assert_eq!(e.status(Side::Request), status, "{te}");
    }
    // Split over two header lines: still twice.
    let e =
        err(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(e, Error::InvalidTransferEncoding);
    let e = err(b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n");
    assert_eq!(e, Error::InvalidTransferEncoding);
}

#[test]
fn smuggling_obs_fold_is_refused() {
    let e = err(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n");
    assert_eq!(e, Error::ObsFold);
    let e = err(b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n");
    assert_eq!(e, Error::ObsFold);
    // Relaxing invalid requests does not let folding through.
    let r = parse_request(b"GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", &relaxed());
    assert_eq!(r, Err(Error::ObsFold));
}

#[test]
fn smuggling_invalid_header_names_are_refused() {
    for buf in [
        &b"GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nX(y): 1\r\n\r\n",
        b"GET / HTTP/1.1\r\n: empty\r\n\r\n",
        b"GET / HTTP/1.1\r\nX\x00Y: 1\r\n\r\n",
    ] {
        let e = err(buf);
        assert_eq!(e, Error::InvalidHeaderName, "{buf:?}");
        assert_eq!(e.status(Side::Request), 400);
    }
}

#[test]
fn smuggling_control_bytes_in_values_are_refused() {
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n"),
        Error::InvalidHeaderValue
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n"),
        Error::InvalidHeaderValue
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"),
        Error::InvalidHeaderValue
    );
}

#[test]
fn bare_lf_line_endings_are_tolerated_like_haproxy() {
    let buf = b"GET / HTTP/1.1\nHost: a\n\n";
    let (h, n) = ok(buf);
    assert_eq!(n, buf.len());
    assert_eq!(h.host.map(|r| r.get(buf)), Some(&b"a"[..]));
}

#[test]
fn smuggling_absolute_form_host_mismatch_is_refused() {
    let e = err(b"GET http://evil.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n");
    assert_eq!(e, Error::HostMismatch);
    assert_eq!(e.status(Side::Request), 400);
}

#[test]
fn absolute_form_matching_host_is_accepted() {
    let buf = b"GET http://user@Good.Example:80/x?q HTTP/1.1\r\nHost: good.example\r\n\r\n";
    let (h, _) = ok(buf);
    assert_eq!(h.target_form, TargetForm::Absolute);
    assert_eq!(h.path(buf), b"/x");
    assert_eq!(h.query(buf), Some(&b"q"[..]));
    ok(b"GET https://[::1]:443 HTTP/1.1\r\nHost: [::1]\r\n\r\n");
    ok(b"GET http://a.example/ HTTP/1.1\r\n\r\n");
    assert_eq!(
        err(b"GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n"),
        Error::HostMismatch
    );
}

#[test]
fn differing_host_headers_are_refused() {
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        Error::DuplicateHost
    );
    ok(b"GET / HTTP/1.1\r\nHost: a\r\nHost: A\r\n\r\n");
}

#[test]
fn request_target_forms_follow_the_method() {
    ok(b"OPTIONS * HTTP/1.1\r\n\r\n");
    ok(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
    for buf in [
        &b"GET * HTTP/1.1\r\n\r\n"[..],
        b"OPTIONS */test HTTP/1.1\r\n\r\n",
        b"CONNECT example.org HTTP/1.1\r\n\r\n",
        b"CONNECT / HTTP/1.1\r\n\r\n",
        b"CONNECT http://example.org:80 HTTP/1.1\r\n\r\n",
        b"GET example.org:80 HTTP/1.1\r\n\r\n",
        b"GET admin HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(
            err(buf),
            Error::InvalidTarget,
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
}

#[test]
fn fragment_and_non_ascii_targets_need_accept_invalid() {
    let frag = b"GET /a#b HTTP/1.1\r\n\r\n";
    assert_eq!(err(frag), Error::FragmentInTarget);
    let utf8 = "GET /caf\u{e9} HTTP/1.1\r\n\r\n".as_bytes();
    assert_eq!(err(utf8), Error::NonAsciiTarget);
    for buf in [&frag[..], utf8] {
        assert!(matches!(
            parse_request(buf, &relaxed()),
            Ok(Parsed::Complete(..))
        ));
    }
}

#[test]
fn accept_invalid_relaxes_header_names_and_versions_only() {
    let buf = b"GET / HTTP/1.1\r\nX(y)@: 1\r\nHost: a\r\n\r\n";
    assert_eq!(err(buf), Error::InvalidHeaderName);
    let Ok(Parsed::Complete(h, n)) = parse_request(buf, &relaxed()) else {
        panic!("relaxed parse failed")
    };
    assert_eq!(n, buf.len());
    assert_eq!(h.headers[0].name.get(buf), b"X(y)@");
    assert_eq!(h.host.map(|r| r.get(buf)), Some(&b"a"[..]));

    let v = b"GET / HTTP/1.10\r\n\r\n";
    assert_eq!(err(v), Error::InvalidVersion);
    let Ok(Parsed::Complete(h, _)) = parse_request(v, &relaxed()) else {
        panic!("relaxed version failed")
    };
    assert_eq!(h.version, Version::Http11);

    // Still refused when relaxed: whitespace in names, CTLs, other versions, smuggling.
    let still = [
        (
            &b"GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n"[..],
            Error::InvalidHeaderName,
        ),
        (b"GET / HTTP/2.0\r\n\r\n", Error::InvalidVersion),
        (
            b"GET / HTTP/1.1\r\nX: \x01\r\n\r\n",
            Error::InvalidHeaderValue,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Error::DuplicateContentLength,
        ),
    ];
    for (buf, want) in still {
        assert_eq!(parse_request(buf, &relaxed()), Err(want), "{buf:?}");
    }
}

#[test]
fn relaxed_parser_is_partial_until_complete() {
    let full = b"GET / HTTP/1.1\r\nX(y): 1\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(
            parse_request(&full[..cut], &relaxed()),
            Ok(Parsed::Partial),
            "cut {cut}"
        );
    }
}

#[test]
fn head_larger_than_bufsize_minus_maxrewrite_is_refused() {
    let limits = Limits::default();
    assert_eq!(limits.max_head, 16384 - 1024);
    let mut buf = b"GET / HTTP/1.1\r\nX: ".to_vec();
    buf.resize(limits.max_head, b'a');
    let e = parse_request(&buf, &limits);
    assert_eq!(e, Err(Error::HeadTooLarge { limit: 15360 }));
    assert_eq!(Error::HeadTooLarge { limit: 1 }.status(Side::Request), 400);
    assert_eq!(Limits::from_tune(32768, 1024, false).max_head, 31744);
    // HAProxy caps tune.maxrewrite at half of tune.bufsize.
    assert_eq!(Limits::from_tune(1000, 1024, false).max_head, 500);
    // One byte less is still just incomplete.
    assert_eq!(
        parse_request(&buf[..buf.len() - 1], &limits),
        Ok(Parsed::Partial)
    );
    // A complete head that fits is accepted even if the buffer holds more.
    let small = Limits::from_tune(64, 16, false);
    let mut fits = b"GET / HTTP/1.1\r\n\r\n".to_vec();
    fits.extend_from_slice(&[b'x'; 100]);
    assert!(matches!(
        parse_request(&fits, &small),
        Ok(Parsed::Complete(_, 18))
    ));
}

#[test]
fn too_many_headers_are_refused() {
    let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..102 {
        buf.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    assert_eq!(err(&buf), Error::TooManyHeaders);
}

#[test]
fn malformed_request_lines_are_refused() {
    assert_eq!(err(b"GET  / HTTP/1.1\r\n\r\n"), Error::InvalidRequestLine);
    assert_eq!(err(b"G(T / HTTP/1.1\r\n\r\n"), Error::InvalidRequestLine);
    assert_eq!(err(b"GET / HTTP/1.1\rX\n\r\n"), Error::BareCr);
    assert_eq!(err(b"GET / FOO/1.1\r\n\r\n"), Error::InvalidVersion);
}

#[test]
fn extension_methods_are_kept() {
    let buf = b"PURGE /x HTTP/1.1\r\n\r\n";
    let (h, _) = ok(buf);
    assert_eq!(h.method, Method::Other);
    assert_eq!(h.method_bytes(buf), b"PURGE");
}

#[test]
fn empty_header_values_are_located_after_the_colon() {
    let buf = b"GET / HTTP/1.1\r\nX-Empty:\r\nY: 1\r\n\r\n";
    let (h, _) = ok(buf);
    assert_eq!(h.headers[0].value.get(buf), b"");
    assert_eq!(h.headers[0].value.start as usize, 24);
    assert_eq!(h.headers[0].line.get(buf), b"X-Empty:\r\n");
}
