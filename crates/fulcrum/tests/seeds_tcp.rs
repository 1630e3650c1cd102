//! Seeds 06 and 09 on runnable copies: `mode tcp` with servers that speak first (SSH,
//! MySQL), `option forwardfor except 127.0.0.0/8`, and `daemon` + `pidfile` for real.

mod support;

use std::io::Write;
use std::time::Duration;
use support::backend::{mysql_greeting, SSH_BANNER};
use support::client::{connect, read_exact_bounded};
use support::*;

/// Opens a connection and reads what arrives before the client says anything.
fn banner_then_echo(addr: std::net::SocketAddr, expect: &[u8]) {
    let mut s = connect(addr);
    let got = read_exact_bounded(&mut s, expect.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expect),
        "the server's first bytes must reach a silent client"
    );
    s.write_all(b"client-hello\r\n").expect("send");
    assert_eq!(read_exact_bounded(&mut s, 14), b"client-hello\r\n");
}

#[test]
fn s06_ssh_banner_reaches_the_client_before_it_sends() {
    let Some(text) = seed("06") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let web01 = BannerServer::ssh(run.server("oldboytest", "web01"));
    let web02 = BannerServer::ssh(run.server("oldboytest", "web02"));
    let _f = Fulcrum::start(&run);
    for _ in 0..4 {
        banner_then_echo(run.bind("oldboytest"), SSH_BANNER);
    }
    assert_eq!((web01.sessions(), web02.sessions()), (2, 2), "round-robin");
}

#[test]
fn s06_banner_still_arrives_when_one_server_is_down() {
    let Some(text) = seed("06") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let web01 = BannerServer::ssh(run.server("oldboytest", "web01"));
    // web02 refuses connections: `retries 3` + `option redispatch` move them to web01.
    let _f = Fulcrum::start(&run);
    for _ in 0..4 {
        banner_then_echo(run.bind("oldboytest"), SSH_BANNER);
    }
    assert_eq!(web01.sessions(), 4);
}

#[test]
fn s06_health_checks_connect_to_the_check_port() {
    let Some(text) = seed("06") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let web01 = BannerServer::ssh(run.server("oldboytest", "web01"));
    let _f = Fulcrum::start(&run);
    // `check port 22 inter 5000`: a first check within one interval, no client involved.
    assert!(
        wait_until(Duration::from_millis(6000), || web01.accepts() > 0),
        "no health check reached web01's check port within 6 s"
    );
    assert_eq!(
        web01.sessions(),
        0,
        "a check must not send data to an SSH server"
    );
}

#[test]
fn s09_mysql_greeting_reaches_the_client_first() {
    let Some(text) = seed("09") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let servers: Vec<_> = ["mysql1", "mysql2", "mysql3"]
        .iter()
        .map(|n| BannerServer::start(run.server("mysql", n), &mysql_greeting()))
        .collect();
    let _f = Fulcrum::start(&run);
    for _ in 0..3 {
        banner_then_echo(run.bind("mysql"), &mysql_greeting());
    }
    let sessions: Vec<usize> = servers.iter().map(|s| s.sessions()).collect();
    assert_eq!(
        sessions,
        vec![1, 1, 1],
        "round-robin over the three MySQL servers"
    );
}

#[test]
fn s09_mysql_server_failing_checks_gets_no_connections() {
    let Some(text) = seed("09") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    // mysql3 never listens; no `option redispatch` here, so only `check inter 1s fall 2`
    // keeps clients away from it.
    let up: Vec<_> = ["mysql1", "mysql2"]
        .iter()
        .map(|n| BannerServer::start(run.server("mysql", n), &mysql_greeting()))
        .collect();
    let _f = Fulcrum::start(&run);
    std::thread::sleep(Duration::from_millis(3500));
    for _ in 0..6 {
        banner_then_echo(run.bind("mysql"), &mysql_greeting());
    }
    assert_eq!((up[0].sessions(), up[1].sessions()), (3, 3));
}

fn seed09_http() -> Option<(Runnable, Fulcrum, Vec<HttpBackend>)> {
    let text = seed("09")?;
    let run = Runnable::new(&text, CopyOptions::default());
    let servers = ["http1", "http2", "http3"]
        .iter()
        .map(|n| HttpBackend::start(n, run.server("httpservers", n)))
        .collect();
    let f = Fulcrum::start(&run);
    Some((run, f, servers))
}

fn seen_path(servers: &[HttpBackend], path: &str) -> support::backend::Seen {
    servers
        .iter()
        .flat_map(|s| s.seen())
        .find(|s| s.path() == path)
        .unwrap_or_else(|| panic!("{path} reached no server"))
}

#[test]
fn s09_forwardfor_except_loopback_adds_no_header_for_127_0_0_1() {
    let Some((run, _f, servers)) = seed09_http() else {
        return;
    };
    let r = get(run.bind("web"), "/app/loopback", &[]);
    assert_eq!(r.status, 200, "{}", r.head);
    let seen = seen_path(&servers, "/app/loopback");
    assert_eq!(seen.header("x-forwarded-for"), None, "{}", seen.head);
}

