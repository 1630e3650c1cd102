//! Moving between HAProxy and Fulcrum without dropping a connection, both ways:
//! `fulcrum -x <haproxy's stats socket> -sf <haproxy pid>` takes the listening
//! sockets of a running HAProxy (Debian's 2.6), and `haproxy -x <fulcrum's stats
//! socket> -sf <fulcrum pid>` takes Fulcrum's, over HAProxy's own `_getsocks`.
//! Clients keep opening short connections meanwhile; none may fail, and after the
//! switch the answers come from the new process's configuration.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::proc::{free_port, start_program, wait_exit, Proc};

const HAPROXY: &str = "/usr/sbin/haproxy";

fn have_haproxy() -> bool {
    if Path::new(HAPROXY).exists() {
        return true;
    }
    eprintln!("skipped: {HAPROXY} is not installed (.ci/run installs it)");
    false
}

/// A server answering each connection's first line with `<tag> <line>`.
fn tagged_echo(tag: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut line = String::new();
                let Ok(mut w) = s.try_clone() else { return };
                if BufReader::new(s).read_line(&mut line).is_ok() {
                    let _ = w.write_all(format!("{tag} {line}").as_bytes());
                }
            });
        }
    });
    port
}

/// The same configuration for both programs: a TCP proxy on `front` to `back`,
/// its stats socket at `sock` able to hand the listening sockets over.
fn config(dir: &Path, name: &str, sock: &Path, front: u16, back: u16) -> PathBuf {
    config_with(dir, name, sock, front, back, "")
}

/// [`config`] with more `bind` lines (`extra`, each ending in a newline).
fn config_with(dir: &Path, name: &str, sock: &Path, front: u16, back: u16, extra: &str) -> PathBuf {
    let p = dir.join(name);
    let text = format!(
        "global\n    nbthread 2\n    stats socket {} level admin expose-fd listeners\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n\
         listen app\n    bind 127.0.0.1:{front}\n{extra}    server s 127.0.0.1:{back}\n",
        sock.display()
    );
    std::fs::write(&p, text).unwrap();
    p
}

/// Waits until the process serves on `front` and its stats socket answers.
fn wait_ready(p: &mut Proc, front: u16, sock: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let served = TcpStream::connect(("127.0.0.1", front)).is_ok();
        let admin = std::os::unix::net::UnixStream::connect(sock).is_ok();
        if served && admin {
            return;
        }
        if let Ok(Some(st)) = p.0.try_wait() {
            panic!("the process exited ({st}): {}", stderr(p));
        }
        assert!(Instant::now() < deadline, "the process did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(p: &mut Proc) -> String {
    let mut err = String::new();
    if let Some(e) = p.0.stderr.as_mut() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

/// One short session; the tag of the server that answered, `None` on failure.
fn one(addr: SocketAddr, n: usize) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let msg = format!("ping {n}\n");
    s.write_all(msg.as_bytes()).ok()?;
    let mut got = String::new();
    BufReader::new(s).read_line(&mut got).ok()?;
    let (tag, rest) = got.split_once(' ')?;
    (rest == msg).then(|| tag.to_string())
}

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    failed: AtomicUsize,
    done: AtomicBool,
}

