//! Listening sockets: one SO_REUSEPORT socket per `bind` per worker thread, so the
//! kernel spreads accepts across threads without a shared accept lock.

use crate::error::EngineError;
use crate::runtime::{Bind, BindAddr};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

const DEFAULT_BACKLOG: u32 = 1024;

/// Backlog given back to a listener when a paused frontend resumes.
const RESUME_BACKLOG: i32 = 1024;

/// A bound listening socket, not yet (or no longer) registered with a runtime.
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// A UNIX socket; its clients all get the address given here (see [`crate::unix`]).
    Unix(UnixListener, SocketAddr),
}

/// A listening socket registered with a worker thread's runtime.
pub(crate) enum Live {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, SocketAddr),
}

impl Listener {
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    pub(crate) fn into_live(self) -> io::Result<Live> {
        Ok(match self {
            Listener::Tcp(l) => Live::Tcp(tokio::net::TcpListener::from_std(l)?),
            Listener::Unix(l, peer) => Live::Unix(tokio::net::UnixListener::from_std(l)?, peer),
        })
    }

    /// Refuses new connections (Linux: `shutdown(SHUT_RD)` unhashes a TCP
    /// listener). A UNIX socket cannot be put back afterwards, so it only stops
    /// being accepted from: clients wait in its backlog, as with HAProxy.
    pub(crate) fn pause(&self) {
        if let Listener::Tcp(l) = self {
            // SAFETY: plain syscall on a descriptor `l` owns; a failure only
            // means the socket keeps its backlog while paused.
            unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RD) };
        }
    }

    /// Undoes [`Listener::pause`]: `listen()` hashes a TCP listener again.
    pub(crate) fn resume(&self) {
        if let Listener::Tcp(l) = self {
            // SAFETY: plain syscall on a descriptor `l` owns.
            if unsafe { libc::listen(l.as_raw_fd(), RESUME_BACKLOG) } != 0 {
                tracing::warn!("cannot resume listener: {}", io::Error::last_os_error());
            }
        }
    }
}

impl Live {
    /// The next client and its address.
    pub(crate) async fn accept(&self) -> io::Result<(tokio::net::TcpStream, SocketAddr)> {
        match self {
            Live::Tcp(l) => l.accept().await,
            Live::Unix(l, peer) => Ok((crate::unix::accept(l).await?, *peer)),
        }
    }

    pub(crate) fn into_std(self) -> io::Result<Listener> {
        Ok(match self {
            Live::Tcp(l) => Listener::Tcp(l.into_std()?),
            Live::Unix(l, peer) => Listener::Unix(l.into_std()?, peer),
        })
    }
}

/// Binds `count` sockets for `bind` number `luid` (1-based) of a frontend.
pub(crate) fn bind_all(
    frontend: &str,
    bind: &Bind,
    luid: usize,
    fe_maxconn: Option<usize>,
    count: usize,
) -> Result<Vec<Listener>, EngineError> {
    let BindAddr::Unix(addr) = &bind.addr else {
        return Ok(bind_tcp(frontend, bind, fe_maxconn, count)?
            .into_iter()
            .map(Listener::Tcp)
            .collect());
    };
    let err = |source| EngineError::Bind {
        frontend: frontend.into(),
        addr: addr.to_string(),
        source,
    };
    // One socket shared by the threads: the kernel has no SO_REUSEPORT for UNIX.
    let l = crate::unix::bind(addr, bind.unix_perms, backlog(bind, fe_maxconn)).map_err(err)?;
    let peer = crate::unix::client_addr(luid);
    let mut out = Vec::with_capacity(count);
    for _ in 1..count.max(1) {
        out.push(Listener::Unix(l.try_clone().map_err(err)?, peer));
    }
    out.push(Listener::Unix(l, peer));
    Ok(out)
}

pub(crate) fn backlog(bind: &Bind, fe_maxconn: Option<usize>) -> u32 {
    bind.backlog
        .or_else(|| fe_maxconn.and_then(|m| u32::try_from(m).ok()))
        .unwrap_or(DEFAULT_BACKLOG)
}

/// Binds `count` TCP sockets for one `bind` line. With port 0 the first socket picks
/// the port and the others join it.
fn bind_tcp(
    frontend: &str,
    bind: &Bind,
    fe_maxconn: Option<usize>,
    count: usize,
) -> Result<Vec<TcpListener>, EngineError> {
    match &bind.addr {
        BindAddr::Fd(fd) => inherited(frontend, *fd, count),
        BindAddr::Unix(_) => Ok(Vec::new()),
        BindAddr::Socket(addr) => {
            let backlog = backlog(bind, fe_maxconn);
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
