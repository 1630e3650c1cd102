mod common;

use common::http::{ok, origin};
use common::logsink::*;
use common::*;
use fulcrum_engine::runtime::{Frontend, Mode, Runtime};
use std::io::{Read, Write};
use std::sync::Arc;

fn start_logged(fe: Frontend, be: fulcrum_engine::runtime::Backend) -> (Running, Arc<Collect>) {
    let rt = Runtime {
        nbthread: 1,
        maxconn: None,
        tune: Default::default(),
        frontends: vec![fe],
        backends: vec![Arc::new(be)],
    };
    start_rt_logged(rt, "f")
}

#[test]
fn each_http_request_is_logged_with_status_server_and_bytes() {
    let o = origin(|_| ok("hello"));
    let (run, sink) = start_logged(
        frontend("f", Mode::Http),
        rr_backend("app", Mode::Http, servers(&[o.addr])),
    );
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    read_response(&mut c);
    read_response(&mut c);
    let recs = wait_for(&sink, 2);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].request_line.as_deref(), Some("GET /x HTTP/1.1"));
    assert_eq!(recs[1].request_line.as_deref(), Some("GET /y HTTP/1.1"));
    assert_eq!(recs[0].status, Some(200));
    assert_eq!(recs[0].backend, "app");
    assert_eq!(recs[0].server.as_deref(), Some("s0"));
    assert!(recs[0].bytes_read > 5);
    assert_eq!(recs[0].termination.short(), *b"--");
}

#[test]
fn errors_are_logged_with_their_termination_state() {
    let mut be = rr_backend("app", Mode::Http, servers(&[dead_addr()]));
    be.retries = 0;
    let (run, sink) = start_logged(frontend("f", Mode::Http), be);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&read_response(&mut c).0), 503);
    let recs = wait_for(&sink, 1);
    assert_eq!(recs[0].status, Some(503));
    assert_eq!(recs[0].termination.short(), *b"SC");
}

#[test]
fn tcp_sessions_are_logged_with_bytes_both_ways() {
    let srv = backend(|mut s| {
        let mut b = [0u8; 3];
        s.read_exact(&mut b).unwrap();
        s.write_all(b"12345").unwrap();
    });
    let (run, sink) = start_logged(
        frontend("f", Mode::Tcp),
        rr_backend("db", Mode::Tcp, servers(&[srv])),
    );
    let mut c = client(run.addr);
    c.write_all(b"abc").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"12345");
    let recs = wait_for(&sink, 1);
    assert_eq!((recs[0].bytes_uploaded, recs[0].bytes_read), (3, 5));
    assert_eq!(recs[0].status, None);
    assert_eq!(recs[0].backend, "db");
}
