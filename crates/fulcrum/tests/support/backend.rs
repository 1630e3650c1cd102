//! Tiny backends on std threads: an HTTP server that answers with its name and echoes the
//! request head (and upgrades WebSocket requests, echoing frames), and a server-speaks-first
//! TCP server (SSH banner, MySQL greeting). Stopped on drop; every read has a timeout.

use super::client::{read_head, ws_accept, ws_read_frame, ws_write_frame};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One request as the backend received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request_line: String,
    pub head: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.request_line.split(' ').nth(1).unwrap_or("")
    }
}

/// How the HTTP backend answers; changeable while it runs.
#[derive(Debug, Default)]
pub struct Behaviour {
    /// Status by exact path (e.g. "/check.html" → 404); 200 otherwise.
    pub status: HashMap<String, u16>,
    /// Answer 200 instead of 101 to upgrade requests (a server that is not a WS server).
    pub refuse_upgrade: bool,
    /// `Set-Cookie` value sent on responses to this path.
    pub set_cookie: Option<(String, String)>,
}

struct Shared {
    name: String,
    stop: AtomicBool,
    seen: Mutex<Vec<Seen>>,
    behaviour: Mutex<Behaviour>,
    ws_sessions: AtomicUsize,
}

/// An HTTP/1.1 backend named `name`: body `server=<name>\n` + the request head it received;
/// header `X-Server: <name>`. Requests whose path starts with `/app` count as traffic.
pub struct HttpBackend {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl HttpBackend {
    pub fn start(name: &str, addr: SocketAddr) -> HttpBackend {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let shared = Arc::new(Shared {
            name: name.to_string(),
            stop: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour::default()),
            ws_sessions: AtomicUsize::new(0),
        });
        let sh = shared.clone();
        let thread = std::thread::spawn(move || {
            accept_loop(listener, sh, |s| s.stop.load(Ordering::SeqCst), serve_http)
        });
        HttpBackend {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Changes how it answers from now on.
    pub fn behave(&self, f: impl FnOnce(&mut Behaviour)) {
        let mut b = self.shared.behaviour.lock().expect("behaviour lock");
        f(&mut b);
    }

    /// Every request received so far (traffic and health checks).
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("seen lock").clone()
    }

    /// Requests on `/app…` paths: the test's traffic, not health checks.
    pub fn hits(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path().starts_with("/app"))
            .count()
    }

