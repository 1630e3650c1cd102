//! Seamless reloads: `stats socket … level admin expose-fd listeners` in the old
//! process and `fulcrum -x <socket> -sf <pid>` in the new one. The old process
//! passes its listening sockets over the stats socket (SCM_RIGHTS); the new one
//! accepts on those very sockets instead of binding beside them, so the clients
//! waiting in their backlogs are not reset when the old process lets go.
//!
//! Wire format (Fulcrum's own, shaped like HAProxy's `_getsocks`): the new process
//! sends `_getsocks\n`; the old one answers a line `fulcrum-fds N\n`, then N lines,
//! one per socket, naming what it listens on and the options fixed at creation:
//! `tcp <ip:port>[ v4v6][ v6only][ interface=<name>]`, or `unix <unix@path|abns@name>`.
//! The sockets travel as SCM_RIGHTS, in the order of the lines, at most
//! [`BATCH`] per message. A bind served by several worker threads has one socket,
//! so one line, per thread. Any other first line is the old process's refusal.

use crate::error::EngineError;
use crate::listener::Listener;
use crate::runtime::{Bind, BindAddr};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sockets per message: well below the kernel's SCM_MAX_FD (253).
const BATCH: usize = 64;

/// How long either side waits for the other.
const PATIENCE: Duration = Duration::from_secs(5);

/// Most sockets a new process takes in one reload: a bound on a peer's claim.
const MAX_FDS: usize = 1 << 16;

/// What a listening socket is bound to, as both processes name it; `None` for
/// sockets that are never handed over (`fd@N`, port 0, odd UNIX paths).
pub(crate) fn key(bind: &Bind, bound: Option<SocketAddr>) -> Option<String> {
    match &bind.addr {
        BindAddr::Fd(_) => None,
        BindAddr::Unix(a) => {
            let name = a.to_string();
            (!name.contains('\n')).then(|| format!("unix {name}"))
        }
        BindAddr::Socket(a) => {
            let a = bound.unwrap_or(*a);
            if a.port() == 0 {
                return None;
            }
            let mut k = format!("tcp {a}");
            if bind.v4v6 {
                k.push_str(" v4v6");
            }
            if bind.v6only {
                k.push_str(" v6only");
            }
            if let Some(dev) = &bind.interface {
                if dev.contains([' ', '\n']) {
                    return None;
                }
                k.push_str(" interface=");
                k.push_str(dev);
            }
            Some(k)
        }
    }
}

fn raw(l: &Listener) -> io::Result<OwnedFd> {
    match l {
        Listener::Tcp(t) => t.as_fd().try_clone_to_owned(),
        Listener::Unix(u, _) => u.as_fd().try_clone_to_owned(),
    }
}

/// This process's listening sockets, for `_getsocks`: duplicates kept until the
/// process stops listening, so that a stopping process never hands over a socket
/// (and a socket that nobody took is closed with the others).
#[derive(Default)]
pub(crate) struct Exposed(Mutex<Option<Vec<(usize, String, OwnedFd)>>>);

impl Exposed {
    pub(crate) fn new() -> Exposed {
        Exposed(Mutex::new(Some(Vec::new())))
    }

    /// Keeps duplicates of frontend `fi`'s sockets for `bind`.
    pub(crate) fn record(&self, fi: usize, bind: &Bind, socks: &[Listener]) {
        let bound = socks.first().and_then(Listener::local_addr);
        let Some(k) = key(bind, bound) else { return };
        let Ok(mut g) = self.0.lock() else { return };
        let Some(list) = g.as_mut() else { return };
        for s in socks {
            match raw(s) {
                Ok(fd) => list.push((fi, k.clone(), fd)),
                Err(e) => tracing::warn!("{k}: cannot keep the socket for a reload: {e}"),
            }
        }
    }

    /// Closes frontend `fi`'s duplicates (`shutdown frontend`): its sockets must
    /// really close, and no later process may take them.
    pub(crate) fn forget(&self, fi: usize) {
        if let Ok(mut g) = self.0.lock() {
            if let Some(list) = g.as_mut() {
                list.retain(|(f, _, _)| *f != fi);
            }
        }
    }

    /// Closes the duplicates: this process no longer listens (SIGUSR1, stop).
    pub(crate) fn close(&self) {
        if let Ok(mut g) = self.0.lock() {
            g.take();
        }
    }

    fn snapshot(&self) -> io::Result<Vec<(String, OwnedFd)>> {
        let g = self
            .0
            .lock()
            .map_err(|_| io::Error::other("listener list poisoned"))?;
        let Some(list) = g.as_ref() else {
            return Ok(Vec::new());
        };
        list.iter()
            .map(|(_, k, fd)| Ok((k.clone(), fd.try_clone()?)))
            .collect()
    }
}

