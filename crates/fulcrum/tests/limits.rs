//! Command-line limits as HAProxy's: `-n` caps concurrent connections, `-m` the memory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut b = [0u8; 256];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn start(args: &[&str]) -> (Proc, u16, tempfile::TempDir) {
    let front = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("l.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    nbthread 1\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             listen echo\n    bind 127.0.0.1:{front}\n    server e 127.0.0.1:{}\n",
            echo_server()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["-db", "-f"])
        .arg(&cfg)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", front)).is_err() {
        assert!(Instant::now() < deadline, "fulcrum did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (p, front, dir)
}

fn echoes(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    if s.write_all(b"hi").is_err() {
        return false;
    }
    let mut b = [0u8; 2];
    s.read_exact(&mut b).is_ok() && &b == b"hi"
}

#[test]
fn dash_n_caps_concurrent_connections() {
    let (_p, front, _dir) = start(&["-n", "1"]);
    // Let the readiness probe's connection finish before counting.
    std::thread::sleep(Duration::from_millis(200));
    let mut first = TcpStream::connect(("127.0.0.1", front)).unwrap();
    assert!(echoes(&mut first, Duration::from_secs(5)));
    let mut second = TcpStream::connect(("127.0.0.1", front)).unwrap();
    assert!(
        !echoes(&mut second, Duration::from_millis(500)),
        "a second connection was served with -n 1"
    );
    drop(first);
    let mut b = [0u8; 2];
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(
        second.read_exact(&mut b).is_ok() && &b == b"hi",
        "the waiting connection is served once the first ends"
    );
}

#[test]
fn dash_m_limits_the_process_memory() {
    let (p, front, _dir) = start(&["-m", "512"]);
    let mut c = TcpStream::connect(("127.0.0.1", front)).unwrap();
    assert!(echoes(&mut c, Duration::from_secs(5)));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", p.0.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max data size"))
        .unwrap_or_default();
    assert!(line.contains(&(512u64 * 1024 * 1024).to_string()), "{line}");
}
