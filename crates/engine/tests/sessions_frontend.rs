//! Frontend controls over the stats socket: `disable frontend` refuses new
//! connections while live sessions go on, `enable frontend` accepts again,
//! `shutdown frontend` closes the listener for good, `set maxconn frontend`
//! and `set maxconn global` hold the next connection at a lowered limit and
//! release it when raised.

mod health_support;

use health_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// An echo origin; each connection lives at most 10 s.
fn echo_origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(64) {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut b = [0u8; 512];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn config(sock: &Path, origin: SocketAddr, global: &str) -> String {
    format!(
        "global\n    stats socket {} level admin\n{global}\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend ft\n    bind 127.0.0.1:0\n    default_backend bk\n\
         backend bk\n    server o1 {origin}\n",
        sock.display()
    )
}

/// True when `msg` comes back within `limit`.
fn echoes(c: &mut TcpStream, msg: &[u8], limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).unwrap();
    if c.write_all(msg).is_err() {
        return false;
    }
    let mut b = vec![0u8; msg.len()];
    c.read_exact(&mut b).is_ok() && b == msg
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500))
}

fn served(addr: SocketAddr) -> bool {
    match connect(addr) {
        Ok(mut c) => echoes(&mut c, b"ping", Duration::from_secs(2)),
        Err(_) => false,
    }
}

fn refused(addr: SocketAddr) -> bool {
    // A paused listener resets queued connections; allow either outcome of
    // the handshake but no service.
    match connect(addr) {
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Ok(mut c) => !echoes(&mut c, b"ping", Duration::from_millis(300)),
    }
}

#[test]
fn disable_frontend_refuses_keeps_sessions_and_enable_accepts_again() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let r = Running::start(&config(&sock, echo_origin(), ""));
    let ft = r.addr("ft");
    let mut live = TcpStream::connect(ft).unwrap();
    assert!(echoes(&mut live, b"one", Duration::from_secs(2)));

    assert_eq!(cmd(&sock, "disable frontend ft"), "\n");
    assert!(refused(ft), "a disabled frontend accepted a connection");
    assert!(
        echoes(&mut live, b"two", Duration::from_secs(2)),
        "live session cut"
    );
    assert!(cmd(&sock, "disable frontend ft").contains("already disabled"));

    assert_eq!(cmd(&sock, "enable frontend ft"), "\n");
    assert!(wait_until(Duration::from_secs(2), || served(ft)));
    assert!(cmd(&sock, "enable frontend ft").contains("already enabled"));
    assert!(cmd(&sock, "disable frontend nope").contains("No such frontend"));
}

#[test]
fn shutdown_frontend_closes_the_listener_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let r = Running::start(&config(&sock, echo_origin(), ""));
    let ft = r.addr("ft");
    let mut live = TcpStream::connect(ft).unwrap();
    assert!(echoes(&mut live, b"one", Duration::from_secs(2)));
    assert_eq!(cmd(&sock, "shutdown frontend ft"), "\n");
    assert!(wait_until(Duration::from_secs(2), || TcpStream::connect(
        ft
    )
    .is_err()));
    assert!(echoes(&mut live, b"two", Duration::from_secs(2)));
    assert!(cmd(&sock, "enable frontend ft").contains("previously shut down"));
    assert!(cmd(&sock, "shutdown frontend ft").contains("already shut down"));
}

fn held_then_released(sock: &Path, ft: SocketAddr, lower: &str, raise: &str) {
    let mut first = TcpStream::connect(ft).unwrap();
    assert!(echoes(&mut first, b"1", Duration::from_secs(2)));
    assert_eq!(cmd(sock, lower), "\n");
    // The limit counts the live connection: the next one waits.
    let mut second = TcpStream::connect(ft).unwrap();
    assert!(
        !echoes(&mut second, b"2", Duration::from_millis(400)),
        "a connection over the lowered maxconn was served"
    );
    drop(first);
    let start = Instant::now();
    let mut b = [0u8; 1];
    second
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    assert!(
        second.read_exact(&mut b).is_ok(),
        "held connection never served"
    );
    assert!(start.elapsed() < Duration::from_secs(3));
    // Raised: two at once again.
    assert_eq!(cmd(sock, raise), "\n");
    let mut third = TcpStream::connect(ft).unwrap();
    assert!(echoes(&mut third, b"3", Duration::from_secs(2)));
    assert!(echoes(&mut second, b"4", Duration::from_secs(2)));
}

#[test]
fn lowered_frontend_maxconn_holds_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    // The frontend has no `maxconn` of its own: a limit is still there to set.
    let r = Running::start(&config(&sock, echo_origin(), ""));
    let ft = r.addr("ft");
    held_then_released(
        &sock,
        ft,
        "set maxconn frontend ft 1",
        "set maxconn frontend ft 10",
    );
    assert!(cmd(&sock, "set maxconn frontend nope 3").contains("No such frontend"));
}

#[test]
fn lowered_global_maxconn_holds_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let r = Running::start(&config(&sock, echo_origin(), "    maxconn 50\n"));
    let ft = r.addr("ft");
    held_then_released(&sock, ft, "set maxconn global 1", "set maxconn global 50");
}
