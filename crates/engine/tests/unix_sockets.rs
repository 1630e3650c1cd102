//! UNIX stream sockets: `bind /path`, `unix@`, `abns@` (TCP and HTTP mode, socket
//! file permissions, `unix-bind`), `server /path` / `unix@` / `abns@` with health
//! checks, `send-proxy` and idle-connection reuse. Sockets live in a temporary
//! directory removed at the end of each test.

mod health_support;

use fulcrum_engine::runtime::Frontend;
use fulcrum_engine::{compile, Engine, EngineOptions, LogSink};
use fulcrum_observe::log::LogRecord;
use health_support::{load, wait_until, Running};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);
const DEFAULTS: &str =
    "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n";

fn unix_client(path: &Path) -> UnixStream {
    let c = UnixStream::connect(path).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c
}

/// The socket address of `abns@name`: the name padded with NULs to the
/// whole `sun_path`, as HAProxy binds and connects such names.
fn abns_addr(name: &str) -> UnixAddr {
    let mut padded = name.as_bytes().to_vec();
    padded.resize(107, 0);
    UnixAddr::from_abstract_name(&padded).unwrap()
}

fn abns_client(name: &str) -> UnixStream {
    let a = abns_addr(name);
    let c = UnixStream::connect_addr(&a).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c
}

/// Sends one request and reads a `Content-Length` response: (status line, body).
fn http_over<S: Read + Write>(s: &mut S, req: &str) -> (String, String) {
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut len = 0;
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l == "\r\n" || l.is_empty() {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (
        status.trim_end().to_string(),
        String::from_utf8(body).unwrap(),
    )
}

/// A TCP echo server on 127.0.0.1.
fn tcp_echo() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(T));
                let mut b = [0u8; 1024];
                while let Ok(n @ 1..) = s.read(&mut b) {
                    if s.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    a
}

/// What a UNIX-socket HTTP server saw: connections and the PROXY header (if
/// any) that opened each.
#[derive(Clone, Default)]
struct Seen {
    conns: Arc<AtomicUsize>,
    headers: Arc<Mutex<Vec<Vec<u8>>>>,
}

const V2_SIG: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n";

/// Length of a PROXY header (v1 or v2) at the start of `b`, once complete.
fn proxy_len(b: &[u8]) -> Option<usize> {
    if b.starts_with(V2_SIG) {
        let len = usize::from(u16::from_be_bytes([*b.get(14)?, *b.get(15)?]));
        return (b.len() >= 16 + len).then_some(16 + len);
    }
    if b.starts_with(b"PROXY ") {
        return b.windows(2).position(|w| w == b"\r\n").map(|i| i + 2);
    }
    Some(0)
}

/// An HTTP server on a UNIX listener answering `200 <name>` with keep-alive.
fn unix_http(l: UnixListener, name: &'static str) -> Seen {
    let seen = Seen::default();
    let out = seen.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            seen.conns.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(T));
                let mut buf = Vec::new();
                let mut header_done = false;
                let mut chunk = [0u8; 4096];
                loop {
                    match s.read(&mut chunk) {
                        Ok(n @ 1..) => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                    if !header_done {
                        let Some(n) = proxy_len(&buf) else { continue };
                        seen.headers.lock().unwrap().push(buf.drain(..n).collect());
                        header_done = true;
                    }
                    while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..i + 4);
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
                            name.len()
                        );
                        if s.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    out
}

fn start(text: &str) -> Running {
    Running::start(text)
}

