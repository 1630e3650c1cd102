//! Signals as HAProxy's: SIGUSR1 stops listening and exits once the last connection
//! ends, SIGINT stops at once, and `-sf PID` hands a port over from an old process to a
//! new one without refusing a connection.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::proc::{echo_server, free_port, start, wait_exit, Proc};

fn config(dir: &std::path::Path, front: u16, back: u16) -> std::path::PathBuf {
    config_with(dir, front, back, "")
}

fn config_with(dir: &std::path::Path, front: u16, back: u16, global: &str) -> std::path::PathBuf {
    let p = dir.join("tcp.cfg");
    let text = format!(
        "global\n    nbthread 2\n{global}defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         listen echo\n    bind 127.0.0.1:{front}\n    server e 127.0.0.1:{back}\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn connect_until(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "fulcrum did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn echo(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).unwrap();
    got
}

fn signal(p: &Proc, sig: libc::c_int) {
    // SAFETY: kill on our own child's pid.
    unsafe {
        libc::kill(p.0.id() as i32, sig);
    }
}

#[test]
fn sigusr1_stops_listening_and_exits_after_the_last_connection() {
    let dir = tempfile::tempdir().unwrap();
    let front = free_port();
    let cfg = config(dir.path(), front, echo_server());
    let mut p = start(&cfg, &[]);
    let mut open = connect_until(front);
    assert_eq!(echo(&mut open, b"before"), b"before");

    signal(&p, libc::SIGUSR1);
    // The listener goes away...
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", front)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGUSR1");
        std::thread::sleep(Duration::from_millis(20));
    }
    // ...the open session keeps working, and the process waits for it.
    assert_eq!(echo(&mut open, b"during"), b"during");
    assert_eq!(
        wait_exit(&mut p, Duration::from_millis(300)),
        None,
        "exited with a session open"
    );
    drop(open);
    assert_eq!(wait_exit(&mut p, Duration::from_secs(5)), Some(0));
}

/// A draining process (after SIGUSR1) with a session that stays open (its 10 s
/// timeouts outlast `within`): its exit status, or None if it runs on past `within`.
fn drain_with_open_session(
    global: &str,
    then: Option<libc::c_int>,
    within: Duration,
) -> Option<i32> {
    let dir = tempfile::tempdir().unwrap();
    let front = free_port();
    let cfg = config_with(dir.path(), front, echo_server(), global);
    let mut p = start(&cfg, &[]);
    let mut open = connect_until(front);
    assert_eq!(echo(&mut open, b"before"), b"before");
    signal(&p, libc::SIGUSR1);
    // Draining: the session still works and the process stays.
    assert_eq!(echo(&mut open, b"during"), b"during");
    assert_eq!(wait_exit(&mut p, Duration::from_millis(300)), None);
    if let Some(sig) = then {
        signal(&p, sig);
    }
    wait_exit(&mut p, within)
}

#[test]
fn hard_stop_after_bounds_the_drain() {
    let start = Instant::now();
    let exit =
        drain_with_open_session("    hard-stop-after 1500ms\n", None, Duration::from_secs(5));
    assert_eq!(
        exit,
        Some(0),
        "the draining process did not stop at hard-stop-after"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "stopped before hard-stop-after"
    );
}

#[test]
fn sigterm_during_the_drain_stops_at_once() {
    let exit = drain_with_open_session("", Some(libc::SIGTERM), Duration::from_secs(5));
    assert_eq!(exit, Some(0), "SIGTERM did not stop a draining process");
}

#[test]
fn sigint_stops_at_once_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let front = free_port();
    let cfg = config(dir.path(), front, echo_server());
    let mut p = start(&cfg, &[]);
    let _open = connect_until(front);
    signal(&p, libc::SIGINT);
    assert_eq!(wait_exit(&mut p, Duration::from_secs(5)), Some(0));
}

#[test]
fn soft_finish_hands_the_port_to_the_new_process() {
    let dir = tempfile::tempdir().unwrap();
    let front = free_port();
    let cfg = config(dir.path(), front, echo_server());
    let mut old = start(&cfg, &[]);
    let mut session = connect_until(front);
    assert_eq!(echo(&mut session, b"old"), b"old");

    // The new process binds the same port beside the old one, then tells it to finish.
    let mut new = start(&cfg, &["-sf".to_string(), old.0.id().to_string()]);
    // The old process's session survives the hand-over; new connections keep being served.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = connect_until(front);
        assert_eq!(
            echo(&mut c, b"ping"),
            b"ping",
            "a connection was refused or dropped"
        );
        if wait_exit(&mut old, Duration::from_millis(10)).is_some() {
            panic!("the old process exited while its session was open");
        }
        if Instant::now() > deadline - Duration::from_secs(8) {
            break;
        }
    }
    assert_eq!(echo(&mut session, b"still old"), b"still old");
    drop(session);
    assert_eq!(
        wait_exit(&mut old, Duration::from_secs(5)),
        Some(0),
        "old process finishes"
    );
    let mut c = connect_until(front);
    assert_eq!(echo(&mut c, b"new"), b"new");
    assert_eq!(
        wait_exit(&mut new, Duration::from_millis(50)),
        None,
        "new process keeps running"
    );
}
