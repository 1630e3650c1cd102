//! The runtime API: one listener per `global stats socket` (unix path or
//! `ipv4@`/`ip:port`), served on the `fulcrum-admin` thread, never on the
//! workers. Each connection is an [`fulcrum_observe::api::CliSession`]: one
//! line then close, unless `prompt` keeps it open.

mod api;
pub(crate) mod dynsrv;
pub(crate) mod health_log;
mod sess;
mod sess_dump;
mod tables;

use crate::health_link::Core;
use crate::EngineError;
use fulcrum_config::model::addr::{Address, Host, Ports};
use fulcrum_config::model::{Bind, Global};
use fulcrum_observe::api::{AccessLevel, CliSession};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::watch;

/// Longest command line accepted; longer lines close the connection.
const MAX_LINE: u64 = 64 * 1024;

enum Socket {
    Unix(std::os::unix::net::UnixListener, PathBuf),
    Tcp(std::net::TcpListener),
}

/// The running runtime API listeners.
pub(crate) struct AdminServer {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    /// Socket files with their inode: a file a newer process bound since is not ours.
    paths: Vec<(PathBuf, u64)>,
    pub tcp_addrs: Vec<SocketAddr>,
}

fn level(b: &Bind) -> AccessLevel {
    match b.level.as_deref() {
        Some("user") => AccessLevel::User,
        Some("admin") => AccessLevel::Admin,
        // HAProxy's default for `stats socket`.
        _ => AccessLevel::Operator,
    }
}

fn bind_one(b: &Bind, a: &Address) -> Result<Socket, EngineError> {
    let fail =
        |what: &str, e: std::io::Error| EngineError::Config(format!("stats socket {what}: {e}"));
    match a {
        Address::Unix(path) => {
            // A socket file left by a previous run would make bind fail.
            if std::fs::symlink_metadata(path).is_ok_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket()
            }) {
                let _ = std::fs::remove_file(path);
            }
            let shown = path.display().to_string();
            let l = std::os::unix::net::UnixListener::bind(path).map_err(|e| fail(&shown, e))?;
            if let Some(mode) = b.mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| fail(&shown, e))?;
            }
            l.set_nonblocking(true).map_err(|e| fail(&shown, e))?;
            Ok(Socket::Unix(l, path.clone()))
        }
        Address::Inet { host, ports, .. } => {
            let ip = match host {
                Host::Ip(ip) => *ip,
                Host::Wildcard => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Host::Name(n) => {
                    return Err(EngineError::Config(format!(
                        "stats socket: host names are not supported ('{n}')"
                    )))
                }
            };
            let port = match ports {
                Ports::One(p) => *p,
                _ => {
                    return Err(EngineError::Config(
                        "stats socket: one port expected".into(),
                    ))
                }
            };
            let addr = SocketAddr::new(ip, port);
            let shown = addr.to_string();
            let l = std::net::TcpListener::bind(addr).map_err(|e| fail(&shown, e))?;
            l.set_nonblocking(true).map_err(|e| fail(&shown, e))?;
            Ok(Socket::Tcp(l))
        }
        other => Err(EngineError::Config(format!(
            "stats socket: address {other:?} is not supported yet"
        ))),
    }
}

impl AdminServer {
    /// Binds every `stats socket` now (errors reach the caller), then serves
    /// them on a thread of their own. `None` without any socket.
    pub(crate) fn start(g: &Global, core: Arc<Core>) -> Result<Option<AdminServer>, EngineError> {
        let mut socks = Vec::new();
        for b in &g.stats_sockets {
            for a in &b.addresses {
                // `_getsocks` (seamless reloads) only where the line allows it.
                let expose = b.expose_fd_listeners && level(b) == AccessLevel::Admin;
                socks.push((bind_one(b, a)?, level(b), expose));
            }
        }
        if socks.is_empty() {
            return Ok(None);
        }
        let paths = socks
            .iter()
            .filter_map(|(s, ..)| match s {
                Socket::Unix(_, p) => Some((p.clone(), inode(p)?)),
                Socket::Tcp(_) => None,
            })
            .collect();
        let tcp_addrs = socks
            .iter()
            .filter_map(|(s, ..)| match s {
                Socket::Tcp(l) => l.local_addr().ok(),
                Socket::Unix(..) => None,
            })
            .collect();
        let idle = g.stats_timeout.unwrap_or(Duration::from_secs(10));
        // HAProxy's default `stats maxconn`.
        let max = g.stats_maxconn.map_or(10, |m| m as usize).max(1);
        let (stop, rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("fulcrum-admin".into())
            .spawn(move || serve_all(socks, core, idle, max, rx))
            .map_err(|source| EngineError::Thread { thread: 0, source })?;
        Ok(Some(AdminServer {
            stop,
            thread: Some(thread),
            paths,
            tcp_addrs,
        }))
    }

    /// Closes the listeners, waits for the thread and removes socket files.
    pub(crate) fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for (p, ino) in &self.paths {
            if inode(p) == Some(*ino) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

fn inode(p: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).ok().map(|m| m.ino())
}

fn serve_all(
    socks: Vec<(Socket, AccessLevel, bool)>,
    core: Arc<Core>,
    idle: Duration,
    max: usize,
    stop: watch::Receiver<bool>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the stats socket thread: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        for (i, (s, lvl, expose)) in socks.into_iter().enumerate() {
            let ctx = Ctx {
                luid: i + 1,
                lvl,
                expose,
                core: core.clone(),
                idle,
                max,
                active: Rc::default(),
            };
            let stop = stop.clone();
            match s {
                Socket::Unix(l, _) => match tokio::net::UnixListener::from_std(l) {
                    Ok(l) => {
                        tokio::task::spawn_local(accept_unix(l, ctx, stop));
                    }
                    Err(e) => tracing::error!("stats socket: {e}"),
                },
                Socket::Tcp(l) => match tokio::net::TcpListener::from_std(l) {
                    Ok(l) => {
                        tokio::task::spawn_local(accept_tcp(l, ctx, stop));
                    }
                    Err(e) => tracing::error!("stats socket: {e}"),
                },
            }
        }
        let mut stop = stop;
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    });
}

