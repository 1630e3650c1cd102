//! Log line fields HAProxy fills and users grep: `capture request|response
//! header`, `capture cookie`, and the connection counters `%ac/%fc/%bc/%sc/%rc`.

mod common;

use common::http::{ok, origin};
use common::logsink::*;
use common::*;
use fulcrum_engine::log::Captures;
use fulcrum_engine::runtime::{Backend, Frontend, Mode, Runtime};
use fulcrum_observe::log::LogRecord;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// `%ac` counts the whole process: the tests of this file run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn start_logged(fe: Frontend, be: Backend) -> (Running, Arc<Collect>) {
    let rt = Runtime {
        nbthread: 1,
        maxconn: None,
        tune: Default::default(),
        frontends: vec![fe],
        backends: vec![Arc::new(be)],
    };
    start_rt_logged(rt, "f")
}

fn captured(fe: &mut Frontend, c: Captures) {
    fe.http.captures = Arc::new(c);
}

fn owned(v: &[(&str, usize)]) -> Vec<(String, usize)> {
    v.iter().map(|(n, l)| (n.to_string(), *l)).collect()
}

#[test]
fn request_headers_are_captured_last_occurrence_cut_to_len() {
    let _g = serial();
    let o = origin(|_| ok("hi"));
    let mut fe = frontend("f", Mode::Http);
    captured(
        &mut fe,
        Captures {
            request_headers: owned(&[("Host", 5), ("X-Absent", 10), ("x-multi", 40)]),
            ..Default::default()
        },
    );
    let (run, sink) = start_logged(fe, rr_backend("app", Mode::Http, servers(&[o.addr])));
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: games.example.com\r\nX-Multi: first\r\nX-Multi: second, third\r\n\r\n",
    );
    assert_eq!(status(&read_response(&mut c).0), 200);
    let recs = wait_for(&sink, 1);
    assert_eq!(
        recs[0].request_captures,
        vec![
            Some("games".to_string()),
            None,
            Some("second, third".to_string())
        ]
    );
    assert!(recs[0].response_captures.is_empty());
}

#[test]
fn response_headers_and_cookies_are_captured() {
    let _g = serial();
    let o = origin(|_| {
        b"HTTP/1.1 200 OK\r\nServer: origin-server-1\r\nSet-Cookie: SRVID=s1; path=/\r\nContent-Length: 2\r\n\r\nhi"
            .to_vec()
    });
    let mut fe = frontend("f", Mode::Http);
    captured(
        &mut fe,
        Captures {
            response_headers: owned(&[("Server", 6), ("X-None", 3)]),
            cookie: Some(("SRV".into(), 32)),
            ..Default::default()
        },
    );
    let (run, sink) = start_logged(fe, rr_backend("app", Mode::Http, servers(&[o.addr])));
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; SRVID=abc\r\n\r\n",
    );
    assert_eq!(status(&read_response(&mut c).0), 200);
    let recs = wait_for(&sink, 1);
    assert_eq!(
        recs[0].response_captures,
        vec![Some("origin".to_string()), None]
    );
    assert_eq!(
        recs[0].captured_request_cookie.as_deref(),
        Some("SRVID=abc")
    );
    assert_eq!(
        recs[0].captured_response_cookie.as_deref(),
        Some("SRVID=s1")
    );
}

#[test]
fn an_answer_without_server_response_prints_empty_response_captures() {
    let _g = serial();
    let mut fe = frontend("f", Mode::Http);
    captured(
        &mut fe,
        Captures {
            request_headers: owned(&[("Host", 64)]),
            response_headers: owned(&[("Server", 8), ("Via", 8)]),
            ..Default::default()
        },
    );
    let mut be = rr_backend("app", Mode::Http, servers(&[dead_addr()]));
    be.retries = 0;
    let (run, sink) = start_logged(fe, be);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: www.example\r\n\r\n");
    assert_eq!(status(&read_response(&mut c).0), 503);
    let recs = wait_for(&sink, 1);
    assert_eq!(
        recs[0].request_captures,
        vec![Some("www.example".to_string())]
    );
    assert_eq!(recs[0].response_captures, vec![None, None]);
}

fn counts(r: &LogRecord) -> (u32, u32, u32, u32, u32) {
    (r.actconn, r.feconn, r.beconn, r.srv_conn, r.retries)
}

#[test]
fn a_lone_http_request_logs_one_everywhere() {
    let _g = serial();
    let o = origin(|_| ok("hi"));
    let (run, sink) = start_logged(
        frontend("f", Mode::Http),
        rr_backend("app", Mode::Http, servers(&[o.addr])),
    );
    let mut c = client(run.addr);
    write(&mut c, b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&read_response(&mut c).0), 200);
    let recs = wait_for(&sink, 1);
    assert_eq!(counts(&recs[0]), (1, 1, 1, 1, 0));
    // `%fi:%fp`: the bind's own address (read without getsockname).
    assert_eq!(recs[0].frontend_addr, Some(run.addr));
    assert_eq!((recs[0].srv_queue, recs[0].backend_queue), (0, 0));
    assert!(!recs[0].redispatched);
    assert!(!recs[0].hostname.is_empty(), "%H is the host name");
    // A second client while the first stays open: both are counted.
    let mut c2 = client(run.addr);
    write(&mut c2, b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&read_response(&mut c2).0), 200);
    let recs = wait_for(&sink, 2);
    assert_eq!((recs[1].actconn, recs[1].feconn), (2, 2));
    drop((c, c2));
}

