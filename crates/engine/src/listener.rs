//! Listening sockets: one SO_REUSEPORT socket per `bind` per worker thread, so the
//! kernel spreads accepts across threads without a shared accept lock.

use crate::error::EngineError;
use crate::runtime::{Bind, BindAddr};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd};

const DEFAULT_BACKLOG: u32 = 1024;

/// Binds `count` sockets for one `bind` line. With port 0 the first socket picks
/// the port and the others join it.
pub(crate) fn bind_all(
    frontend: &str,
    bind: &Bind,
    fe_maxconn: Option<usize>,
    count: usize,
) -> Result<Vec<TcpListener>, EngineError> {
    match &bind.addr {
        BindAddr::Fd(fd) => inherited(frontend, *fd, count),
        BindAddr::Socket(addr) => {
            let backlog = bind
                .backlog
                .or_else(|| fe_maxconn.and_then(|m| u32::try_from(m).ok()))
                .unwrap_or(DEFAULT_BACKLOG);
            let mut out = Vec::with_capacity(count);
            let mut addr = *addr;
            // Port 0: a probe socket picks the port, then every socket binds it
            // explicitly, so a paused listener (`disable frontend`) keeps its
            // port when the kernel unhashes it. The probe closes once replaced.
            let _probe = if addr.port() == 0 {
                let p = bind_one(addr, bind, backlog).map_err(|source| EngineError::Bind {
                    frontend: frontend.into(),
                    addr: addr.to_string(),
                    source,
                })?;
                if let Ok(a) = p.local_addr() {
                    addr.set_port(a.port());
                }
                Some(p)
            } else {
                None
            };
            for _ in 0..count.max(1) {
                let l = bind_one(addr, bind, backlog).map_err(|source| EngineError::Bind {
                    frontend: frontend.into(),
                    addr: addr.to_string(),
                    source,
                })?;
                if addr.port() == 0 {
                    if let Ok(a) = l.local_addr() {
                        addr.set_port(a.port());
                    }
                }
                out.push(l);
            }
            Ok(out)
        }
    }
}

fn bind_one(addr: SocketAddr, bind: &Bind, backlog: u32) -> io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if addr.is_ipv6() {
        if bind.v6only {
            sock.set_only_v6(true)?;
        } else if bind.v4v6 {
            sock.set_only_v6(false)?;
        }
    }
    if let Some(dev) = &bind.interface {
        sock.bind_device(Some(dev.as_bytes()))?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    crate::sockopt::listener(&sock, bind, backlog);
    sock.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    crate::sockopt::listening(&sock, bind);
    Ok(sock.into())
}

/// `fd@N`: every thread accepts on its own duplicate of the inherited socket.
fn inherited(frontend: &str, fd: i32, count: usize) -> Result<Vec<TcpListener>, EngineError> {
    let err = |source| EngineError::InheritedFd {
        frontend: frontend.into(),
        fd,
        source,
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        // SAFETY: dup() returns a fresh descriptor we own, or -1 which we check.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(err(io::Error::last_os_error()));
        }
        // SAFETY: `dup` is a valid descriptor owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(dup) };
        let sock = Socket::from(owned);
        sock.set_nonblocking(true).map_err(err)?;
        out.push(sock.into());
    }
    Ok(out)
}
