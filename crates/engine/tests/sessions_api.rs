//! Live sessions over the stats socket: `show sess` lists a TCP session with
//! its frontend, backend, server and client address; `shutdown session` and
//! `shutdown sessions server` end sessions (the client sees EOF), HTTP ones
//! too; `on-marked-down shutdown-sessions` ends HTTP sessions of a server
//! marked down.

mod health_support;

use health_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn cmd(path: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A TCP origin that echoes what it reads (bounded: 10 s per connection) or,
/// with `hold_http`, reads one request head and never answers while `stop`
/// is unset.
struct Backend {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Backend {
    fn start(hold_http: bool) -> Backend {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((s, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || serve(s, hold_http, &st));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Backend { addr, stop }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut s: TcpStream, hold_http: bool, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let end = Instant::now() + Duration::from_secs(10);
    let mut b = [0u8; 1024];
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        match s.read(&mut b) {
            Ok(0) => return,
            Ok(n) if !hold_http => {
                let _ = s.write_all(&b[..n]);
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

/// Reads until EOF or error; true when the peer closed within `limit`.
fn sees_eof(c: &mut TcpStream, limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 256];
    loop {
        match c.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

fn echo(c: &mut TcpStream, msg: &[u8]) {
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.write_all(msg).unwrap();
    let mut b = vec![0u8; msg.len()];
    c.read_exact(&mut b).unwrap();
    assert_eq!(b, msg);
}

fn tcp_config(sock: &Path, e1: SocketAddr, e2: SocketAddr) -> String {
    format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend ft\n    bind 127.0.0.1:0\n    default_backend bk\n\
         backend bk\n    balance roundrobin\n    server e1 {e1}\n    server e2 {e2} backup\n",
        sock.display()
    )
}

#[test]
fn show_sess_lists_a_tcp_session_and_shutdown_session_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (e1, e2) = (Backend::start(false), Backend::start(false));
    let r = Running::start(&tcp_config(&sock, e1.addr, e2.addr));
    let mut c = TcpStream::connect(r.addr("ft")).unwrap();
    echo(&mut c, b"hello");

    let out = cmd(&sock, "show sess");
    let src = c.local_addr().unwrap().to_string();
    let line = out
        .lines()
        .find(|l| l.contains(&format!("src={src} ")))
        .unwrap_or_else(|| panic!("no session from {src} in:\n{out}"));
    let fields: Vec<&str> = line.split(' ').collect();
    let id = fields[0].trim_end_matches(':');
    assert!(id.starts_with("0x"), "{line}");
    assert_eq!(fields[1], "proto=tcpv4");
    assert!(line.contains(" fe=ft be=bk srv=e1 "), "{line}");
    assert!(
        line.contains(" age=0s ") || line.contains(" age=1s "),
        "{line}"
    );

    // Another session stays untouched.
    let mut other = TcpStream::connect(r.addr("ft")).unwrap();
    echo(&mut other, b"x");

    assert_eq!(cmd(&sock, &format!("shutdown session {id}")), "\n");
    assert!(
        sees_eof(&mut c, Duration::from_secs(3)),
        "killed session kept open"
    );
    echo(&mut other, b"still here");
    assert!(wait_until(Duration::from_secs(2), || !cmd(
        &sock,
        "show sess"
    )
    .contains(&format!("src={src} "))));
    assert!(cmd(&sock, &format!("shutdown session {id}")).starts_with("No such session"));
    // HAProxy 2.6's answer for an id no longer there.
    assert_eq!(
        cmd(&sock, &format!("show sess {id}")),
        "Session not found.\n\n"
    );
}

#[test]
fn shutdown_sessions_server_ends_only_that_servers_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (e1, e2) = (Backend::start(false), Backend::start(false));
    let r = Running::start(&tcp_config(&sock, e1.addr, e2.addr));
    let mut a = TcpStream::connect(r.addr("ft")).unwrap();
    echo(&mut a, b"a");
    assert_eq!(cmd(&sock, "shutdown sessions server bk/e2"), "\n");
    echo(&mut a, b"a again");
    assert_eq!(cmd(&sock, "shutdown sessions server bk/e1"), "\n");
    assert!(sees_eof(&mut a, Duration::from_secs(3)));
    assert!(cmd(&sock, "shutdown sessions server bk/nope").contains("No such server"));
}

fn http_config(sock: &Path, s1: SocketAddr, extra: &str) -> String {
    format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    server s1 {s1}{extra}\n",
        sock.display()
    )
}

/// Sends a request the origin holds; waits until `show sess` sees it on s1.
fn held_request(sock: &Path, web: SocketAddr) -> TcpStream {
    let mut c = TcpStream::connect(web).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(wait_until(Duration::from_secs(3), || cmd(
        sock,
        "show sess"
    )
    .contains(" fe=web be=app srv=s1 ")));
    c
}

#[test]
fn http_session_ends_on_shutdown_sessions_server() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let s1 = Backend::start(true);
    let r = Running::start(&http_config(&sock, s1.addr, ""));
    let mut c = held_request(&sock, r.addr("web"));
    assert!(
        !sees_eof(&mut c, Duration::from_millis(200)),
        "held request ended early"
    );
    assert_eq!(cmd(&sock, "shutdown sessions server app/s1"), "\n");
    assert!(sees_eof(&mut c, Duration::from_secs(3)));
}

#[test]
fn http_sessions_end_when_their_server_is_marked_down_with_shutdown_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let s1 = Backend::start(true);
    let extra = " check inter 100ms fall 1 on-marked-down shutdown-sessions";
    let r = Running::start(&http_config(&sock, s1.addr, extra));
    let mut c = held_request(&sock, r.addr("web"));
    assert!(!sees_eof(&mut c, Duration::from_millis(200)));
    // The server goes down by operator command; the health monitor acts on it.
    cmd(&sock, "set server app/s1 health down");
    assert!(sees_eof(&mut c, Duration::from_secs(3)));
}

#[test]
fn backup_sessions_end_when_a_primary_comes_back_with_shutdown_backup_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (e1, e2) = (Backend::start(false), Backend::start(false));
    let text = tcp_config(&sock, e1.addr, e2.addr).replace(
        &format!("server e1 {}", e1.addr),
        &format!(
            "server e1 {} check inter 5s on-marked-up shutdown-backup-sessions",
            e1.addr
        ),
    );
    let r = Running::start(&text);
    assert!(wait_until(Duration::from_secs(3), || cmd(
        &sock,
        "show stat"
    )
    .contains("bk,e1,")));
    cmd(&sock, "set server bk/e1 health down");
    let mut on_backup = TcpStream::connect(r.addr("ft")).unwrap();
    echo(&mut on_backup, b"b");
    assert!(cmd(&sock, "show sess").contains(" be=bk srv=e2 "));
    assert!(!sees_eof(&mut on_backup, Duration::from_millis(200)));
    cmd(&sock, "set server bk/e1 health up");
    assert!(sees_eof(&mut on_backup, Duration::from_secs(3)));
}