    /// Upgraded connections that completed the WebSocket handshake.
    pub fn ws_sessions(&self) -> usize {
        self.shared.ws_sessions.load(Ordering::SeqCst)
    }
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop<S: Send + Sync + 'static>(
    listener: TcpListener,
    shared: Arc<S>,
    stopped: fn(&S) -> bool,
    serve: fn(TcpStream, &S),
) {
    // Non-blocking accept polled every 5 ms, so drop can stop it without a wake-up socket.
    while !stopped(&shared) {
        match listener.accept() {
            Ok((s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                let sh = shared.clone();
                std::thread::spawn(move || serve(s, &sh));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn serve_http(mut s: TcpStream, sh: &Shared) {
    let mut buf = Vec::new();
    // Bounded: each turn needs a request within IO_TIMEOUT; at most 1000 per connection.
    for _ in 0..1000 {
        let Some(head) = read_head(&mut s, &mut buf) else {
            return;
        };
        let seen = parse_request(&head);
        let body_len = seen
            .header("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if !read_body(&mut s, &mut buf, body_len, seen.header("transfer-encoding")) {
            return;
        }
        sh.seen.lock().expect("seen lock").push(seen.clone());
        let method = seen.request_line.split(' ').next().unwrap_or("");
        let upgrade = seen
            .header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
            && seen
                .header("connection")
                .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"));
        let (status, refuse_upgrade, cookie) = {
            let b = sh.behaviour.lock().expect("behaviour lock");
            let status = b.status.get(seen.path()).copied().unwrap_or(200);
            let cookie = b
                .set_cookie
                .as_ref()
                .filter(|(p, _)| p == seen.path())
                .map(|(_, c)| c.clone());
            (status, b.refuse_upgrade, cookie)
        };
        if upgrade && !refuse_upgrade && status == 200 {
            serve_ws(s, sh, &seen, buf);
            return;
        }
        let close = wants_close(&seen);
        let body = format!("server={}\n{}", sh.name, head);
        let mut resp = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nX-Server: {}\r\nContent-Length: {}\r\n",
            if status == 200 { "OK" } else { "Test Status" },
            sh.name,
            body.len()
        );
        if let Some(c) = cookie {
            resp.push_str(&format!("Set-Cookie: {c}\r\n"));
        }
        if close {
            resp.push_str("Connection: close\r\n");
        }
        resp.push_str("\r\n");
        if method != "HEAD" {
            resp.push_str(&body);
        }
        if s.write_all(resp.as_bytes()).is_err() || close {
            return;
        }
    }
}

fn wants_close(seen: &Seen) -> bool {
    let conn = seen.header("connection").unwrap_or("").to_ascii_lowercase();
    conn.contains("close")
        || (seen.request_line.ends_with("HTTP/1.0") && !conn.contains("keep-alive"))
}

fn read_body(s: &mut TcpStream, buf: &mut Vec<u8>, len: usize, te: Option<&str>) -> bool {
    let chunked = te.is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut tmp = [0u8; 4096];
    for _ in 0..10_000 {
        let done = if chunked {
            buf.windows(5).any(|w| w == b"0\r\n\r\n")
        } else {
            buf.len() >= len
        };
        if done {
            let used = if chunked {
                buf.windows(5)
                    .position(|w| w == b"0\r\n\r\n")
                    .map_or(0, |p| p + 5)
            } else {
                len
            };
            buf.drain(..used);
            return true;
        }
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    false
}

pub fn parse_request(head: &str) -> Seen {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Seen {
        request_line,
        head: head.to_string(),
        headers,
    }
}

/// 101, a greeting frame naming the server, then every data frame echoed until close.
fn serve_ws(mut s: TcpStream, sh: &Shared, seen: &Seen, mut pending: Vec<u8>) {
    let mut resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Server: {}\r\n",
        sh.name
    );
    if let Some(key) = seen.header("sec-websocket-key") {
        resp.push_str(&format!("Sec-WebSocket-Accept: {}\r\n", ws_accept(key)));
    }
    if let Some(p) = seen.header("sec-websocket-protocol") {
        resp.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    resp.push_str("\r\n");
    if s.write_all(resp.as_bytes()).is_err() {
        return;
    }
    if seen.header("sec-websocket-key").is_none() {
        return; // a health check: the handshake answer is all it wants
    }
    sh.ws_sessions.fetch_add(1, Ordering::SeqCst);
    let hello = format!("hello from {}", sh.name);
    if ws_write_frame(&mut s, 0x1, hello.as_bytes(), false).is_err() {
        return;
    }
    for _ in 0..10_000 {
        let Some((op, payload)) = ws_read_frame(&mut s, &mut pending) else {
            return;
        };
        match op {
            0x8 => {
                let _ = ws_write_frame(&mut s, 0x8, &payload, false);
                return;
            }
            0x9 => {
                let _ = ws_write_frame(&mut s, 0xA, &payload, false);
            }
            _ => {
                if ws_write_frame(&mut s, op, &payload, false).is_err() {
                    return;
                }
            }
        }
    }
}

/// A server that speaks first: sends `banner` on accept, then echoes what it receives.
pub struct BannerServer {
    pub addr: SocketAddr,
    shared: Arc<BannerShared>,
    thread: Option<JoinHandle<()>>,
}

pub struct BannerShared {
    banner: Vec<u8>,
    stop: AtomicBool,
    accepts: AtomicUsize,
    sessions: AtomicUsize,
}

pub const SSH_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.0\r\n";

impl BannerServer {
    pub fn start(addr: SocketAddr, banner: &[u8]) -> BannerServer {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let shared = Arc::new(BannerShared {
            banner: banner.to_vec(),
            stop: AtomicBool::new(false),
            accepts: AtomicUsize::new(0),
            sessions: AtomicUsize::new(0),
        });
        let sh = shared.clone();
        let thread = std::thread::spawn(move || {
            accept_loop(
                listener,
                sh,
                |s| s.stop.load(Ordering::SeqCst),
                serve_banner,
            )
        });
        BannerServer {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn ssh(addr: SocketAddr) -> BannerServer {
        BannerServer::start(addr, SSH_BANNER)
    }

    /// Every accepted connection, health checks included.
    pub fn accepts(&self) -> usize {
        self.shared.accepts.load(Ordering::SeqCst)
    }

    /// Connections whose client sent at least one byte (real sessions, not checks).
    pub fn sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::SeqCst)
    }
}

impl Drop for BannerServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_banner(mut s: TcpStream, sh: &BannerShared) {
    sh.accepts.fetch_add(1, Ordering::SeqCst);
    if s.write_all(&sh.banner).is_err() {
        return;
    }
    let mut buf = [0u8; 4096];
    let mut counted = false;
    for _ in 0..10_000 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !counted {
                    sh.sessions.fetch_add(1, Ordering::SeqCst);
                    counted = true;
                }
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A MySQL protocol-10 handshake packet, as a MySQL 5.7 server sends on accept.
pub fn mysql_greeting() -> Vec<u8> {
    let mut p = vec![0x0a];
    p.extend_from_slice(b"5.7.44-fulcrum-test\0");
    p.extend_from_slice(&42u32.to_le_bytes()); // connection id
    p.extend_from_slice(b"abcdefgh\0"); // auth-plugin-data part 1 + filler
    p.extend_from_slice(&0xf7ffu16.to_le_bytes()); // capabilities (low)
    p.push(0x21); // utf8_general_ci
    p.extend_from_slice(&0x0002u16.to_le_bytes()); // SERVER_STATUS_AUTOCOMMIT
    p.extend_from_slice(&0x81ffu16.to_le_bytes()); // capabilities (high)
    p.push(21); // auth-plugin-data length
    p.extend_from_slice(&[0u8; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"mysql_native_password\0");
    let len = p.len() as u32;
    let mut pkt = len.to_le_bytes()[..3].to_vec();
    pkt.push(0); // sequence id
    pkt.extend_from_slice(&p);
    pkt
}
