//! Shared test helpers: engines on 127.0.0.1:0, raw TCP clients, small backends.
#![allow(dead_code)]

use fulcrum_engine::runtime::{Backend, Bind, Frontend, Mode, Server};
use fulcrum_engine::{Engine, EngineHandle, EngineOptions, Runtime};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

pub fn lo() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn frontend(name: &str, mode: Mode) -> Frontend {
    Frontend {
        name: name.into(),
        id: 0,
        mode,
        binds: vec![Bind::new(lo())],
        maxconn: None,
        monitor_net: vec![],
        default_backend: Some(0),
        timeouts: Default::default(),
        http: Default::default(),
        tcp: Default::default(),
        errors: Default::default(),
        rules: None,
    }
}

pub fn rr_backend(name: &str, mode: Mode, servers: Vec<Server>) -> Backend {
    Backend::new(name, mode, servers).unwrap()
}

pub fn servers(addrs: &[SocketAddr]) -> Vec<Server> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| Server::new(&format!("s{i}"), *a))
        .collect()
}

pub struct Running {
    pub handle: Option<EngineHandle>,
    pub addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop_now();
            h.wait();
        }
    }
}

pub fn start(fe: Frontend, be: Backend, nbthread: usize) -> Running {
    let name = fe.name.clone();
    let rt = Runtime {
        nbthread,
        maxconn: None,
        tune: Default::default(),
        frontends: vec![fe],
        backends: vec![Arc::new(be)],
    };
    start_rt(rt, &name)
}

pub fn start_rt(rt: Runtime, name: &str) -> Running {
    start_rt_with(rt, name, EngineOptions::default())
}

/// Serves `rt` with `opts`; `name` names the frontend whose address is returned.
pub fn start_rt_with(rt: Runtime, name: &str, opts: EngineOptions) -> Running {
    let h = Engine::start(rt, opts).unwrap();
    let addr = h.local_addr(name).unwrap();
    Running {
        handle: Some(h),
        addr,
    }
}

pub fn client(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until EOF (bounded by the read timeout).
pub fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Reads one HTTP/1 response with a Content-Length body (or none for HEAD-like).
pub fn read_response(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return (String::from_utf8_lossy(&head).into_owned(), Vec::new()),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let cl = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; cl];
    s.read_exact(&mut body).unwrap();
    (head, body)
}

pub fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A listener on 127.0.0.1:0 running `f` per connection on its own thread.
pub fn backend<F>(f: F) -> SocketAddr
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let l = TcpListener::bind(lo()).unwrap();
    let addr = l.local_addr().unwrap();
    let f = Arc::new(f);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let f = f.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                f(s)
            });
        }
    });
    addr
}

/// An address nobody listens on.
pub fn dead_addr() -> SocketAddr {
    // Bound but never listening: connections are refused, and the port stays taken for
    // the whole test process, so no test running in parallel can start listening on it.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&any.into()).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    std::mem::forget(s);
    addr
}

/// Whether the engine exits (after a graceful stop) within `limit`.
pub fn exits_within(h: EngineHandle, limit: Duration) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        h.wait();
        let _ = tx.send(());
    });
    rx.recv_timeout(limit).is_ok()
}

pub fn write(s: &mut TcpStream, b: &[u8]) {
    s.write_all(b).unwrap();
}

pub mod http;
pub mod logsink;
pub mod sockets;

/// Loads and compiles `text`, serves it on one worker thread; `fe` names the
/// frontend whose address is returned.
pub fn start_cfg(text: &str, fe: &str) -> Running {
    let opts = EngineOptions {
        nbthread: Some(1),
        ..Default::default()
    };
    start_cfg_with(text, fe, opts)
}

/// Loads and compiles `text`, serves it with `opts`.
pub fn start_cfg_with(text: &str, fe: &str, opts: EngineOptions) -> Running {
    let l = fulcrum_config::load_str("test.cfg", text, &fulcrum_config::reader::MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    let rt = fulcrum_engine::compile(&l.config.unwrap()).unwrap();
    start_rt_with(rt, fe, opts)
}

/// A client whose source address is `src` (any 127/8 address is local on Linux), to
/// play a second host without leaving loopback.
pub fn client_from(src: &str, dst: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{src}:0").parse().unwrap();
    s.bind(&from.into()).unwrap();
    s.connect(&dst.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}
