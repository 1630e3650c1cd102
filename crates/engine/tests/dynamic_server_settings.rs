//! Settings of servers added with `add server` over the real `stats socket`:
//! `backup` takes traffic only when the active servers are down, `id` shows
//! in the stats and a taken one is refused as HAProxy does, `send-proxy` /
//! `send-proxy-v2` headers reach the origin, `source` binds the outgoing
//! connection.

mod health_support;

use health_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const HEAD: &str =
    "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n";

/// A TCP origin that answers each connection with what it saw: the peer's
/// address, then every byte received up to the client's `ping\n`.
fn recorder() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                let deadline = Instant::now() + Duration::from_secs(5);
                let mut got = Vec::new();
                let mut buf = [0u8; 512];
                while !got.ends_with(b"ping\n") && Instant::now() < deadline {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let mut out = format!("{peer}\n").into_bytes();
                out.extend_from_slice(&got);
                let _ = s.write_all(&out);
            });
        }
    });
    addr
}

/// One connection through `fe`: (the origin's peer address, bytes it got).
fn through(fe: SocketAddr) -> (String, Vec<u8>) {
    let mut c = TcpStream::connect(fe).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"ping\n").unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let nl = out.iter().position(|b| *b == b'\n').unwrap_or(out.len());
    let peer = String::from_utf8_lossy(&out[..nl]).into_owned();
    (peer, out.get(nl + 1..).unwrap_or_default().to_vec())
}

#[test]
fn an_added_backup_server_serves_only_when_the_active_ones_are_down() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (a, b) = (Origin::start("a"), Origin::start("b"));
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    mode http\n    balance roundrobin\n    server s1 {}\n",
        sock.display(),
        a.addr
    ));
    let web = r.addr("web");
    assert_eq!(
        cmd(&sock, &format!("add server app/b1 {} backup id 42", b.addr)),
        "New server registered.\n\n"
    );
    assert_eq!(cmd(&sock, "enable server app/b1"), "\n");
    for _ in 0..6 {
        assert_eq!(get(web, "/").2, "a");
    }
    assert_eq!(b.hits(), 0, "the backup server got traffic");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    let b1 = row(&rows, "app", "b1");
    assert_eq!((b1["sid"].as_str(), b1["bck"].as_str()), ("42", "1"));
    assert_eq!(row(&rows, "app", "s1")["bck"], "0");

    assert_eq!(cmd(&sock, "disable server app/s1"), "\n");
    for _ in 0..3 {
        assert_eq!(get(web, "/").2, "b");
    }
    assert_eq!(cmd(&sock, "enable server app/s1"), "\n");
    assert_eq!(get(web, "/").2, "a");

    // Ids are unique in a backend, as HAProxy answers.
    assert_eq!(
        cmd(&sock, &format!("add server app/x {} id 42", b.addr)),
        "'id' : custom id 42 already used at (null):0 ('server b1').\n\n"
    );
    let out = cmd(&sock, &format!("add server app/x {} id 1", b.addr));
    assert!(
        out.starts_with("'id' : custom id 1 already used at test.cfg:")
            && out.ends_with("('server s1').\n\n"),
        "{out}"
    );
    // Without `id`, the smallest free number.
    assert_eq!(
        cmd(&sock, &format!("add server app/x {}", b.addr)),
        "New server registered.\n\n"
    );
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "app", "x")["sid"], "2");
}

#[test]
fn added_servers_send_proxy_headers_and_bind_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let origin = recorder();
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         listen raw\n    mode tcp\n    bind 127.0.0.1:0\n    balance roundrobin\n\
         \x20   server plain {origin}\n",
        sock.display()
    ));
    let fe = r.addr("raw");
    assert_eq!(through(fe).1, b"ping\n");

    // Only the added server serves from here on.
    let only = |name: &str| {
        assert_eq!(cmd(&sock, &format!("enable server raw/{name}")), "\n");
        for other in ["plain", "p1", "p2", "src"] {
            if other != name {
                let _ = cmd(&sock, &format!("disable server raw/{other}"));
            }
        }
    };
    let add = |line: String| assert_eq!(cmd(&sock, &line), "New server registered.\n\n");
    add(format!("add server raw/p1 {origin} send-proxy"));
    add(format!("add server raw/p2 {origin} send-proxy-v2"));
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let src = probe.local_addr().unwrap();
    drop(probe);
    add(format!("add server raw/src {origin} source {src}"));

    only("p1");
    let (_, got) = through(fe);
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(
        text.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 ") && text.ends_with("\r\nping\n"),
        "{text:?}"
    );

    only("p2");
    let (_, got) = through(fe);
    assert!(
        got.starts_with(b"\r\n\r\n\0\r\nQUIT\n\x21\x11") && got.ends_with(b"ping\n"),
        "{got:?}"
    );
    assert_eq!(got.len(), 16 + 12 + 5, "{got:?}");

    only("src");
    let (peer, got) = through(fe);
    assert_eq!(peer, src.to_string(), "the source was not bound");
    assert_eq!(got, b"ping\n");
}

