//! `http-response wait-for-body time T [at-least N]`: the response rules see
//! the body (`res.body`) once it is in, N bytes of it are, or 504 past T, as
//! HAProxy 2.6 answers.

mod common;

use common::*;
use std::io::Read;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A server sending `Content-Length: 10`, then `abc`, then after `pause`
/// the rest, `defghij` (unless `pause` is longer than the test waits).
fn slow_server(pause: Duration) -> std::net::SocketAddr {
    counted_slow_server(pause, Arc::new(AtomicUsize::new(0)))
}

/// The same, counting the requests it reads in `seen`.
fn counted_slow_server(pause: Duration, seen: Arc<AtomicUsize>) -> std::net::SocketAddr {
    backend(move |mut s: TcpStream| {
        let mut got = Vec::new();
        let mut b = [0u8; 1024];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&b[..n]),
            }
        }
        seen.fetch_add(1, Ordering::SeqCst);
        write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        std::thread::sleep(pause);
        let _ = std::io::Write::write_all(&mut s, b"defghij");
        std::thread::sleep(Duration::from_millis(200));
    })
}

fn serve(lines: &str, server: std::net::SocketAddr) -> Running {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 20s\n    timeout server 20s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n{lines}    server s1 {server}\n"
    );
    start_cfg(&text, "web")
}

fn get(run: &Running) -> (String, Vec<u8>, Duration) {
    let start = Instant::now();
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let (h, b) = read_response(&mut c);
    (h, b, start.elapsed())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn rules_after_the_wait_see_the_whole_body() {
    let srv = slow_server(Duration::from_millis(300));
    let run = serve(
        "    http-response wait-for-body time 5s at-least 8\n\
         \x20   http-response set-header X-Body %[res.body]\n",
        srv,
    );
    let (h, b, _) = get(&run);
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(header(&h, "x-body"), Some("abcdefghij"), "{h}");
    assert_eq!(b, b"abcdefghij");
}

#[test]
fn without_wait_the_rules_see_what_came_with_the_head() {
    let srv = slow_server(Duration::from_millis(300));
    let run = serve(
        "    http-response set-header X-Len %[res.body,length]\n",
        srv,
    );
    let (h, b, _) = get(&run);
    assert_eq!(status(&h), 200, "{h}");
    // Only what was read with the head (at most `abc`): never the rest.
    let len: usize = header(&h, "x-len")
        .and_then(|v| v.parse().ok())
        .unwrap_or(99);
    assert!(len <= 3, "{h}");
    assert_eq!(b, b"abcdefghij");
}

#[test]
fn a_body_late_past_the_time_answers_504() {
    let srv = slow_server(Duration::from_secs(4));
    let run = serve(
        "    http-response wait-for-body time 400ms\n\
         \x20   http-response set-header X-Body %[res.body]\n",
        srv,
    );
    let (h, _, took) = get(&run);
    assert_eq!(status(&h), 504, "{h}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_wait_for_body_timeout_is_not_retried_as_a_response_timeout() {
    let seen = Arc::new(AtomicUsize::new(0));
    let srv = counted_slow_server(Duration::from_secs(4), seen.clone());
    let run = serve(
        "    retries 2\n\
         \x20   retry-on response-timeout\n\
         \x20   http-response wait-for-body time 300ms\n",
        srv,
    );
    let (h, _, _) = get(&run);
    assert_eq!(status(&h), 504, "{h}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[test]
fn the_condition_decides_whether_to_wait() {
    let srv = slow_server(Duration::from_secs(4));
    let run = serve(
        "    http-response wait-for-body time 400ms if { status 500 }\n\
         \x20   http-response set-header X-Waited no\n",
        srv,
    );
    let start = Instant::now();
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    // The head comes at once, before the server's pause ends.
    let mut got = Vec::new();
    let mut b = [0u8; 1024];
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    let h = String::from_utf8_lossy(&got).into_owned();
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(header(&h, "x-waited"), Some("no"), "{h}");
    assert!(start.elapsed() < Duration::from_secs(3));
}
