//! Log formats end to end with the real binary and a UDP syslog receiver: `%[sample]`
//! items of `log-format`, `log-format-sd`, `unique-id-format`/`unique-id-header`,
//! `set-log-level`, `option logasap`, `option httpslog`, `error-log-format`, and the
//! `K`/`D` termination states of killed sessions.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use support::*;

/// Receives syslog datagrams until one contains `needle` (bounded by `limit`).
fn recv_line(sock: &UdpSocket, needle: &str, limit: Duration) -> Option<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            if line.contains(needle) {
                return Some(line);
            }
        }
    }
    None
}

/// The message after the syslog header (`… tag[pid]: MSG`).
fn msg(line: &str) -> &str {
    line.split("]: ").nth(1).unwrap_or(line).trim_end()
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 10s\n    timeout server 10s\n    timeout connect 2s\n";

#[test]
fn log_format_samples_read_request_response_variables_and_unique_id() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   http-request set-var(txn.who) str(alice)\n\
         \x20   http-request deny if {{ path /app/denied }}\n\
         \x20   unique-id-format %[req.hdr(x-rid)]-%cp\n\
         \x20   unique-id-header X-Unique-ID\n\
         \x20   log-format \"src=%[src] host=%[req.hdr(host),lower] who=%[var(txn.who)] \
         srv=%[res.hdr(x-server)] st=%[status] q=%{{+Q}}[req.hdr(x-q)] none=%[req.hdr(x-none)] id=%ID\"\n\
         \x20   default_backend be\nbackend be\n    server s1 127.0.0.1:9001\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let log = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let s1 = HttpBackend::start("s1", run.server("be", "s1"));
    let _f = Fulcrum::start(&run);
    let r = get(
        run.bind("fe"),
        "/app/x",
        &[
            ("Host", "WWW.Example.TEST"),
            ("X-Q", "a b"),
            ("X-Rid", "r42"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.head);
    let line = recv_line(&log, "src=", Duration::from_secs(3)).expect("a log line");
    let m = msg(&line);
    assert!(
        m.starts_with(
            "src=127.0.0.1 host=www.example.test who=alice srv=s1 st=200 q=\"a b\" none=- id=r42-"
        ),
        "{m}"
    );
    // The id sent to the server is the one logged.
    let sent = s1
        .seen()
        .last()
        .and_then(|s| s.header("x-unique-id").map(str::to_string));
    let logged = m.rsplit("id=").next().unwrap_or("");
    assert_eq!(sent.as_deref(), Some(logged), "{m}");
    // A request the rules answer keeps the variables they set before.
    let r = get(run.bind("fe"), "/app/denied", &[("Host", "d.test")]);
    assert_eq!(r.status, 403, "{}", r.head);
    let line = recv_line(&log, "host=d.test", Duration::from_secs(3)).expect("a log line");
    assert!(msg(&line).contains(" who=alice srv=- st=403 "), "{line}");
}

#[test]
fn unknown_fetch_in_log_format_is_an_error_at_its_line() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   log-format %ci\\ %[no_such_fetch(1)]\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:9001\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .arg("-c")
        .arg("-f")
        .arg(&run.path)
        .output()
        .expect("run fulcrum -c");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("copy.cfg:9") && err.contains("no_such_fetch"),
        "{err}"
    );
}

#[test]
fn set_log_level_sends_the_line_at_that_level_and_silent_drops_it() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   log 127.0.0.1:5141 local1 err\n    option httplog\n\
         \x20   http-request set-log-level err if {{ path /app/err }}\n\
         \x20   http-request set-log-level silent if {{ path /app/quiet }}\n\
         \x20   http-request set-log-level silent if {{ path /app/late }}\n\
         \x20   http-response set-log-level notice if {{ path /app/late }}\n\
         \x20   default_backend be\nbackend be\n    server s1 127.0.0.1:9001\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let all = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let errs = UdpSocket::bind(run.ports.log("fe", 1)).expect("bind log port");
    let _s1 = HttpBackend::start("s1", run.server("be", "s1"));
    let _f = Fulcrum::start(&run);
    for path in ["/app/normal", "/app/err", "/app/quiet", "/app/late"] {
        assert_eq!(get(run.bind("fe"), path, &[]).status, 200);
    }
    let t = Duration::from_secs(3);
    // local0 = 16: info 134, err 131, notice 133; local1 = 17: err 139.
    let normal = recv_line(&all, "/app/normal", t).expect("normal line");
    assert!(normal.starts_with("<134>"), "{normal}");
    let err = recv_line(&all, "/app/err", t).expect("err line");
    assert!(err.starts_with("<131>"), "{err}");
    let late = recv_line(&all, "/app/late", t).expect("a later level turns logging back on");
    assert!(late.starts_with("<133>"), "{late}");
    let err1 = recv_line(&errs, "/app/err", t).expect("err passes the 'err' filter");
    assert!(err1.starts_with("<139>"), "{err1}");
    // Only the err line passed local1's filter; the quiet request logged nowhere.
    assert!(recv_line(&errs, "/app/", Duration::from_millis(800)).is_none());
    assert!(recv_line(&all, "/app/quiet", Duration::from_millis(800)).is_none());
}

