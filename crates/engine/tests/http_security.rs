mod common;

use common::http::{ok, origin};
use common::*;
use fulcrum_engine::runtime::{ForwardFor, IpNet, Mode, OriginalTo};
use std::io::{Read, Write};
use std::time::Duration;

fn http_fe() -> fulcrum_engine::runtime::Frontend {
    frontend("f", Mode::Http)
}

#[test]
fn smuggling_vectors_get_400_and_are_never_forwarded() {
    let o = origin(|_| ok("x"));
    let run = start(
        http_fe(),
        rr_backend("b", Mode::Http, servers(&[o.addr])),
        1,
    );
    let vectors: &[&[u8]] = &[
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\nabcde",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
        b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    ];
    for v in vectors {
        let mut c = client(run.addr);
        let _ = c.write_all(v);
        let all = String::from_utf8_lossy(&read_all(&mut c)).into_owned();
        assert!(
            all.starts_with("HTTP/1.1 400 Bad request\r\n"),
            "{:?} -> {all:?}",
            String::from_utf8_lossy(v)
        );
    }
    assert!(
        o.seen.lock().unwrap().is_empty(),
        "nothing reached the server"
    );
    assert_eq!(o.conns.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn bad_chunk_framing_is_400_and_bad_bytes_never_reach_the_server() {
    let o = origin(|_| ok("x"));
    let run = start(
        http_fe(),
        rr_backend("b", Mode::Http, servers(&[o.addr])),
        1,
    );
    for body in [
        &b"5\r\nhello\r\n-1\r\n\r\n"[..],
        b"5\r\nhelloXX\r\n0\r\n\r\n",
        b"fffffffffffffffffff\r\n",
        b"zz\r\n",
    ] {
        let mut c = client(run.addr);
        let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(body);
        let _ = c.write_all(&req);
        let all = String::from_utf8_lossy(&read_all(&mut c)).into_owned();
        assert!(all.starts_with("HTTP/1.1 400"), "{all}");
    }
    assert!(o.seen.lock().unwrap().is_empty());
}

#[test]
fn response_smuggling_is_502() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
        let _ =
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc");
    });
    let run = start(http_fe(), rr_backend("b", Mode::Http, servers(&[srv])), 1);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&read_response(&mut c).0), 502);
}

#[test]
fn forwardfor_adds_client_address_unless_excepted() {
    let o = origin(|_| ok("x"));
    let mut fe = http_fe();
    fe.http.forwardfor = Some(ForwardFor::default());
    fe.http.originalto = Some(OriginalTo {
        except: None,
        header: "X-Original-To".into(),
    });
    let run = start(fe, rr_backend("b", Mode::Http, servers(&[o.addr])), 1);
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 9.9.9.9\r\n\r\n",
    );
    read_response(&mut c);
    {
        let seen = o.seen.lock().unwrap();
        assert_eq!(seen[0].headers("x-forwarded-for"), ["9.9.9.9", "127.0.0.1"]);
        assert_eq!(
            seen[0].header("x-original-to").as_deref(),
            Some("127.0.0.1")
        );
    }

    let mut fe = http_fe();
    fe.http.forwardfor = Some(ForwardFor {
        except: Some(IpNet {
            addr: "127.0.0.0".parse().unwrap(),
            prefix: 8,
        }),
        header: "X-Client".into(),
        if_none: false,
    });
    let run = start(fe, rr_backend("b", Mode::Http, servers(&[o.addr])), 1);
    let mut c = client(run.addr);
    write(&mut c, b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(&mut c);
    let seen = o.seen.lock().unwrap();
    let last = seen.last().unwrap();
    assert_eq!(last.path, "/2");
    assert!(last.header("x-client").is_none() && last.header("x-forwarded-for").is_none());
}

#[test]
fn forwardfor_if_none_keeps_existing_header() {
    let o = origin(|_| ok("x"));
    let mut fe = http_fe();
    fe.http.forwardfor = Some(ForwardFor {
        if_none: true,
        ..Default::default()
    });
    let run = start(fe, rr_backend("b", Mode::Http, servers(&[o.addr])), 1);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(&mut c);
    read_response(&mut c);
    let seen = o.seen.lock().unwrap();
    assert_eq!(seen[0].headers("x-forwarded-for"), ["1.1.1.1"]);
    assert_eq!(seen[1].headers("x-forwarded-for"), ["127.0.0.1"]);
}

/// A WebSocket-like upgrade: the origin answers 101 then echoes bytes.
#[test]
fn websocket_tunnel_outlives_timeout_client_but_not_timeout_tunnel() {
    let srv = backend(|s| {
        let mut r = std::io::BufReader::new(s.try_clone().unwrap());
        let _ = common::http::read_request(&mut r, 0).unwrap();
        let mut w = s;
        w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").unwrap();
        let mut b = [0u8; 64];
        loop {
            match r.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if w.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut fe = http_fe();
    fe.timeouts.client = Some(Duration::from_millis(150));
    let mut be = rr_backend("b", Mode::Http, servers(&[srv]));
    be.timeouts.server = Some(Duration::from_millis(150));
    be.timeouts.tunnel = Some(Duration::from_millis(800));
    let run = start(fe, be, 1);
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    let mut head = Vec::new();
    let mut one = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        c.read_exact(&mut one).unwrap();
        head.push(one[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    // Idle for longer than timeout client: still open.
    std::thread::sleep(Duration::from_millis(400));
    write(&mut c, b"ping");
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ping");
    // Idle past timeout tunnel: closed.
    let t0 = std::time::Instant::now();
    assert_eq!(c.read(&mut b).unwrap_or(0), 0);
    let idle = t0.elapsed();
    assert!(
        idle >= Duration::from_millis(600) && idle < Duration::from_secs(3),
        "{idle:?}"
    );
}