#[test]
fn s09_forwardfor_added_for_a_client_outside_127_0_0_0_8() {
    // A client outside 127.0.0.0/8 without leaving loopback: IPv6's ::1. The copy gets
    // a second `bind` on [::1] in the same frontend; nothing else changes.
    let Some(text) = seed("09") else {
        return;
    };
    let Ok(probe) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let v6 = probe.local_addr().expect("v6 addr");
    drop(probe);
    let mut run = Runnable::new(&text, CopyOptions::default());
    let web = run.bind("web").to_string();
    let mut lines: Vec<String> = run.text.lines().map(str::to_string).collect();
    let at = lines
        .iter()
        .position(|l| l.contains("bind") && l.contains(&web))
        .expect("web bind line");
    lines.insert(at + 1, format!("    bind {v6}"));
    run.text = lines.join("\n") + "\n";
    std::fs::write(&run.path, &run.text).expect("write copy");
    let servers: Vec<HttpBackend> = ["http1", "http2", "http3"]
        .iter()
        .map(|n| HttpBackend::start(n, run.server("httpservers", n)))
        .collect();
    let _f = Fulcrum::start(&run);
    let r = get(v6, "/app/outside", &[]);
    assert_eq!(r.status, 200, "{}", r.head);
    let seen = seen_path(&servers, "/app/outside");
    assert_eq!(seen.header("x-forwarded-for"), Some("::1"), "{}", seen.head);
}

/// The process started in the background, found by its pidfile; SIGKILLed on drop.
struct Daemon(i32);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling the pid our own fulcrum wrote to its pidfile.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

fn running(pid: i32) -> bool {
    // A zombie (exited, not yet reaped by init) is not running.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn s09_daemon_writes_pidfile_serves_and_stops_on_sigterm() {
    let Some(text) = seed("09") else { return };
    let opts = CopyOptions {
        keep_daemon: true,
        ..CopyOptions::default()
    };
    let run = Runnable::new(&text, opts);
    let _mysql: Vec<_> = ["mysql1", "mysql2", "mysql3"]
        .iter()
        .map(|n| BannerServer::start(run.server("mysql", n), &mysql_greeting()))
        .collect();
    let mut parent = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .arg("-f")
        .arg(&run.path)
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("run fulcrum");
    // The foreground process returns once the background one has bound its listeners.
    let mut status = None;
    wait_until(Duration::from_secs(8), || {
        status = parent.try_wait().ok().flatten();
        status.is_some()
    });
    let Some(status) = status else {
        let _ = parent.kill();
        panic!("fulcrum with 'daemon' did not return to the shell within 8 s");
    };
    assert!(status.success(), "{status}");
    let pidfile = run.dir.path().join("haproxy.pid");
    let text = std::fs::read_to_string(&pidfile).expect("pidfile written");
    assert!(text.ends_with('\n'), "{text:?}");
    let pid: i32 = text.trim().parse().expect("a pid");
    let daemon = Daemon(pid);
    assert!(running(pid), "pid {pid} from the pidfile is not running");
    assert_ne!(
        pid as u32,
        parent.id(),
        "the pidfile names the background process"
    );
    assert!(wait_until(Duration::from_secs(3), || run
        .ports
        .binds()
        .all(|a| is_listening(a.port()))));
    banner_then_echo(run.bind("mysql"), &mysql_greeting());
    // SAFETY: signalling the pid our own fulcrum wrote.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    assert!(
        wait_until(Duration::from_secs(5), || !running(pid)),
        "still running 5 s after SIGTERM"
    );
    assert!(!is_listening(run.bind("mysql").port()));
    drop(daemon);
}

fn status_ids(pid: u32, key: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn s09_as_root_runs_as_the_configured_user_inside_its_chroot() {
    if !is_root() {
        eprintln!("skipped: user/group/chroot are dropped from copies when not root");
        return;
    }
    let Some(text) = seed("09") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    if run.text.contains("# dropped for the test: user") {
        eprintln!("skipped: no 'haproxy' user on this machine");
        return;
    }
    let _mysql: Vec<_> = ["mysql1", "mysql2", "mysql3"]
        .iter()
        .map(|n| BannerServer::start(run.server("mysql", n), &mysql_greeting()))
        .collect();
    let f = Fulcrum::start(&run);
    banner_then_echo(run.bind("mysql"), &mysql_greeting());
    let (uid, gid) = {
        let out = std::process::Command::new("id")
            .arg("haproxy")
            .output()
            .expect("id");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let num = |k: &str| -> u32 {
            text.split(k)
                .nth(1)
                .and_then(|r| r.split('(').next())
                .and_then(|n| n.parse().ok())
                .expect("id output")
        };
        (num("uid="), num("gid="))
    };
    assert_eq!(status_ids(f.pid(), "Uid:"), vec![uid; 4], "user haproxy");
    assert_eq!(status_ids(f.pid(), "Gid:"), vec![gid; 4], "group haproxy");
    let root = std::fs::read_link(format!("/proc/{}/root", f.pid())).expect("proc root");
    assert_eq!(root, run.dir.path().join("chroot"));
}
