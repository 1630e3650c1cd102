//! Counters behind `show stat` / the CSV page: sessions, requests, status
//! classes, bytes and denied requests move with traffic.

mod health_support;

use health_support::*;
use std::io::Write;
use std::path::Path;

fn show_stat(sock: &Path) -> Vec<std::collections::HashMap<String, String>> {
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.write_all(b"show stat\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    parse_csv(&out)
}

#[test]
fn requests_statuses_bytes_and_denials_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let ok = Origin::start("ok");
    let err = Origin::with_status("err", 503);
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    http-request deny if {{ path /blocked }}\n\
         \x20   use_backend bad if {{ path /bad }}\n    default_backend app\n\
         backend app\n    server s1 {}\n\
         backend bad\n    server e1 {}\n",
        sock.display(),
        ok.addr,
        err.addr
    ));
    let web = r.addr("web");
    for _ in 0..3 {
        assert_eq!(get(web, "/").0, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(web, "/bad").0, 503);
    }
    assert_eq!(get(web, "/blocked").0, 403);
    assert_eq!(request(web, "GARBAGE\r\n\r\n").0, 400);
    // A session ends just after its last byte is sent: wait for the count.
    let mut rows = Vec::new();
    assert!(wait_until(std::time::Duration::from_secs(2), || {
        rows = show_stat(&sock);
        row(&rows, "web", "FRONTEND")["scur"] == "0"
    }));
    let n = |px: &str, sv: &str, col: &str| -> u64 {
        row(&rows, px, sv)[col]
            .parse()
            .unwrap_or_else(|_| panic!("{px}/{sv} {col}"))
    };
    assert_eq!(n("web", "FRONTEND", "stot"), 7);
    assert!(n("web", "FRONTEND", "smax") >= 1);
    assert_eq!(n("web", "FRONTEND", "dreq"), 1);
    // The frontend counts every answer, the proxy's own (403) included.
    assert_eq!(n("web", "FRONTEND", "req_tot"), 7);
    assert_eq!(n("web", "FRONTEND", "hrsp_2xx"), 3);
    assert_eq!(n("web", "FRONTEND", "hrsp_4xx"), 2);
    assert_eq!(n("web", "FRONTEND", "ereq"), 1);
    assert_eq!(n("web", "FRONTEND", "hrsp_5xx"), 2);
    assert_eq!(n("app", "BACKEND", "hrsp_2xx"), 3);
    assert_eq!(n("app", "s1", "hrsp_2xx"), 3);
    assert_eq!(n("bad", "BACKEND", "hrsp_5xx"), 2);
    assert_eq!(n("bad", "e1", "hrsp_5xx"), 2);
    assert_eq!(n("app", "BACKEND", "req_tot"), 3);
    // Each request line sent is at least "GET / HTTP/1.1"; each answer carries the body.
    assert!(n("app", "BACKEND", "bin") >= 3 * 14);
    assert!(n("app", "s1", "bout") >= 3 * 2);
}

#[test]
fn a_frontend_at_its_maxconn_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let ok = Origin::start("ok");
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    maxconn 1\n    default_backend app\n\
         backend app\n    server s1 {}\n",
        sock.display(),
        ok.addr
    ));
    let rows = show_stat(&sock);
    assert_eq!(row(&rows, "web", "FRONTEND")["status"], "OPEN");
    // An idle client holds the only slot.
    let _idle = std::net::TcpStream::connect(r.addr("web")).unwrap();
    assert!(wait_until(std::time::Duration::from_secs(2), || {
        let rows = show_stat(&sock);
        row(&rows, "web", "FRONTEND")["status"] == "FULL"
    }));
    let rows = show_stat(&sock);
    assert_eq!(row(&rows, "web", "FRONTEND")["scur"], "1");
    assert_eq!(row(&rows, "web", "FRONTEND")["slim"], "1");
}
