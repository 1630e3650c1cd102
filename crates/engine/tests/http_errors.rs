mod common;

use common::http::{ok, origin};
use common::*;
use fulcrum_engine::runtime::{Mode, Redispatch, Runtime};
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn http_fe() -> fulcrum_engine::runtime::Frontend {
    frontend("f", Mode::Http)
}

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut c = client(addr);
    write(
        &mut c,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    );
    let (h, b) = read_response(&mut c);
    (status(&h), String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn timeout_http_request_answers_408() {
    let o = origin(|_| ok("x"));
    let mut fe = http_fe();
    fe.timeouts.http_request = Some(Duration::from_millis(200));
    let run = start(fe, rr_backend("b", Mode::Http, servers(&[o.addr])), 1);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n");
    let t0 = Instant::now();
    let all = String::from_utf8(read_all(&mut c)).unwrap();
    assert!(
        all.starts_with("HTTP/1.1 408 Request Time-out\r\n"),
        "{all}"
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(o.seen.lock().unwrap().is_empty());
}

#[test]
fn timeout_server_answers_504() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
        std::thread::sleep(Duration::from_secs(2));
    });
    let mut be = rr_backend("b", Mode::Http, servers(&[srv]));
    be.timeouts.server = Some(Duration::from_millis(200));
    let run = start(http_fe(), be, 1);
    assert_eq!(get(run.addr, "/").0, 504);
}

#[test]
fn connect_failure_after_retries_answers_503() {
    let mut be = rr_backend("b", Mode::Http, servers(&[dead_addr()]));
    be.retries = 1;
    be.timeouts.connect = Some(Duration::from_millis(100));
    let run = start(http_fe(), be, 1);
    let (code, body) = get(run.addr, "/");
    assert_eq!(code, 503);
    assert!(body.contains("No server is available"));
}

#[test]
fn backend_without_servers_answers_503() {
    let run = start(http_fe(), rr_backend("b", Mode::Http, vec![]), 1);
    assert_eq!(get(run.addr, "/").0, 503);
}

#[test]
fn all_servers_down_answers_503_and_dispatch_is_used_without_servers() {
    let o = origin(|_| ok("dispatched"));
    let sv = servers(&[o.addr]);
    sv[0].state.set_up(false);
    let run = start(http_fe(), rr_backend("b", Mode::Http, sv), 1);
    assert_eq!(get(run.addr, "/").0, 503);
    let mut be = rr_backend("b", Mode::Http, vec![]);
    be.dispatch = Some(o.addr);
    let run = start(http_fe(), be, 1);
    assert_eq!(get(run.addr, "/"), (200, "dispatched".into()));
}

#[test]
fn errorfile_replaces_the_default_page() {
    let mut be = rr_backend("b", Mode::Http, vec![]);
    let page: Arc<[u8]> = Arc::from(&b"HTTP/1.0 503 Custom\r\nContent-Length: 4\r\n\r\nbusy"[..]);
    be.errors.by_status.insert(503, page);
    let run = start(http_fe(), be, 1);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        read_all(&mut c),
        b"HTTP/1.0 503 Custom\r\nContent-Length: 4\r\n\r\nbusy"
    );
}

#[test]
fn bad_response_answers_502() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        );
    });
    let run = start(http_fe(), rr_backend("b", Mode::Http, servers(&[srv])), 1);
    assert_eq!(get(run.addr, "/").0, 502);
    let srv = backend(|mut s| {
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
    });
    let run = start(http_fe(), rr_backend("b", Mode::Http, servers(&[srv])), 1);
    assert_eq!(get(run.addr, "/").0, 502);
}

#[test]
fn head_larger_than_bufsize_minus_maxrewrite_is_400() {
    let o = origin(|_| ok("x"));
    let run = start(
        http_fe(),
        rr_backend("b", Mode::Http, servers(&[o.addr])),
        1,
    );
    let mut c = client(run.addr);
    let big = "a".repeat(16000);
    let _ = c.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes());
    let all = String::from_utf8_lossy(&read_all(&mut c)).into_owned();
    assert!(all.starts_with("HTTP/1.1 400 Bad request"), "{all}");
    // Just under the limit passes.
    let mut c = client(run.addr);
    let fits = "a".repeat(15000);
    write(
        &mut c,
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {fits}\r\n\r\n").as_bytes(),
    );
    assert_eq!(status(&read_response(&mut c).0), 200);
}

#[test]
fn maxconn_queue_keeps_order_and_times_out_with_503() {
    // One slot; each request holds it for 150 ms.
    let o = origin(|r| {
        std::thread::sleep(Duration::from_millis(150));
        ok(&r.path)
    });
    let mut sv = servers(&[o.addr]);
    sv[0].maxconn = Some(1);
    let mut be = rr_backend("b", Mode::Http, sv);
    be.timeouts.queue = Some(Duration::from_secs(5));
    let run = start(http_fe(), be, 2);
    let addr = run.addr;
    let mut handles = Vec::new();
    for i in 0..4 {
        handles.push(std::thread::spawn(move || get(addr, &format!("/{i}"))));
        std::thread::sleep(Duration::from_millis(30));
    }
    for h in handles {
        assert_eq!(h.join().unwrap().0, 200);
    }
    let order: Vec<String> = o
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(order, ["/0", "/1", "/2", "/3"]);

    let o = origin(|_| {
        std::thread::sleep(Duration::from_millis(600));
        ok("slow")
    });
    let mut sv = servers(&[o.addr]);
    sv[0].maxconn = Some(1);
    let mut be = rr_backend("b", Mode::Http, sv);
    be.timeouts.queue = Some(Duration::from_millis(100));
    let run = start(http_fe(), be, 1);
    let addr = run.addr;
    let first = std::thread::spawn(move || get(addr, "/a"));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(get(addr, "/b").0, 503);
    assert_eq!(first.join().unwrap().0, 200);
}

