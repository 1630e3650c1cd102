//! The runtime API over `stats socket`: `show stat` CSV, `set server … state
//! maint` taking a server out of traffic, `show servers state`, levels,
//! `prompt` mode, a TCP socket, and `socat` when it is installed.

mod health_support;

use health_support::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

fn cmd(path: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn config(sock: &Path, s1: &Origin, s2: &Origin) -> String {
    format!(
        "global\n    stats socket {} mode 600 level admin\n    stats socket ipv4@127.0.0.1:0 level user\n    stats timeout 2s\n\
         defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    balance roundrobin\n\
         \x20   server s1 {} check inter 100ms\n\
         \x20   server s2 {} weight 3\n",
        sock.display(),
        s1.addr,
        s2.addr
    )
}

#[test]
fn show_stat_set_server_state_and_show_servers_state() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&config(&sock, &s1, &s2));
    let web = r.addr("web");

    // Servers start at `rise` health; the first good check makes it full.
    let mut rows = Vec::new();
    assert!(wait_until(Duration::from_secs(3), || {
        rows = parse_csv(&cmd(&sock, "show stat"));
        row(&rows, "app", "s1")["status"] == "UP"
    }));
    assert_eq!(row(&rows, "app", "s1")["check_status"], "L4OK");
    assert_eq!(row(&rows, "app", "s2")["status"], "no check");
    assert_eq!(row(&rows, "app", "s2")["weight"], "3");
    assert_eq!(row(&rows, "app", "s1")["addr"], s1.addr.to_string());
    assert_eq!(row(&rows, "app", "BACKEND")["algo"], "roundrobin");

    assert_eq!(cmd(&sock, "set server app/s1 state maint"), "\n");
    let before = s1.hits();
    for _ in 0..8 {
        assert_eq!(get(web, "/").2, "s2");
    }
    assert_eq!(s1.hits(), before, "a server in maintenance got traffic");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "app", "s1")["status"], "MAINT");

    let state = cmd(&sock, "show servers state app");
    let mut lines = state.lines();
    assert_eq!(lines.next(), Some("1"));
    assert!(lines
        .next()
        .unwrap_or_default()
        .starts_with("# be_id be_name srv_id srv_name"));
    let s1_line: Vec<&str> = lines
        .find(|l| l.split(' ').nth(3) == Some("s1"))
        .unwrap()
        .split(' ')
        .collect();
    // srv_addr, srv_op_state (0: HAProxy 2.6 says stopped in maintenance),
    // srv_admin_state (1 forced maint), srv_port
    assert_eq!(s1_line[4], s1.addr.ip().to_string());
    assert_eq!(s1_line[5], "0");
    assert_eq!(s1_line[6], "1");
    assert_eq!(s1_line[18], s1.addr.port().to_string());

    assert_eq!(cmd(&sock, "set server app/s1 state ready"), "\n");
    let bodies: Vec<String> = (0..8).map(|_| get(web, "/").2).collect();
    assert!(bodies.iter().any(|b| b == "s1"), "{bodies:?}");

    assert_eq!(cmd(&sock, "set weight app/s2 10"), "\n");
    assert_eq!(cmd(&sock, "get weight app/s2"), "10 (initial 3)\n\n");
    assert_eq!(
        cmd(&sock, "set server app/nope state maint"),
        "No such server.\n\n"
    );
}

#[test]
fn prompt_mode_keeps_the_connection_and_levels_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&config(&sock, &s1, &s2));

    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"prompt\nshow info\nquit\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("\n> "), "{out:?}");
    assert!(out.contains("Name: Fulcrum"), "{out}");

    // The TCP socket is `level user`: reading works, acting does not.
    let tcp: SocketAddr = r.handle().stats_socket_addrs()[0];
    let talk = |line: &str| {
        let mut c = std::net::TcpStream::connect(tcp).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    };
    assert!(talk("show stat").starts_with("# pxname,svname,"));
    assert!(talk("set server app/s1 state maint").contains("Permission denied"));
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert!(row(&rows, "app", "s1")["status"].starts_with("UP"));
}

#[test]
fn socat_speaks_to_the_socket_when_installed() {
    let Ok(out) = std::process::Command::new("socat").arg("-V").output() else {
        return; // not installed: the raw-socket tests above cover the protocol
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let _r = Running::start(&config(&sock, &s1, &s2));
    let mut child = std::process::Command::new("socat")
        .args([
            "-t",
            "2",
            "stdio",
            &format!("unix-connect:{}", sock.display()),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"show servers state\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("1\n# be_id"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" app ")).count(), 2);
}

#[test]
fn stats_maxconn_bounds_concurrent_connections_and_timeout_closes_idle_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let s1 = Origin::start("s1");
    let _r = Running::start(&format!(
        "global\n    stats socket {} level admin\n    stats maxconn 1\n    stats timeout 300ms\n\
         defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    server s1 {}\n",
        sock.display(),
        s1.addr
    ));
    let mut held = UnixStream::connect(&sock).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    held.write_all(b"prompt\n").unwrap();
    let mut b = [0u8; 16];
    let n = held.read(&mut b).unwrap();
    assert_eq!(&b[..n], b"\n> ");
    // The only slot is taken: the next connection is closed unanswered.
    let mut other = UnixStream::connect(&sock).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = other.write_all(b"show info\n");
    let mut out = Vec::new();
    let _ = other.read_to_end(&mut out);
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    // `stats timeout`: the idle prompt session is closed, freeing the slot.
    let mut rest = Vec::new();
    let _ = held.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert!(cmd(&sock, "show info").contains("Name: Fulcrum"));
}

#[test]
fn set_server_health_and_disable_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    server s1 {} check inter 20s\n    server s2 {}\n",
        sock.display(),
        s1.addr,
        s2.addr
    ));
    let app = r.addr("app");
    assert_eq!(cmd(&sock, "set server app/s1 health down"), "\n");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    // "DOWN", or "DOWN 1/2" when the first check (which runs at start) succeeded
    // after the command: the server is down either way, as in HAProxy.
    let status = row(&rows, "app", "s1")["status"].clone();
    assert!(status.starts_with("DOWN"), "{status}");
    for _ in 0..4 {
        assert_eq!(get(app, "/").2, "s2");
    }
    assert_eq!(cmd(&sock, "set server app/s1 health up"), "\n");
    let bodies: Vec<String> = (0..4).map(|_| get(app, "/").2).collect();
    assert!(bodies.iter().any(|b| b == "s1"), "{bodies:?}");
    assert_eq!(cmd(&sock, "disable health app/s1"), "\n");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "app", "s1")["status"], "no check");
    // s2 has no check to disable: HAProxy's refusal.
    assert!(cmd(&sock, "disable health app/s2").contains("not configured"));
}

#[test]
fn starting_operations_again_replaces_the_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let text = config(&sock, &s1, &s2);
    let r = Running::start(&text);
    assert!(cmd(&sock, "show info").contains("Name: Fulcrum"));
    r.handle().start_ops(&load(&text), None).unwrap();
    assert!(cmd(&sock, "show info").contains("Name: Fulcrum"));
    r.handle().stop_ops();
    assert!(!sock.exists(), "the socket file outlived stop_ops");
    assert_eq!(get(r.addr("web"), "/").0, 200, "traffic goes on");
}
