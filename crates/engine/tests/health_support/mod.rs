//! Helpers for the health, stats, admin and Prometheus tests: killable HTTP
//! origins that count their hits, a config loader, a plain HTTP/1.0 client.
#![allow(dead_code)]

pub mod slow;

use fulcrum_config::reader::MapEnv;
use fulcrum_engine::{compile, Engine, EngineHandle, EngineOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An origin answering `200 <name>` to every request, then closing.
pub struct Origin {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Origin {
    pub fn start(name: &str) -> Origin {
        Self::on(name, "127.0.0.1:0".parse().unwrap())
    }

    /// Answers every request with `status` (body `name`).
    pub fn with_status(name: &str, status: u16) -> Origin {
        Self::serve(name, "127.0.0.1:0".parse().unwrap(), status)
    }

    /// Listens on `addr` (e.g. a port a killed origin used).
    pub fn on(name: &str, addr: SocketAddr) -> Origin {
        Self::serve(name, addr, 200)
    }

    fn serve(name: &str, addr: SocketAddr, status: u16) -> Origin {
        let l = TcpListener::bind(addr).unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, st, name) = (hits.clone(), stop.clone(), name.to_string());
        let thread = std::thread::spawn(move || {
            // Bounded by the stop flag; each poll waits 2 ms.
            while !st.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((s, _)) => {
                        let (h, name) = (h.clone(), name.clone());
                        std::thread::spawn(move || answer(s, &name, &h, status));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Origin {
            addr,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Closes the listener: new connections are refused.
    pub fn kill(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.kill();
    }
}

fn answer(mut s: TcpStream, name: &str, hits: &AtomicUsize, status: u16) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut b = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return, // a health check's bare connect
            Ok(n) => head.extend_from_slice(&b[..n]),
        }
        if head.len() > 65536 {
            return;
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
        name.len()
    );
    let _ = s.write_all(resp.as_bytes());
}

pub fn load(text: &str) -> fulcrum_config::model::Config {
    let l = fulcrum_config::load_str("test.cfg", text, &MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    l.config.unwrap()
}

/// Engine + operations; stopped on drop.
pub struct Running {
    pub h: Option<EngineHandle>,
    pub events: Arc<Mutex<Vec<String>>>,
}

impl Running {
    pub fn start(text: &str) -> Running {
        let cfg = load(text);
        let rt = compile(&cfg).unwrap();
        let h = Engine::start(
            rt,
            EngineOptions {
                nbthread: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        h.start_ops(
            &cfg,
            Some(Box::new(move |e: &fulcrum_health::HealthEvent| {
                ev.lock().unwrap().push(e.message.clone())
            })),
        )
        .unwrap();
        Running { h: Some(h), events }
    }

    pub fn addr(&self, fe: &str) -> SocketAddr {
        self.h.as_ref().unwrap().local_addr(fe).unwrap()
    }

    pub fn handle(&self) -> &EngineHandle {
        self.h.as_ref().unwrap()
    }

    pub fn saw_event(&self, needle: &str) -> bool {
        self.events
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains(needle))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(h) = self.h.take() {
            h.stop_ops();
            h.stop_now();
            h.wait();
        }
    }
}

/// One request on its own connection; returns (status, head, body).
pub fn request(addr: SocketAddr, raw: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

pub fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
    )
}

/// Polls `f` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// `show stat`-style CSV → rows of (column name → value).
pub fn parse_csv(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let cols: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            cols.iter()
                .zip(l.split(','))
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn row<'a>(
    rows: &'a [std::collections::HashMap<String, String>],
    px: &str,
    sv: &str,
) -> &'a std::collections::HashMap<String, String> {
    rows.iter()
        .find(|r| r["pxname"] == px && r["svname"] == sv)
        .unwrap_or_else(|| panic!("no row {px}/{sv}"))
}

/// One runtime API command on the `stats socket` at `path`: its whole answer.
pub fn cmd(path: &std::path::Path, line: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