/// What every connection of one listener shares.
#[derive(Clone)]
struct Ctx {
    /// HAProxy's number of this listener in its `GLOBAL` frontend (`show sess`).
    luid: usize,
    lvl: AccessLevel,
    /// `expose-fd listeners` with `level admin`: `_getsocks` is answered.
    expose: bool,
    core: Arc<Core>,
    idle: Duration,
    /// `stats maxconn`: connections beyond it are closed at once.
    max: usize,
    active: Rc<Cell<usize>>,
}

impl Ctx {
    /// `fds`: the connection's descriptor when it may receive listening sockets;
    /// `peer`: the client of a TCP listener. The connection is a session of
    /// HAProxy's `GLOBAL` frontend: `show sess` lists it, `shutdown session`
    /// ends it.
    fn spawn<S: AsyncRead + AsyncWrite + Unpin + 'static>(
        &self,
        s: S,
        fd: RawFd,
        fds: Option<RawFd>,
        peer: Option<std::net::SocketAddr>,
    ) {
        if self.active.get() >= self.max {
            return; // dropping `s` closes it
        }
        self.active.set(self.active.get() + 1);
        let ctx = self.clone();
        tokio::task::spawn_local(async move {
            let src = peer.unwrap_or_else(|| crate::unix::client_addr(ctx.luid));
            let reg = ctx.core.sessions.register(crate::sessions::CLI, src);
            reg.entry.set_conn(ctx.luid - 1, fd);
            let (core, lvl, idle) = (ctx.core.clone(), ctx.lvl, ctx.idle);
            let cli = Box::pin(async move {
                session(s, lvl, core, idle, fds).await;
                Ok(())
            });
            let _ = crate::sessions::run(reg.entry.clone(), cli).await;
            drop(reg);
            ctx.active.set(ctx.active.get().saturating_sub(1));
        });
    }
}

async fn accept_unix(l: tokio::net::UnixListener, ctx: Ctx, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            r = l.accept() => match r {
                Ok((s, _)) => {
                    let fd = s.as_raw_fd();
                    ctx.spawn(s, fd, ctx.expose.then_some(fd), None)
                }
                Err(e) => {
                    tracing::warn!("stats socket accept: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

async fn accept_tcp(l: tokio::net::TcpListener, ctx: Ctx, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            r = l.accept() => match r {
                Ok((s, peer)) => {
                    let fd = s.as_raw_fd();
                    ctx.spawn(s, fd, None, Some(peer))
                }
                Err(e) => {
                    tracing::warn!("stats socket accept: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// `show events NAME -w`: the ring's new lines as they come, until the client sends
/// anything or closes its side (HAProxy's "any key to stop"). `false` when the
/// connection is to be closed now (a key, or an error).
async fn follow_events<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut f: fulcrum_observe::api::Follow,
    rd: &mut R,
    wr: &mut W,
) -> bool {
    let mut key = [0u8; 64];
    loop {
        tokio::select! {
            r = rd.read(&mut key) => return matches!(r, Ok(0)),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                let text = f.take_new();
                if !text.is_empty()
                    && (wr.write_all(text.as_bytes()).await.is_err() || wr.flush().await.is_err())
                {
                    return false;
                }
            }
        }
    }
}

/// One connection: lines in, answers out, until a non-interactive answer,
/// `quit`, EOF, or `stats timeout` of silence.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: S,
    lvl: AccessLevel,
    core: Arc<Core>,
    idle: Duration,
    fds: Option<RawFd>,
) {
    let (rd, mut wr) = tokio::io::split(s);
    let mut rd = BufReader::new(rd);
    let mut cli = CliSession::new(lvl);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut rd).take(MAX_LINE);
        let wait = cli.timeout.unwrap_or(idle);
        let n = match tokio::time::timeout(wait, limited.read_until(b'\n', &mut line)).await {
            Ok(Ok(n)) => n,
            _ => return,
        };
        if n == 0 || !line.ends_with(b"\n") && n as u64 >= MAX_LINE {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let mut words = text.split_whitespace();
        if words.next() == Some("_getsocks") {
            // `fd` is this connection, open while `rd`/`wr` live; nothing is buffered
            // for writing, so the answer's bytes and sockets go out in order. Without
            // `expose-fd listeners` the connection closes without a word, as HAProxy's.
            // `_getsocks all`: the peer is Fulcrum, keeping every socket.
            if let Some(fd) = fds {
                let all = words.next() == Some("all");
                if let Err(e) = crate::handover::answer(fd, &core.handover, all) {
                    tracing::warn!("_getsocks: {e}");
                }
            }
            return;
        }
        let (out, mut keep) = cli.handle_line(core.as_ref(), text);
        if wr.write_all(out.as_bytes()).await.is_err() || wr.flush().await.is_err() {
            return;
        }
        if let Some(f) = cli.follow.take() {
            // A key ends the command and the connection; the client's end of
            // input ends the command with its empty line, as HAProxy does.
            if !follow_events(f, &mut rd, &mut wr).await {
                return;
            }
            keep = cli.interactive;
            let end: &[u8] = if keep { b"\n> " } else { b"\n" };
            if wr.write_all(end).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
        if !keep {
            let _ = wr.shutdown().await;
            return;
        }
    }
}
