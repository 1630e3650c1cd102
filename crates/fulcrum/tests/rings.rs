//! `ring` sections with the real binary: `log ring@NAME` lines kept in the ring, sent
//! over TCP to the ring's `server`s (started before or after the proxy), and shown by
//! `show events` on the stats socket; an unknown ring name refused at its line.
//!
//! Compared with Debian's HAProxy 2.6.12 (/usr/sbin/haproxy) run on the same
//! configurations: the bytes a TCP receiver gets (a newline after each line by
//! default, `LEN SP LINE` without newline with `log-proto octet-count`), the ring's
//! headers (`format rfc3164` / `rfc5424`), HAProxy sending a late receiver the lines
//! logged before it came up and resuming after a reconnection without sending them
//! twice, and `show events` (list, lines, `-n`, `No such event sink`, `unknown
//! option`) are the same, dates, pids and ports aside.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::proc::{free_port, start, Proc};
use support::*;

const DEFAULTS: &str = "defaults\n    mode http\n    log global\n    option httplog\n\
    \x20   timeout client 5s\n    timeout server 5s\n    timeout connect 2s\n";

/// The proxy on `text` (written in `dir`), once its frontend on `port` listens.
fn run(dir: &Path, text: &str, port: u16) -> Proc {
    let cfg = dir.join("ring.cfg");
    std::fs::write(&cfg, text).expect("write config");
    let p = start(&cfg, &[]);
    assert!(
        wait_until(Duration::from_secs(10), || is_listening(port)),
        "the proxy did not start"
    );
    p
}

/// [`run`] with an admin `stats socket` in `dir` and `global` lines `ring` (the
/// `log` line first, then the `ring` section); returns the socket's path.
fn run_with_socket(dir: &Path, ring: &str, port: u16) -> (Proc, PathBuf) {
    let sock = dir.join("admin.sock");
    let text = format!(
        "global\n    stats socket {} level admin\n    {ring}{DEFAULTS}{}",
        sock.display(),
        frontend(port)
    );
    let p = run(dir, &text, port);
    assert!(wait_until(Duration::from_secs(5), || sock.exists()));
    (p, sock)
}

fn frontend(port: u16) -> String {
    format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n\
         \x20   http-request return status 200 content-type text/plain string ok\n"
    )
}

fn hit(port: u16, path: &str) {
    let r = get(
        format!("127.0.0.1:{port}").parse().expect("addr"),
        path,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.head);
}

/// Accepts one connection and reads it until `done` holds for what came, or `limit`.
fn receive(l: &TcpListener, limit: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    l.set_nonblocking(true).expect("nonblocking");
    let mut conn = None;
    while conn.is_none() && Instant::now() < deadline {
        match l.accept() {
            Ok((s, _)) => conn = Some(s),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut s = conn.expect("the ring's forwarder connects");
    s.set_nonblocking(false).expect("blocking");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&got) && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    got
}

fn has(got: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(got).contains(needle)
}

fn cli(sock: &Path, cmd: &str) -> String {
    let mut s = UnixStream::connect(sock).expect("connect stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(format!("{cmd}\n").as_bytes()).expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn ring_lines_reach_tcp_servers_framed_as_haproxy_sends_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let legacy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let counted = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free_port();
    let text = format!(
        "global\n    log ring@plain local0 info\n    log ring@counted local0 info\n\
         ring plain\n    format rfc3164\n    server syslog 127.0.0.1:{}\n\
         ring counted\n    format rfc5424\n    maxlen 2048\n    timeout connect 2s\n\
         \x20   timeout server 5s\n    server syslog 127.0.0.1:{} log-proto octet-count\n\
         {DEFAULTS}{}",
        legacy.local_addr().expect("addr").port(),
        counted.local_addr().expect("addr").port(),
        frontend(port)
    );
    let _p = run(dir.path(), &text, port);
    hit(port, "/first");
    hit(port, "/second");
    let limit = Duration::from_secs(10);
    let both = |g: &[u8]| has(g, "GET /first") && has(g, "GET /second");
    let got = receive(&legacy, limit, both);
    let text = String::from_utf8_lossy(&got).into_owned();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        // local0.info = 16 * 8 + 6; the rfc3164 header, then the httplog line.
        assert!(l.starts_with("<134>"), "{l}");
        assert!(l.contains(" localhost haproxy["), "{l}");
        assert!(l.contains(" fe fe/<NOSRV> "), "{l}");
        assert!(l.ends_with(" HTTP/1.1\"\n"), "{l}");
    }

    let got = receive(&counted, limit, both);
    assert!(
        has(&got, "GET /first") && has(&got, "GET /second"),
        "{got:?}"
    );
    // Octet counting (RFC 6587): "LEN SP MSG", no newline.
    let mut rest = &got[..];
    for _ in 0..2 {
        let sp = rest.iter().position(|b| *b == b' ').expect("a length");
        let len: usize = std::str::from_utf8(&rest[..sp])
            .expect("digits")
            .parse()
            .expect("a length");
        let msg = String::from_utf8_lossy(&rest[sp + 1..sp + 1 + len]).into_owned();
        assert!(msg.starts_with("<134>1 20"), "{msg}");
        assert!(msg.contains(" - haproxy "), "{msg}");
        assert!(msg.ends_with(" HTTP/1.1\""), "{msg}");
        rest = &rest[sp + 1 + len..];
    }
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(rest));
}

