//! `http-request wait-for-body time T [at-least N] [if COND]`: how long the
//! rules wait for a request body, when enough of it is in, and when they do not
//! wait at all, as a client sees it.

mod common;

use common::http::{ok, origin, Origin};
use common::*;
use std::time::{Duration, Instant};

/// `timeout http-request` is long (20 s) so that only the rule's time can end a wait.
fn serve(lines: &str, o: &Origin) -> Running {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 20s\n    timeout server 20s\n    timeout http-request 20s\n\
         frontend web\n    bind 127.0.0.1:0\n{lines}    default_backend app\n\
         backend app\n    server s1 {}\n",
        o.addr
    );
    start_cfg(&text, "web")
}

/// Sends `raw` (the connection stays open), returns the answer and how long it took.
fn timed(run: &Running, raw: &[u8]) -> (String, Vec<u8>, Duration) {
    let start = Instant::now();
    let mut c = client(run.addr);
    write(&mut c, raw);
    let (h, b) = read_response(&mut c);
    (h, b, start.elapsed())
}

const LEN: &str = "    http-request return status 200 content-type text/plain lf-string \"len=%[req.body,length]\"\n";

#[test]
fn the_time_bound_answers_408_long_before_timeout_http_request() {
    let o = origin(|_| ok("unused"));
    let run = serve(
        &format!("    http-request wait-for-body time 300ms\n{LEN}"),
        &o,
    );
    let (h, _, took) = timed(
        &run,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\nabc",
    );
    assert_eq!(status(&h), 408, "{h}");
    assert!(
        took >= Duration::from_millis(250),
        "answered after {took:?}"
    );
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    // A body that arrives in time goes through whole.
    let (h, b, _) = timed(
        &run,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(b, b"len=3");
}

#[test]
fn at_least_lets_the_rules_go_on_with_part_of_the_body() {
    let o = origin(|_| ok("unused"));
    let run = serve(
        &format!("    http-request wait-for-body time 15s at-least 4\n{LEN}"),
        &o,
    );
    // 4 of 100 bytes: enough for the rule, so no wait for the other 96.
    let (h, b, took) = timed(
        &run,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabcd",
    );
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(b, b"len=4");
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    // Fewer than 4 bytes: the rule waits for the next ones.
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nab",
    );
    std::thread::sleep(Duration::from_millis(200));
    write(&mut c, b"cdef");
    let (h, b) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(b, b"len=6");
}

#[test]
fn the_condition_decides_whether_to_wait() {
    let o = origin(|_| ok("unused"));
    let run = serve(
        &format!("    http-request wait-for-body time 15s if {{ req.hdr(x-wait) yes }}\n{LEN}"),
        &o,
    );
    // Condition false: the rules run on what is there, at once.
    let (h, b, took) = timed(
        &run,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\nabc",
    );
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(b, b"len=3");
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    // Condition true: the rest of the body, sent later, is seen.
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST /f HTTP/1.1\r\nHost: h\r\nX-Wait: yes\r\nContent-Length: 8\r\n\r\nabc",
    );
    std::thread::sleep(Duration::from_millis(200));
    write(&mut c, b"defgh");
    let (h, b) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(b, b"len=8");
}

#[test]
fn rules_before_the_wait_run_once_and_keep_their_edits() {
    let o = origin(|r| ok(&r.head));
    // A rule before the wait that would match once the body is in must not run
    // again; the header added before the wait is still there, once.
    let run = serve(
        "    http-request add-header X-Before 1\n\
         \x20   http-request deny deny_status 403 if { req.body -m sub late }\n\
         \x20   http-request wait-for-body time 15s\n\
         \x20   http-request add-header X-Body %[req.body]\n",
        &o,
    );
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\nsay",
    );
    std::thread::sleep(Duration::from_millis(200));
    write(&mut c, b" late");
    let (h, b) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    let seen = String::from_utf8_lossy(&b);
    assert_eq!(seen.matches("X-Before: 1").count(), 1, "{seen}");
    assert!(seen.contains("X-Body: say late"), "{seen}");
}

#[test]
fn a_backend_rule_waits_too_and_the_frontend_rules_do_not_run_again() {
    let o = origin(|r| ok(&r.head));
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 20s\n    timeout server 20s\n\
         frontend web\n    bind 127.0.0.1:0\n    http-request add-header X-Fe 1\n    default_backend app\n\
         backend app\n    http-request wait-for-body time 15s\n    http-request set-header X-Len %[req.body,length]\n    server s1 {}\n",
        o.addr
    );
    let run = start_cfg(&text, "web");
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nab",
    );
    std::thread::sleep(Duration::from_millis(200));
    write(&mut c, b"cdef");
    let (h, b) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    let seen = String::from_utf8_lossy(&b);
    assert_eq!(seen.matches("X-Fe: 1").count(), 1, "{seen}");
    assert!(seen.contains("X-Len: 6"), "{seen}");
}
