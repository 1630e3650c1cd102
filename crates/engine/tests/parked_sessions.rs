//! A keep-alive connection idle for more than a second is parked outside any
//! task (see `crates/engine/src/park.rs`). What its client and the operator see
//! does not change: the next request is served, logged with its idle time, on
//! a pooled server connection; `timeout http-keep-alive` still closes it on
//! time; it still counts as a current session and holds its `maxconn` place; a
//! graceful stop closes it at once.

mod common;

use common::http::{ok, origin};
use common::logsink::{start_cfg_logged, wait_for};
use common::*;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// Past the park delay (1 s) with some margin.
const PARKED: Duration = Duration::from_millis(1400);

fn get(c: &mut std::net::TcpStream) -> (u16, Vec<u8>) {
    write(c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = read_response(c);
    (status(&head), body)
}

fn config(origin: std::net::SocketAddr, extra_global: &str, keep_alive: &str) -> String {
    format!(
        "global\n{extra_global}\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 10s\n    timeout server 5s\n\
         \x20   timeout http-keep-alive {keep_alive}\n\
         frontend web\n    bind 127.0.0.1:0\n    maxconn 2\n    default_backend app\n\
         backend app\n    server s1 {origin}\n"
    )
}

fn stat(sock: &Path, col: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    std::io::Write::write_all(&mut s, b"show stat\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let mut lines = out.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let i = head.iter().position(|h| *h == col).unwrap();
    lines
        .find(|l| l.starts_with("web,FRONTEND,"))
        .map(|l| l.split(',').nth(i).unwrap_or("").to_string())
        .unwrap()
}

#[test]
fn a_parked_connection_is_served_and_logged_when_its_client_speaks_again() {
    let o = origin(|_| ok("hello"));
    let (run, sink) = start_cfg_logged(&config(o.addr, "", "30s"), "web");
    let mut c = client(run.addr);
    assert_eq!(get(&mut c), (200, b"hello".to_vec()));
    for round in 0..2 {
        std::thread::sleep(PARKED);
        assert_eq!(get(&mut c), (200, b"hello".to_vec()), "round {round}");
    }
    let recs = wait_for(&sink, 3);
    assert_eq!(recs.len(), 3);
    for r in &recs[1..] {
        // The idle time runs from the end of the previous request, across the park.
        assert!(r.timers.ti >= 1300, "%Ti {}", r.timers.ti);
        assert_eq!(r.status, Some(200));
        assert_eq!(r.server.as_deref(), Some("s1"));
        assert_eq!(r.client, recs[0].client);
    }
    // The server connection went to the pool while the client was parked and
    // came back for the next request: one server connection served all three.
    assert_eq!(o.conns.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn keep_alive_timeout_closes_a_parked_connection_on_time() {
    let o = origin(|_| ok("hello"));
    let (run, _sink) = start_cfg_logged(&config(o.addr, "", "2s"), "web");
    let mut c = client(run.addr);
    assert_eq!(get(&mut c).0, 200);
    let t0 = Instant::now();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 16];
    // EOF, not a reset or a timeout.
    assert_eq!(c.read(&mut b).unwrap(), 0);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2600),
        "closed after {took:?}"
    );
}

#[test]
fn a_parked_connection_counts_as_a_session_and_holds_its_maxconn_place() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let o = origin(|_| ok("hello"));
    let global = format!("    stats socket {} level admin\n", sock.display());
    let text = config(o.addr, &global, "30s");
    let l = fulcrum_config::load_str("t.cfg", &text, &fulcrum_config::reader::MapEnv::new());
    let cfg = l.config.unwrap();
    let opts = fulcrum_engine::EngineOptions {
        nbthread: Some(1),
        ..Default::default()
    };
    let h = fulcrum_engine::Engine::start(fulcrum_engine::compile(&cfg).unwrap(), opts).unwrap();
    h.start_ops(&cfg, None).unwrap();
    let run = Running {
        addr: h.local_addr("web").unwrap(),
        handle: Some(h),
    };
    let mut a = client(run.addr);
    let mut b = client(run.addr);
    assert_eq!(get(&mut a).0, 200);
    assert_eq!(get(&mut b).0, 200);
    std::thread::sleep(PARKED);
    assert_eq!(stat(&sock, "scur"), "2");
    // `maxconn 2`: a third client waits while both places are held by parked
    // connections, and gets in when one of them leaves.
    let mut third = client(run.addr);
    write(&mut third, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(third.read(&mut byte).is_err(), "served past maxconn");
    drop(a);
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (head, body) = read_response(&mut third);
    assert_eq!(status(&head), 200);
    assert_eq!(body, b"hello");
    assert_eq!(get(&mut b).0, 200);
}

#[test]
fn a_graceful_stop_closes_parked_connections_at_once() {
    let o = origin(|_| ok("hello"));
    let mut run = start_cfg(&config(o.addr, "", "30s"), "web");
    let (h, addr) = (run.handle.take().unwrap(), run.addr);
    let mut c = client(addr);
    assert_eq!(get(&mut c).0, 200);
    std::thread::sleep(PARKED);
    h.graceful_stop();
    let mut b = [0u8; 16];
    assert_eq!(c.read(&mut b).unwrap(), 0, "the idle connection is closed");
    assert!(
        exits_within(h, Duration::from_secs(3)),
        "the engine exits without waiting for the keep-alive timeout"
    );
}

/// An IPv6 client keeps its addresses across the park (they are stored apart
/// from the packed IPv4 pair).
#[test]
fn an_ipv6_client_is_parked_and_resumed_with_its_addresses() {
    let o = origin(|r| ok(&r.header("x-forwarded-for").unwrap_or_default()));
    let text = config(o.addr, "", "30s")
        .replace("bind 127.0.0.1:0", "bind [::1]:0")
        .replace(
            "default_backend app",
            "option forwardfor\n    default_backend app",
        );
    let (run, sink) = start_cfg_logged(&text, "web");
    let mut c = client(run.addr);
    assert_eq!(get(&mut c), (200, b"::1".to_vec()));
    std::thread::sleep(PARKED);
    assert_eq!(get(&mut c), (200, b"::1".to_vec()));
    let recs = wait_for(&sink, 2);
    assert_eq!(recs.len(), 2);
    assert!(recs[1].timers.ti >= 1300, "%Ti {}", recs[1].timers.ti);
    assert_eq!(recs[1].client, recs[0].client);
    assert_eq!(recs[1].frontend_addr, Some(run.addr));
}

/// `option idle-close-on-response`: a soft stop leaves idle connections open,
/// parked or not; each is served once more, its response says
/// `Connection: close`, and the connection ends with it.
#[test]
fn idle_close_on_response_keeps_idle_connections_until_their_next_response() {
    let o = origin(|_| ok("hello"));
    let text = config(o.addr, "", "30s").replace(
        "default_backend app",
        "option idle-close-on-response\n    default_backend app",
    );
    let mut run = start_cfg(&text, "web");
    let (h, addr) = (run.handle.take().unwrap(), run.addr);
    let mut parked = client(addr);
    assert_eq!(get(&mut parked).0, 200);
    std::thread::sleep(PARKED);
    let mut fresh = client(addr);
    assert_eq!(get(&mut fresh).0, 200);
    h.graceful_stop();
    std::thread::sleep(Duration::from_millis(200));
    for c in [&mut parked, &mut fresh] {
        write(c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let all = String::from_utf8(read_all(c)).unwrap();
        assert!(all.starts_with("HTTP/1.1 200"), "{all}");
        assert!(all.contains("Connection: close\r\n"), "{all}");
    }
    assert!(
        exits_within(h, Duration::from_secs(3)),
        "the engine exits once both connections are done"
    );
}
