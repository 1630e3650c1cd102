//! `option independent-streams` (tunnel inactivity per side) and
//! `option accept-invalid-http-request/response` (what the parser relaxes, and
//! what it still refuses).

mod common;

use common::http::origin;
use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A server that sends one byte every 200 ms, 20 in all, to a client that
/// never speaks, through a TCP proxy with a 1 s client timeout. Returns the
/// bytes the client got and how long the connection lasted.
fn silent_client(fe: &str) -> (usize, Duration) {
    let srv = backend(|mut s| {
        for _ in 0..20 {
            if s.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 1s\n  timeout server 1s\n\
         frontend f\n  bind 127.0.0.1:0\n{fe}  default_backend b\n\
         backend b\n  server s1 {srv}\n"
    );
    let run = start_cfg(&text, "f");
    let start = Instant::now();
    let mut c = client(run.addr);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = 0;
    let mut b = [0u8; 64];
    while let Ok(n) = c.read(&mut b) {
        if n == 0 {
            break;
        }
        got += n;
    }
    (got, start.elapsed())
}

#[test]
fn writes_to_the_client_keep_a_tunnel_alive_by_default() {
    let (got, _) = silent_client("");
    assert_eq!(got, 20);
}

#[test]
fn independent_streams_times_out_a_client_that_only_receives() {
    let (got, took) = silent_client("  option independent-streams\n");
    assert!(got < 15, "got {got} bytes");
    assert!(took < Duration::from_secs(3), "lasted {took:?}");
}

fn http_cfg(fe: &str, be: &str, srv: std::net::SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:0\n{fe}  default_backend b\n\
         backend b\n{be}  server s1 {srv}\n"
    )
}

fn exchange(run: &Running, req: &[u8]) -> (u16, String) {
    let mut c = client(run.addr);
    write(&mut c, req);
    let (head, _) = read_response(&mut c);
    (status(&head), head)
}

#[test]
fn accept_invalid_http_request_lets_odd_header_names_through() {
    let o = origin(|_| common::http::ok("seen"));
    let bad = b"GET /a HTTP/1.1\r\nHost: h\r\nX(odd): 1\r\nConnection: close\r\n\r\n";
    let strict = start_cfg(&http_cfg("", "", o.addr), "f");
    assert_eq!(exchange(&strict, bad).0, 400);
    assert!(o.seen.lock().unwrap().is_empty());
    let relaxed = start_cfg(
        &http_cfg("  option accept-invalid-http-request\n", "", o.addr),
        "f",
    );
    assert_eq!(exchange(&relaxed, bad).0, 200);
    let seen = o.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x(odd)").as_deref(), Some("1"));
}

#[test]
fn accept_invalid_http_request_keeps_the_smuggling_defences() {
    let o = origin(|_| common::http::ok("seen"));
    let relaxed = start_cfg(
        &http_cfg("  option accept-invalid-http-request\n", "", o.addr),
        "f",
    );
    for req in [
        &b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",
    ] {
        assert_eq!(
            exchange(&relaxed, req).0,
            400,
            "{}",
            String::from_utf8_lossy(req)
        );
    }
    assert!(o.seen.lock().unwrap().is_empty());
}

#[test]
fn accept_invalid_http_response_is_a_backend_option() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX(odd): 1\r\nContent-Length: 2\r\n\r\nok");
    });
    let req = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let strict = start_cfg(&http_cfg("", "", srv), "f");
    assert_eq!(exchange(&strict, req).0, 502);
    let relaxed = start_cfg(
        &http_cfg("", "  option accept-invalid-http-response\n", srv),
        "f",
    );
    let (code, head) = exchange(&relaxed, req);
    assert_eq!(code, 200);
    assert!(head.contains("X(odd): 1"), "{head}");
}

#[test]
fn accept_invalid_http_request_lets_non_ascii_and_fragments_in_the_uri() {
    let o = origin(|_| common::http::ok("seen"));
    let bad = b"GET /caf\xc3\xa9#top HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let strict = start_cfg(&http_cfg("", "", o.addr), "f");
    assert_eq!(exchange(&strict, bad).0, 400);
    let relaxed = start_cfg(
        &http_cfg("  option accept-invalid-http-request\n", "", o.addr),
        "f",
    );
    assert_eq!(exchange(&relaxed, bad).0, 200);
    assert_eq!(o.seen.lock().unwrap().len(), 1);
}
