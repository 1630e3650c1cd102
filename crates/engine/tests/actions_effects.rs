//! `http-request` actions whose effect lands outside the head: captures and
//! `set-log-level` in the log line, `set-src` in later fetches and the log,
//! `early-hint` as a 103 before the answer, `unique-id-format` on the wire and in `%ID`.

mod common;

use common::http::{ok, origin};
use common::logsink::*;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn serve(frontend_lines: &str, server: std::net::SocketAddr) -> (Running, Arc<Collect>) {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n{frontend_lines}    default_backend app\n\
         backend app\n    server s1 {server}\n"
    );
    start_cfg_logged(&text, "web")
}

fn get(run: &Running, req: &str) -> (String, Vec<u8>) {
    let mut c = client(run.addr);
    write(&mut c, req.as_bytes());
    read_response(&mut c)
}

#[test]
fn http_request_capture_reaches_the_log_after_declared_headers() {
    let o = origin(|_| ok("hi"));
    let (run, sink) = serve(
        "    capture request header Host len 10\n\
         \x20   http-request capture req.hdr(x-user) len 4\n",
        o.addr,
    );
    let (h, _) = get(&run, "GET / HTTP/1.1\r\nHost: h1\r\nX-User: alice\r\n\r\n");
    assert_eq!(status(&h), 200);
    let recs = wait_for(&sink, 1);
    assert_eq!(
        recs[0].request_captures,
        vec![Some("h1".to_string()), Some("alic".to_string())]
    );
}

