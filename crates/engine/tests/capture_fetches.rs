//! The `capture.*` and `unique-id` fetches read in rules, as the backend and
//! the client see them.

mod common;

use common::http::{origin, Origin};
use common::*;

fn serve(lines: &str, o: &Origin) -> Running {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n{lines}    default_backend app\n\
         backend app\n    server s1 {}\n",
        o.addr
    );
    start_cfg(&text, "web")
}

#[test]
fn request_line_captures_and_unique_id_reach_the_backend() {
    let o = origin(|r| {
        let body = r.head.clone();
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    let run = serve(
        "    unique-id-format id-%[str(7)]\n\
         \x20   http-request set-header X-Line \"%[capture.req.method] %[capture.req.uri] %[capture.req.ver]\"\n\
         \x20   http-request set-header X-Id %[unique-id]\n",
        &o,
    );
    let mut c = client(run.addr);
    write(&mut c, b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    let (h, b) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    let seen = String::from_utf8_lossy(&b);
    assert!(seen.contains("X-Line: GET /a/b?x=1 HTTP/1.1"), "{seen}");
    assert!(seen.contains("X-Id: id-7"), "{seen}");
}

#[test]
fn response_rules_read_declared_and_rule_captures() {
    let o = origin(|_| {
        b"HTTP/1.1 200 OK\r\nX-Srv: abc\r\nX-B: hello-world\r\nContent-Length: 2\r\n\r\nok".to_vec()
    });
    let run = serve(
        "    capture response header X-Srv len 10\n\
         \x20   http-response capture res.hdr(x-b) len 5\n\
         \x20   http-response set-header X-Seen %[capture.res.hdr(0)]/%[capture.res.hdr(1)]\n",
        &o,
    );
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let (h, _) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    assert!(h.contains("X-Seen: abc/hello"), "{h}");
}

#[test]
fn response_rules_read_request_captures_and_the_response_version() {
    let o = origin(|_| b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec());
    let run = serve(
        "    capture request header Host len 10\n\
         \x20   http-request capture req.hdr(x-a) len 3\n\
         \x20   http-response set-header X-Req %[capture.req.hdr(0)]/%[capture.req.hdr(1)]\n\
         \x20   http-response set-header X-Ver %[capture.res.ver]\n",
        &o,
    );
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: example\r\nX-A: abcdef\r\n\r\n",
    );
    let (h, _) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    assert!(h.contains("X-Req: example/abc"), "{h}");
    assert!(h.contains("X-Ver: HTTP/1.0"), "{h}");
}
