//! `mode tcp`: connect to a server as soon as the client is accepted (so
//! server-speaks-first protocols work), then forward both ways.

use crate::buf::Buf;
use crate::connect::{ClientAddrs, ConnectError};
use crate::log::{LogSink, TxnLog};
use crate::runtime::{Bind, Frontend, Runtime};
use crate::select::{NoServer, TcpKey};
use crate::tunnel::{self, TunnelTimeouts};
use fulcrum_observe::log::TermState;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

pub(crate) async fn serve(
    rt: &Runtime,
    fe: &Frontend,
    bind: &Bind,
    mut client: TcpStream,
    peer: SocketAddr,
    sink: Option<Arc<dyn LogSink>>,
) -> io::Result<()> {
    let mut log = sink.map(|k| {
        TxnLog::new(
            k,
            rt,
            fe,
            std::time::Instant::now(),
            std::time::SystemTime::now(),
        )
    });
    let mut cbuf = Buf::take(rt.tune.bufsize);
    let mut addrs = ClientAddrs {
        src: peer,
        dst: crate::unix::local_of(&client, &peer, bind)?,
    };
    // Tracking counters live as long as the connection.
    let mut track = crate::persist::TcpTrack::new(rt);
    let mut fx = crate::tcp_rules::TcpFx::default();
    let t = track.as_deref_mut();
    let Some(vars) = crate::tcp_rules::connection_rules(fe, &mut addrs, t, &mut fx) else {
        // Rejected on accept: reset, as HAProxy does, and log nothing.
        let _ = socket2::SockRef::from(&client).set_linger(Some(std::time::Duration::ZERO));
        return Ok(());
    };
    if bind.accept_proxy {
        let got = read_proxy_header(&mut client, &mut cbuf, fe).await;
        if let Err(e) = &got {
            let l = log.as_mut();
            crate::log::handshake_failed(l, addrs.src, addrs.dst, e, cbuf.readable());
        }
        if let Some((s, d)) = got? {
            addrs = ClientAddrs { src: s, dst: d };
        }
    }
    let bi = match crate::tcp_rules::decide(
        rt,
        fe,
        &mut client,
        &mut cbuf,
        &mut addrs,
        track.as_deref_mut(),
        &mut fx,
        vars,
    )
    .await
    {
        crate::tcp_rules::TcpDecision::Forward(bi) => bi,
        crate::tcp_rules::TcpDecision::Close => return Ok(()),
    };
    if let Some(l) = log.as_mut() {
        fx.hand_to(l);
    }
    if let Some(t) = &track {
        t.accepted();
    }
    let be = &rt.backends[bi];
    // The bytes inspected by `tcp-request content` rules (`balance rdp-cookie`).
    let ctx = crate::select::HashCtx {
        fe: &fe.name,
        be: &be.name,
        src: addrs.src,
        dst: addrs.dst,
    };
    let key = TcpKey::new(&be.lb, ctx, cbuf.readable());
    let conn = crate::persist::connect_tcp(be, addrs, &key, cbuf.readable()).await;
    if let Some(l) = log.as_mut() {
        l.set_addrs(addrs.src, addrs.dst);
        l.backend = Some(bi);
        match &conn {
            Ok(c) => {
                l.server = c.lease.as_ref().map(|l| l.server);
                l.tried(c.tried);
            }
            Err(ConnectError::Failed(_, t)) => l.tried(*t),
            Err(ConnectError::NoServer(_)) => {}
        }
        l.connected = Some(std::time::Instant::now());
    }
    let mut conn = match conn {
        Ok(c) => {
            crate::sessions::set_server(bi, c.lease.as_ref().map(|l| l.server));
            c
        }
        Err(e) => {
            if let Some(l) = log.as_mut() {
                l.connected = None;
                l.term = match e {
                    ConnectError::NoServer(NoServer::QueueTimeout) => TermState::QUEUE_TIMEOUT,
                    _ => TermState::SERVER_CONNECT,
                };
                l.emit(rt, fe, addrs.src, addrs.dst);
            }
            return match e {
                ConnectError::Failed(e, _) => Err(e),
                ConnectError::NoServer(_) => Ok(()),
            };
        }
    };
    // `option logasap`: the line goes out once the server is connected.
    if let Some(l) = log.as_mut().filter(|_| crate::log::logasap(fe)) {
        l.emit_asap(rt, fe, addrs.src, addrs.dst);
    }
    let mut sbuf = Buf::take(rt.tune.bufsize);
    let t = TunnelTimeouts {
        idle: be
            .timeouts
            .tunnel
            .or(min_opt(fe.timeouts.client, be.timeouts.server)),
        client_fin: fe.timeouts.client_fin,
        server_fin: be.timeouts.server_fin,
        splice_request: fe.tcp.splice_request || be.tcp.splice_request,
        splice_response: fe.tcp.splice_response || be.tcp.splice_response,
        server_down: conn
            .lease
            .as_ref()
            .map(|l| &be.servers[l.server])
            .filter(|s| s.shutdown_on_down)
            .map(|s| s.state.clone()),
        client_independent: fe.tcp.independent_streams,
        server_independent: be.tcp.independent_streams,
    };
    let moved = std::cell::Cell::new(tunnel::Moved::default());
    // Bytes moved while `tcp-response content` rules inspected the server's data.
    let mut pre = tunnel::Moved::default();
    let inspected = if crate::tcp_response::wanted(be) {
        let cx = crate::tcp_response::RespCtx {
            fe,
            be,
            server: conn
                .lease
                .as_ref()
                .and_then(|l| crate::tcp_rules::server_ident(be, l.server)),
            addrs,
            idle: t.idle,
        };
        let (c, s) = (&mut client, &mut conn.stream);
        let r = crate::tcp_response::inspect(&cx, c, &mut cbuf, s, &mut sbuf, &mut fx, &mut pre);
        let r = Box::pin(r).await;
        if let Some(l) = log.as_mut() {
            fx.hand_to(l);
        }
        r
    } else {
        Ok(crate::tcp_response::Inspected::Pass)
    };
    let end = match inspected {
        Ok(crate::tcp_response::Inspected::Pass) => {
            let (c, s) = (&mut client, &mut conn.stream);
            tunnel::run(c, &mut cbuf, s, &mut sbuf, t, &moved).await
        }
        Ok(crate::tcp_response::Inspected::Closed) => Ok(tunnel::TunnelEnd::Closed),
        Ok(crate::tcp_response::Inspected::Timeout) => Ok(tunnel::TunnelEnd::Timeout),
        Err(e) => Err(e),
    };
    let (up, down) = (moved.get().up + pre.up, moved.get().down + pre.down);
    if let Some(t) = &track {
        t.on_bytes(up, down);
    }
    if let Some(l) = log.as_mut() {
        l.bytes_uploaded = up;
        l.bytes_read = down;
        l.term = match &end {
            Ok(tunnel::TunnelEnd::Closed) => TermState::NORMAL,
            Ok(tunnel::TunnelEnd::Timeout) => TermState::CLIENT_TIMEOUT_DATA,
            Ok(tunnel::TunnelEnd::ServerDown) => TermState::new(
                fulcrum_observe::log::TermCause::Down,
                fulcrum_observe::log::TermPhase::Data,
            ),
            Err(_) => TermState::CLIENT_ABORT_DATA,
        };
        drop(conn.lease.take());
        l.emit(rt, fe, addrs.src, addrs.dst);
    }
    let end = end?;
    if end == tunnel::TunnelEnd::Timeout && (fe.tcp.nolinger || be.tcp.nolinger) {
        // An RST instead of a FIN, as HAProxy's `option nolinger` does.
        let _ = socket2::SockRef::from(&client).set_linger(Some(std::time::Duration::ZERO));
    }
    Ok(())
}

pub(crate) fn min_opt(
    a: Option<std::time::Duration>,
    b: Option<std::time::Duration>,
) -> Option<std::time::Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Reads a PROXY header (`accept-proxy`) within `timeout client`; a bad header
/// closes the connection, as HAProxy does.
pub(crate) async fn read_proxy_header(
    client: &mut TcpStream,
    buf: &mut Buf,
    fe: &Frontend,
) -> io::Result<crate::proxy_proto::Addrs> {
    let fut = async {
        loop {
            match crate::proxy_proto::parse(buf.readable()) {
                Ok(Some((len, addrs))) => {
                    buf.consume(len);
                    return Ok(addrs);
                }
                Ok(None) => {
                    if buf.fill_from(client).await? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "EOF in PROXY header",
                        ));
                    }
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
        }
    };
    match fe.timeouts.client {
        Some(t) => tokio::time::timeout(t, fut).await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "PROXY header timeout",
            ))
        }),
        None => fut.await,
    }
}
