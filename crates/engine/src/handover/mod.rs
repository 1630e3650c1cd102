//! Seamless reloads: `stats socket … level admin expose-fd listeners` in the old
//! process and `-x <socket> -sf <pid>` in the new one. The old process passes its
//! listening sockets over the stats socket (SCM_RIGHTS); the new one accepts on
//! those very sockets instead of binding beside them, so the clients waiting in
//! their backlogs are not reset when the old process lets go.
//!
//! The exchange is HAProxy's own `_getsocks` ([`wire`]), so the old or the new
//! process may as well be HAProxy: `fulcrum -x` takes a running HAProxy's sockets
//! and `haproxy -x` takes Fulcrum's. A bind served by several worker threads has
//! one socket per thread, all sent. The new process matches each socket to a
//! `bind` as HAProxy does ([`ident`]); the sockets no bind claims are closed.

mod ident;
mod steer;
mod wire;

use crate::error::EngineError;
use crate::listener::Listener;
use crate::runtime::{Bind, BindAddr};
use ident::Offer;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long either side waits for the other.
const PATIENCE: Duration = Duration::from_secs(5);

fn raw(l: &Listener) -> io::Result<OwnedFd> {
    match l {
        Listener::Tcp(t) => t.as_fd().try_clone_to_owned(),
        Listener::Unix(u, _) => u.as_fd().try_clone_to_owned(),
    }
}

/// One socket this process may hand over.
struct Kept {
    frontend: usize,
    /// The bind it serves, numbered in this process.
    bind: usize,
    /// The interface it was bound to, sent along as HAProxy does.
    interface: Option<String>,
    tcp: bool,
    fd: OwnedFd,
}

/// This process's listening sockets, for `_getsocks`: duplicates kept until the
/// process stops listening, so that a stopping process never hands over a socket
/// (and a socket that nobody took is closed with the others).
#[derive(Default)]
pub(crate) struct Exposed {
    kept: Mutex<Option<Vec<Kept>>>,
    binds: AtomicUsize,
    /// New connections were steered away from some sockets (see [`steer`]).
    steered: AtomicBool,
}

impl Exposed {
    pub(crate) fn new() -> Exposed {
        Exposed {
            kept: Mutex::new(Some(Vec::new())),
            binds: AtomicUsize::new(0),
            steered: AtomicBool::new(false),
        }
    }

    /// Keeps duplicates of frontend `fi`'s sockets for `bind`, each socket once
    /// (threads may share one), in order. Not `fd@` ones: they belong to
    /// whoever passed them, as in HAProxy.
    pub(crate) fn record(&self, fi: usize, bind: &Bind, socks: &[Listener]) {
        if let BindAddr::Fd(_) = bind.addr {
            return;
        }
        let b = self.binds.fetch_add(1, Ordering::Relaxed);
        let Ok(mut g) = self.kept.lock() else { return };
        let Some(list) = g.as_mut() else { return };
        let mut seen = Vec::new();
        for s in socks {
            let fd = match raw(s) {
                Ok(fd) => fd,
                Err(e) => {
                    tracing::warn!("cannot keep a listening socket for a reload: {e}");
                    continue;
                }
            };
            if let Some(id) = identity(&fd) {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
            }
            list.push(Kept {
                frontend: fi,
                bind: b,
                interface: bind.interface.clone(),
                tcp: matches!(s, Listener::Tcp(_)),
                fd,
            });
        }
    }

    /// Closes frontend `fi`'s duplicates (`shutdown frontend`): its sockets must
    /// really close, and no later process may take them.
    pub(crate) fn forget(&self, fi: usize) {
        if let Ok(mut g) = self.kept.lock() {
            if let Some(list) = g.as_mut() {
                list.retain(|k| k.frontend != fi);
            }
        }
    }

    /// Closes the duplicates: this process no longer listens (SIGUSR1, stop).
    pub(crate) fn close(&self) {
        if let Ok(mut g) = self.kept.lock() {
            g.take();
        }
    }

    /// Duplicates of the sockets, in order.
    fn snapshot(&self) -> io::Result<Vec<Kept>> {
        let g = self
            .kept
            .lock()
            .map_err(|_| io::Error::other("listener list poisoned"))?;
        let Some(list) = g.as_ref() else {
            return Ok(Vec::new());
        };
        list.iter()
            .map(|k| {
                Ok(Kept {
                    interface: k.interface.clone(),
                    fd: k.fd.try_clone()?,
                    ..*k
                })
            })
            .collect()
    }
}

