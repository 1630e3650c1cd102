//! `tcp-request` actions beyond accept/reject in `mode tcp` (capture, set-src,
//! set-dst, set-log-level, expect-proxy layer4), backend `tcp-request content`
//! rules, `tcp-response content` rules, and the proxy/server id fetches.

mod common;

use common::http::{ok, origin, Origin};
use common::*;
use fulcrum_config::reader::MapEnv;
use fulcrum_engine::runtime::Frontend;
use fulcrum_engine::{compile, Engine, EngineOptions, LogSink};
use fulcrum_observe::log::LogRecord;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Collect(Mutex<Vec<LogRecord>>);

impl LogSink for Collect {
    fn emit(&self, _fe: &Frontend, rec: LogRecord) {
        self.0.lock().unwrap().push(rec);
    }
}

impl Collect {
    /// Waits (bounded) for `n` records.
    fn wait_for(&self, n: usize) -> Vec<LogRecord> {
        let t0 = Instant::now();
        while self.0.lock().unwrap().len() < n && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.0.lock().unwrap().clone()
    }
}

/// Starts `text` (a whole configuration) with a log sink; the address of proxy `name`.
fn serve(text: &str, name: &str) -> (Running, Arc<Collect>) {
    let l = fulcrum_config::load_str("tcpfx.cfg", text, &MapEnv::new());
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let rt = compile(&l.config.unwrap()).unwrap();
    let sink = Arc::new(Collect::default());
    let opts = EngineOptions {
        nbthread: Some(1),
        log: Some(sink.clone()),
        ..Default::default()
    };
    let h = Engine::start(rt, opts).unwrap();
    let addr = h.local_addr(name).unwrap();
    (
        Running {
            handle: Some(h),
            addr,
        },
        sink,
    )
}

const DEFAULTS: &str = "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n";

/// A server that reads its PROXY line, answers it back, then echoes one read.
fn proxy_echo() -> SocketAddr {
    backend(|s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        if r.read_line(&mut line).is_err() {
            return;
        }
        let mut w = s;
        let _ = w.write_all(line.as_bytes());
        let mut b = [0u8; 64];
        if let Ok(n) = r.read(&mut b) {
            let _ = w.write_all(&b[..n]);
        }
    })
}

/// Sends `data`, half-closes, and returns everything the proxy sent back.
fn exchange(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut c = client(addr);
    c.write_all(data).unwrap();
    let _ = c.shutdown(std::net::Shutdown::Write);
    read_all(&mut c)
}

#[test]
fn content_capture_and_set_src_reach_the_server_and_the_log() {
    let srv = proxy_echo();
    let (run, sink) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0\n\
             \x20   tcp-request inspect-delay 3s\n\
             \x20   tcp-request content capture req.payload(0,5) len 3 if {{ req.len ge 5 }}\n\
             \x20   tcp-request content set-src ipv4(10.9.8.7)\n\
             \x20   tcp-request content set-dst ipv4(10.1.1.1) if {{ src 10.9.8.7 }}\n\
             \x20   default_backend b\n\
             backend b\n    server s {srv} send-proxy\n"
        ),
        "f",
    );
    let got = String::from_utf8(exchange(run.addr, b"hello")).unwrap();
    // The server's PROXY line carries the addresses the rules set (ports kept).
    assert!(got.starts_with("PROXY TCP4 10.9.8.7 10.1.1.1 "), "{got}");
    assert!(got.ends_with("hello"), "{got}");
    let recs = sink.wait_for(1);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].client.unwrap().ip().to_string(), "10.9.8.7");
    assert_eq!(recs[0].frontend_addr.unwrap().ip().to_string(), "10.1.1.1");
    assert_eq!(recs[0].request_captures, vec![Some("hel".to_string())]);
}

