//! Reaching a server: lease a slot (queueing under `maxconn`), connect within
//! `timeout connect`, retry `retries` times and redispatch as `option redispatch`
//! says, then send the PROXY header if the server wants one.

use crate::proxy_proto;
use crate::runtime::{Backend, ProxyVersion, Server};
use crate::select::{Lease, NoServer, SelectKey};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// Why no server connection could be made; all of them mean 503 in HTTP,
/// except a queue timeout which HAProxy also reports as 503.
#[derive(Debug)]
pub(crate) enum ConnectError {
    NoServer(NoServer),
    Failed(io::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::NoServer(NoServer::Unavailable) => f.write_str("no server available"),
            ConnectError::NoServer(NoServer::QueueTimeout) => f.write_str("queue timeout"),
            ConnectError::NoServer(NoServer::QueueFull) => f.write_str("queue full"),
            ConnectError::NoServer(NoServer::Requeued) => f.write_str("server went down"),
            ConnectError::Failed(e) => write!(f, "connect failed: {e}"),
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
            .map_err(ConnectError::Failed)?;
        return Ok(connected(stream, None, false));
    }
    // HAProxy waits for `timeout connect` in the queue when `timeout queue` is unset.
    let t_queue = be.timeouts.queue.or(t_connect);
    let mut lease = be
        .lb
        .lease(&be.servers, key, exclude, t_queue)
        .await
        .map_err(ConnectError::NoServer)?;
    let mut retry = 0u32;
    loop {
        let srv = &be.servers[lease.server];
        if let Some(stream) = reuse(lease.server, srv) {
            return Ok(connected(stream, Some(lease), true));
        }
        let dialed = dial_server(srv, t_connect, &be.tcp).await;
        crate::stats::counters::connect_result(be, lease.server, dialed.as_ref().map(|_| ()));
        match dialed {
            Ok(mut stream) => {
                if let Some(v) = srv.proxy_header() {
                    let hdr = match v {
                        ProxyVersion::V1 => proxy_proto::v1_header(client.src, client.dst),
                        ProxyVersion::V2 => proxy_proto::v2_header(client.src, client.dst),
                    };
                    stream.write_all(&hdr).await.map_err(ConnectError::Failed)?;
                }
                return Ok(connected(stream, Some(lease), false));
            }
            Err(e) => {
                retry += 1;
                if retry > be.retries || !be.retry_on.conn_failure {
                    return Err(ConnectError::Failed(e));
                }
                if should_redispatch(be, retry) {
                    let failed = lease.server;
                    drop(lease);
                    lease = be
                        .lb
                        .lease(&be.servers, key, Some(failed), t_queue)
                        .await
                        .map_err(ConnectError::NoServer)?;
                } else {
                    // HAProxy's turn-around timer: a restarting server gets a breather.
                    let pause = t_connect.unwrap_or(Duration::from_secs(1));
                    tokio::time::sleep(pause.min(Duration::from_secs(1))).await;
                }
            }
        }
    }
}

/// The connection `connect` returns; its descriptor is told to `show sess`.
fn connected(stream: TcpStream, lease: Option<Lease>, reused: bool) -> Connected {
    crate::sessions::set_server_fd(std::os::fd::AsRawFd::as_raw_fd(&stream));
    Connected {
        stream,
        lease,
        reused,
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
