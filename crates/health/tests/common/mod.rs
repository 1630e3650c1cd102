//! Fake servers on 127.0.0.1 and a monitor harness for the integration tests.
#![allow(dead_code)]

use fulcrum_balance::ServerState;
use fulcrum_config::model::check::{CheckSettings, InitState, ServerCheck};
use fulcrum_health::monitor::HealthEvent;
use fulcrum_health::runner::{HealthHandle, HealthMonitor, MonitorOptions};
use fulcrum_health::target::CheckTarget;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub type Handler = Arc<dyn Fn(&mut TcpStream) + Send + Sync>;

/// A server answering each connection with `handler`, one at a time; it
/// stops when dropped (and after 30 s at most).
pub struct Fake {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn fake(handler: Handler) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(30);
        while !st.load(Ordering::Relaxed) && Instant::now() < end {
            match l.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    handler(&mut s);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    Fake { addr, stop }
}

/// Reads until `\r\n\r\n` (or a timeout/EOF).
pub fn read_head(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    buf
}

/// An HTTP server whose whole response is `resp` (changeable).
pub fn http(resp: Arc<Mutex<String>>) -> Fake {
    fake(Arc::new(move |s: &mut TcpStream| {
        read_head(s);
        let r = resp.lock().unwrap().clone();
        let _ = s.write_all(r.as_bytes());
    }))
}

pub fn response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// An address nothing listens on.
pub fn refused_addr() -> SocketAddr {
    // Bound but never listening: connections are refused, and the port stays taken for
    // the whole test process, so no test running in parallel can start listening on it.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&any.into()).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    std::mem::forget(s);
    addr
}

pub fn check(inter_ms: u64, rise: u32, fall: u32, init: InitState) -> ServerCheck {
    ServerCheck {
        enabled: Some(true),
        inter: Some(Duration::from_millis(inter_ms)),
        rise: Some(rise),
        fall: Some(fall),
        init_state: Some(init),
        ..Default::default()
    }
}

pub fn target(
    backend: &str,
    server: &str,
    sidx: usize,
    addr: SocketAddr,
    check: ServerCheck,
    settings: CheckSettings,
    backup: bool,
) -> CheckTarget {
    CheckTarget {
        backend: backend.into(),
        backend_idx: 0,
        is_listen: false,
        server: server.into(),
        server_idx: sidx,
        state: Arc::new(ServerState::new(sidx as u32 + 1, 10, backup)),
        addr,
        unix: None,
        check,
        settings,
        timeout_connect: Some(Duration::from_millis(500)),
        timeout_check: None,
        log_health_checks: false,
        all_backups: false,
        send_proxy: false,
        ssl: false,
    }
}

pub struct Harness {
    pub handle: HealthHandle,
    pub events: Arc<Mutex<Vec<HealthEvent>>>,
    pub changes: Arc<Mutex<Vec<(usize, usize)>>>,
    pub started: Instant,
}

pub fn start(targets: Vec<CheckTarget>) -> Harness {
    let events = Arc::new(Mutex::new(Vec::new()));
    let changes = Arc::new(Mutex::new(Vec::new()));
    let (e, c) = (events.clone(), changes.clone());
    let handle = HealthMonitor::start(
        targets,
        MonitorOptions::default(),
        move |b, s| c.lock().unwrap().push((b, s)),
        move |ev| e.lock().unwrap().push(ev),
    )
    .unwrap();
    Harness {
        handle,
        events,
        changes,
        started: Instant::now(),
    }
}

impl Harness {
    pub fn messages(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.message.clone())
            .collect()
    }

    /// Waits (at most `secs`) for a line containing `needle`; returns it.
    pub fn wait_line(&self, needle: &str, secs: u64) -> Option<String> {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if let Some(m) = self.messages().into_iter().find(|m| m.contains(needle)) {
                return Some(m);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

/// `check duration: 3ms` → `check duration: Nms`, so lines compare exactly.
pub fn norm(s: &str) -> String {
    let re = regex::Regex::new(r"check duration: \d+ms").unwrap();
    re.replace_all(s, "check duration: Nms").into_owned()
}