#[test]
fn set_log_level_silent_drops_the_line_of_matching_sessions_only() {
    let srv = proxy_echo();
    let (run, sink) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0\n\
             \x20   tcp-request inspect-delay 3s\n\
             \x20   tcp-request content set-log-level silent if {{ req.payload(0,5) -m str quiet }}\n\
             \x20   default_backend b\n\
             backend b\n    server s {srv}\n"
        ),
        "f",
    );
    // The proxy_echo server answers the first line: end each message with one.
    assert_eq!(exchange(run.addr, b"quiet\n"), b"quiet\n");
    assert_eq!(exchange(run.addr, b"loud!\n"), b"loud!\n");
    let recs = sink.wait_for(1);
    std::thread::sleep(Duration::from_millis(200));
    let recs_later = sink.0.lock().unwrap().clone();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs_later.len(), 1, "a silent session was logged");
    assert!(recs[0].bytes_uploaded == 6);
}

#[test]
fn expect_proxy_layer4_takes_the_addresses_of_the_proxy_header() {
    let srv = proxy_echo();
    let (run, sink) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0\n\
             \x20   tcp-request connection expect-proxy layer4 if {{ src 127.0.0.1 }}\n\
             \x20   tcp-request session reject if {{ src 192.0.2.66 }}\n\
             \x20   default_backend b\n\
             backend b\n    server s {srv} send-proxy\n"
        ),
        "f",
    );
    let got = exchange(run.addr, b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nping");
    let got = String::from_utf8(got).unwrap();
    assert_eq!(got, "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nping");
    let recs = sink.wait_for(1);
    assert_eq!(recs[0].client.unwrap().to_string(), "192.0.2.1:1234");
    // Session rules see the header's source.
    let got = exchange(run.addr, b"PROXY TCP4 192.0.2.66 192.0.2.2 1234 80\r\nping");
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    // No PROXY header where one is expected: closed.
    assert!(exchange(run.addr, b"ping\r\n").is_empty());
}

#[test]
fn backend_content_rules_run_once_the_backend_is_chosen() {
    let srv = proxy_echo();
    let (run, _sink) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0\n    default_backend b\n\
             backend b\n\
             \x20   tcp-request inspect-delay 3s\n\
             \x20   tcp-request content reject if {{ req.payload(0,3) -m str bad }}\n\
             \x20   tcp-request content accept if {{ req.len ge 3 }}\n\
             \x20   server s {srv}\n"
        ),
        "f",
    );
    assert!(exchange(run.addr, b"bad\n").is_empty());
    assert_eq!(exchange(run.addr, b"good\n"), b"good\n");
}

/// A server that says `first`, then (after `pause`) `then`, then waits for the
/// client to close; it echoes whatever the client sends.
fn talker(first: &'static [u8], pause: Duration, then: &'static [u8]) -> SocketAddr {
    backend(move |mut s| {
        let _ = s.write_all(first);
        std::thread::sleep(pause);
        let _ = s.write_all(then);
        let mut b = [0u8; 256];
        while let Ok(n) = s.read(&mut b) {
            if n == 0 || s.write_all(&b[..n]).is_err() {
                break;
            }
        }
    })
}

fn listen_with(rules: &str, srv: SocketAddr) -> (Running, Arc<Collect>) {
    serve(
        &format!("{DEFAULTS}listen l\n    bind 127.0.0.1:0\n{rules}    server s {srv}\n"),
        "l",
    )
}

#[test]
fn tcp_response_reject_closes_before_the_client_sees_a_byte() {
    let rules = "    tcp-response inspect-delay 3s\n\
                 \x20   tcp-response content reject if { res.payload(0,3) -m str ERR }\n";
    let (run, _s) = listen_with(rules, talker(b"ERR nope\n", Duration::ZERO, b""));
    assert!(exchange(run.addr, b"hi").is_empty());
    let (run, _s) = listen_with(rules, talker(b"OK! fine\n", Duration::ZERO, b""));
    assert_eq!(exchange(run.addr, b"hi"), b"OK! fine\nhi");
}

