//! The engine runs inside the test process: its sockets are found in
//! `/proc/self/fd` and their options read back with getsockopt, as a user would
//! with `ss -o` / `ss -i`.

use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// One TCP socket of this process.
#[derive(Debug, Clone, Copy)]
pub struct Sock {
    pub fd: i32,
    pub local: SocketAddr,
    pub peer: Option<SocketAddr>,
}

pub fn sockets() -> Vec<Sock> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let is_sock = std::fs::read_link(e.path())
            .map(|l| l.to_string_lossy().starts_with("socket:"))
            .unwrap_or(false);
        if !is_sock {
            continue;
        }
        // SAFETY: only used for getsockname/getpeername while the fd is listed;
        // a descriptor closed meanwhile just makes these calls fail.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        let s = socket2::SockRef::from(&b);
        let Some(local) = s.local_addr().ok().and_then(|a| a.as_socket()) else {
            continue;
        };
        let peer = s.peer_addr().ok().and_then(|a| a.as_socket());
        out.push(Sock { fd, local, peer });
    }
    out
}

/// Waits (up to 5 s) for a socket matching `f`.
pub fn wait_for(f: impl Fn(&Sock) -> bool) -> Sock {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(s) = sockets().into_iter().find(|s| f(s)) {
            return s;
        }
        assert!(Instant::now() < end, "socket not found");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The proxy's side of a client connection from `client` (its local address).
pub fn accepted(client: SocketAddr) -> Sock {
    wait_for(|s| s.peer == Some(client))
}

/// The proxy's listening sockets on `addr`.
pub fn listeners(addr: SocketAddr) -> Vec<Sock> {
    sockets()
        .into_iter()
        .filter(|s| s.local == addr && s.peer.is_none())
        .collect()
}

pub fn get_int(fd: i32, level: i32, opt: i32) -> i32 {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: v and len are valid for writes, len holds v's size.
    let r = unsafe { libc::getsockopt(fd, level, opt, (&mut v as *mut i32).cast(), &mut len) };
    assert_eq!(r, 0, "getsockopt({level}, {opt}) failed");
    v
}

/// SO_LINGER: `Some(secs)` when lingering is on.
pub fn linger(fd: i32) -> Option<i32> {
    let mut l = libc::linger {
        l_onoff: 0,
        l_linger: 0,
    };
    let mut len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: l and len are valid for writes, len holds l's size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&mut l as *mut libc::linger).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0);
    (l.l_onoff != 0).then_some(l.l_linger)
}

/// Segments this socket sent (SYN, pure ACKs and data alike): TCP_INFO.
pub fn segs_out(fd: i32) -> u32 {
    // SAFETY: tcp_info is plain old data; zeroed is a valid value.
    let mut i: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: i and len are valid for writes, len holds i's size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut i as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0);
    i.tcpi_segs_out
}
