//! Heap bytes held per idle keep-alive connection, in its task and once parked,
//! counted by a global allocator. One test per binary: the count covers the
//! whole process.

mod common;

use common::*;
use fulcrum_engine::runtime::Mode;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Live heap bytes as glibc malloc charges them (8-byte header, 16-byte steps,
/// 32 bytes at least), so the figure tracks what RSS would show.
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn charged(size: usize) -> isize {
    (((size + 8 + 15) & !15).max(32)) as isize
}

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(charged(l.size()), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(charged(l.size()), Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(charged(l.size()), Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(charged(new) - charged(l.size()), Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

const N: usize = 200;
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// An origin answering every request with a 200, all connections on one thread
/// with no allocation per connection (so the count is the proxy's).
fn flat_origin() -> SocketAddr {
    let l = TcpListener::bind(lo()).unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut conns: Vec<(TcpStream, usize)> = Vec::with_capacity(4 * N);
        let mut buf = [0u8; 4096];
        let until = Instant::now() + Duration::from_secs(120);
        while Instant::now() < until {
            let mut busy = false;
            if let Ok((s, _)) = l.accept() {
                s.set_nonblocking(true).unwrap();
                if conns.len() < conns.capacity() {
                    conns.push((s, 0));
                }
                busy = true;
            }
            for (s, seen) in conns.iter_mut() {
                match s.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        busy = true;
                        // Requests here are bodiless: count head ends.
                        let heads = buf[..n].windows(4).filter(|w| w == b"\r\n\r\n").count();
                        *seen += heads;
                        for _ in 0..heads {
                            s.set_nonblocking(false).unwrap();
                            let _ = s.write_all(RESPONSE);
                            s.set_nonblocking(true).unwrap();
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    _ => {}
                }
            }
            if !busy {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    addr
}

fn get(c: &mut TcpStream) {
    write(c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&read_response(c).0), 200);
}

/// Waits until the live count stops moving (the engine has finished the work
/// the last responses started).
fn settled() -> isize {
    let mut last = LIVE.load(Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        let now = LIVE.load(Ordering::Relaxed);
        if now == last && fulcrum_engine::buffers_in_use() == 0 {
            return now;
        }
        last = now;
    }
    last
}

/// An idle keep-alive connection after one request costs the proxy few heap
/// bytes: no I/O buffer, a small wait, no server connection of its own. Idle
/// for more than a second, it is parked: its task, session and socket
/// registration are gone, and what remains is a small record.
#[test]
fn idle_keepalive_connection_heap_bytes_stay_small() {
    let o = flat_origin();
    let run = start(
        frontend("f", Mode::Http),
        rr_backend("b", Mode::Http, servers(&[o])),
        1,
    );
    // Warm up, parking included: first-use allocations (pools, timers, registry
    // shards, the parked set) are not per connection.
    let mut warm: Vec<TcpStream> = (0..8).map(|_| client(run.addr)).collect();
    for c in &mut warm {
        get(c);
    }
    std::thread::sleep(Duration::from_millis(1500));
    for c in &mut warm {
        get(c);
    }
    drop(warm);
    let mut conns: Vec<TcpStream> = Vec::with_capacity(N);
    let before = settled();
    for _ in 0..N {
        let mut c = client(run.addr);
        get(&mut c);
        conns.push(c);
    }
    let after = settled();
    let per_conn = (after - before) / N as isize;
    eprintln!("heap bytes per idle keep-alive connection: {per_conn}");
    assert!(per_conn <= 2560, "{per_conn} bytes per idle connection");

    std::thread::sleep(Duration::from_millis(1500));
    let parked = settled();
    let per_conn = (parked - before) / N as isize;
    eprintln!("heap bytes per parked keep-alive connection: {per_conn}");
    // 314 bytes at the time of writing (debug build): the parked record, its
    // deadline, and the pooled server connection kept without its registration.
    assert!(per_conn <= 512, "{per_conn} bytes per parked connection");
    // Parked connections still answer.
    for c in conns.iter_mut().take(20) {
        get(c);
    }
}
