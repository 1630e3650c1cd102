//! `balance hash <expr>`, `balance url_param NAME check_post` (key in a POST
//! body) and `balance rdp-cookie` (mode tcp, key in the first packet) through
//! real configurations: a key always reaches the same server, different keys
//! use both servers, and requests without a key fall back to round-robin.

mod common;

use common::http::{ok, origin};
use common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;

fn serve(mode: &str, frontend: &str, backend: &str, a: SocketAddr, b: SocketAddr) -> Running {
    let text = format!(
        "defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n{frontend}    default_backend app\n\
         backend app\n{backend}\
         \x20   server s1 {a}\n\
         \x20   server s2 {b}\n"
    );
    start_cfg(&text, "web")
}

/// An HTTP proxy in front of two origins answering their name.
fn http(frontend: &str, backend: &str) -> (Running, [common::http::Origin; 2]) {
    let s1 = origin(|_| ok("s1"));
    let s2 = origin(|_| ok("s2"));
    let run = serve("http", frontend, backend, s1.addr, s2.addr);
    (run, [s1, s2])
}

/// Sends one request (head and body in one write) and returns the server's index.
fn which(addr: SocketAddr, req: &[u8]) -> usize {
    let mut c = client(addr);
    write(&mut c, req);
    let (head, body) = read_response(&mut c);
    assert_eq!(status(&head), 200, "{head}");
    match body.as_slice() {
        b"s1" => 0,
        b"s2" => 1,
        other => panic!("unexpected body {other:?}"),
    }
}

/// Checks the three behaviours for a way of sending `key` (or no key).
fn check(send: impl Fn(Option<&str>) -> usize) {
    for key in ["alice", "bob", "carol"] {
        let first = send(Some(key));
        for _ in 0..19 {
            assert_eq!(send(Some(key)), first, "key {key} moved");
        }
    }
    let mut used = [0; 2];
    for i in 0..16 {
        used[send(Some(&format!("user{i}")))] += 1;
    }
    assert!(
        used[0] > 0 && used[1] > 0,
        "keys all on one server: {used:?}"
    );
    let mut rr = [0; 2];
    for _ in 0..10 {
        rr[send(None)] += 1;
    }
    assert_eq!(rr, [5, 5], "no key: round-robin");
}

#[test]
fn hash_expr_on_a_cookie_keeps_each_key_on_one_server() {
    let (run, _o) = http("", "    balance hash req.cook(ID)\n");
    check(|key| {
        let cookie = key.map_or(String::new(), |k| format!("Cookie: ID={k}\r\n"));
        let req = format!("GET / HTTP/1.1\r\nHost: h\r\n{cookie}Connection: close\r\n\r\n");
        which(run.addr, req.as_bytes())
    });
}

