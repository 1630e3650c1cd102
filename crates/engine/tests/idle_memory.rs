mod common;

use common::http::{ok, origin};
use common::*;
use fulcrum_engine::runtime::Mode;
use std::time::{Duration, Instant};

/// Idle connections (never used, or kept alive between requests, or idle TCP
/// tunnels) hold no I/O buffer: memory per idle connection stays small.
#[test]
fn idle_connections_hold_no_buffers() {
    let o = origin(|_| ok("x"));
    let run = start(
        frontend("f", Mode::Http),
        rr_backend("b", Mode::Http, servers(&[o.addr])),
        1,
    );
    let tcp_srv = backend(|mut s| {
        use std::io::Read;
        let mut b = [0u8; 16];
        let _ = s.read(&mut b);
    });
    let tcp = start(
        frontend("f", Mode::Tcp),
        rr_backend("t", Mode::Tcp, servers(&[tcp_srv])),
        1,
    );
    let mut conns = Vec::new();
    for _ in 0..20 {
        conns.push(client(run.addr));
        let mut c = client(run.addr);
        write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status(&read_response(&mut c).0), 200);
        conns.push(c);
        conns.push(client(tcp.addr));
    }
    let t0 = Instant::now();
    while fulcrum_engine::buffers_in_use() > 0 && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(fulcrum_engine::buffers_in_use(), 0, "60 idle connections");
    drop(conns);
}
