//! Regression: with `maxconn` on every server (seeds 01, 02, 08, 09, 10 all have it), a
//! request must move round-robin (and the hash fallback) by exactly one step; picking twice
//! per request sent every request of a two-server backend to the same server.

mod common;

use common::http::{ok, origin};
use common::*;

fn serve(balance: &str, a: std::net::SocketAddr, b: std::net::SocketAddr) -> Running {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    balance {balance}\n\
         \x20   server s1 {a} maxconn 100 weight 10\n\
         \x20   server s2 {b} maxconn 100 weight 10\n"
    );
    start_cfg(&text, "web")
}

fn spread(balance: &str) -> (usize, usize) {
    let s1 = origin(|_| ok("s1"));
    let s2 = origin(|_| ok("s2"));
    let run = serve(balance, s1.addr, s2.addr);
    let mut counts = (0, 0);
    for _ in 0..10 {
        let mut c = client(run.addr);
        write(
            &mut c,
            b"GET /page HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        );
        let (head, body) = read_response(&mut c);
        assert_eq!(status(&head), 200, "{head}");
        match body.as_slice() {
            b"s1" => counts.0 += 1,
            b"s2" => counts.1 += 1,
            other => panic!("unexpected body {other:?}"),
        }
    }
    counts
}

#[test]
fn roundrobin_alternates_when_every_server_has_maxconn() {
    assert_eq!(spread("roundrobin"), (5, 5));
}

#[test]
fn header_hash_without_the_header_falls_back_to_round_robin() {
    assert_eq!(spread("hdr(tableId)"), (5, 5));
}
