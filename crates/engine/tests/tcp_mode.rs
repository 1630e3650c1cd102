mod common;

use common::*;
use fulcrum_engine::runtime::{Mode, ProxyVersion};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

#[test]
fn banner_first_server_speaks_before_client() {
    let srv = backend(|mut s| {
        s.write_all(b"220 smtp ready\r\n").unwrap();
        let mut b = [0u8; 64];
        let n = s.read(&mut b).unwrap();
        s.write_all(&b[..n]).unwrap();
    });
    let be = rr_backend("b", Mode::Tcp, servers(&[srv]));
    let run = start(frontend("f", Mode::Tcp), be, 2);
    let mut c = client(run.addr);
    let mut banner = [0u8; 16];
    c.read_exact(&mut banner).unwrap();
    assert_eq!(&banner, b"220 smtp ready\r\n");
    c.write_all(b"EHLO x\r\n").unwrap();
    let mut echo = [0u8; 8];
    c.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"EHLO x\r\n");
}

#[test]
fn half_close_lets_server_answer_after_client_fin() {
    // The server reads until EOF, then answers with the byte count.
    let srv = backend(|mut s| {
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        s.write_all(format!("got {}", all.len()).as_bytes())
            .unwrap();
    });
    let be = rr_backend("b", Mode::Tcp, servers(&[srv]));
    let run = start(frontend("f", Mode::Tcp), be, 1);
    let mut c = client(run.addr);
    c.write_all(&vec![b'x'; 100_000]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"got 100000");
}

#[test]
fn idle_tcp_session_closed_by_timeout_client() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 16];
        let _ = s.read(&mut b);
    });
    let mut fe = frontend("f", Mode::Tcp);
    fe.timeouts.client = Some(Duration::from_millis(200));
    let mut be = rr_backend("b", Mode::Tcp, servers(&[srv]));
    be.timeouts.server = Some(Duration::from_secs(5));
    let run = start(fe, be, 1);
    let mut c = client(run.addr);
    let t0 = Instant::now();
    assert!(read_all(&mut c).is_empty());
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(180) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn send_proxy_v1_and_v2_reach_the_server() {
    for v in [ProxyVersion::V1, ProxyVersion::V2] {
        let (tx, rx) = std::sync::mpsc::channel();
        let srv = backend(move |mut s| {
            let mut b = vec![0u8; 256];
            let n = s.read(&mut b).unwrap();
            tx.send(b[..n].to_vec()).unwrap();
        });
        let mut sv = servers(&[srv]);
        sv[0].send_proxy = Some(v);
        let run = start(frontend("f", Mode::Tcp), rr_backend("b", Mode::Tcp, sv), 1);
        let c = client(run.addr);
        let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let (len, addrs) = fulcrum_engine::proxy_proto::parse(&got).unwrap().unwrap();
        assert_eq!(len, got.len());
        let (src, dst) = addrs.unwrap();
        assert_eq!(src, c.local_addr().unwrap());
        assert_eq!(dst, run.addr);
    }
}

#[test]
fn accept_proxy_header_is_consumed() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 5];
        s.read_exact(&mut b).unwrap();
        s.write_all(&b).unwrap();
    });
    let mut fe = frontend("f", Mode::Tcp);
    fe.binds[0].accept_proxy = true;
    let run = start(fe, rr_backend("b", Mode::Tcp, servers(&[srv])), 1);
    let mut c = client(run.addr);
    c.write_all(b"PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\nhello")
        .unwrap();
    let mut b = [0u8; 5];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"hello");
}

#[test]
fn splice_forwards_bulk_data_intact() {
    let srv = backend(|mut s| {
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        s.write_all(&all).unwrap();
    });
    let mut fe = frontend("f", Mode::Tcp);
    fe.tcp.splice_request = true;
    fe.tcp.splice_response = true;
    let run = start(fe, rr_backend("b", Mode::Tcp, servers(&[srv])), 1);
    let mut c = client(run.addr);
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = c.try_clone().unwrap();
    let d2 = data.clone();
    let t = std::thread::spawn(move || {
        w.write_all(&d2).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_all(&mut c);
    t.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data);
}

#[test]
fn maxconn_pauses_accepting_then_resumes() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 1];
        while let Ok(1) = s.read(&mut b) {
            s.write_all(&b).unwrap();
        }
    });
    let mut fe = frontend("f", Mode::Tcp);
    fe.maxconn = Some(1);
    let run = start(fe, rr_backend("b", Mode::Tcp, servers(&[srv])), 1);
    let mut first = client(run.addr);
    first.write_all(b"a").unwrap();
    let mut b = [0u8; 1];
    first.read_exact(&mut b).unwrap();
    // The second connection sits in the backlog: no answer, no error.
    let mut second = client(run.addr);
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    second.write_all(b"b").unwrap();
    assert!(second.read(&mut b).is_err());
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    second.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"b");
}

#[test]
fn on_marked_down_shutdown_sessions_closes_tunnels() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 16];
        let _ = s.read(&mut b);
    });
    let mut sv = servers(&[srv]);
    sv[0].shutdown_on_down = true;
    let run = start(frontend("f", Mode::Tcp), rr_backend("b", Mode::Tcp, sv), 1);
    let mut c = client(run.addr);
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(
        c.read(&mut b).is_err(),
        "session open while the server is up"
    );
    let rt = run.handle.as_ref().unwrap().runtime();
    rt.backends[0].servers[0].state.set_up(false);
    rt.backends[0].server_changed(0);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t0 = Instant::now();
    assert_eq!(c.read(&mut b).unwrap_or(0), 0);
    assert!(t0.elapsed() < Duration::from_secs(3));
}
