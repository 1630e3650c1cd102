//! A slow HTTP origin that counts how many requests it serves at once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An origin answering `200 <name>` after `delay` to each request (one
/// thread per connection), recording the most it served at once.
pub struct Slow {
    pub addr: SocketAddr,
    pub peak: Arc<AtomicUsize>,
}

impl Slow {
    pub fn start(name: &'static str, delay: Duration) -> Slow {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let cur = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let p2 = peak.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (cur, peak) = (cur.clone(), p2.clone());
                std::thread::spawn(move || serve(s, name, delay, &cur, &peak));
            }
        });
        Slow { addr, peak }
    }

    /// The most requests served at once since the last call.
    pub fn take_peak(&self) -> usize {
        self.peak.swap(0, Ordering::SeqCst)
    }
}

fn serve(mut s: TcpStream, name: &str, delay: Duration, cur: &AtomicUsize, peak: &AtomicUsize) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let now = cur.fetch_add(1, Ordering::SeqCst) + 1;
    peak.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(delay);
    cur.fetch_sub(1, Ordering::SeqCst);
    let _ = s.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
            name.len()
        )
        .as_bytes(),
    );
}

/// Starts `n` GETs at once on their own connections; joining gives their
/// statuses (0 when none came back).
pub fn burst(addr: SocketAddr, n: usize) -> Vec<std::thread::JoinHandle<u16>> {
    (0..n)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out);
                String::from_utf8_lossy(&out)
                    .split(' ')
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0)
            })
        })
        .collect()
}

/// The statuses of a [`burst`], once all have answered.
pub fn statuses(threads: Vec<std::thread::JoinHandle<u16>>) -> Vec<u16> {
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}
