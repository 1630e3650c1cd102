//! A keep-alive client idle for a second gives its server connection back to
//! the thread's pool (as HAProxy moves it to the server's idle list), and the
//! pool keeps at most 256 per server: many idle clients no longer hold a
//! server connection each. The next request of an idle client still works.

mod common;

use common::*;
use fulcrum_engine::runtime::Mode;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 300;

/// An origin answering every request with a 200, counting its open connections.
fn counting_origin() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind(lo()).unwrap();
    let addr = l.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let o2 = open.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let open = o2.clone();
            open.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(n) if n > 0 => {
                            let heads = buf[..n].windows(4).filter(|w| w == b"\r\n\r\n").count();
                            for _ in 0..heads {
                                let _ =
                                    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                            }
                        }
                        _ => break,
                    }
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, open)
}

fn get(c: &mut TcpStream) -> u16 {
    write(c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    status(&read_response(c).0)
}

#[test]
fn idle_clients_give_their_server_connections_back() {
    let (o, open) = counting_origin();
    let run = start(
        frontend("f", Mode::Http),
        rr_backend("b", Mode::Http, servers(&[o])),
        1,
    );
    let mut conns: Vec<TcpStream> = (0..CLIENTS).map(|_| client(run.addr)).collect();
    for c in &mut conns {
        assert_eq!(get(c), 200);
    }
    // Right after their responses each client still holds its connection.
    let held = open.load(Ordering::SeqCst);
    assert!(held >= CLIENTS - 10, "{held} server connections at first");
    let until = Instant::now() + Duration::from_secs(10);
    while open.load(Ordering::SeqCst) > 256 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pooled = open.load(Ordering::SeqCst);
    assert!(
        pooled <= 256,
        "{pooled} server connections after a second idle"
    );
    // Idle clients carry on: their next requests find a pooled connection or a new one.
    for c in conns.iter_mut().step_by(25) {
        assert_eq!(get(c), 200);
    }
}
