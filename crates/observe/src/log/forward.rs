//! A ring's `server` lines: each one is a thread that sends the ring's lines to a
//! syslog server over TCP, as HAProxy's sink forwarders do. It starts from the oldest
//! line kept, sends each line once, reconnects when the server closes or refuses,
//! and resumes where it stopped: lines logged meanwhile wait in the ring (which
//! then keeps them and refuses new ones when full, as HAProxy's does).
//!
//! Framing is the `server` line's `log-proto`: `legacy` (the default) ends each line
//! with a newline; `octet-count` (RFC 6587) sends `LEN SP LINE`.

use super::ring::Ring;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Weak;
use std::time::{Duration, Instant};

/// How long a forwarder waits for new lines before checking its server is still
/// there and its ring still used.
const POLL: Duration = Duration::from_millis(200);
/// Delay between two connection attempts to a server that refused or closed.
const RETRY: Duration = Duration::from_secs(1);

/// One `server NAME ADDR [log-proto legacy|octet-count]` of a ring.
#[derive(Clone, Debug)]
pub struct ForwardTarget {
    pub name: String,
    pub addr: String,
    pub octet_count: bool,
    pub timeout_connect: Option<Duration>,
    pub timeout_server: Option<Duration>,
}

/// Whether a ring `server` line's options ask for octet-counting framing.
pub fn octet_counting(options: &[String]) -> bool {
    options
        .windows(2)
        .rev()
        .find(|w| w[0] == "log-proto")
        .is_some_and(|w| w[1] == "octet-count")
}

/// One line as it goes on the wire.
pub fn frame_line(out: &mut Vec<u8>, line: &[u8], octet_count: bool) {
    if octet_count {
        out.extend_from_slice(format!("{} ", line.len()).as_bytes());
        out.extend_from_slice(line);
    } else {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

pub(crate) fn spawn(ring: Weak<Ring>, index: usize, target: ForwardTarget) {
    let name = format!("fulcrum-ring-{}", target.name);
    let _ = std::thread::Builder::new().name(name).spawn(move || loop {
        if ring.strong_count() == 0 {
            return;
        }
        if let Some(stream) = connect(&target) {
            serve(&ring, index, &target, stream);
        }
        // Wait before the next attempt, in steps, so that a ring no longer used
        // ends its forwarders soon.
        let until = Instant::now() + RETRY;
        while Instant::now() < until {
            if ring.strong_count() == 0 {
                return;
            }
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
    });
}

/// `ADDR:PORT`, optionally prefixed as HAProxy's addresses may be.
fn resolve(addr: &str) -> Vec<SocketAddr> {
    let bare = ["tcp4@", "tcp6@", "tcp@", "ipv4@", "ipv6@"]
        .iter()
        .find_map(|p| addr.strip_prefix(p))
        .unwrap_or(addr);
    bare.to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default()
}

fn connect(t: &ForwardTarget) -> Option<TcpStream> {
    for a in resolve(&t.addr) {
        let s = match t.timeout_connect {
            Some(d) => TcpStream::connect_timeout(&a, d.max(Duration::from_millis(1))),
            None => TcpStream::connect(a),
        };
        if let Ok(s) = s {
            let _ = s.set_write_timeout(t.timeout_server.filter(|d| !d.is_zero()));
            let _ = s.set_nodelay(true);
            return Some(s);
        }
    }
    None
}

/// Whether the server has closed (or reset) the connection; what it sends is read
/// and ignored, as HAProxy drains it.
fn closed(s: &mut TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut scratch = [0u8; 1024];
    let gone = loop {
        match s.read(&mut scratch) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break true,
        }
    };
    gone || s.set_nonblocking(false).is_err()
}

/// Sends the ring's lines until the connection fails or the ring is no longer used.
fn serve(ring: &Weak<Ring>, index: usize, t: &ForwardTarget, mut s: TcpStream) {
    let mut buf = Vec::new();
    loop {
        if closed(&mut s) {
            return;
        }
        let Some(r) = ring.upgrade() else { return };
        let from = r.cursor(index);
        let (lines, next) = r.read_from(from, POLL);
        drop(r);
        // A server that closed while we waited would take these lines into a
        // dead socket: check again just before writing.
        if lines.is_empty() || closed(&mut s) {
            continue;
        }
        buf.clear();
        for l in &lines {
            frame_line(&mut buf, l, t.octet_count);
        }
        if s.write_all(&buf).and_then(|()| s.flush()).is_err() {
            return;
        }
        let Some(r) = ring.upgrade() else { return };
        r.set_cursor(index, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_octet_counting_frames() {
        let mut out = Vec::new();
        frame_line(&mut out, b"<134>hello", false);
        frame_line(&mut out, b"<134>hello", true);
        assert_eq!(out, b"<134>hello\n10 <134>hello");
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(octet_counting(&w("log-proto octet-count")));
        assert!(!octet_counting(&w("log-proto legacy")));
        assert!(!octet_counting(&[]));
    }
}
