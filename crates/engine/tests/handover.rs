//! Seamless reloads inside one test process: a second engine takes the first one's
//! listening sockets over its stats socket (`expose-fd listeners`, what `fulcrum -x`
//! does), so clients the first engine left in its backlogs are served by the second
//! after the first stops listening, on TCP and UNIX binds, with more threads.

mod common;

use fulcrum_config::model::Config;
use fulcrum_engine::{Engine, EngineOptions, Inherited};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

fn load(text: &str) -> Config {
    let l = fulcrum_config::load_str("test.cfg", text, &fulcrum_config::reader::MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    l.config.unwrap()
}

fn cfg(dir: &Path, admin: &str, limit: &str, front: u16, extra: &str, echo: SocketAddr) -> String {
    format!(
        "global\n    stats socket {d}/{admin} level admin expose-fd listeners\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind 127.0.0.1:{front}{limit}\n    bind {d}/fe.sock{limit}\n{extra}    default_backend be\n\
         backend be\n    server e {echo}\n",
        d = dir.display()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(common::lo())
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn echo_once<S: Read + Write>(s: &mut S, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).unwrap();
    got
}

#[test]
fn queued_clients_are_served_by_the_engine_that_took_the_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let echo = common::backend(|mut s| {
        let mut b = [0u8; 256];
        while let Ok(n) = s.read(&mut b) {
            if n == 0 || s.write_all(&b[..n]).is_err() {
                break;
            }
        }
    });
    let front = free_port();
    // The old engine serves one session per bind at a time: at that limit it still
    // accepts one client per bind and holds it unserved (it serves it when it stops
    // gracefully), and the next ones wait in its backlogs. (One thread: a bind's
    // `maxconn` taken by one thread's accept loop would also hold back a client
    // queued on another thread's socket.)
    let old_cfg = load(&cfg(dir.path(), "a.sock", " maxconn 1", front, "", echo));
    let rt = fulcrum_engine::compile(&old_cfg).unwrap();
    let one = EngineOptions {
        nbthread: Some(1),
        ..Default::default()
    };
    let old = Engine::start(rt, one).unwrap();
    old.start_ops(&old_cfg, None).unwrap();
    let tcp: SocketAddr = ([127, 0, 0, 1], front).into();
    let mut first = TcpStream::connect(tcp).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(echo_once(&mut first, b"first"), b"first");
    let mut first_unix = UnixStream::connect(dir.path().join("fe.sock")).unwrap();
    first_unix
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(echo_once(&mut first_unix, b"first"), b"first");
    let mut held = TcpStream::connect(tcp).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    held.write_all(b"held").unwrap();
    let mut held_unix = UnixStream::connect(dir.path().join("fe.sock")).unwrap();
    held_unix
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    held_unix.write_all(b"held").unwrap();
    let mut queued = TcpStream::connect(tcp).unwrap();
    queued
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    queued.write_all(b"queued").unwrap();
    let mut queued_unix = UnixStream::connect(dir.path().join("fe.sock")).unwrap();
    queued_unix
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    queued_unix.write_all(b"unix").unwrap();

    // Two binds on one thread: two sockets.
    let taken = Inherited::fetch(&dir.path().join("a.sock")).unwrap();
    assert_eq!(taken.len(), 2);
    let extra = free_port();
    let new_text = cfg(
        dir.path(),
        "b.sock",
        "",
        front,
        &format!("    bind 127.0.0.1:{extra}\n"),
        echo,
    );
    let new_cfg = load(&new_text);
    let rt = fulcrum_engine::compile(&new_cfg).unwrap();
    let two = EngineOptions {
        nbthread: Some(2),
        handover: Some(taken.clone()),
        ..Default::default()
    };
    let new = Engine::start(rt, two).unwrap();
    // Every socket found its bind (two threads now share each one).
    assert_eq!(taken.len(), 0);

    // The old engine stops listening: its copies close, the sockets live on in the new
    // one. Whichever client of each bind the old engine held, it serves; the other,
    // still in the backlog, can only be served by the new engine.
    old.graceful_stop();
    let mut got = [0u8; 4];
    held.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"held", "the held TCP client was not served");
    held_unix.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"held", "the held UNIX client was not served");
    let mut got = [0u8; 6];
    queued.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"queued", "the queued TCP client was not served");
    let mut got = [0u8; 4];
    queued_unix.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"unix", "the queued UNIX client was not served");
    // The old engine's own session is untouched, and the new bind was bound afresh.
    assert_eq!(echo_once(&mut first, b"still"), b"still");
    // The old engine finishes with its last clients.
    drop((first, first_unix, held, held_unix, queued, queued_unix));
    old.wait();
    let mut c = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], extra))).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(echo_once(&mut c, b"extra"), b"extra");
    let mut c = TcpStream::connect(tcp).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(echo_once(&mut c, b"after"), b"after");
    new.stop_now();
    new.wait();
}