#[test]
fn an_added_server_with_maxconn_1_queues_the_second_connection_and_maxqueue_1_refuses_the_third() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let origin = recorder();
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         listen raw\n    mode tcp\n    bind 127.0.0.1:0\n    balance roundrobin\n\
         \x20   timeout queue 10s\n",
        sock.display()
    ));
    let fe = r.addr("raw");
    assert_eq!(
        cmd(
            &sock,
            &format!("add server raw/one {origin} maxconn 1 maxqueue 1")
        ),
        "New server registered.\n\n"
    );
    assert_eq!(cmd(&sock, "enable server raw/one"), "\n");
    let stat_of =
        |sv: &str, field: &str| row(&parse_csv(&cmd(&sock, "show stat")), "raw", sv)[field].clone();
    let stat = |field: &str| stat_of("one", field);
    // With every server limited, waiters queue in the backend.
    let queued = || stat_of("BACKEND", "qcur");

    assert_eq!((stat("slim").as_str(), stat("qlimit").as_str()), ("1", "1"));

    // The first connection holds the only slot; the second one waits.
    let mut first = TcpStream::connect(fe).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || stat("scur") == "1"));
    let second = std::thread::spawn(move || through(fe));
    assert!(
        wait_until(Duration::from_secs(5), || queued() == "1"),
        "the second connection was not queued"
    );
    assert_eq!(stat("scur"), "1");
    // The queue is full: a third connection is closed without reaching it.
    let t = Instant::now();
    let (_, third) = through(fe);
    assert!(third.is_empty(), "{third:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "the third one waited");
    assert_eq!(queued(), "1");

    first.write_all(b"ping\n").unwrap();
    let mut out = Vec::new();
    let _ = first.read_to_end(&mut out);
    assert!(out.ends_with(b"\nping\n"), "{out:?}");
    drop(first);
    let (_, got) = second.join().unwrap();
    assert_eq!(got, b"ping\n", "the queued connection was not served");
}

#[test]
fn an_added_server_with_on_marked_down_shutdown_sessions_loses_its_tunnels() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let origin = recorder();
    // The check goes to its own port, closed below while the origin stays.
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         listen raw\n    mode tcp\n    bind 127.0.0.1:0\n    balance roundrobin\n",
        sock.display()
    ));
    let fe = r.addr("raw");
    assert_eq!(
        cmd(
            &sock,
            &format!(
                "add server raw/d {origin} check port {port} inter 100ms rise 1 fall 1 \
                 on-marked-down shutdown-sessions"
            )
        ),
        "New server registered.\n\n"
    );
    assert_eq!(cmd(&sock, "enable server raw/d"), "\n");
    assert_eq!(cmd(&sock, "enable health raw/d"), "\n");
    let status = || row(&parse_csv(&cmd(&sock, "show stat")), "raw", "d")["status"].clone();
    assert!(wait_until(Duration::from_secs(5), || status() == "UP"));

    // A tunnel that the origin keeps open (it waits for `ping`).
    let mut open = TcpStream::connect(fe).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        row(&parse_csv(&cmd(&sock, "show stat")), "raw", "d")["scur"] == "1"
    }));
    drop(probe);
    assert!(wait_until(Duration::from_secs(5), || status() == "DOWN"));
    let t = Instant::now();
    let mut buf = [0u8; 64];
    let n = open.read(&mut buf).unwrap_or(usize::MAX);
    assert_eq!(n, 0, "the tunnel was not closed");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "closed only by a timeout"
    );
}

#[test]
fn an_added_server_with_observe_layer4_is_marked_down_by_failed_connections() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    // Checks reach a port that answers; traffic goes to one that refuses.
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         listen raw\n    mode tcp\n    bind 127.0.0.1:0\n    balance roundrobin\n",
        sock.display()
    ));
    let fe = r.addr("raw");
    assert_eq!(
        cmd(
            &sock,
            &format!(
                "add server raw/d {closed} check port {port} inter 30s rise 1 fall 1 \
                 observe layer4 error-limit 1 on-error mark-down"
            )
        ),
        "New server registered.\n\n"
    );
    assert_eq!(cmd(&sock, "enable server raw/d"), "\n");
    assert_eq!(cmd(&sock, "enable health raw/d"), "\n");
    let status = || row(&parse_csv(&cmd(&sock, "show stat")), "raw", "d")["status"].clone();
    assert!(wait_until(Duration::from_secs(5), || status() == "UP"));
    let (_, got) = through(fe);
    assert!(got.is_empty(), "{got:?}");
    assert!(
        wait_until(Duration::from_secs(5), || status() == "DOWN"),
        "failed connections did not mark the server down: {}",
        status()
    );
    drop(probe);
}

