//! Two-way forwarding for `mode tcp` and upgraded HTTP connections. Each
//! direction stops at its reader's end of stream and half-closes the other
//! side (so `shutdown(SHUT_WR)` reaches the peer); the session ends when both
//! directions are done, or after an inactivity timeout.
//!
//! Inactivity is measured per side, as HAProxy's read timeouts: a side is
//! active when it is read from, and when it is written to unless `option
//! independent-streams` applies to it (frontend: the client side, backend:
//! the server side); the tunnel times out when either side idles too long.

use crate::buf::Buf;
use std::cell::Cell;
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Inactivity limits of a tunnel, in HAProxy's terms.
#[derive(Clone, Debug, Default)]
pub(crate) struct TunnelTimeouts {
    /// `timeout tunnel`, else the smaller of client/server.
    pub idle: Option<Duration>,
    /// Once the client has closed its side (`timeout client-fin`).
    pub client_fin: Option<Duration>,
    /// Once the server has closed its side (`timeout server-fin`).
    pub server_fin: Option<Duration>,
    pub splice_request: bool,
    pub splice_response: bool,
    /// `on-marked-down shutdown-sessions`: end the tunnel when this server goes down.
    pub server_down: Option<std::sync::Arc<crate::select::ServerState>>,
    /// `option independent-streams` on the frontend: writes to the client do
    /// not count as client-side activity.
    pub client_independent: bool,
    /// `option independent-streams` on the backend: writes to the server do
    /// not count as server-side activity.
    pub server_independent: bool,
}

/// What one direction refreshes: its reading side on reads, its writing
/// side on writes (unless that side has `independent-streams`).
pub(crate) struct Activity<'a> {
    read: &'a Cell<Instant>,
    write: Option<&'a Cell<Instant>>,
}

impl Activity<'_> {
    pub(crate) fn read(&self) {
        self.read.set(Instant::now());
    }
    pub(crate) fn wrote(&self) {
        if let Some(w) = self.write {
            w.set(Instant::now());
        }
    }
}

/// How a tunnel ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum TunnelEnd {
    Closed,
    Timeout,
    /// The server was marked down (`on-marked-down shutdown-sessions`).
    ServerDown,
}

/// Bytes moved each way, for logs.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Moved {
    pub up: u64,
    pub down: u64,
}

/// Forwards `client` ⇄ `server` until both directions end. Bytes already read
/// into `cbuf`/`sbuf` are sent first.
pub(crate) async fn run(
    client: &mut TcpStream,
    cbuf: &mut Buf,
    server: &mut TcpStream,
    sbuf: &mut Buf,
    t: TunnelTimeouts,
    moved: &Cell<Moved>,
) -> io::Result<TunnelEnd> {
    let client_side = Cell::new(Instant::now());
    let server_side = Cell::new(Instant::now());
    let up_act = Activity {
        read: &client_side,
        write: (!t.server_independent).then_some(&server_side),
    };
    let down_act = Activity {
        read: &server_side,
        write: (!t.client_independent).then_some(&client_side),
    };
    let client_done = Cell::new(false);
    let server_done = Cell::new(false);
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = async {
        let r = if t.splice_request && cbuf.is_empty() {
            crate::splice::pump(&mut cr, &mut sw, &up_act).await
        } else {
            pump(&mut cr, &mut sw, cbuf, &up_act).await
        };
        if let Ok(n) = r {
            moved.set(Moved {
                up: n,
                ..moved.get()
            });
        }
        client_done.set(true);
        r
    };
    let down = async {
        let r = if t.splice_response && sbuf.is_empty() {
            crate::splice::pump(&mut sr, &mut cw, &down_act).await
        } else {
            pump(&mut sr, &mut cw, sbuf, &down_act).await
        };
        if let Ok(n) = r {
            moved.set(Moved {
                down: n,
                ..moved.get()
            });
        }
        server_done.set(true);
        r
    };
    let watchdog = async {
        loop {
            let limit = if client_done.get() {
                t.client_fin.or(t.idle)
            } else if server_done.get() {
                t.server_fin.or(t.idle)
            } else {
                t.idle
            };
            // A watched server is checked at least every second.
            let watch = t
                .server_down
                .as_ref()
                .map(|_| Instant::now() + Duration::from_secs(1));
            // A side whose reading ended (it closed) no longer idles.
            let since = match (client_done.get(), server_done.get()) {
                (true, false) => server_side.get(),
                (false, true) => client_side.get(),
                _ => client_side.get().min(server_side.get()),
            };
            let deadline = limit.map(|l| since + l);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return TunnelEnd::Timeout;
            }
            match (deadline, watch) {
                (None, None) => std::future::pending::<()>().await,
                (Some(d), None) => tokio::time::sleep_until(d).await,
                (None, Some(w)) => tokio::time::sleep_until(w).await,
                (Some(d), Some(w)) => tokio::time::sleep_until(d.min(w)).await,
            }
            if t.server_down.as_ref().is_some_and(|s| !s.is_up()) {
                return TunnelEnd::ServerDown;
            }
        }
    };
    tokio::select! {
        (a, b) = async { tokio::join!(up, down) } => {
            a?;
            b?;
            Ok(TunnelEnd::Closed)
        }
        end = watchdog => Ok(end),
    }
}

/// Tunnel buffers, held only while data flows. 16 KiB, as HAProxy's
/// `tune.bufsize`: measured through a `mode tcp` listen on loopback, 64 KiB
/// reads cost 20–40 % more kernel time per GB than 16 KiB ones (more cache
/// misses between the two copies, more softirq work per call), though they
/// make four times fewer system calls; 8 KiB costs more again.
const TUNNEL_BUF: usize = 16 * 1024;

/// Copies `r` to `w` until end of stream, then half-closes `w`; returns the
/// bytes copied. Bytes already in `first` go out first.
async fn pump(
    r: &mut ReadHalf<'_>,
    w: &mut WriteHalf<'_>,
    first: &mut Buf,
    activity: &Activity<'_>,
) -> io::Result<u64> {
    let mut total = 0u64;
    if !first.is_empty() {
        w.write_all(first.readable()).await?;
        total += first.len() as u64;
        first.consume(first.len());
        activity.wrote();
    }
    first.release();
    let mut buf = Buf::lazy(TUNNEL_BUF);
    loop {
        // An idle direction holds no buffer: it is taken for one non-blocking
        // read and given back when there was nothing (stale readiness).
        r.readable().await?;
        let n = match buf.try_fill(|b| r.try_read(b)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            n => n?,
        };
        if n == 0 {
            // Half-close: the peer sees our FIN but may keep sending.
            let _ = w.shutdown().await;
            return Ok(total);
        }
        activity.read();
        w.write_all(buf.readable()).await?;
        total += n as u64;
        buf.consume(n);
        activity.wrote();
    }
}