#[test]
fn log_format_sd_and_error_log_format_with_samples() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 format rfc5424 local0\n\
         \x20   log-format ok\\ %[req.hdr(host)]\n\
         \x20   log-format-sd [req@32473\\ host=\\\"%[req.hdr(host)]\\\"]\n\
         \x20   error-log-format failed\\ %ci\\ %ST\\ %[src]\n\
         \x20   http-request deny if {{ path /app/deny }}\n\
         \x20   default_backend be\nbackend be\n    server s1 127.0.0.1:9001\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let log = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let _s1 = HttpBackend::start("s1", run.server("be", "s1"));
    let _f = Fulcrum::start(&run);
    assert_eq!(
        get(run.bind("fe"), "/app/sd", &[("Host", "h.test")]).status,
        200
    );
    let line = recv_line(&log, "ok h.test", Duration::from_secs(3)).expect("a log line");
    assert!(
        line.contains(" [req@32473 host=\"h.test\"] ok h.test"),
        "{line}"
    );
    // A connection that never sends a valid request gets the error format.
    let r = request(run.bind("fe"), b"NOT A REQUEST\r\n\r\n");
    assert_eq!(r.status, 400, "{}", r.head);
    let line = recv_line(&log, "failed", Duration::from_secs(3)).expect("an error line");
    assert!(
        line.trim_end().ends_with("failed 127.0.0.1 400 127.0.0.1"),
        "{line}"
    );
    // So does every line `log-separate-errors` would raise: a denied request ('PR').
    assert_eq!(get(run.bind("fe"), "/app/deny", &[]).status, 403);
    let line = recv_line(&log, "failed", Duration::from_secs(3)).expect("an error line");
    assert!(
        line.trim_end().ends_with("failed 127.0.0.1 403 127.0.0.1"),
        "{line}"
    );
}

#[test]
fn httpslog_is_the_httplog_line_with_empty_tls_fields() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   option httpslog\n    default_backend be\nbackend be\n    server s1 127.0.0.1:9001\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let log = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let _s1 = HttpBackend::start("s1", run.server("be", "s1"));
    let _f = Fulcrum::start(&run);
    assert_eq!(get(run.bind("fe"), "/app/tls", &[]).status, 200);
    let line = recv_line(&log, "/app/tls", Duration::from_secs(3)).expect("a log line");
    assert!(
        msg(&line).ends_with("\"GET /app/tls HTTP/1.1\" 0/-/-/-/- -/-/-"),
        "{line}"
    );
}

