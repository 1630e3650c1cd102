//! `tcp-request connection` rules in `mode http`: IP blocking and connection-rate limits
//! as users write them, applied before the request is read.

mod common;

use common::http::{ok, origin};
use common::*;
use std::io::Read;
use std::net::SocketAddr;

fn serve(rules: &str, backend: SocketAddr) -> Running {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n{rules}    default_backend app\n\
         backend app\n    server s {backend}\n"
    );
    start_cfg(&text, "web")
}

/// The status a client from `src` gets, or `None` when the connection is refused/closed.
fn status_from(src: &str, addr: SocketAddr) -> Option<u16> {
    let mut c = client_from(src, addr);
    use std::io::Write;
    let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    let head = String::from_utf8_lossy(&got).into_owned();
    (!head.is_empty()).then(|| status(&head))
}

#[test]
fn connection_reject_blocks_a_source_before_any_request() {
    let app = origin(|_| ok("app"));
    let run = serve(
        "    tcp-request connection reject if { src 127.0.0.2 }\n",
        app.addr,
    );
    assert_eq!(
        status_from("127.0.0.2", run.addr),
        None,
        "blocked source got an answer"
    );
    assert_eq!(status_from("127.0.0.1", run.addr), Some(200));
}

#[test]
fn tracked_connection_count_rejects_the_fourth_connection() {
    let app = origin(|_| ok("app"));
    let run = serve(
        "    stick-table type ip size 100 expire 30s store conn_cnt\n\
         \x20   tcp-request connection track-sc0 src\n\
         \x20   tcp-request connection reject if { sc_conn_cnt(0) gt 3 }\n",
        app.addr,
    );
    let got: Vec<Option<u16>> = (0..5).map(|_| status_from("127.0.0.3", run.addr)).collect();
    assert_eq!(got, vec![Some(200), Some(200), Some(200), None, None]);
    // Another client has its own count.
    assert_eq!(status_from("127.0.0.4", run.addr), Some(200));
}
