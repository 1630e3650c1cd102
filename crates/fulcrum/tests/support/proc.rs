//! The real binary as a child process, for signal and reload tests: a guard that
//! kills it, bounded waits, and an echo backend that makes a TCP session observable.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running child, killed and reaped on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `fulcrum -db -f cfg EXTRA…`; its stderr is kept for the test to read.
pub fn start(cfg: &Path, extra: &[String]) -> Proc {
    start_program(env!("CARGO_BIN_EXE_fulcrum"), cfg, extra)
}

/// `PROGRAM -db -f cfg EXTRA…` (Fulcrum, or HAProxy for the tests that run both).
pub fn start_program(program: &str, cfg: &Path, extra: &[String]) -> Proc {
    let child = Command::new(program)
        .arg("-db")
        .arg("-f")
        .arg(cfg)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Proc(child)
}

/// The exit code once the child exits within `within`; `None` if it still runs.
pub fn wait_exit(p: &mut Proc, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = p.0.try_wait() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An echo server on 127.0.0.1, a thread per connection; returns its port.
pub fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut b = [0u8; 1024];
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
