//! Reaching a server: lease a slot (queueing under `maxconn`), connect within
//! `timeout connect`, retry `retries` times and redispatch as `option redispatch`
//! says, then send the PROXY header if the server wants one.

use crate::proxy_proto;
use crate::runtime::{Backend, ProxyVersion, Server};
use crate::select::{Lease, NoServer, SelectKey};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// Why no server connection could be made; all of them mean 503 in HTTP,
/// except a queue timeout which HAProxy also reports as 503.
#[derive(Debug)]
pub(crate) enum ConnectError {
    NoServer(NoServer),
    /// Every attempt failed; what they did is for the log line.
    Failed(io::Error, Tried),
}

/// What reaching a server took, for the log line: the server tried last,
/// when it was assigned (`%Tw` ends there), the retries (`%rc`) and whether
/// one went to another server (`+` before `%rc`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tried {
    pub server: Option<usize>,
    pub dequeued: Option<Instant>,
    pub retries: u32,
    pub redispatched: bool,
}

impl Tried {
    fn assigned(server: usize) -> Self {
        Tried {
            server: Some(server),
            dequeued: Some(Instant::now()),
            ..Tried::default()
        }
    }

    /// `self` went on after `before` failed (persistence, then the balancer).
    pub(crate) fn after(mut self, before: Tried) -> Self {
        self.retries += before.retries + 1;
        self.redispatched = true;
        self.dequeued = before.dequeued.or(self.dequeued);
        self
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::NoServer(NoServer::Unavailable) => f.write_str("no server available"),
            ConnectError::NoServer(NoServer::QueueTimeout) => f.write_str("queue timeout"),
            ConnectError::NoServer(NoServer::QueueFull) => f.write_str("queue full"),
            ConnectError::NoServer(NoServer::Requeued) => f.write_str("server went down"),
            ConnectError::Failed(e, _) => write!(f, "connect failed: {e}"),
        }
    }
}

/// The addresses of the client connection, for PROXY headers and source binds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddrs {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

pub(crate) struct Connected {
    pub stream: TcpStream,
    /// `None` for `dispatch`.
    pub lease: Option<Lease>,
    /// Taken from an idle pool rather than dialled.
    pub reused: bool,
    pub tried: Tried,
}

/// Offers an already open connection to the chosen server (HTTP reuse).
pub(crate) type Reuse<'a> = &'a mut dyn FnMut(usize, &Server) -> Option<TcpStream>;

/// Connects to a server of `be`, retrying and redispatching as configured.
pub(crate) async fn connect(
    be: &Backend,
    client: ClientAddrs,
    key: &dyn SelectKey,
    exclude: Option<usize>,
    reuse: Reuse<'_>,
) -> Result<Connected, ConnectError> {
    let t_connect = be.timeouts.connect;
    if be.servers.is_empty() {
        let addr = be
            .dispatch
            .ok_or(ConnectError::NoServer(NoServer::Unavailable))?;
        let stream = dial(addr, None, t_connect, &be.tcp)
            .await
            .map_err(|e| ConnectError::Failed(e, Tried::default()))?;
        return Ok(connected(stream, None, false, Tried::default()));
    }
    // HAProxy waits for `timeout connect` in the queue when `timeout queue` is unset.
    let t_queue = be.timeouts.queue.or(t_connect);
    let mut lease = be
        .lb
        .lease(&be.servers, key, exclude, t_queue)
        .await
        .map_err(ConnectError::NoServer)?;
    let mut tried = Tried::assigned(lease.server);
    loop {
        let srv = &be.servers[lease.server];
        if let Some(stream) = reuse(lease.server, srv) {
            return Ok(connected(stream, Some(lease), true, tried));
        }
        let e = match attempt(be, lease.server, client).await {
            Ok(stream) => return Ok(connected(stream, Some(lease), false, tried)),
            Err(e) => e,
        };
        if tried.retries >= be.retries || !be.retry_on.conn_failure {
            return Err(ConnectError::Failed(e, tried));
        }
        tried.retries += 1;
        if should_redispatch(be, tried.retries) {
            let failed = lease.server;
            drop(lease);
            lease = be
                .lb
                .lease(&be.servers, key, Some(failed), t_queue)
                .await
                .map_err(ConnectError::NoServer)?;
            tried.server = Some(lease.server);
            tried.redispatched = true;
        } else {
            turn_around(be).await;
        }
    }
}

