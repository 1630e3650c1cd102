mod common;

use common::http::{ok, origin};
use common::*;
use fulcrum_engine::runtime::{ConnMode, Mode};
use std::io::{Read, Write};
use std::sync::atomic::Ordering;

fn http_fe() -> fulcrum_engine::runtime::Frontend {
    frontend("f", Mode::Http)
}

fn http_be(server: std::net::SocketAddr) -> fulcrum_engine::runtime::Backend {
    rr_backend("b", Mode::Http, servers(&[server]))
}

/// One worker serving frontend `f` with backend `b` on `server`.
fn serve(server: std::net::SocketAddr) -> Running {
    start(http_fe(), http_be(server), 1)
}

/// [`serve`] with `http-reuse always`.
fn serve_reuse_always(server: std::net::SocketAddr) -> Running {
    let mut be = http_be(server);
    be.reuse = fulcrum_engine::runtime::HttpReuse::Always;
    start(http_fe(), be, 1)
}

#[test]
fn keep_alive_reuses_client_and_server_connections() {
    let o = origin(|r| ok(&format!("hello {}", r.path)));
    let run = serve(o.addr);
    let mut c = client(run.addr);
    for i in 0..3 {
        write(
            &mut c,
            format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        let (h, b) = read_response(&mut c);
        assert_eq!(status(&h), 200);
        assert_eq!(b, format!("hello /{i}").as_bytes());
    }
    assert_eq!(
        o.conns.load(Ordering::SeqCst),
        1,
        "one server connection for three requests"
    );
}

#[test]
fn http_server_close_closes_server_side_only() {
    let o = origin(|_| ok("x"));
    let mut be = http_be(o.addr);
    be.http.conn_mode = ConnMode::ServerClose;
    let run = start(http_fe(), be, 1);
    let mut c = client(run.addr);
    for _ in 0..3 {
        write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let (h, _) = read_response(&mut c);
        assert_eq!(status(&h), 200);
        assert!(!h.to_ascii_lowercase().contains("connection: close"));
    }
    assert_eq!(o.conns.load(Ordering::SeqCst), 3);
    let seen = o.seen.lock().unwrap();
    assert!(seen
        .iter()
        .all(|r| r.header("connection").as_deref() == Some("close")));
}

#[test]
fn httpclose_closes_both_sides() {
    let o = origin(|_| ok("x"));
    let mut fe = http_fe();
    fe.http.conn_mode = ConnMode::Close;
    let run = start(fe, http_be(o.addr), 1);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let all = String::from_utf8(read_all(&mut c)).unwrap();
    assert!(all.starts_with("HTTP/1.1 200"));
    assert!(all.contains("Connection: close\r\n"));
    assert_eq!(
        o.seen.lock().unwrap()[0].header("connection").as_deref(),
        Some("close")
    );
}

#[test]
fn content_length_and_chunked_bodies_both_ways() {
    let o = origin(|r| {
        let body = String::from_utf8_lossy(&r.body).to_string();
        if r.path == "/chunked" {
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\nX-Trailer: t\r\n\r\n",
                body.len()
            )
            .into_bytes()
        } else {
            ok(&body)
        }
    });
    let run = serve(o.addr);
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    let (h, b) = read_response(&mut c);
    assert_eq!((status(&h), b.as_slice()), (200, &b"hello"[..]));
    write(
        &mut c,
        b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Up: 1\r\n\r\n",
    );
    let mut got = Vec::new();
    let want = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\nX-Trailer: t\r\n\r\n";
    while got.len() < want.len() {
        let mut b = [0u8; 256];
        let n = c.read(&mut b).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    let seen = o.seen.lock().unwrap();
    assert!(
        seen[1].head.contains("X-Up: 1"),
        "request trailers forwarded"
    );
}

#[test]
fn close_delimited_response_and_head_without_body() {
    let o = origin(|r| {
        if r.method == "HEAD" {
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close".to_vec()
        }
    });
    let run = serve(o.addr);
    let mut c = client(run.addr);
    write(&mut c, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (h, _) = read_response_head_only(&mut c);
    assert_eq!(status(&h), 200);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let all = String::from_utf8(read_all(&mut c)).unwrap();
    assert!(all.ends_with("\r\n\r\nuntil-close"), "{all}");
}

fn read_response_head_only(c: &mut std::net::TcpStream) -> (String, ()) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut b).unwrap(), 1);
        head.push(b[0]);
    }
    (String::from_utf8(head).unwrap(), ())
}

#[test]
fn pipelined_requests_answered_in_order() {
    let o = origin(|r| ok(&r.path));
    let run = serve(o.addr);
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nabGET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    for want in ["/1", "/2", "/3"] {
        let (h, b) = read_response(&mut c);
        assert_eq!(status(&h), 200);
        assert_eq!(b, want.as_bytes());
    }
}