#[test]
fn a_lone_tcp_session_logs_one_everywhere() {
    let _g = serial();
    let srv = backend(|mut s| {
        let mut b = [0u8; 2];
        s.read_exact(&mut b).unwrap();
        s.write_all(b"ok").unwrap();
    });
    let (run, sink) = start_logged(
        frontend("f", Mode::Tcp),
        rr_backend("db", Mode::Tcp, servers(&[srv])),
    );
    let mut c = client(run.addr);
    c.write_all(b"hi").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"ok");
    let recs = wait_for(&sink, 1);
    assert_eq!(counts(&recs[0]), (1, 1, 1, 1, 0));
}

#[test]
fn capture_lines_compile_into_the_frontend_in_order() {
    let _g = serial();
    let text = "defaults\n    mode http\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         \x20   capture request header Host len 15\n    capture response header Server len 8\n\
         \x20   capture request header Referer len 200\n    capture cookie SRV len 32\n\
         backend app\n    server s1 127.0.0.1:9\n";
    let l = fulcrum_config::load_str("test.cfg", text, &fulcrum_config::reader::MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    let rt = fulcrum_engine::compile(&l.config.unwrap()).unwrap();
    let caps = &rt.frontends[0].http.captures;
    assert_eq!(
        caps.request_headers,
        owned(&[("Host", 15), ("Referer", 200)])
    );
    assert_eq!(caps.response_headers, owned(&[("Server", 8)]));
    assert_eq!(caps.cookie, Some(("SRV".to_string(), 32)));
}

#[test]
fn a_retry_on_another_server_is_logged_as_redispatched() {
    let _g = serial();
    let bad = origin(|_| b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec());
    let good = origin(|_| ok("fine"));
    let mut be = rr_backend("app", Mode::Http, servers(&[bad.addr, good.addr]));
    be.retry_on.statuses = vec![503];
    be.redispatch = Some(fulcrum_engine::runtime::Redispatch(1));
    let (run, sink) = start_logged(frontend("f", Mode::Http), be);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&read_response(&mut c).0), 200);
    let recs = wait_for(&sink, 1);
    assert_eq!(recs[0].server.as_deref(), Some("s1"));
    assert!(recs[0].redispatched);
    assert_eq!(recs[0].retries, 1);
}

/// What HAProxy 2.6.12 (Debian) logs for a server refusing every connection
/// (`retries 3`): `b/s1 0/0/-1/-1/3004 503 … SC-- 1/1/0/0/3`: the server tried
/// (here `s0`),
/// no queue time, three retries, and the stream counted on neither the
/// backend nor the server.
#[test]
fn a_refused_server_is_logged_with_its_name_and_retries() {
    let _g = serial();
    let mut be = rr_backend("app", Mode::Http, servers(&[dead_addr()]));
    be.retries = 3;
    be.timeouts.connect = Some(std::time::Duration::from_millis(50));
    let (run, sink) = start_logged(frontend("f", Mode::Http), be);
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let (head, body) = read_response(&mut c);
    assert_eq!(status(&head), 503);
    let recs = wait_for(&sink, 1);
    let r = &recs[0];
    assert_eq!(r.server.as_deref(), Some("s0"));
    assert_eq!(counts(r), (1, 1, 0, 0, 3));
    assert_eq!(r.timers.tw, 0, "a server was assigned at once");
    assert_eq!((r.timers.tc, r.timers.tr_response), (-1, -1));
    assert_eq!(r.termination.to_string(), "SC--");
    // `%B` counts the error page the client got.
    assert_eq!(r.bytes_read, (head.len() + body.len()) as u64);
}

/// A tcplog line for the same case names the server and counts the retries.
#[test]
fn a_refused_tcp_server_is_logged_with_its_name_and_retries() {
    let _g = serial();
    let mut be = rr_backend("db", Mode::Tcp, servers(&[dead_addr()]));
    be.retries = 2;
    be.timeouts.connect = Some(std::time::Duration::from_millis(50));
    let (run, sink) = start_logged(frontend("f", Mode::Tcp), be);
    let mut c = client(run.addr);
    assert!(read_all(&mut c).is_empty());
    let recs = wait_for(&sink, 1);
    assert_eq!(recs[0].server.as_deref(), Some("s0"));
    assert_eq!(counts(&recs[0]).4, 2);
}

/// Answers the proxy gives itself count their bytes in `%B`, as HAProxy's do.
#[test]
fn a_local_answer_logs_its_size() {
    let _g = serial();
    let text = "defaults\n    mode http\n    timeout client 5s\n\
         frontend f\n    bind 127.0.0.1:0\n\
         \x20   http-request return status 200 content-type text/plain string hello\n";
    let l = fulcrum_config::load_str("test.cfg", text, &fulcrum_config::reader::MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    let rt = fulcrum_engine::compile(&l.config.unwrap()).unwrap();
    let (run, sink) = start_rt_logged(rt, "f");
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let (head, body) = read_response(&mut c);
    assert_eq!(status(&head), 200);
    let recs = wait_for(&sink, 1);
    assert_eq!(recs[0].bytes_read, (head.len() + body.len()) as u64);
}