#[test]
fn binds_on_paths_unix_and_abns_in_tcp_and_http_mode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let echo = tcp_echo();
    let (origin, heads) = head_origin();
    // A socket file left by an earlier run is replaced, not an error.
    drop(UnixListener::bind(dir.path().join("tcp.sock")).unwrap());
    let abns = format!("fulcrum-test-bind-{}", std::process::id());
    let r = start(&format!(
        "{DEFAULTS}listen t\n    mode tcp\n    bind unix@{d}/tcp.sock mode 600\n    server e {echo}\n\
         listen h\n    mode http\n    option forwardfor\n    bind {d}/http.sock\n    bind abns@{abns}\n\
         \x20   http-request deny if {{ src 0.0.0.0/0 }} || {{ src ::/0 }}\n    server o {origin}\n"
    ));
    let tcp = dir.path().join("tcp.sock");
    let meta = std::fs::metadata(&tcp).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let mut c = unix_client(&tcp);
    c.write_all(b"hello over unix").unwrap();
    let mut b = [0u8; 15];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"hello over unix");

    // HTTP: a UNIX client has no address, so `src` matches no network and no
    // X-Forwarded-For is added (as HAProxy does).
    let mut c = unix_client(&dir.path().join("http.sock"));
    let (st, body) = http_over(&mut c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((st.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "origin"));
    let mut c = abns_client(&abns);
    let (st, _) = http_over(&mut c, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(st, "HTTP/1.1 200 OK");
    let seen = heads.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen
        .iter()
        .all(|h| !h.to_ascii_lowercase().contains("x-forwarded-for")));
    drop(r);
}

/// A TCP origin answering `200 origin`; the request heads it saw.
fn head_origin() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(T));
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        seen.lock().unwrap().push(std::mem::take(&mut head));
                        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\norigin");
                    }
                }
            });
        }
    });
    (a, heads)
}

#[test]
fn unix_bind_gives_prefix_and_permissions_and_binds_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let echo = tcp_echo();
    // Running as root, ownership can be given away; otherwise chown would fail
    // (as it does for HAProxy) and only the mode is checked.
    let root = is_root();
    let owner = if root {
        " user nobody group nogroup"
    } else {
        ""
    };
    let r = start(&format!(
        "global\n    unix-bind prefix {d}/ mode 640{owner}\n{DEFAULTS}\
         listen t\n    mode tcp\n    bind unix@a.sock\n    bind unix@b.sock mode 600 gid 0\n    server e {echo}\n"
    ));
    let a = std::fs::metadata(dir.path().join("a.sock")).unwrap();
    assert_eq!(a.permissions().mode() & 0o777, 0o640);
    let b = std::fs::metadata(dir.path().join("b.sock")).unwrap();
    assert_eq!(b.permissions().mode() & 0o777, 0o600);
    if root {
        assert_eq!((a.uid(), b.uid()), (65534, 65534));
        assert_eq!(b.gid(), 0, "the bind's gid wins over unix-bind's group");
        assert_ne!(a.gid(), 0);
    }
    let mut c = unix_client(&dir.path().join("b.sock"));
    c.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    c.read_exact(&mut one).unwrap();
    drop(r);
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}