/// A server that accepts and holds each connection (reading, never answering)
/// until the client side closes or `limit` passes.
fn holding_server(addr: SocketAddr, limit: Duration) -> std::thread::JoinHandle<()> {
    let l = TcpListener::bind(addr).expect("bind server");
    std::thread::spawn(move || {
        let _ = l.set_nonblocking(true);
        let deadline = Instant::now() + limit;
        let mut held = Vec::new();
        while Instant::now() < deadline {
            if let Ok((s, _)) = l.accept() {
                let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
                held.push(s);
            }
            held.retain_mut(|s| {
                let mut b = [0u8; 512];
                !matches!(s.read(&mut b), Ok(0))
            });
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

fn admin(run: &Runnable, cmd: &str) -> String {
    let path = run.dir.path().join("haproxy/admin.sock");
    assert!(wait_until(Duration::from_secs(3), || path.exists()));
    let mut s = UnixStream::connect(&path).expect("connect stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(format!("{cmd}\n").as_bytes()).expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The id `show sess` lists first for frontend `fe`.
fn first_session(run: &Runnable) -> String {
    let mut id = String::new();
    wait_until(Duration::from_secs(3), || {
        let out = admin(run, "show sess");
        let line = out.lines().find(|l| l.contains("fe=fe"));
        id = line
            .and_then(|l| l.split(':').next())
            .unwrap_or_default()
            .to_string();
        !id.is_empty()
    });
    assert!(!id.is_empty(), "no session of 'fe' in 'show sess'");
    id
}

const KILL_CFG: &str = "global\n    stats socket /run/haproxy/admin.sock level admin\n";

#[test]
fn killed_tcp_session_is_logged_with_k_and_logasap_logs_at_connect() {
    let text = format!(
        "{KILL_CFG}{}frontend fe\n    mode tcp\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   option tcplog\n    option logasap\n    default_backend be\n\
         backend be\n    mode tcp\n    server s1 127.0.0.1:9001\n",
        DEFAULTS
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let log = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let _srv = holding_server(run.server("be", "s1"), Duration::from_secs(15));
    let _f = Fulcrum::start(&run);
    let mut c = TcpStream::connect(run.bind("fe")).expect("connect");
    c.write_all(b"hello").expect("send");
    // logasap: the line comes while the session is open, totals marked '+'.
    let asap = recv_line(&log, "fe be/s1", Duration::from_secs(3)).expect("a logasap line");
    let f: Vec<&str> = msg(&asap).split(' ').collect();
    assert!(f.len() > 5, "{asap}");
    assert!(
        f[4].split('/').nth(2).is_some_and(|tt| tt.starts_with('+')),
        "{asap}"
    );
    assert!(f[5].starts_with('+'), "{asap}");
    assert_eq!(f[6], "--", "{asap}");
    assert_eq!(
        admin(&run, &format!("shutdown session {}", first_session(&run))).trim(),
        ""
    );
    // The client sees the end; logasap already logged, so nothing more is sent.
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut b = [0u8; 16];
    assert!(matches!(c.read(&mut b), Ok(0) | Err(_)));
    assert!(recv_line(&log, "fe be/s1", Duration::from_millis(800)).is_none());
}

#[test]
fn sessions_killed_by_the_runtime_api_log_k_and_by_their_phase() {
    let text = format!(
        "{KILL_CFG}{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   option httplog\n    default_backend be\n\
         frontend ft\n    mode tcp\n    bind 127.0.0.1:8002\n    log 127.0.0.1:5141 local0\n\
         \x20   option tcplog\n    default_backend bt\n\
         backend be\n    server s1 127.0.0.1:9001\n\
         backend bt\n    mode tcp\n    server s2 127.0.0.1:9002\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let hlog = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let tlog = UdpSocket::bind(run.ports.log("ft", 0)).expect("bind log port");
    let _s1 = holding_server(run.server("be", "s1"), Duration::from_secs(15));
    let _s2 = holding_server(run.server("bt", "s2"), Duration::from_secs(15));
    let _f = Fulcrum::start(&run);
    // An HTTP request waiting for its response headers, killed with its server's sessions.
    let mut h = TcpStream::connect(run.bind("fe")).expect("connect");
    h.write_all(b"GET /app/held HTTP/1.1\r\nHost: h\r\n\r\n")
        .expect("send");
    // A TCP session, killed by its id.
    let mut t = TcpStream::connect(run.bind("ft")).expect("connect");
    t.write_all(b"x").expect("send");
    wait_until(Duration::from_secs(3), || {
        admin(&run, "show sess").matches("srv=s").count() >= 2
    });
    assert_eq!(admin(&run, "shutdown sessions server be/s1").trim(), "");
    let line =
        recv_line(&hlog, "/app/held", Duration::from_secs(3)).expect("a killed request line");
    let f: Vec<&str> = msg(&line).split(' ').collect();
    assert!(f.len() > 9, "{line}");
    assert_eq!(
        &f[9][..2],
        "KH",
        "killed while waiting for the response headers: {line}"
    );
    let sess = admin(&run, "show sess");
    let id = sess
        .lines()
        .find(|l| l.contains("fe=ft"))
        .and_then(|l| l.split(':').next())
        .expect("the TCP session in 'show sess'")
        .to_string();
    assert_eq!(admin(&run, &format!("shutdown session {id}")).trim(), "");
    let line = recv_line(&tlog, "ft bt/s2", Duration::from_secs(3)).expect("a killed session line");
    let f: Vec<&str> = msg(&line).split(' ').collect();
    assert!(f.len() > 6, "{line}");
    assert_eq!(f[6], "KD", "{line}");
    // A request still being received: killed in the request phase.
    let mut p = TcpStream::connect(run.bind("fe")).expect("connect");
    p.write_all(b"GET /app/partial HTTP/1.1\r\nHost: h\r\n")
        .expect("send");
    let mut id = String::new();
    wait_until(Duration::from_secs(3), || {
        let out = admin(&run, "show sess");
        id = out
            .lines()
            .find(|l| l.contains("fe=fe") && l.contains("srv=<none>"))
            .and_then(|l| l.split(':').next())
            .unwrap_or_default()
            .to_string();
        !id.is_empty()
    });
    assert_eq!(admin(&run, &format!("shutdown session {id}")).trim(), "");
    let line = recv_line(&hlog, "BADREQ", Duration::from_secs(3)).expect("a killed request line");
    let f: Vec<&str> = msg(&line).split(' ').collect();
    assert!(f.len() > 9, "{line}");
    assert_eq!(
        &f[9][..2],
        "KR",
        "killed while the request was received: {line}"
    );
    drop((h, t, p));
}

#[test]
fn http_logasap_line_marks_totals_with_plus() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   option httplog\n    option logasap\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:9001\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let log = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let _s1 = HttpBackend::start("s1", run.server("be", "s1"));
    let _f = Fulcrum::start(&run);
    let r = get(run.bind("fe"), "/app/asap", &[]);
    assert_eq!(r.status, 200, "{}", r.head);
    let line = recv_line(&log, "/app/asap", Duration::from_secs(3)).expect("a log line");
    let f: Vec<&str> = msg(&line).split(' ').collect();
    assert!(f.len() > 7, "{line}");
    // %TR/%Tw/%Tc/%Tr/+%Ta, status, +%B (the head sent so far).
    assert!(
        f[4].split('/').nth(4).is_some_and(|ta| ta.starts_with('+')),
        "{line}"
    );
    assert_eq!(f[5], "200", "{line}");
    let head = f[6].strip_prefix('+').and_then(|b| b.parse::<usize>().ok());
    assert!(
        head.is_some_and(|b| b > 0 && b < r.head.len() + 64),
        "{line}"
    );
    // One line per request, not a second one at the end.
    assert!(recv_line(&log, "/app/asap", Duration::from_millis(800)).is_none());
}

#[test]
fn tcp_log_format_reads_the_variables_and_level_tcp_rules_set() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    mode tcp\n    bind 127.0.0.1:8001\n    log 127.0.0.1:5140 local0\n\
         \x20   tcp-request inspect-delay 2s\n\
         \x20   tcp-request content set-var(txn.proto) str(redis) if {{ req.payload(0,4) -m str PING }}\n\
         \x20   tcp-request content set-log-level err if {{ req.payload(0,4) -m str PING }}\n\
         \x20   tcp-request content accept if {{ req.len gt 0 }}\n\
         \x20   log-format \"tcp %[src] proto=%[var(txn.proto)] be=%[be_name] %B\"\n\
         \x20   default_backend be\nbackend be\n    mode tcp\n    server s1 127.0.0.1:9001\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let log = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let _srv = holding_server(run.server("be", "s1"), Duration::from_secs(10));
    let _f = Fulcrum::start(&run);
    for payload in [&b"PING\r\n"[..], b"other"] {
        let mut c = TcpStream::connect(run.bind("fe")).expect("connect");
        c.write_all(payload).expect("send");
        std::thread::sleep(Duration::from_millis(100));
        drop(c);
    }
    let t = Duration::from_secs(3);
    let ping = recv_line(&log, "proto=redis", t).expect("the PING session's line");
    // local0.err = 16 * 8 + 3
    assert!(ping.starts_with("<131>"), "{ping}");
    assert!(
        msg(&ping).starts_with("tcp 127.0.0.1 proto=redis be=be "),
        "{ping}"
    );
    let other = recv_line(&log, "proto=-", t).expect("the other session's line");
    assert!(other.starts_with("<134>"), "{other}");
}

#[test]
fn a_bad_proxy_header_is_logged_as_an_embryonic_session() {
    let text = format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:8001 accept-proxy\n    log 127.0.0.1:5140 local0\n\
         \x20   option httplog\n    default_backend be\n\
         frontend ft\n    mode tcp\n    bind 127.0.0.1:8002 accept-proxy\n    log 127.0.0.1:5141 local0\n\
         \x20   option tcplog\n    error-log-format perr\\ %ci\\ %ts\n    default_backend bt\n\
         backend be\n    server s1 127.0.0.1:9001\n\
         backend bt\n    mode tcp\n    server s2 127.0.0.1:9002\n"
    );
    let run = Runnable::new(&text, CopyOptions::default());
    let hlog = UdpSocket::bind(run.ports.log("fe", 0)).expect("bind log port");
    let tlog = UdpSocket::bind(run.ports.log("ft", 0)).expect("bind log port");
    let _f = Fulcrum::start(&run);
    let mut c = TcpStream::connect(run.bind("fe")).expect("connect");
    c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .expect("send");
    let line = recv_line(&hlog, "PROXY", Duration::from_secs(3)).expect("an embryonic line");
    let m = msg(&line);
    assert!(m.starts_with("127.0.0.1:") && m.contains("] fe/"), "{line}");
    let tail = format!(
        "fe/{}: Received something which does not look like a PROXY protocol header",
        run.bind("fe")
    );
    assert!(m.ends_with(&tail), "{line}");
    // With `error-log-format`, that format is used.
    let mut t = TcpStream::connect(run.bind("ft")).expect("connect");
    t.write_all(b"PROXY TCP4 nonsense\r\n").expect("send");
    let line = recv_line(&tlog, "perr", Duration::from_secs(3)).expect("an error line");
    assert!(msg(&line).ends_with("perr 127.0.0.1 PR"), "{line}");
    drop((c, t));
}