#[test]
fn an_added_server_with_slowstart_ramps_when_it_comes_back_up() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let web = Origin::start("web");
    let _r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         backend be\n    mode http\n    balance roundrobin\n",
        sock.display()
    ));
    let add = format!("add server be/w {} check inter 60s slowstart 60s", web.addr);
    assert_eq!(cmd(&sock, &add), "New server registered.\n\n");
    assert_eq!(cmd(&sock, "enable server be/w"), "\n");
    assert_eq!(cmd(&sock, "enable health be/w"), "\n");
    assert_eq!(cmd(&sock, "set server be/w health down"), "\n");
    assert_eq!(cmd(&sock, "set server be/w health up"), "\n");
    // srv_op_state 1: STARTING while the weight ramps.
    let state = cmd(&sock, "show servers state be");
    let line = state
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.get(3) == Some(&"w"))
        .unwrap_or_default();
    assert_eq!(line.get(5), Some(&"1"), "{state}");
}

#[test]
fn an_added_server_with_track_follows_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (mut a, b) = (Origin::start("a"), Origin::start("b"));
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    mode http\n    balance roundrobin\n\
         \x20   server s1 {a} check inter 100ms rise 1 fall 1\n    server n1 {a} disabled\n",
        sock.display(),
        a = a.addr
    ));
    let web = r.addr("web");
    let add = |args: &str| cmd(&sock, &format!("add server app/{args}"));
    let ok = "New server registered.\n\n";
    assert_eq!(add(&format!("t {} track s1", b.addr)), ok);
    assert_eq!(cmd(&sock, "enable server app/t"), "\n");
    let status = |sv: &str| row(&parse_csv(&cmd(&sock, "show stat")), "app", sv)["status"].clone();
    assert!(wait_until(Duration::from_secs(5), || status("s1") == "UP"));
    // Up with it (the stats say "no check" where HAProxy says "UP").
    assert_ne!(status("t"), "DOWN");
    let bodies: Vec<String> = (0..4).map(|_| get(web, "/").2).collect();
    assert!(bodies.iter().any(|x| x == "b"), "{bodies:?}");

    // HAProxy's refusals.
    let b_addr = b.addr;
    let refused = [
        (
            "x nope",
            "unable to find required server 'nope' for tracking.",
        ),
        (
            "x nobe/s1",
            "unable to find required proxy 'nobe' for tracking.",
        ),
        (
            "x t",
            "unable to use app/t for tracking as it is a dynamic server.",
        ),
        (
            "x n1",
            "unable to use app/n1 for tracking as it does not have any check nor agent enabled.",
        ),
        (
            "x s1 check",
            "unable to enable checks and tracking at the same time!",
        ),
    ];
    for (line, answer) in refused {
        let (name, rest) = line.split_once(' ').unwrap();
        assert_eq!(
            add(&format!("{name} {b_addr} track {rest}")),
            format!("{answer}\n\n"),
            "{line}"
        );
    }

    // Its target goes down: so does it, although its own origin is up.
    a.kill();
    assert!(wait_until(Duration::from_secs(5), || status("s1") == "DOWN"));
    assert!(wait_until(Duration::from_secs(5), || status("t") == "DOWN"));
    assert_eq!(get(web, "/").0, 503);

    assert_eq!(cmd(&sock, "disable server app/s1"), "\n");
    assert_eq!(
        cmd(&sock, "del server app/s1"),
        "This server cannot be removed at runtime due to other configuration elements \
         pointing to it.\n\n"
    );
    assert_eq!(cmd(&sock, "disable server app/t"), "\n");
    assert_eq!(cmd(&sock, "del server app/t"), "Server deleted.\n\n");
    assert_eq!(cmd(&sock, "del server app/s1"), "Server deleted.\n\n");
}

#[test]
fn minconn_alone_is_an_added_servers_fixed_limit() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let origin = recorder();
    let _r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         listen raw\n    mode tcp\n    bind 127.0.0.1:0\n    balance roundrobin\n",
        sock.display()
    ));
    let add = |line: String| cmd(&sock, &line);
    assert_eq!(
        add(format!("add server raw/m {origin} minconn 3")),
        "New server registered.\n\n"
    );
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "raw", "m")["slim"], "3");
    // Below `maxconn` it is a ramp (see set_maxconn_server.rs): the limit
    // shown is where it ends.
    assert_eq!(
        add(format!("add server raw/r {origin} minconn 1 maxconn 5")),
        "New server registered.\n\n"
    );
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "raw", "r")["slim"], "5");
}