#[test]
fn set_log_level_silent_drops_the_line() {
    let o = origin(|_| ok("hi"));
    let (run, sink) = serve(
        "    http-request set-log-level silent if { path /health }\n",
        o.addr,
    );
    let (h, _) = get(&run, "GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 200);
    let (h, _) = get(&run, "GET /page HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 200);
    let recs = wait_for(&sink, 1);
    std::thread::sleep(Duration::from_millis(200));
    let recs2 = sink.0.lock().unwrap().clone();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs2.len(), 1);
    assert!(recs2[0]
        .request_line
        .as_deref()
        .is_some_and(|l| l.contains("/page")));
}

#[test]
fn set_src_is_seen_by_later_rules_the_backend_and_the_log() {
    let o = origin(|r| {
        ok(&format!(
            "{} {}",
            r.header("x-forwarded-for").unwrap_or_default(),
            r.header("x-src").unwrap_or_default()
        ))
    });
    let (run, sink) = serve(
        "    option forwardfor\n\
         \x20   http-request set-src req.hdr(x-real-ip)\n\
         \x20   http-request set-header X-Src %[src]\n",
        o.addr,
    );
    let (h, b) = get(
        &run,
        "GET / HTTP/1.1\r\nHost: h\r\nX-Real-IP: 192.0.2.7\r\n\r\n",
    );
    assert_eq!(status(&h), 200);
    assert_eq!(String::from_utf8_lossy(&b), "192.0.2.7 192.0.2.7");
    let recs = wait_for(&sink, 1);
    let ip = recs[0].client.map(|a| a.ip().to_string());
    assert_eq!(ip.as_deref(), Some("192.0.2.7"));
}

#[test]
fn early_hint_sends_103_before_the_response() {
    let o = origin(|_| ok("page"));
    let (run, _sink) = serve(
        "    http-request early-hint Link \"</style.css>; rel=preload\"\n",
        o.addr,
    );
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let (h1, _) = read_response(&mut c);
    assert_eq!(status(&h1), 103, "{h1}");
    assert!(h1.contains("Link: </style.css>; rel=preload"), "{h1}");
    let (h2, b) = read_response(&mut c);
    assert_eq!((status(&h2), b.as_slice()), (200, &b"page"[..]));
}

#[test]
fn unique_id_goes_to_the_backend_header_and_the_log() {
    let o = origin(|r| ok(&r.header("x-unique-id").unwrap_or_default()));
    let (run, sink) = serve(
        "    unique-id-format %{+X}o\\ %ci-%[req.hdr(x-n)]\n\
         \x20   unique-id-header X-Unique-ID\n",
        o.addr,
    );
    let (h, b) = get(&run, "GET / HTTP/1.1\r\nHost: h\r\nX-N: 42\r\n\r\n");
    assert_eq!(status(&h), 200);
    let id = String::from_utf8_lossy(&b).into_owned();
    assert!(id.ends_with("-42"), "{id}");
    assert!(
        id.starts_with("127.0.0.1-") || id.starts_with("7F000001"),
        "{id}"
    );
    let recs = wait_for(&sink, 1);
    assert_eq!(recs[0].unique_id.as_deref(), Some(id.as_str()));
}

#[test]
fn http_after_response_edits_server_and_proxy_answers() {
    let o = origin(|_| ok("hi"));
    let (run, _sink) = serve(
        "    http-request deny deny_status 403 if { path /no }\n\
         \x20   http-after-response set-header X-After yes\n",
        o.addr,
    );
    let (h, b) = get(&run, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"hi"[..]));
    assert!(h.contains("X-After: yes"), "{h}");
    let (h, _) = get(&run, "GET /no HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 403, "{h}");
    assert!(h.contains("X-After: yes"), "{h}");
}

#[test]
fn set_timeout_server_overrides_the_backend_timeout() {
    let o = origin(|r| {
        if r.path == "/slow" {
            std::thread::sleep(Duration::from_millis(1500));
        }
        ok("late")
    });
    let (run, _sink) = serve(
        "    http-request set-timeout server 200ms if { path /slow }\n",
        o.addr,
    );
    let t0 = Instant::now();
    let (h, _) = get(&run, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 504, "{h}");
    assert!(
        t0.elapsed() < Duration::from_millis(1200),
        "{:?}",
        t0.elapsed()
    );
    let (h, b) = get(&run, "GET /fast HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"late"[..]));
}

#[test]
fn http_response_capture_and_silence_reach_the_log() {
    let o = origin(|r| {
        let mut resp = ok("hi");
        if r.path == "/quiet" {
            resp = b"HTTP/1.1 200 OK\r\nX-Quiet: 1\r\nContent-Length: 0\r\n\r\n".to_vec();
        }
        resp
    });
    let (run, sink) = serve(
        "    capture response header Content-Length len 5\n\
         \x20   http-response capture res.hdr(content-length) len 3\n\
         \x20   http-response set-log-level silent if { res.hdr(x-quiet) 1 }\n",
        o.addr,
    );
    let (h, _) = get(&run, "GET /quiet HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 200);
    let (h, _) = get(&run, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 200);
    let recs = wait_for(&sink, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.0.lock().unwrap().len(), 1);
    assert_eq!(
        recs[0].response_captures,
        vec![Some("2".to_string()), Some("2".to_string())]
    );
}

#[test]
fn captured_request_headers_are_readable_by_later_rules() {
    let o = origin(|r| ok(&r.header("x-cap").unwrap_or_default()));
    let (run, _sink) = serve(
        "    capture request header Host len 3\n\
         \x20   http-request capture req.hdr(x-user) len 10\n\
         \x20   http-request set-header X-Cap %[capture.req.hdr(0)]-%[capture.req.hdr(1)]\n",
        o.addr,
    );
    let (h, b) = get(
        &run,
        "GET / HTTP/1.1\r\nHost: hostname\r\nX-User: bob\r\n\r\n",
    );
    assert_eq!((status(&h), b.as_slice()), (200, &b"hos-bob"[..]));
}

#[test]
fn http_after_response_edits_proxy_error_pages() {
    let (run, _sink) = serve(
        "    http-after-response set-header X-After err\n",
        dead_addr(),
    );
    let (h, _) = get(&run, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 503, "{h}");
    assert!(h.contains("X-After: err"), "{h}");
}