#[test]
fn tcp_response_rules_wait_for_data_within_the_inspect_delay() {
    // "O" alone is not enough: the rule waits for the second byte, which comes later.
    let rules = "    tcp-response inspect-delay 3s\n\
                 \x20   tcp-response content accept if { res.len ge 2 }\n\
                 \x20   tcp-response content reject\n";
    let srv = talker(b"O", Duration::from_millis(300), b"K\n");
    let (run, _s) = listen_with(rules, srv);
    assert_eq!(exchange(run.addr, b"x"), b"OK\nx");
    // The delay expires with one byte: the last rule rejects.
    let srv = talker(b"O", Duration::from_secs(3), b"K\n");
    let rules = "    tcp-response inspect-delay 300ms\n\
                 \x20   tcp-response content accept if { res.len ge 2 }\n\
                 \x20   tcp-response content reject\n";
    let (run, _s) = listen_with(rules, srv);
    let t0 = Instant::now();
    assert!(exchange(run.addr, b"x").is_empty());
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[test]
fn tcp_response_close_forwards_what_the_server_sent_then_closes() {
    // The server keeps its connection open; `close` ends the session anyway.
    let rules = "    tcp-response content close if { res.payload(0,3) -m str BYE }\n\
                 \x20   tcp-response content set-log-level silent if { res.payload(0,3) -m str SHH }\n";
    let (run, sink) = listen_with(rules, talker(b"BYE\n", Duration::ZERO, b""));
    let mut c = client(run.addr);
    let t0 = Instant::now();
    let got = read_all(&mut c);
    assert_eq!(got, b"BYE\n");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert_eq!(sink.wait_for(1).len(), 1);
    let (run, sink) = listen_with(rules, talker(b"SHH\n", Duration::ZERO, b""));
    assert_eq!(exchange(run.addr, b"a"), b"SHH\na");
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.0.lock().unwrap().is_empty(), "silenced session logged");
}

#[test]
fn tcp_response_rules_let_client_speaks_first_protocols_work() {
    // The server says nothing until the client spoke: the client's bytes flow
    // to it while the response rules wait.
    let srv = backend(|mut s| {
        let mut b = [0u8; 64];
        if let Ok(n) = s.read(&mut b) {
            let _ = s.write_all(b"RE:");
            let _ = s.write_all(&b[..n]);
        }
    });
    let rules = "    tcp-response inspect-delay 3s\n\
                 \x20   tcp-response content accept if { res.payload(0,3) -m str RE: }\n\
                 \x20   tcp-response content reject\n";
    let (run, sink) = listen_with(rules, srv);
    let mut c = client(run.addr);
    c.write_all(b"question").unwrap();
    let mut got = [0u8; 11];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"RE:question");
    drop(c);
    let recs = sink.wait_for(1);
    assert_eq!((recs[0].bytes_uploaded, recs[0].bytes_read), (8, 11));
}

const HTTP_DEFAULTS: &str = "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n";

/// The head of the last request `o` received.
fn last_head(o: &Origin) -> String {
    o.seen
        .lock()
        .unwrap()
        .last()
        .map(|r| r.head.clone())
        .unwrap_or_default()
}

/// Sends one HTTP request and returns the response head.
fn http_get(addr: SocketAddr) -> String {
    let mut c = client(addr);
    c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (head, _) = read_response(&mut c);
    head
}

#[test]
fn proxy_and_server_ids_are_numbered_as_haproxy_does() {
    let app = origin(|_| ok(""));
    let a = app.addr;
    // `web` has `id 42`; `app` takes the next free number (3, as HAProxy starts
    // at 2 and moves on after each proxy); `s2` its `id 7`, `s1` is number 1.
    let (run, _s) = serve(
        &format!(
            "{HTTP_DEFAULTS}frontend web\n    id 42\n    bind 127.0.0.1:0\n\
             \x20   http-request set-header X-Ids %[fe_id]/%[be_id]\n\
             \x20   default_backend app\n\
             backend app\n    balance first\n\
             \x20   http-request set-header X-Be %[fe_id]/%[be_id]\n\
             \x20   http-response set-header X-Srv %[srv_name]/%[srv_id]\n\
             \x20   server s1 {a}\n    server s2 {a} id 7\n"
        ),
        "web",
    );
    let head = http_get(run.addr);
    assert!(head.contains("X-Srv: s1/1\r\n"), "{head}");
    let req = last_head(&app);
    // Before a backend is chosen, `be_id` is the frontend's own (configuration.txt).
    assert!(req.contains("X-Ids: 42/42\r\n"), "{req}");
    assert!(req.contains("X-Be: 42/3\r\n"), "{req}");
}