#[test]
fn retries_and_redispatch_hide_a_refusing_server() {
    let o = origin(|_| ok("up"));
    let mut be = rr_backend("b", Mode::Http, servers(&[dead_addr(), o.addr]));
    be.retries = 3;
    be.redispatch = Some(Redispatch(1));
    be.timeouts.connect = Some(Duration::from_millis(500));
    let run = start(http_fe(), be, 2);
    let mut failed = 0;
    for i in 0..1000 {
        let mut c = client(run.addr);
        write(
            &mut c,
            format!("GET /{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        if status(&read_response(&mut c).0) != 200 {
            failed += 1;
        }
    }
    assert_eq!(failed, 0);
}

#[test]
fn global_maxconn_is_shared_across_frontends() {
    let o = origin(|_| ok("x"));
    let rt = Runtime {
        nbthread: 1,
        maxconn: Some(1),
        tune: Default::default(),
        frontends: vec![http_fe()],
        backends: vec![Arc::new(rr_backend("b", Mode::Http, servers(&[o.addr])))],
    };
    let run = start_rt(rt, "f");
    let mut a = client(run.addr);
    write(&mut a, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&read_response(&mut a).0), 200);
    let mut b = client(run.addr);
    b.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    write(&mut b, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut one = [0u8; 1];
    assert!(b.read(&mut one).is_err(), "second client must wait");
    drop(a);
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(status(&read_response(&mut b).0), 200);
    assert_eq!(o.conns.load(Ordering::SeqCst), 2);
}

#[test]
fn retry_on_status_replays_only_bodiless_idempotent_requests() {
    let bad =
        origin(|_| b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy".to_vec());
    let good = origin(|_| ok("fine"));
    let mut be = rr_backend("b", Mode::Http, servers(&[bad.addr, good.addr]));
    be.retry_on =
        fulcrum_engine::runtime::RetryOn::parse(&["503".into(), "empty-response".into()]).unwrap();
    be.redispatch = Some(Redispatch(1));
    let run = start(http_fe(), be, 1);
    for i in 0..10 {
        assert_eq!(get(run.addr, &format!("/{i}")), (200, "fine".into()));
    }
    // A POST with a body is not replayed: the server's own 503 comes back.
    let mut saw_503 = false;
    for _ in 0..4 {
        let mut c = client(run.addr);
        write(
            &mut c,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        );
        let (h, b) = read_response(&mut c);
        if status(&h) == 503 {
            saw_503 = true;
            assert_eq!(b, b"busy");
        }
    }
    assert!(saw_503);
}

#[test]
fn retry_on_empty_response_redispatches() {
    let closer = backend(|mut s| {
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
    });
    let good = origin(|_| ok("fine"));
    let mut be = rr_backend("b", Mode::Http, servers(&[closer, good.addr]));
    be.retry_on = fulcrum_engine::runtime::RetryOn::parse(&["empty-response".into()]).unwrap();
    be.redispatch = Some(Redispatch(1));
    let run = start(http_fe(), be, 1);
    for i in 0..6 {
        assert_eq!(get(run.addr, &format!("/{i}")), (200, "fine".into()));
    }
}

#[test]
fn idle_keep_alive_connection_closes_silently_after_timeout_http_keep_alive() {
    let o = origin(|_| ok("x"));
    let mut fe = http_fe();
    fe.timeouts.http_keep_alive = Some(Duration::from_millis(200));
    fe.timeouts.http_request = Some(Duration::from_secs(5));
    let run = start(fe, rr_backend("b", Mode::Http, servers(&[o.addr])), 1);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&read_response(&mut c).0), 200);
    let t0 = Instant::now();
    assert!(
        read_all(&mut c).is_empty(),
        "no 408 for an idle keep-alive connection"
    );
    let idle = t0.elapsed();
    assert!(
        idle >= Duration::from_millis(150) && idle < Duration::from_secs(3),
        "{idle:?}"
    );
}

#[test]
fn stalled_request_body_is_cut_by_timeout_client() {
    let o = origin(|_| ok("x"));
    let mut fe = http_fe();
    fe.timeouts.client = Some(Duration::from_millis(200));
    let run = start(fe, rr_backend("b", Mode::Http, servers(&[o.addr])), 1);
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
    );
    let t0 = Instant::now();
    let _ = read_all(&mut c);
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(
        o.seen.lock().unwrap().is_empty(),
        "the incomplete request never completed upstream"
    );
}

#[test]
fn abortonclose_drops_queued_requests_of_clients_that_left() {
    let o = origin(|_| {
        std::thread::sleep(Duration::from_millis(400));
        ok("x")
    });
    let mut sv = servers(&[o.addr]);
    sv[0].maxconn = Some(1);
    let mut be = rr_backend("b", Mode::Http, sv);
    be.timeouts.queue = Some(Duration::from_secs(5));
    be.http.abortonclose = true;
    let run = start(http_fe(), be, 1);
    let addr = run.addr;
    let first = std::thread::spawn(move || get(addr, "/first"));
    std::thread::sleep(Duration::from_millis(100));
    let mut quitter = client(addr);
    write(&mut quitter, b"GET /quitter HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(Duration::from_millis(50));
    quitter.shutdown(std::net::Shutdown::Both).unwrap();
    assert_eq!(first.join().unwrap().0, 200);
    std::thread::sleep(Duration::from_millis(600));
    let paths: Vec<String> = o
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/first"]);
}