impl Counts {
    fn made(&self) -> usize {
        self.ok.load(Ordering::SeqCst) + self.failed.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `more` connections were made from now on.
    fn wait_for(&self, more: usize, what: &str) {
        let target = self.made() + more;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.made() < target {
            assert!(Instant::now() < deadline, "no traffic {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `clients` threads connecting in a loop until told to stop (two minutes at most).
fn load(front: u16, clients: usize) -> (Arc<Counts>, Vec<std::thread::JoinHandle<()>>) {
    let addr: SocketAddr = ([127, 0, 0, 1], front).into();
    let c = Arc::new(Counts::default());
    let deadline = Instant::now() + Duration::from_secs(120);
    let threads = (0..clients)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                while !c.done.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match one(addr, c.made()) {
                        Some(_) => c.ok.fetch_add(1, Ordering::SeqCst),
                        None => c.failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    (c, threads)
}

/// The old process (`old`, already serving `front`) is replaced by `new_program`
/// on `new_cfg`, given `-x old_sock -sf <old pid>`, under client load. Returns the
/// new process once the old one has left, after checking that no client failed.
fn switch(old: Proc, old_sock: &Path, new_program: &str, new_cfg: &Path, front: u16) -> Proc {
    let mut old = old;
    let (counts, threads) = load(front, 4);
    counts.wait_for(300, "before the switch");
    let args = [
        "-x".to_string(),
        old_sock.display().to_string(),
        "-sf".to_string(),
        old.0.id().to_string(),
    ];
    let mut new = start_program(new_program, new_cfg, &args);
    let left = wait_exit(&mut old, Duration::from_secs(30));
    if let Ok(Some(st)) = new.0.try_wait() {
        panic!("the new process exited ({st}): {}", stderr(&mut new));
    }
    assert_eq!(
        left,
        Some(0),
        "the old process did not finish: {}",
        stderr(&mut old)
    );
    counts.wait_for(300, "after the switch");
    counts.done.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let (ok, failed) = (
        counts.ok.load(Ordering::SeqCst),
        counts.failed.load(Ordering::SeqCst),
    );
    assert_eq!(failed, 0, "{failed} of {} connections failed", ok + failed);
    assert!(ok >= 600, "only {ok} connections");
    new
}

/// One of the two programs; its configuration, stats socket and server are
/// named after it, and the server answers with that name.
#[derive(Clone, Copy)]
struct Side {
    program: &'static str,
    name: &'static str,
}

const HAPROXY_SIDE: Side = Side {
    program: HAPROXY,
    name: "haproxy",
};

const FULCRUM_SIDE: Side = Side {
    program: env!("CARGO_BIN_EXE_fulcrum"),
    name: "fulcrum",
};

/// `from` serves; `to` takes its sockets under load; `to` answers after.
fn hand_over(from: Side, to: Side) {
    if !have_haproxy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let front = free_port();
    let setup = |s: Side| {
        let sock = dir.path().join(format!("{}.sock", s.name));
        let cfg_name = format!("{}.cfg", s.name);
        let cfg = config(dir.path(), &cfg_name, &sock, front, tagged_echo(s.name));
        (sock, cfg)
    };
    let (old_sock, old_cfg) = setup(from);
    let (new_sock, new_cfg) = setup(to);
    let mut old = start_program(from.program, &old_cfg, &[]);
    wait_ready(&mut old, front, &old_sock);
    let addr: SocketAddr = ([127, 0, 0, 1], front).into();
    assert_eq!(one(addr, 0).as_deref(), Some(from.name));

    let mut new = switch(old, &old_sock, to.program, &new_cfg, front);
    wait_ready(&mut new, front, &new_sock);
    for n in 0..20 {
        assert_eq!(one(addr, n).as_deref(), Some(to.name), "after the switch");
    }
}

#[test]
fn fulcrum_takes_the_sockets_of_a_running_haproxy() {
    hand_over(HAPROXY_SIDE, FULCRUM_SIDE);
}

#[test]
fn haproxy_takes_the_sockets_of_a_running_fulcrum() {
    // Fulcrum's two threads have a socket each; HAProxy keeps one.
    hand_over(FULCRUM_SIDE, HAPROXY_SIDE);
}

#[test]
fn sockets_no_bind_claims_are_closed_and_ipv6_ones_matched() {
    if !have_haproxy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (front, gone) = (free_port(), free_port());
    // [::1] when this machine has it: matched by address and v6only (neither side
    // sets it, so both follow the system default).
    let v6 = std::net::TcpListener::bind(("::1", 0)).is_ok();
    let v6_bind = match v6 {
        true => format!("    bind [::1]:{front}\n"),
        false => String::new(),
    };
    let hap_sock = dir.path().join("haproxy.sock");
    let ful_sock = dir.path().join("fulcrum.sock");
    let extra = format!("{v6_bind}    bind 127.0.0.1:{gone}\n");
    let hap_cfg = config_with(
        dir.path(),
        "h.cfg",
        &hap_sock,
        front,
        tagged_echo("haproxy"),
        &extra,
    );
    let ful_cfg = config_with(
        dir.path(),
        "f.cfg",
        &ful_sock,
        front,
        tagged_echo("fulcrum"),
        &v6_bind,
    );
    let mut hap = start_program(HAPROXY, &hap_cfg, &[]);
    wait_ready(&mut hap, front, &hap_sock);
    let gone_addr: SocketAddr = ([127, 0, 0, 1], gone).into();
    assert_eq!(one(gone_addr, 0).as_deref(), Some("haproxy"));

    let args = [
        "-x".to_string(),
        hap_sock.display().to_string(),
        "-sf".to_string(),
        hap.0.id().to_string(),
    ];
    let mut ful = start_program(env!("CARGO_BIN_EXE_fulcrum"), &ful_cfg, &args);
    assert_eq!(wait_exit(&mut hap, Duration::from_secs(30)), Some(0));
    wait_ready(&mut ful, front, &ful_sock);
    // HAProxy's socket for the bind Fulcrum does not have was closed, not kept
    // listening with nobody accepting: connecting is refused at once.
    let refused = TcpStream::connect_timeout(&gone_addr, Duration::from_secs(5));
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused),
        "{refused:?}"
    );
    assert_eq!(
        one(([127, 0, 0, 1], front).into(), 1).as_deref(),
        Some("fulcrum")
    );
    if v6 {
        let a: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, front).into();
        assert_eq!(one(a, 2).as_deref(), Some("fulcrum"), "[::1]");
    }
}