/// `tcp-request content` rules with id fetches in `mode tcp`.
#[test]
fn tcp_rules_read_the_frontend_and_backend_ids() {
    let srv = proxy_echo();
    let (run, _s) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0\n\
             \x20   tcp-request content reject unless {{ fe_id 2 }}\n\
             \x20   default_backend b\n\
             backend b\n    id 9\n\
             \x20   tcp-request content reject unless {{ be_id 9 }} {{ fe_id 2 }}\n\
             \x20   server s {srv}\n"
        ),
        "f",
    );
    assert_eq!(exchange(run.addr, b"x\n"), b"x\n");
}

#[test]
fn content_rules_run_before_http_rules_in_http_mode() {
    let app = origin(|_| ok(""));
    let a = app.addr;
    let (run, _s) = serve(
        &format!(
            "{HTTP_DEFAULTS}frontend web\n    bind 127.0.0.1:0\n\
             \x20   tcp-request inspect-delay 2s\n\
             \x20   tcp-request content reject if {{ req.hdr(x-block) -m found }}\n\
             \x20   tcp-request content set-var(txn.order) str(tcp)\n\
             \x20   http-request set-header X-Order %[var(txn.order)]-http\n\
             \x20   default_backend app\n\
             backend app\n\
             \x20   tcp-request content reject if {{ path_beg /private }}\n\
             \x20   server s {a}\n"
        ),
        "web",
    );
    let get = |req: &str| {
        let mut c = client(run.addr);
        c.write_all(req.as_bytes()).unwrap();
        String::from_utf8_lossy(&read_all(&mut c)).into_owned()
    };
    let ok = get("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(status(&ok), 200, "{ok}");
    let blocked = get("GET / HTTP/1.1\r\nHost: h\r\nX-Block: 1\r\nConnection: close\r\n\r\n");
    assert_eq!(blocked, "", "frontend content rule did not close");
    let private = get("GET /private HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(private, "", "backend content rule did not close");
    let seen = app.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].header("x-order").as_deref(), Some("tcp-http"));
}