/// One attempt on server `i`: dial it, then send the PROXY header it wants.
pub(crate) async fn attempt(be: &Backend, i: usize, client: ClientAddrs) -> io::Result<TcpStream> {
    let srv = be
        .servers
        .get(i)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such server"))?;
    let dialed = dial_server(srv, be.timeouts.connect, &be.tcp).await;
    crate::stats::counters::connect_result(be, i, dialed.as_ref().map(|_| ()));
    let mut stream = dialed?;
    if let Some(v) = srv.proxy_header() {
        let hdr = match v {
            ProxyVersion::V1 => proxy_proto::v1_header(client.src, client.dst),
            ProxyVersion::V2 => proxy_proto::v2_header(client.src, client.dst),
        };
        stream.write_all(&hdr).await?;
    }
    Ok(stream)
}

/// HAProxy's turn-around timer before a retry on the same server: a
/// restarting server gets a breather.
pub(crate) async fn turn_around(be: &Backend) {
    let pause = be.timeouts.connect.unwrap_or(Duration::from_secs(1));
    tokio::time::sleep(pause.min(Duration::from_secs(1))).await;
}

/// The connection `connect` returns; its descriptor is told to `show sess`.
pub(crate) fn connected(
    stream: TcpStream,
    lease: Option<Lease>,
    reused: bool,
    tried: Tried,
) -> Connected {
    crate::sessions::set_server_fd(std::os::fd::AsRawFd::as_raw_fd(&stream));
    Connected {
        stream,
        lease,
        reused,
        tried,
    }
}

/// Whether retry number `retry` (1-based) goes to another server.
fn should_redispatch(be: &Backend, retry: u32) -> bool {
    let Some(r) = be.redispatch else {
        return false;
    };
    let n = i64::from(r.0);
    let retry = i64::from(retry);
    if n > 0 {
        retry % n == 0
    } else if n < 0 {
        retry == i64::from(be.retries) + 1 + n
    } else {
        false
    }
}

/// One connect attempt to `srv`: its UNIX socket (which answers at once), else TCP.
pub(crate) async fn dial_server(
    srv: &Server,
    timeout: Option<Duration>,
    tcp: &crate::runtime::TcpOptions,
) -> io::Result<TcpStream> {
    match &srv.unix {
        Some(u) => {
            let s = crate::unix::connect(u)?;
            crate::sockopt::server_connected(&s, tcp);
            Ok(s)
        }
        None => dial(srv.addr(), srv.source_addr(), timeout, tcp).await,
    }
}

/// One TCP connect attempt, bounded by `timeout connect`, with the backend's
/// socket options (`tcp`).
pub(crate) async fn dial(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    timeout: Option<Duration>,
    tcp: &crate::runtime::TcpOptions,
) -> io::Result<TcpStream> {
    let fut = async {
        let stream = if source.is_none() && !tcp.smart_connect {
            TcpStream::connect(addr).await?
        } else {
            let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            s.set_nonblocking(true)?;
            if let Some(src) = source {
                s.set_reuse_address(true)?;
                s.bind(&src.into())?;
            }
            crate::sockopt::before_connect(&s, tcp);
            let std: std::net::TcpStream = s.into();
            TcpSocket::from_std_stream(std).connect(addr).await?
        };
        stream.set_nodelay(true)?;
        crate::sockopt::server_connected(&stream, tcp);
        Ok(stream)
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))),
        None => fut.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Mode, Redispatch};

    #[test]
    fn redispatch_counts_like_haproxy() {
        let mut be = Backend::new("b", Mode::Tcp, vec![]).unwrap();
        be.retries = 3;
        assert!(!should_redispatch(&be, 1));
        be.redispatch = Some(Redispatch(-1));
        assert_eq!(
            (1..=3)
                .map(|r| should_redispatch(&be, r))
                .collect::<Vec<_>>(),
            [false, false, true]
        );
        be.redispatch = Some(Redispatch(1));
        assert!((1..=3).all(|r| should_redispatch(&be, r)));
        be.redispatch = Some(Redispatch(2));
        assert_eq!(
            (1..=3)
                .map(|r| should_redispatch(&be, r))
                .collect::<Vec<_>>(),
            [false, true, false]
        );
    }
}
