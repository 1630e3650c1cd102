//! Server queues as HAProxy runs them: `minconn` + `fullconn` (a server's limit
//! follows the backend's load), and requests queued on a server that goes
//! down leaving its queue under `option redispatch`.

mod health_support;

use health_support::slow::{burst, statuses, Slow};
use health_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn dynamic(fe_maxconn: &str, fullconn: &str) -> usize {
    let o = Slow::start("s1", Duration::from_millis(300));
    let text = format!(
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout queue 30s\n\
         frontend f\n  bind 127.0.0.1:0\n{fe_maxconn}  default_backend b\n\
         backend b\n{fullconn}  server s1 {} minconn 1 maxconn 10\n",
        o.addr
    );
    let r = Running::start(&text);
    let codes = statuses(burst(r.addr("f"), 20));
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    o.peak.load(Ordering::SeqCst)
}

#[test]
fn minconn_holds_a_lightly_loaded_backend_to_few_connections() {
    // 20 requests against fullconn 100: the limit is max(1, 20 × 10 / 100) = 2.
    let peak = dynamic("", "  fullconn 100\n");
    assert!((1..=2).contains(&peak), "peak {peak}");
}

#[test]
fn at_fullconn_a_server_reaches_its_maxconn() {
    let peak = dynamic("", "  fullconn 10\n");
    assert!((5..=10).contains(&peak), "peak {peak}");
}

#[test]
fn fullconn_defaults_to_a_tenth_of_the_frontends_maxconn() {
    // maxconn 1000 → fullconn 100 → 2 at a time; maxconn 100 → fullconn 10 → up to 10.
    let low = dynamic("  maxconn 1000\n", "");
    assert!((1..=2).contains(&low), "peak {low}");
    let high = dynamic("  maxconn 100\n", "");
    assert!((5..=10).contains(&high), "peak {high}");
}

/// One GET on its own connection, waiting up to `limit`: (status, head, body).
fn request_within(addr: SocketAddr, path: &str, limit: Duration) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_string(), body.to_string())
}

#[test]
fn ramping_servers_behind_the_backend_queue_keep_their_dynamic_limits() {
    // Every server has maxconn: requests wait in the backend queue. 20 requests,
    // fullconn 100: each server takes max(1, 20 × 10 / 100) = 2 at a time.
    let a = Slow::start("a", Duration::from_millis(300));
    let b = Slow::start("b", Duration::from_millis(300));
    let text = format!(
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout queue 30s\n\
         frontend f\n  bind 127.0.0.1:0\n  default_backend b\n\
         backend b\n  fullconn 100\n\
         \x20 server a {} minconn 1 maxconn 10\n\
         \x20 server b {} minconn 1 maxconn 10\n",
        a.addr, b.addr
    );
    let r = Running::start(&text);
    let codes = statuses(burst(r.addr("f"), 20));
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    let (pa, pb) = (a.peak.load(Ordering::SeqCst), b.peak.load(Ordering::SeqCst));
    assert!(pa <= 2 && pb <= 2 && pa + pb >= 2, "peaks {pa} {pb}");
}

/// A health-check target that can be switched off (connections refused).
fn check_port() -> (u16, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    std::thread::spawn(move || {
        while !s2.load(Ordering::SeqCst) {
            let _ = l.accept();
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (port, stop)
}

/// s1 (maxconn 1, answers after 3 s) is busy with one request and has a second
/// queued when its health check fails; `bk` is a backup. Returns the second
/// request's answer, how long it took, and the health events.
fn queued_when_down(redispatch: bool) -> (String, Duration, Vec<String>) {
    let s1 = Slow::start("s1", Duration::from_secs(3));
    let bk = Slow::start("bk", Duration::ZERO);
    let (port, stop) = check_port();
    let text = format!(
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout queue 30s\n\
         listen f\n  bind 127.0.0.1:0\n{}\
         \x20 server s1 {} maxconn 1 check port {port} inter 200ms fall 1 rise 1\n\
         \x20 server bk {} backup\n",
        if redispatch { "  option redispatch\n" } else { "" },
        s1.addr,
        bk.addr
    );
    let r = Running::start(&text);
    let addr = r.addr("f");
    let get = |addr, path: &str| request_within(addr, path, Duration::from_secs(20));
    let first = std::thread::spawn(move || get(addr, "/first"));
    assert!(wait_until(Duration::from_secs(5), || s1
        .peak
        .load(Ordering::SeqCst)
        == 1));
    let start = Instant::now();
    let second = std::thread::spawn(move || get(addr, "/second"));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let (code, _, body) = second.join().unwrap();
    let took = start.elapsed();
    assert_eq!(
        code,
        200,
        "after {took:?}: {body} {:?}",
        r.events.lock().unwrap()
    );
    assert_eq!(first.join().unwrap().0, 200);
    let events = r.events.lock().unwrap().clone();
    (body, took, events)
}

#[test]
fn redispatch_moves_requests_queued_on_a_server_that_goes_down() {
    let (body, took, events) = queued_when_down(true);
    assert_eq!(body, "bk");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(
        events
            .iter()
            .any(|m| m.contains("Server f/s1 is DOWN")
                && m.contains("1 requeued, 0 remaining in queue")),
        "{events:?}"
    );
}

#[test]
fn without_redispatch_a_queued_request_waits_for_its_server() {
    let (body, took, events) = queued_when_down(false);
    assert_eq!(body, "s1");
    assert!(took >= Duration::from_millis(2000), "took {took:?}");
    assert!(
        events
            .iter()
            .any(|m| m.contains("Server f/s1 is DOWN")
                && m.contains("0 requeued, 1 remaining in queue")),
        "{events:?}"
    );
}