#[test]
fn set_timeout_tunnel_bounds_an_idle_upgraded_connection() {
    // The server switches protocols, then says nothing and keeps the socket open.
    let app = backend(|s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        while let Ok(n) = r.read_line(&mut line) {
            if n <= 2 {
                break;
            }
            line.clear();
        }
        let mut w = s;
        let _ = w.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        );
        let mut b = [0u8; 16];
        let _ = r.read(&mut b); // until the proxy closes (or the 10 s read timeout)
    });
    let (run, _s) = serve(
        &format!(
            "defaults\n    mode http\n    timeout connect 2s\n    timeout client 20s\n    timeout server 20s\n\
             frontend web\n    bind 127.0.0.1:0\n\
             \x20   http-request set-timeout tunnel 300ms if {{ hdr(upgrade) -m found }}\n\
             \x20   default_backend app\n\
             backend app\n    timeout tunnel 20s\n    server s {app}\n"
        ),
        "web",
    );
    let mut c = client(run.addr);
    c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    c.write_all(
        b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let got = String::from_utf8_lossy(&read_all(&mut c)).into_owned();
    assert!(got.starts_with("HTTP/1.1 101"), "{got}");
    // Closed by the 300 ms tunnel timeout, long before the 20 s ones.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[test]
fn tcp_response_rules_see_the_variables_of_the_request_rules() {
    // Only clients that said "admin" may receive the server's "SECRET" banner.
    let rules = "    tcp-request inspect-delay 3s\n\
                 \x20   tcp-request content set-var(txn.who) req.payload(0,5) if { req.len ge 5 }\n\
                 \x20   tcp-response inspect-delay 3s\n\
                 \x20   tcp-response content reject if { res.payload(0,6) -m str SECRET } !{ var(txn.who) -m str admin }\n";
    let srv = backend(|mut s| {
        let mut b = [0u8; 5];
        if s.read_exact(&mut b).is_ok() {
            let _ = s.write_all(b"SECRET\n");
        }
    });
    let (run, _s) = listen_with(rules, srv);
    assert_eq!(exchange(run.addr, b"admin"), b"SECRET\n");
    assert!(exchange(run.addr, b"guest").is_empty());
}

#[test]
fn a_client_closing_early_gets_the_rules_final_evaluation() {
    // Three bytes then a close: the rule waiting for five bytes no longer
    // matches, nothing rejects, so the bytes are forwarded (HAProxy's default accept).
    let srv = backend(|mut s| {
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = s.write_all(&got);
    });
    let (run, _s) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0\n\
             \x20   tcp-request inspect-delay 5s\n\
             \x20   tcp-request content reject if {{ req.payload(0,5) -m str wrong }}\n\
             \x20   default_backend b\n\
             backend b\n    server s {srv}\n"
        ),
        "f",
    );
    let t0 = Instant::now();
    assert_eq!(exchange(run.addr, b"abc"), b"abc");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
}

#[test]
fn connection_rules_see_the_peer_before_the_accept_proxy_header() {
    // As in HAProxy: `connection` rules judge the load balancer that connects
    // (the socket's address), `session` rules the client the PROXY header names.
    let srv = proxy_echo();
    let (run, _s) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0 accept-proxy\n\
             \x20   tcp-request connection reject unless {{ src 127.0.0.1 }}\n\
             \x20   tcp-request session reject if {{ src 192.0.2.66 }}\n\
             \x20   default_backend b\n\
             backend b\n    server s {srv} send-proxy\n"
        ),
        "f",
    );
    let got = exchange(run.addr, b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nping");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nping"
    );
    let got = exchange(run.addr, b"PROXY TCP4 192.0.2.66 192.0.2.2 1234 80\r\nping");
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
}

#[test]
fn set_src_port_and_set_dst_port_keep_the_addresses() {
    let srv = proxy_echo();
    let (run, sink) = serve(
        &format!(
            "{DEFAULTS}frontend f\n    bind 127.0.0.1:0\n\
             \x20   tcp-request connection set-src-port int(4242)\n\
             \x20   tcp-request content set-dst-port int(8080) if {{ src_port 4242 }}\n\
             \x20   default_backend b\n\
             backend b\n    server s {srv} send-proxy\n"
        ),
        "f",
    );
    let got = String::from_utf8(exchange(run.addr, b"x\n")).unwrap();
    assert_eq!(got, "PROXY TCP4 127.0.0.1 127.0.0.1 4242 8080\r\nx\n");
    let recs = sink.wait_for(1);
    assert_eq!(recs[0].client.unwrap().to_string(), "127.0.0.1:4242");
    // In HTTP mode, later rules see the new port.
    let app = origin(|_| ok(""));
    let a = app.addr;
    let (run, _s) = serve(
        &format!(
            "{HTTP_DEFAULTS}frontend web\n    bind 127.0.0.1:0\n\
             \x20   http-request set-src-port int(5555)\n\
             \x20   http-request set-header X-Port %[src_port]\n\
             \x20   default_backend app\n\
             backend app\n    server s {a}\n"
        ),
        "web",
    );
    assert_eq!(status(&http_get(run.addr)), 200);
    let head = last_head(&app);
    assert!(head.contains("X-Port: 5555\r\n"), "{head}");
}
