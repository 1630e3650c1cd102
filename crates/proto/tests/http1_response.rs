//! Response heads: framing per RFC 9112 §6.3 and the 502 cases.

use fulcrum_proto::{
    parse_response, BodyFraming, Error, Limits, Method, Parsed, ResponseHead, Side, Version,
};

fn ok_for(buf: &[u8], method: Method) -> ResponseHead {
    match parse_response(buf, method, &Limits::default()) {
        Ok(Parsed::Complete(h, n)) => {
            assert_eq!(n, h.head_len);
            h
        }
        other => panic!("expected a complete head, got {other:?}"),
    }
}

fn ok(buf: &[u8]) -> ResponseHead {
    ok_for(buf, Method::Get)
}

fn err(buf: &[u8]) -> Error {
    match parse_response(buf, Method::Get, &Limits::default()) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn status_reason_and_content_length() {
    let buf = b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\nbody";
    let h = ok(buf);
    assert_eq!(h.status, 404);
    assert_eq!(h.reason.get(buf), b"Not Found");
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.start_line.get(buf), b"HTTP/1.1 404 Not Found\r\n");
    assert_eq!(h.framing, BodyFraming::ContentLength(12));
    assert!(h.keep_alive());
    assert_eq!(h.head_len, buf.len() - 4);
}

#[test]
fn no_length_means_close_delimited() {
    let h = ok(b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::CloseDelimited);
    assert!(h.must_close);
    assert!(!h.keep_alive());
}

#[test]
fn chunked_response() {
    let h = ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Chunked);
    assert!(h.keep_alive());
    // Servers may apply a coding before chunked.
    let h = ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Chunked);
}

#[test]
fn no_body_for_head_1xx_204_304() {
    let with_len = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    assert_eq!(ok_for(with_len, Method::Head).framing, BodyFraming::None);
    for status in [
        "100 Continue",
        "204 No Content",
        "304 Not Modified",
        "103 Early Hints",
    ] {
        let buf = format!(
            "HTTP/1.1 {status}\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let h = ok(buf.as_bytes());
        assert_eq!(h.framing, BodyFraming::None, "{status}");
        assert!(h.keep_alive(), "{status}");
    }
    let h = ok(b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(h.is_interim());
}

#[test]
fn switching_protocols_and_connect_are_tunnels() {
    let buf =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let h = ok(buf);
    assert!(h.tunnel);
    assert!(!h.is_interim());
    assert_eq!(h.framing, BodyFraming::None);
    assert_eq!(h.upgrade.map(|r| r.get(buf)), Some(&b"websocket"[..]));
    let h = ok_for(
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        Method::Connect,
    );
    assert!(h.tunnel);
    assert_eq!(h.framing, BodyFraming::None);
    let h = ok_for(
        b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n",
        Method::Connect,
    );
    assert!(!h.tunnel);
}

#[test]
fn http10_response_keep_alive_rules() {
    let h = ok(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
    assert!(!h.keep_alive());
    let h = ok(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n");
    assert!(h.keep_alive());
    let h = ok(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Chunked);
    assert!(h.must_close);
}

#[test]
fn response_smuggling_vectors_are_502() {
    let cases: [(&[u8], Error); 8] = [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n",
            Error::TransferEncodingWithContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Error::DuplicateContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            Error::InvalidTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            Error::InvalidTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            Error::InvalidTransferEncoding,
        ),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", Error::ObsFold),
        (
            b"HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n",
            Error::InvalidHeaderName,
        ),
        (
            b"HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n",
            Error::InvalidHeaderValue,
        ),
    ];
    for (buf, want) in cases {
        let e = err(buf);
        assert_eq!(e, want, "{:?}", String::from_utf8_lossy(buf));
        assert_eq!(e.status(Side::Response), 502);
    }
}

#[test]
fn malformed_status_lines_are_refused() {
    assert_eq!(err(b"HTTP/1.1 2000 OK\r\n\r\n"), Error::InvalidStatusLine);
    assert_eq!(err(b"HTTP/1.1 abc OK\r\n\r\n"), Error::InvalidStatusLine);
    assert_eq!(err(b"HTTP/1.1 099 Low\r\n\r\n"), Error::InvalidStatusLine);
    assert_eq!(err(b"ICY 200 OK\r\n\r\n"), Error::InvalidVersion);
}

#[test]
fn empty_reason_is_accepted() {
    let buf = b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n";
    let h = ok(buf);
    assert_eq!(h.reason.get(buf), b"");
    let h = ok(b"HTTP/1.1 204\r\n\r\n");
    assert_eq!(h.status, 204);
}

#[test]
fn accept_invalid_response_relaxes_names_and_versions() {
    let relaxed = Limits {
        accept_invalid: true,
        ..Limits::default()
    };
    let buf = b"HTTP/1.1 200 OK\r\nX[1]: a\r\nContent-Length: 2\r\n\r\n";
    assert_eq!(err(buf), Error::InvalidHeaderName);
    let Ok(Parsed::Complete(h, _)) = parse_response(buf, Method::Get, &relaxed) else {
        panic!("relaxed response refused")
    };
    assert_eq!(h.framing, BodyFraming::ContentLength(2));
    assert_eq!(h.headers[0].name.get(buf), b"X[1]");
    let buf = b"HTTP/1.01 200 OK\r\n\r\n";
    let Ok(Parsed::Complete(h, _)) = parse_response(buf, Method::Get, &relaxed) else {
        panic!("relaxed version refused")
    };
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.reason.get(buf), b"OK");
}

#[test]
fn response_partial_and_too_large() {
    let full = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(
            parse_response(&full[..cut], Method::Get, &Limits::default()),
            Ok(Parsed::Partial)
        );
    }
    let limits = Limits::from_tune(128, 32, false);
    let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    big.resize(96, b'a');
    assert_eq!(
        parse_response(&big, Method::Get, &limits),
        Err(Error::HeadTooLarge { limit: 96 })
    );
}