/// Answers `_getsocks` on the stats socket connection `out` (blocking for at
/// most [`PATIENCE`] per message on a peer that does not read).
pub(crate) fn answer(out: RawFd, exposed: &Exposed) -> io::Result<()> {
    let socks = exposed.snapshot()?;
    send_all(
        out,
        format!("fulcrum-fds {}\n", socks.len()).as_bytes(),
        &[],
    )?;
    for chunk in socks.chunks(BATCH) {
        let text: String = chunk.iter().map(|(k, _)| format!("{k}\n")).collect();
        let fds: Vec<RawFd> = chunk.iter().map(|(_, f)| f.as_raw_fd()).collect();
        send_all(out, text.as_bytes(), &fds)?;
    }
    Ok(())
}

/// Sends `data` with `fds` attached to its first byte.
fn send_all(out: RawFd, mut data: &[u8], mut fds: &[RawFd]) -> io::Result<()> {
    while !data.is_empty() {
        match send_msg(out, data, fds) {
            Ok(n) => {
                data = &data[n..];
                fds = &[];
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(out)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn wait_writable(fd: RawFd) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = i32::try_from(PATIENCE.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one pollfd we own, for the stated length.
    match unsafe { libc::poll(&mut p, 1, ms) } {
        n if n > 0 => Ok(()),
        0 => Err(io::ErrorKind::TimedOut.into()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn send_msg(out: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let fd_bytes = std::mem::size_of_val(fds);
    let fd_len = u32::try_from(fd_bytes).map_err(|_| io::Error::other("too many sockets"))?;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = if fds.is_empty() {
        0
    } else {
        unsafe { libc::CMSG_SPACE(fd_len) as usize }
    };
    // u64 cells: the control buffer must be aligned for cmsghdr.
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the buffer holds CMSG_SPACE(fd_len) bytes, so the first header
        // and its data (fd_len bytes) fit; the copy reads fds.len() descriptors.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(fd_len) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(c), fd_bytes);
        }
    }
    // SAFETY: `msg` describes valid buffers; MSG_NOSIGNAL: a gone peer is an error, not SIGPIPE.
    let n = unsafe { libc::sendmsg(out, &msg, libc::MSG_NOSIGNAL) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Receives into `buf`, appending the descriptors that came along to `fds`.
fn recv_msg(from: RawFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let cap = u32::try_from(253 * std::mem::size_of::<RawFd>()).unwrap_or(u32::MAX);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(cap) as usize };
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: plain data, pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` describes buffers we own; the kernel writes within their lengths.
    let n = unsafe { libc::recvmsg(from, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    // SAFETY: the kernel filled the control buffer; CMSG_* walk within msg_controllen,
    // and each SCM_RIGHTS entry holds (cmsg_len - CMSG_LEN(0)) / 4 descriptors now ours.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c);
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("sockets were lost in transit"));
    }
    Ok(n)
}

/// The sockets taken from the old process (`-x`), until binds claim them; those
/// left over are closed when this is dropped.
#[derive(Clone, Default)]
pub struct Inherited(Arc<Mutex<Vec<(String, OwnedFd)>>>);

impl std::fmt::Debug for Inherited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Inherited({} sockets)", self.len())
    }
}

impl Inherited {
    /// Asks the stats socket at `path` for its listening sockets.
    pub fn fetch(path: &Path) -> Result<Inherited, EngineError> {
        let fail = |e: io::Error| {
            EngineError::Config(format!(
                "cannot take the listening sockets from '{}': {e}",
                path.display()
            ))
        };
        let mut s = std::os::unix::net::UnixStream::connect(path).map_err(fail)?;
        s.set_read_timeout(Some(PATIENCE)).map_err(fail)?;
        s.set_write_timeout(Some(PATIENCE)).map_err(fail)?;
        s.write_all(b"_getsocks\n").map_err(fail)?;
        let mut bytes = Vec::new();
        let mut fds = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(keys) = parse(&bytes).map_err(fail)? {
                if fds.len() == keys.len() {
                    return Ok(Inherited(Arc::new(Mutex::new(
                        keys.into_iter().zip(fds).collect(),
                    ))));
                }
            }
            let n = match recv_msg(s.as_raw_fd(), &mut buf, &mut fds) {
                Ok(0) => return Err(fail(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(e)),
            };
            bytes.extend_from_slice(&buf[..n]);
            if fds.len() > MAX_FDS {
                return Err(fail(io::Error::other("too many sockets")));
            }
        }
    }

    /// Sockets received and not claimed yet.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |g| g.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every socket listed under `key`, in order.
    fn take(&self, key: &str) -> Vec<OwnedFd> {
        let Ok(mut g) = self.0.lock() else {
            return Vec::new();
        };
        let (mine, rest) = std::mem::take(&mut *g)
            .into_iter()
            .partition::<Vec<_>, _>(|(k, _)| k == key);
        *g = rest;
        mine.into_iter().map(|(_, fd)| fd).collect()
    }
}

/// The keys of a complete answer, `None` while more is to come.
fn parse(bytes: &[u8]) -> io::Result<Option<Vec<String>>> {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, rest)) = text.split_once('\n') else {
        return Ok(None);
    };
    let Some(n) = head.strip_prefix("fulcrum-fds ") else {
        return Err(io::Error::other(format!(
            "the old process answered '{head}'"
        )));
    };
    let n: usize = n
        .trim()
        .parse()
        .ok()
        .filter(|&n| n <= MAX_FDS)
        .ok_or_else(|| io::Error::other(format!("bad answer '{head}'")))?;
    let keys: Vec<String> = rest.split_terminator('\n').map(str::to_owned).collect();
    let complete = rest.is_empty() || rest.ends_with('\n');
    Ok((keys.len() >= n && complete).then(|| keys.into_iter().take(n).collect()))
}

/// The listeners of one bind: the old process's sockets for it when `-x` brought
/// some (same address and creation options), freshly bound ones otherwise.
/// More threads than sockets: the extra threads share them; fewer: a thread
/// accepts on several, so no socket and no waiting client is left behind.
pub(crate) fn bind_all(
    inherited: Option<&Inherited>,
    frontend: &str,
    bind: &Bind,
    luid: usize,
    fe_maxconn: Option<usize>,
    count: usize,
) -> Result<Vec<Listener>, EngineError> {
    let fds = match (inherited, key(bind, None)) {
        (Some(h), Some(k)) => h.take(&k),
        _ => Vec::new(),
    };
    if fds.is_empty() {
        return crate::listener::bind_all(frontend, bind, luid, fe_maxconn, count);
    }
    let err = |source| EngineError::Bind {
        frontend: frontend.into(),
        addr: key(bind, None).unwrap_or_default(),
        source,
    };
    let mut out = Vec::with_capacity(fds.len().max(count));
    for i in 0..fds.len().max(count) {
        let fd = fds[i % fds.len()].try_clone().map_err(err)?;
        out.push(adopt(fd, bind, luid, fe_maxconn).map_err(err)?);
    }
    Ok(out)
}

fn adopt(fd: OwnedFd, bind: &Bind, luid: usize, fe_maxconn: Option<usize>) -> io::Result<Listener> {
    if let BindAddr::Unix(_) = bind.addr {
        let l = std::os::unix::net::UnixListener::from(fd);
        l.set_nonblocking(true)?;
        return Ok(Listener::Unix(l, crate::unix::client_addr(luid)));
    }
    // The options a socket takes after creation follow the new configuration.
    let sock = socket2::Socket::from(fd);
    sock.set_nonblocking(true)?;
    let backlog = crate::listener::backlog(bind, fe_maxconn);
    crate::sockopt::listener(&sock, bind, backlog);
    sock.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    crate::sockopt::listening(&sock, bind);
    Ok(Listener::Tcp(sock.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_once_complete() {
        assert_eq!(parse(b"fulcrum-fds 2\ntcp 1").unwrap(), None);
        assert_eq!(parse(b"fulcrum-fds 2\ntcp a\n").unwrap(), None);
        assert_eq!(
            parse(b"fulcrum-fds 2\ntcp a\ntcp a\n").unwrap(),
            Some(vec!["tcp a".to_string(), "tcp a".to_string()])
        );
        assert_eq!(parse(b"fulcrum-fds 0\n").unwrap(), Some(vec![]));
        assert!(parse(b"Unknown command\n").is_err());
        assert!(parse(b"fulcrum-fds 99999999\n").is_err());
    }

    #[test]
    fn keys_name_address_and_creation_options() {
        let mut b = Bind::new("127.0.0.1:80".parse().unwrap());
        assert_eq!(key(&b, None).as_deref(), Some("tcp 127.0.0.1:80"));
        b.v6only = true;
        b.interface = Some("lo".into());
        assert_eq!(
            key(&b, None).as_deref(),
            Some("tcp 127.0.0.1:80 v6only interface=lo")
        );
        let b = Bind::new("127.0.0.1:0".parse().unwrap());
        assert_eq!(key(&b, None), None);
        assert_eq!(
            key(&b, Some("127.0.0.1:81".parse().unwrap())).as_deref(),
            Some("tcp 127.0.0.1:81")
        );
    }

    #[test]
    fn sockets_cross_a_socket_pair_in_order() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let exposed = Exposed::new();
        let l1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let l2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ports = [l1.local_addr().unwrap(), l2.local_addr().unwrap()];
        for l in [l1, l2] {
            let bind = Bind::new(l.local_addr().unwrap());
            exposed.record(0, &bind, &[Listener::Tcp(l)]);
        }
        answer(a.as_raw_fd(), &exposed).unwrap();
        let mut got = Vec::new();
        let mut bytes = Vec::new();
        let mut buf = [0u8; 1024];
        b.set_read_timeout(Some(PATIENCE)).unwrap();
        while parse(&bytes).unwrap().is_none() || got.len() < 2 {
            let n = recv_msg(b.as_raw_fd(), &mut buf, &mut got).unwrap();
            assert!(n > 0);
            bytes.extend_from_slice(&buf[..n]);
        }
        let keys = parse(&bytes).unwrap().unwrap();
        for ((k, fd), want) in keys.iter().zip(got).zip(ports) {
            assert_eq!(k, &format!("tcp {want}"));
            let l = std::net::TcpListener::from(fd);
            assert_eq!(l.local_addr().unwrap(), want);
        }
        // A stopping process hands nothing over.
        exposed.close();
        answer(a.as_raw_fd(), &exposed).unwrap();
    }
}