#[test]
fn expect_100_continue_is_relayed() {
    let o = origin(|r| ok(&String::from_utf8_lossy(&r.body)));
    let run = serve(o.addr);
    let mut c = client(run.addr);
    write(
        &mut c,
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    let (h, _) = read_response_head_only(&mut c);
    assert!(h.starts_with("HTTP/1.1 100 Continue"), "{h}");
    write(&mut c, b"data");
    let (h, b) = read_response(&mut c);
    assert_eq!(status(&h), 200);
    assert_eq!(b, b"data");
}

#[test]
fn http10_client_gets_keep_alive_when_asked() {
    let o = origin(|_| ok("x"));
    let run = serve(o.addr);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let (h, _) = read_response(&mut c);
    assert!(h.contains("Connection: keep-alive"), "{h}");
    write(&mut c, b"GET / HTTP/1.0\r\n\r\n");
    let all = String::from_utf8(read_all(&mut c)).unwrap();
    assert!(
        all.starts_with("HTTP/1.1 200") && all.contains("Connection: close"),
        "{all}"
    );
}

#[test]
fn ten_megabytes_streamed_with_bounded_memory() {
    let o = origin(|r| ok(&String::from_utf8_lossy(&r.body)));
    let run = serve(o.addr);
    let rss0 = rss_kb();
    let mut c = client(run.addr);
    let total = 10 << 20;
    write(
        &mut c,
        format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n").as_bytes(),
    );
    let chunk = vec![b'z'; 64 * 1024];
    let mut peak = 0;
    for _ in 0..(total / chunk.len()) {
        c.write_all(&chunk).unwrap();
        peak = peak.max(rss_kb().saturating_sub(rss0));
    }
    let (h, b) = read_response(&mut c);
    assert_eq!(status(&h), 200);
    assert_eq!(b, format!("{total} bytes").as_bytes());
    assert!(
        peak < 6 * 1024,
        "RSS grew by {peak} kB while streaming 10 MB"
    );
}

fn rss_kb() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// In keep-alive mode (the default) a client's `Connection: close` ends the
/// client side only, as in HAProxy: the server does not see it and its
/// connection stays open for the next client that may reuse it.
#[test]
fn a_client_close_keeps_the_server_connection_open() {
    let o = origin(|_| ok("x"));
    let run = serve_reuse_always(o.addr);
    for _ in 0..3 {
        let mut c = client(run.addr);
        write(
            &mut c,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let all = String::from_utf8(read_all(&mut c)).unwrap();
        assert!(all.starts_with("HTTP/1.1 200"), "{all}");
        assert!(all.contains("Connection: close\r\n"), "{all}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let seen = o.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|r| r.header("connection").is_none()));
    assert_eq!(
        o.conns.load(Ordering::SeqCst),
        1,
        "three closing clients, one server connection"
    );
}

#[test]
fn http_reuse_always_shares_idle_server_connections_between_clients() {
    let o = origin(|_| ok("x"));
    let run = serve_reuse_always(o.addr);
    for _ in 0..3 {
        let mut c = client(run.addr);
        write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status(&read_response(&mut c).0), 200);
        drop(c);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        o.conns.load(Ordering::SeqCst),
        1,
        "three clients, one server connection"
    );

    // With the default (safe), each client's first request gets its own.
    let o = origin(|_| ok("x"));
    let run = serve(o.addr);
    for _ in 0..3 {
        let mut c = client(run.addr);
        write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status(&read_response(&mut c).0), 200);
    }
    assert_eq!(o.conns.load(Ordering::SeqCst), 3);
}

#[test]
fn http_ignore_probes_closes_silent_connections_without_408() {
    let o = origin(|_| ok("x"));
    for (ignore, want_408) in [(false, true), (true, false)] {
        let mut fe = http_fe();
        fe.timeouts.http_request = Some(std::time::Duration::from_millis(150));
        fe.http.ignore_probes = ignore;
        let run = start(fe, http_be(o.addr), 1);
        let mut c = client(run.addr);
        let all = String::from_utf8(read_all(&mut c)).unwrap();
        assert_eq!(all.starts_with("HTTP/1.1 408"), want_408, "{all}");
    }
}

#[test]
fn inherited_socket_fd_is_served() {
    use std::os::fd::AsRawFd;
    let o = origin(|_| ok("via fd"));
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut fe = http_fe();
    fe.binds[0].addr = fulcrum_engine::runtime::BindAddr::Fd(l.as_raw_fd());
    let run = start(fe, http_be(o.addr), 2);
    let mut c = client(addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(read_response(&mut c).1, b"via fd");
    drop(run);
    drop(l);
}

#[test]
fn ten_megabyte_download_streams_with_bounded_memory() {
    let total: usize = 10 << 20;
    let srv = backend(move |mut s| {
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
        let chunk = vec![b'd'; 64 * 1024];
        let _ =
            s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n").as_bytes());
        for _ in 0..total / chunk.len() {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let run = serve(srv);
    let rss0 = rss_kb();
    let mut c = client(run.addr);
    write(&mut c, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut got = 0usize;
    let mut peak = 0;
    let mut b = vec![0u8; 64 * 1024];
    let mut head_done = false;
    while got < total {
        let n = c.read(&mut b).unwrap();
        assert!(n > 0);
        let mut body = &b[..n];
        if !head_done {
            let pos = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            body = &body[pos..];
            head_done = true;
        }
        got += body.len();
        peak = peak.max(rss_kb().saturating_sub(rss0));
    }
    assert_eq!(got, total);
    assert!(
        peak < 6 * 1024,
        "RSS grew by {peak} kB while streaming 10 MB"
    );
}

#[test]
fn http10_client_gets_a_chunked_response_dechunked() {
    let o = origin(|_| {
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec()
    });
    let run = serve(o.addr);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.0\r\n\r\n");
    let all = String::from_utf8(read_all(&mut c)).unwrap();
    assert!(
        !all.to_ascii_lowercase().contains("transfer-encoding"),
        "{all}"
    );
    assert!(all.ends_with("\r\n\r\nhello world"), "{all}");
}