/// What makes a socket itself (its duplicates share it): device and inode.
fn identity(fd: &OwnedFd) -> Option<(u64, u64)> {
    // SAFETY: fstat fills a stat we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open for the call; `st` is writable.
    (unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

/// Answers `_getsocks` on the stats socket connection `out` (blocking for at
/// most [`PATIENCE`] per step on a peer that does not keep up). A process with
/// nothing to hand over closes without a word, as HAProxy does. `takes_all`:
/// the peer keeps every socket (Fulcrum); otherwise it keeps one per bind
/// (HAProxy) and new connections are steered to that one first ([`steer`]).
pub(crate) fn answer(out: RawFd, exposed: &Exposed, takes_all: bool) -> io::Result<()> {
    let socks = exposed.snapshot()?;
    if !takes_all {
        steer_to_last(exposed, &socks);
    }
    let list: Vec<(Option<String>, RawFd)> = socks
        .iter()
        .map(|k| (k.interface.clone(), k.fd.as_raw_fd()))
        .collect();
    wire::send_socks(out, &list, PATIENCE)
}

/// Sends every new connection of each bind with several TCP sockets to the last
/// one, the one a receiver keeping a single socket per bind takes.
fn steer_to_last(exposed: &Exposed, socks: &[Kept]) {
    for group in socks.chunk_by(|a, b| a.bind == b.bind) {
        if group.len() < 2 || !group[0].tcp {
            continue;
        }
        let index = u32::try_from(group.len() - 1).unwrap_or(u32::MAX);
        match steer::to_index(group[0].fd.as_raw_fd(), index) {
            Ok(()) => {
                exposed.steered.store(true, Ordering::Relaxed);
                tracing::info!(
                    "listening sockets handed to a process that keeps one per bind: \
                     new connections go to the one it takes"
                );
            }
            Err(e) => tracing::warn!(
                "cannot steer new connections to the socket the new process takes \
                 ({e}): clients queued on the others when this process stops are reset"
            ),
        }
    }
}

/// On a graceful stop after new connections were steered: the clients still
/// queued on `listener` (which this process is about to close, maybe for good),
/// accepted to be served before it goes.
pub(crate) fn drain(
    exposed: &Exposed,
    listener: crate::listener::Live,
) -> Vec<(tokio::net::TcpStream, std::net::SocketAddr)> {
    let mut out = Vec::new();
    if !exposed.steered.load(Ordering::Relaxed) {
        return out;
    }
    let Ok(Listener::Tcp(l)) = listener.into_std() else {
        return out;
    };
    // Non-blocking: stops at the first "nothing waiting".
    while let Ok((s, peer)) = l.accept() {
        let s = s.set_nonblocking(true).map(|()| s);
        match s.and_then(tokio::net::TcpStream::from_std) {
            Ok(s) => out.push((s, peer)),
            Err(e) => tracing::warn!("cannot serve a client queued at stop: {e}"),
        }
    }
    out
}

/// The sockets taken from the old process (`-x`), until binds claim them; those
/// left over are closed when this is dropped.
#[derive(Clone, Default)]
pub struct Inherited(Arc<Mutex<Vec<Offer>>>);

impl std::fmt::Debug for Inherited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Inherited({} sockets)", self.len())
    }
}

impl Inherited {
    /// Asks the stats socket at `path` (HAProxy's or Fulcrum's) for its
    /// listening sockets.
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
        s.write_all(wire::REQUEST_ALL).map_err(fail)?;
        let got = wire::recv_socks(s.as_raw_fd()).map_err(fail)?;
        let offers = got
            .into_iter()
            .filter_map(|(meta, fd)| Offer::new(meta, fd))
            .collect();
        Ok(Inherited(Arc::new(Mutex::new(offers))))
    }

    /// Sockets received and not claimed yet.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |g| g.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every socket that serves `bind`, in order.
    fn take(&self, bind: &Bind) -> Vec<OwnedFd> {
        let Ok(mut g) = self.0.lock() else {
            return Vec::new();
        };
        let (mine, rest) = std::mem::take(&mut *g)
            .into_iter()
            .partition::<Vec<_>, _>(|o| o.serves(bind));
        *g = rest;
        mine.into_iter().map(|o| o.fd).collect()
    }
}

/// The listeners of one bind: the old process's sockets for it when `-x` brought
/// some, freshly bound ones otherwise. More threads than sockets: the extra
/// threads share them; fewer: a thread accepts on several, so no socket and no
/// waiting client is left behind.
pub(crate) fn bind_all(
    inherited: Option<&Inherited>,
    frontend: &str,
    bind: &Bind,
    luid: usize,
    fe_maxconn: Option<usize>,
    count: usize,
) -> Result<Vec<Listener>, EngineError> {
    let fds = inherited.map(|h| h.take(bind)).unwrap_or_default();
    if fds.is_empty() {
        return crate::listener::bind_all(frontend, bind, luid, fe_maxconn, count);
    }
    let err = |source| EngineError::Bind {
        frontend: frontend.into(),
        addr: match &bind.addr {
            BindAddr::Socket(a) => a.to_string(),
            BindAddr::Unix(u) => u.to_string(),
            BindAddr::Fd(fd) => format!("fd@{fd}"),
        },
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
    fn sockets_cross_a_socket_pair_and_find_their_binds() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let exposed = Exposed::new();
        let l1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let l2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let binds = [
            Bind::new(l1.local_addr().unwrap()),
            Bind::new(l2.local_addr().unwrap()),
        ];
        exposed.record(0, &binds[0], &[Listener::Tcp(l1)]);
        exposed.record(1, &binds[1], &[Listener::Tcp(l2)]);
        answer(a.as_raw_fd(), &exposed, true).unwrap();
        b.set_read_timeout(Some(PATIENCE)).unwrap();
        let got = wire::recv_socks(b.as_raw_fd()).unwrap();
        let offers: Vec<Offer> = got
            .into_iter()
            .filter_map(|(m, fd)| Offer::new(m, fd))
            .collect();
        let h = Inherited(Arc::new(Mutex::new(offers)));
        assert_eq!(h.len(), 2);
        for bind in binds.iter().rev() {
            let fds = h.take(bind);
            assert_eq!(fds.len(), 1);
            let l = std::net::TcpListener::from(fds.into_iter().next().unwrap());
            let BindAddr::Socket(want) = bind.addr else {
                unreachable!()
            };
            assert_eq!(l.local_addr().unwrap(), want);
        }
        assert!(h.is_empty());
        // A stopping process hands nothing over: it closes without a word.
        exposed.close();
        answer(a.as_raw_fd(), &exposed, true).unwrap();
        drop(a);
        assert!(wire::recv_socks(b.as_raw_fd()).is_err());
    }
}
