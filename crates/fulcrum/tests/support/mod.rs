//! Shared helpers for the seed acceptance tests: runnable copies of the users' configs, the
//! real `fulcrum` binary under a guard, tiny backends and raw clients. Every wait is bounded
//! and every socket is on 127.0.0.1.
#![allow(dead_code, unused_imports)]

pub mod backend;
pub mod client;
pub mod copy;
pub mod proc;

pub use backend::{BannerServer, HttpBackend};
pub use client::{get, request, Response};
pub use copy::{runnable_copy, CopyOptions, PortMap};

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the users' configs live: `FULCRUM_SEED_CONFIGS`, else the shared fixtures beside
/// the checkout; `None` (and a message) when absent, so the tests skip instead of failing.
pub fn seed_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FULCRUM_SEED_CONFIGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures/seed-configs"
            ))
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: seed configs not found at {} (set FULCRUM_SEED_CONFIGS)",
            dir.display()
        );
        None
    }
}

/// The verbatim text of the seed whose file name starts with `prefix` ("01", "07"…).
pub fn seed(prefix: &str) -> Option<String> {
    let dir = seed_dir()?;
    let entries = std::fs::read_dir(&dir).ok()?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".cfg") {
            return std::fs::read_to_string(e.path()).ok();
        }
    }
    eprintln!("skipped: no seed {prefix}-*.cfg in {}", dir.display());
    None
}

/// Replaces the whole line `line` (1-based) keeping the line count, for the few fixes a
/// table row asks for ("with names fixed", "with those two fixed").
pub fn replace_line(text: &str, line: usize, new: &str) -> String {
    let mut out: Vec<&str> = text.split('\n').collect();
    assert!(line >= 1 && line <= out.len(), "line {line} out of range");
    out[line - 1] = new;
    out.join("\n")
}

/// A runnable copy on disk: its temp dir (error files, pidfile, chroot), the file, the ports.
pub struct Runnable {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub text: String,
    pub ports: PortMap,
}

impl Runnable {
    /// Rewrites `text` (see [`runnable_copy`]) and writes it as `copy.cfg` in a fresh temp dir.
    pub fn new(text: &str, opts: CopyOptions) -> Runnable {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ports = PortMap::new(dir.path(), opts);
        let copy = runnable_copy(text, &mut ports);
        let path = dir.path().join("copy.cfg");
        std::fs::write(&path, &copy).expect("write copy");
        Runnable {
            dir,
            path,
            text: copy,
            ports,
        }
    }

    /// Address a client connects to: the first `bind` of `section`.
    pub fn bind(&self, section: &str) -> SocketAddr {
        self.ports.bind(section)
    }

    /// Address the test's backend for `section`/`server` must listen on.
    pub fn server(&self, section: &str, server: &str) -> SocketAddr {
        self.ports.server(section, server)
    }
}

/// The real binary running a copy in the foreground (`-db`); killed on drop.
pub struct Fulcrum {
    child: Child,
    stderr_path: PathBuf,
}

impl Fulcrum {
    /// Starts `fulcrum -f copy.cfg -db` and waits (bounded) until every `bind` listens.
    /// Panics with fulcrum's stderr when it exits or never listens.
    pub fn start(run: &Runnable) -> Fulcrum {
        match Fulcrum::try_start(run) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn try_start(run: &Runnable) -> Result<Fulcrum, String> {
        let stderr_path = run.dir.path().join("fulcrum.stderr");
        let err = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
        let child = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .arg("-f")
            .arg(&run.path)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run fulcrum: {e}"))?;
        let mut f = Fulcrum { child, stderr_path };
        let ports: Vec<u16> = run.ports.binds().map(|a| a.port()).collect();
        let deadline = Instant::now() + Duration::from_secs(8);
        loop {
            if let Ok(Some(status)) = f.child.try_wait() {
                return Err(format!(
                    "fulcrum exited ({status}) before listening:\n{}\n--- copy.cfg ---\n{}",
                    f.stderr(),
                    run.text
                ));
            }
            if ports.iter().all(|p| is_listening(*p)) {
                return Ok(f);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "fulcrum did not listen on {ports:?} within 8 s:\n{}",
                    f.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What fulcrum printed so far (warnings, alerts).
    pub fn stderr(&self) -> String {
        read_file(&self.stderr_path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Fulcrum {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_file(p: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// True when something listens on 127.0.0.1:`port` (or any address), read from
/// /proc/net/tcp so that probing does not open a connection the proxy would forward.
pub fn is_listening(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is column 1, state column 3 (0A = LISTEN)
            if cols.len() > 3 && cols[3] == "0A" && format!("{} ", cols[1]).ends_with(&needle) {
                return true;
            }
        }
    }
    false
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the tests run as root (user/group/uid/gid/chroot are then kept in copies).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `curl` on PATH, for the tests that use it; they skip with a message otherwise.
pub fn curl_available() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: curl not found");
    }
    ok
}

/// Runs curl with a 5 s cap; returns (stdout, stderr, success).
pub fn curl(args: &[&str]) -> (String, String, bool) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("run curl");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}