#[test]
fn unix_servers_in_http_and_tcp_mode_with_checks_proxy_header_and_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let path_srv = unix_http(
        UnixListener::bind(dir.path().join("srv.sock")).unwrap(),
        "path",
    );
    let abns = format!("fulcrum-test-srv-{}", std::process::id());
    let abns_srv = unix_http(UnixListener::bind_addr(&abns_addr(&abns)).unwrap(), "abns");
    let pp_srv = unix_http(
        UnixListener::bind(dir.path().join("pp.sock")).unwrap(),
        "pp",
    );
    let r = start(&format!(
        "{DEFAULTS}listen web\n    mode http\n    bind 127.0.0.1:0\n    http-reuse always\n\
         \x20   server s1 unix@{d}/srv.sock check inter 100ms fall 1\n\
         listen web2\n    mode http\n    bind 127.0.0.1:0\n    server s2 abns@{abns}\n\
         listen gone\n    mode http\n    bind 127.0.0.1:0\n    server g {d}/missing.sock check inter 100ms fall 1\n\
         listen tcp\n    mode tcp\n    bind 127.0.0.1:0\n    server p {d}/pp.sock send-proxy\n"
    ));
    // Keep-alive reuse: two clients in turn share one server connection.
    for _ in 0..2 {
        let mut c = TcpStream::connect(r.addr("web")).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let (st, body) = http_over(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((st.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "path"));
    }
    // The two requests shared one connection (see the test below): any other
    // connection is a health check, which connects to the UNIX socket too.
    assert!(
        wait_until(T, || path_srv.conns.load(Ordering::SeqCst) >= 2),
        "no health check reached the UNIX socket"
    );
    let mut c = TcpStream::connect(r.addr("web2")).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    assert_eq!(
        http_over(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").1,
        "abns"
    );
    assert!(abns_srv.conns.load(Ordering::SeqCst) >= 1);
    assert!(
        wait_until(T, || r.saw_event("Server gone/g is DOWN")),
        "a missing socket must fail its check: {:?}",
        r.events.lock().unwrap()
    );
    assert!(
        !r.saw_event("Server web/s1 is DOWN"),
        "{:?}",
        r.events.lock().unwrap()
    );
    let mut c = TcpStream::connect(r.addr("gone")).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    assert!(http_over(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .0
        .contains(" 503 "));

    // TCP mode + send-proxy: a TCP client's addresses go to the UNIX server.
    let mut c = TcpStream::connect(r.addr("tcp")).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    let (st, _) = http_over(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(st, "HTTP/1.1 200 OK");
    let first = String::from_utf8(pp_srv.headers.lock().unwrap()[0].clone()).unwrap();
    let local = c.local_addr().unwrap();
    assert_eq!(
        first,
        format!(
            "PROXY TCP4 127.0.0.1 127.0.0.1 {} {}\r\n",
            local.port(),
            r.addr("tcp").port()
        )
    );
    drop(r);
    assert!(!dir.path().join("missing.sock").exists());
}

#[test]
fn unix_server_reuse_keeps_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let srv = unix_http(UnixListener::bind(dir.path().join("s.sock")).unwrap(), "s");
    let r = start(&format!(
        "{DEFAULTS}listen web\n    mode http\n    bind 127.0.0.1:0\n    http-reuse always\n\
         \x20   server s1 {d}/s.sock\n"
    ));
    for _ in 0..3 {
        let mut c = TcpStream::connect(r.addr("web")).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        assert_eq!(
            http_over(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").1,
            "s"
        );
    }
    assert_eq!(
        srv.conns.load(Ordering::SeqCst),
        1,
        "idle UNIX connections are reused"
    );
}

#[derive(Default)]
struct Collect(Mutex<Vec<LogRecord>>);

impl LogSink for Collect {
    fn emit(&self, _fe: &Frontend, rec: LogRecord) {
        self.0.lock().unwrap().push(rec);
    }
}

#[test]
fn unix_clients_send_proxy_unknown_and_local_and_log_as_unix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let v1 = unix_http(
        UnixListener::bind(dir.path().join("v1.sock")).unwrap(),
        "v1",
    );
    let v2 = unix_http(
        UnixListener::bind(dir.path().join("v2.sock")).unwrap(),
        "v2",
    );
    let cfg = load(&format!(
        "{DEFAULTS}listen a\n    mode tcp\n    bind 127.0.0.1:0\n    bind {d}/a.sock\n    server v1 {d}/v1.sock send-proxy\n\
         listen b\n    mode http\n    bind {d}/b.sock\n    server v2 {d}/v2.sock send-proxy-v2\n"
    ));
    let sink = Arc::new(Collect::default());
    let h = Engine::start(
        compile(&cfg).unwrap(),
        EngineOptions {
            nbthread: Some(1),
            log: Some(sink.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut c = unix_client(&dir.path().join("a.sock"));
    assert_eq!(
        http_over(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").1,
        "v1"
    );
    drop(c);
    let mut c = unix_client(&dir.path().join("b.sock"));
    assert_eq!(
        http_over(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").1,
        "v2"
    );
    assert_eq!(v1.headers.lock().unwrap()[0], b"PROXY UNKNOWN\r\n");
    // v2 LOCAL: signature, version 2 / command LOCAL, family UNSPEC, no address.
    let mut local = V2_SIG.to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    assert_eq!(v2.headers.lock().unwrap()[0], local);
    assert!(wait_until(T, || sink.0.lock().unwrap().len() >= 2));
    let f = fulcrum_config::logformat::LogFormat::parse("%ci:%cp %fi:%fp").unwrap();
    let lines: Vec<String> = sink
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| fulcrum_observe::log::render_line(&f, r))
        .collect();
    // The second bind of `a` is listener 2; HAProxy logs its clients as unix:2.
    assert!(lines.contains(&"unix:2 unix:unix".to_string()), "{lines:?}");
    assert!(lines.contains(&"unix:1 unix:unix".to_string()), "{lines:?}");
    h.stop_now();
    h.wait();
}

#[test]
fn sockpair_is_refused_with_a_clear_error() {
    let cfg = load(&format!(
        "{DEFAULTS}listen a\n    mode tcp\n    bind sockpair@3\n    server s 127.0.0.1:1\n"
    ));
    let e = compile(&cfg).unwrap_err().to_string();
    assert!(
        e.contains("'sockpair@'") && e.contains("not supported"),
        "{e}"
    );
}

#[test]
fn accept_proxy_on_a_unix_bind_takes_the_header_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let (origin, heads) = head_origin();
    let r = start(&format!(
        "{DEFAULTS}listen h\n    mode http\n    option forwardfor\n    bind {d}/pp.sock accept-proxy\n\
         \x20   server o {origin}\n"
    ));
    let mut c = unix_client(&dir.path().join("pp.sock"));
    let (st, _) = http_over(
        &mut c,
        "PROXY TCP4 192.0.2.7 192.0.2.1 4000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(st, "HTTP/1.1 200 OK");
    // PROXY UNKNOWN keeps the connection's own (UNIX) addresses: no header.
    let mut c = unix_client(&dir.path().join("pp.sock"));
    let (st, _) = http_over(&mut c, "PROXY UNKNOWN\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(st, "HTTP/1.1 200 OK");
    let seen = heads.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].contains("X-Forwarded-For: 192.0.2.7\r\n"),
        "{seen:?}"
    );
    assert!(
        !seen[1].to_ascii_lowercase().contains("x-forwarded-for"),
        "{seen:?}"
    );
    drop(r);
}

#[test]
fn balance_source_spreads_unix_clients_round_robin() {
    // UNIX clients have no address to hash: HAProxy falls back to round-robin.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let (a, _) = head_origin();
    let (b, _) = head_origin();
    let r = start(&format!(
        "{DEFAULTS}listen h\n    mode http\n    balance source\n    bind {d}/h.sock\n\
         \x20   server a {a}\n    server b {b}\n    http-response set-header X-Srv %[srv_name]\n"
    ));
    let mut servers = std::collections::HashSet::new();
    for _ in 0..4 {
        let mut c = unix_client(&dir.path().join("h.sock"));
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut r = BufReader::new(c);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap() > 0 && !line.ends_with("\r\n\r\n") {
            if line.starts_with("\r\n") {
                break;
            }
        }
        let srv = line
            .lines()
            .find_map(|l| l.strip_prefix("X-Srv: "))
            .map(str::to_string);
        servers.insert(srv.expect("X-Srv header"));
    }
    assert_eq!(servers.len(), 2, "{servers:?}");
    drop(r);
}

#[test]
fn show_sess_and_stats_name_unix_ends_as_haproxy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let echo = tcp_echo();
    let _srv = unix_http(UnixListener::bind(dir.path().join("s.sock")).unwrap(), "s");
    let r = start(&format!(
        "global\n    stats socket {d}/admin.sock level admin\n{DEFAULTS}\
         listen t\n    mode tcp\n    bind 127.0.0.1:0\n    bind {d}/t.sock\n    server e {echo}\n\
         listen u\n    mode http\n    bind 127.0.0.1:0\n    server s {d}/s.sock\n"
    ));
    let cmd = |line: &str| {
        let mut s = unix_client(&dir.path().join("admin.sock"));
        s.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    // A live UNIX client of the second listener of `t`.
    let mut c = unix_client(&dir.path().join("t.sock"));
    c.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    c.read_exact(&mut one).unwrap();
    let mut line = String::new();
    assert!(wait_until(T, || {
        line = cmd("show sess");
        line.contains("fe=t ")
    }));
    assert!(
        line.contains("proto=unix_stream src=unix:2 fe=t "),
        "{line}"
    );
    let csv = cmd("show stat");
    let row = csv
        .lines()
        .find(|l| l.starts_with("u,s,"))
        .expect("server row");
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "addr").unwrap();
    assert_eq!(row.split(',').nth(col), Some("unix"), "{row}");
    drop(c);
    drop(r);
}