#[test]
fn a_late_server_gets_the_earlier_lines_and_a_reconnection_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let syslog = free_port();
    let port = free_port();
    let text = format!(
        "global\n    log ring@r local0\nring r\n    format raw\n    size 65536\n\
         \x20   server late 127.0.0.1:{syslog}\n{DEFAULTS}{}",
        frontend(port)
    );
    let _p = run(dir.path(), &text, port);
    // Nothing listens yet: the lines wait in the ring.
    hit(port, "/before-1");
    hit(port, "/before-2");
    std::thread::sleep(Duration::from_millis(300));
    let l = TcpListener::bind(("127.0.0.1", syslog)).expect("bind the late server");
    let limit = Duration::from_secs(10);
    let got = receive(&l, limit, |g| has(g, "/before-1") && has(g, "/before-2"));
    assert!(has(&got, "GET /before-1 HTTP/1.1\"\n"), "{got:?}");
    assert!(has(&got, "GET /before-2 HTTP/1.1\"\n"), "{got:?}");
    // The server went away (the connection above is closed): a line logged now is
    // sent on the next connection, the earlier ones are not sent again.
    hit(port, "/after");
    let again = receive(&l, limit, |g| has(g, "/after"));
    let again = String::from_utf8_lossy(&again).into_owned();
    assert!(again.contains("GET /after HTTP/1.1\"\n"), "{again}");
    assert!(!again.contains("/before"), "{again}");
}

#[test]
fn show_events_lists_the_rings_and_prints_their_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let ring = "log ring@events local0\n\
                ring events\n    description \"Recent requests\"\n    format iso\n";
    let (_p, sock) = run_with_socket(dir.path(), ring, port);
    hit(port, "/one");
    hit(port, "/two");
    assert_eq!(
        cli(&sock, "show events"),
        "Supported events sinks are listed below. Add -w(wait), -n(new). Any key to stop\n\
         \x20   stdout     : type=fd, 0 dropped, standard output (fd#1)\n\
         \x20   stderr     : type=fd, 0 dropped, standard output (fd#2)\n\
         \x20   buf0       : type=buffer, 0 dropped, in-memory ring buffer\n\
         \x20   events     : type=buffer, 0 dropped, Recent requests\n\n"
    );
    let mut out = String::new();
    wait_until(Duration::from_secs(5), || {
        out = cli(&sock, "show events events");
        // A line is logged when its connection ends, in either order.
        out.contains("/one") && out.contains("/two")
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "two lines and the end of the output: {out}");
    for l in &lines[..2] {
        // `format iso`: the date (RFC 3339, microseconds), a space, the message.
        assert!(
            l.starts_with("20") && l.as_bytes().get(10) == Some(&b'T'),
            "{l}"
        );
        assert!(l.ends_with(" HTTP/1.1\""), "{l}");
    }
    assert_eq!(lines[2], "");
    assert_eq!(cli(&sock, "show events events -n"), "\n");
    assert_eq!(cli(&sock, "show events nope"), "No such event sink\n");
    assert_eq!(cli(&sock, "show events events -x"), "unknown option\n");
    assert_eq!(
        cli(&sock, "show events stdout"),
        "Nothing to report for this sink\n"
    );
    assert!(cli(&sock, "help")
        .contains("  show events [<sink>] [-w] [-n]          : show event sink state\n"));
}

#[test]
fn show_events_wait_sends_new_lines_until_the_client_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (_p, sock) = run_with_socket(dir.path(), "log ring@r local0\nring r\n", port);
    hit(port, "/old");
    let old_kept = || cli(&sock, "show events r").contains("/old");
    assert!(wait_until(Duration::from_secs(5), old_kept));
    let mut s = UnixStream::connect(&sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"show events r -w -n\n").expect("send");
    std::thread::sleep(Duration::from_millis(300));
    hit(port, "/new");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has(&got, "/new") && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    // Closing our side ends the command with its empty line.
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.contains("GET /new HTTP/1.1\"\n"), "{text}");
    assert!(
        !text.contains("/old"),
        "-n skips the lines already there: {text}"
    );
    assert!(text.ends_with("\"\n\n"), "{text:?}");
}

#[test]
fn an_unknown_ring_is_refused_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.cfg");
    let text = format!(
        "global\n    log ring@missing local0\nring present\n{DEFAULTS}\
         frontend fe\n    bind 127.0.0.1:{}\n    log ring@presnt local0\n\
         \x20   http-request return status 200\n",
        free_port()
    );
    std::fs::write(&cfg, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect("run fulcrum -c");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("bad.cfg:2) : global log server uses unknown ring named 'missing'"),
        "{err}"
    );
    assert!(
        err.contains(
            "bad.cfg:13) : log server declared in proxy section 'fe' uses unknown ring named 'presnt' (did you mean 'present'?)"
        ),
        "{err}"
    );
}

/// Server state changes go to the `global` log targets, rings included.
#[test]
fn health_lines_go_to_the_global_ring() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let down = free_port();
    let ring = "log ring@health local0\nring health\n";
    let sock = dir.path().join("admin.sock");
    let text = format!(
        "global\n    stats socket {} level admin\n    {ring}{DEFAULTS}\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:{down} check inter 200 fall 1\n",
        sock.display()
    );
    let _p = run(dir.path(), &text, port);
    let mut out = String::new();
    let seen = wait_until(Duration::from_secs(10), || {
        out = cli(&sock, "show events health");
        out.contains("Server be/s1 is DOWN")
    });
    assert!(seen, "{out}");
}