#[test]
fn hash_expr_on_the_path() {
    let (run, _o) = http("", "    balance hash path\n");
    let send = |p: &str| {
        let req = format!("GET {p} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        which(run.addr, req.as_bytes())
    };
    let first = send("/a");
    for _ in 0..19 {
        assert_eq!(send("/a"), first);
    }
    let used: Vec<usize> = (0..16).map(|i| send(&format!("/p{i}"))).collect();
    assert!(used.contains(&0) && used.contains(&1), "{used:?}");
}

fn post(addr: SocketAddr, body: &str) -> usize {
    let req = format!(
        "POST /login HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    which(addr, req.as_bytes())
}

#[test]
fn url_param_check_post_reads_the_buffered_body() {
    let (run, _o) = http(
        "    option http-buffer-request\n",
        "    balance url_param user check_post\n",
    );
    check(|key| {
        let body = key.map_or("x=1&y=2".to_owned(), |k| format!("x=1&user={k}&y=2"));
        post(run.addr, &body)
    });
}

#[test]
fn url_param_post_body_that_arrived_with_the_head() {
    // No http-buffer-request: the body bytes sent with the head are used.
    let (run, _o) = http("", "    balance url_param user\n");
    let first = post(run.addr, "user=alice");
    for _ in 0..19 {
        assert_eq!(post(run.addr, "user=alice"), first);
    }
    let used: Vec<usize> = (0..16)
        .map(|i| post(run.addr, &format!("user=u{i}")))
        .collect();
    assert!(used.contains(&0) && used.contains(&1), "{used:?}");
}

#[test]
fn url_param_query_string_wins_over_the_body() {
    let (run, _o) = http("", "    balance url_param user\n");
    let send = |q: &str, body: &str| {
        let req = format!(
            "POST /l?user={q} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        which(run.addr, req.as_bytes())
    };
    // Whatever the body says, the same query value keeps its server.
    let first = send("alice", "user=a");
    for i in 0..10 {
        assert_eq!(send("alice", &format!("user=b{i}")), first);
    }
}

/// A server that reads the client's first packet, then answers its name.
fn rdp_server(name: &'static [u8]) -> SocketAddr {
    backend(move |mut s| {
        let mut b = [0u8; 512];
        let _ = s.read(&mut b);
        let _ = s.write_all(name);
    })
}

/// An X.224 connection request as RDP clients send it, with an optional cookie.
fn rdp_packet(user: Option<&str>) -> Vec<u8> {
    let cookie = user.map_or(String::new(), |u| format!("Cookie: mstshash={u}\r\n"));
    let len = 11 + cookie.len() + 8;
    let mut p = vec![
        3,
        0,
        (len >> 8) as u8,
        len as u8,
        (len - 5) as u8,
        0xe0,
        0,
        0,
        0,
        0,
        0,
    ];
    p.extend_from_slice(cookie.as_bytes());
    p.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
    p
}

#[test]
fn rdp_cookie_in_tcp_mode_keeps_each_user_on_one_server() {
    let (a, b) = (rdp_server(b"s1"), rdp_server(b"s2"));
    let run = serve(
        "tcp",
        "    tcp-request inspect-delay 300ms\n    tcp-request content accept if RDP_COOKIE\n",
        "    balance rdp-cookie\n",
        a,
        b,
    );
    check(|user| {
        let mut c = client(run.addr);
        write(&mut c, &rdp_packet(user));
        match read_all(&mut c).as_slice() {
            b"s1" => 0,
            b"s2" => 1,
            other => panic!("unexpected answer {other:?}"),
        }
    });
}

#[test]
fn url_param_in_a_chunked_post_body() {
    let (run, _o) = http(
        "    option http-buffer-request\n",
        "    balance url_param user check_post\n",
    );
    let send = |user: &str| {
        let body = format!("user={user}");
        let req = format!(
            "POST /l HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        which(run.addr, req.as_bytes())
    };
    let first = send("alice");
    for _ in 0..19 {
        assert_eq!(send("alice"), first);
    }
    let used: Vec<usize> = (0..16).map(|i| send(&format!("u{i}"))).collect();
    assert!(used.contains(&0) && used.contains(&1), "{used:?}");
}

#[test]
fn url_param_beyond_check_post_max_wait_is_not_seen() {
    // Only the first 16 body bytes are searched: the parameter after them is
    // absent, so the same user goes round-robin (it would stick if seen).
    let (run, _o) = http(
        "    option http-buffer-request\n",
        "    balance url_param user check_post 16\n",
    );
    let mut rr = [0; 2];
    for _ in 0..10 {
        rr[post(run.addr, "padding=0123456789&user=alice")] += 1;
    }
    assert_eq!(rr, [5, 5]);
    // Within the limit it is found: one user keeps one server.
    let first = post(run.addr, "user=alice&padding=0123456789");
    for _ in 0..9 {
        assert_eq!(post(run.addr, "user=alice&padding=0123456789"), first);
    }
}

#[test]
fn hash_expr_in_tcp_mode_on_the_inspected_payload() {
    let (a, b) = (rdp_server(b"s1"), rdp_server(b"s2"));
    let run = serve(
        "tcp",
        "    tcp-request inspect-delay 300ms\n    tcp-request content accept if { req.len ge 6 }\n",
        "    balance hash req.payload(0,6)\n",
        a,
        b,
    );
    check(|key| {
        let mut c = client(run.addr);
        // Keys are 6 bytes; without one the client sends 2 and the fetch fails.
        let data = key.map_or(b"hi".to_vec(), |k| format!("{k:>6}").into_bytes());
        write(&mut c, &data);
        match read_all(&mut c).as_slice() {
            b"s1" => 0,
            b"s2" => 1,
            other => panic!("unexpected answer {other:?}"),
        }
    });
}
