//! One HTTP transaction: request head rewrite → server connection (reused or
//! dialled) → request body and response streamed concurrently (so
//! `100-continue` and early answers work) → keep-alive, tunnel or close.

use super::body::{self, BodyError, BodyReader};
use super::head::{self, Framing, Head};
use super::pool;
use super::session::{Session, SrvConn};
use crate::buf::Buf;
use crate::connect::{self, ConnectError};
use crate::runtime::{ConnMode, HttpReuse, Server};
use crate::tcp::min_opt;
use crate::tunnel::{self, TunnelTimeouts};
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

pub(crate) enum Next {
    KeepAlive,
    Close,
    /// Send this status and close.
    Error(u16),
}

/// Facts about the request the response side needs.
struct Params {
    mode: ConnMode,
    is_head: bool,
    upgrade: bool,
    client_keep: bool,
    client_minor: u8,
    client_t: Option<Duration>,
    server_t: Option<Duration>,
    max_head: usize,
}

struct RespOutcome {
    server_keep: bool,
    client_keep: bool,
    upgraded: bool,
}

enum RespError {
    /// Before any response byte reached the client.
    Timeout,
    Invalid,
    ServerGone,
    /// The response was partly sent; only closing is left.
    Aborted,
}

pub(crate) async fn run(s: &mut Session<'_>, bi: usize) -> io::Result<Next> {
    let (rt, fe) = (s.rt, s.fe);
    let be = &rt.backends[bi];
    let buf = s.cbuf.readable();
    let Ok(framing) = s.head.request_framing(buf) else {
        return Ok(Next::Error(400));
    };
    let mode = fe.http.conn_mode.max(be.http.conn_mode);
    let pretend = fe.http.pretend_keepalive || be.http.pretend_keepalive;
    let p = Params {
        mode,
        is_head: s.head.method(buf) == b"HEAD",
        upgrade: s.head.is_upgrade(buf),
        client_keep: s.head.wants_keep_alive(buf),
        client_minor: s.head.minor,
        client_t: fe.timeouts.client,
        server_t: be.timeouts.server,
        max_head: rt.tune.max_head(),
    };
    let mut req_out = Vec::with_capacity(s.head.len + 64);
    build_request(s, bi, &p, pretend, &mut req_out);
    s.cbuf.consume(s.head.len);

    let mut retried = false;
    loop {
        let first = s.requests == 1;
        let mut own = s.srv.take();
        let mut prev_uses = 0u32;
        let allow_reuse = !retried;
        let mut reuse = |idx: usize, srv: &Server| -> Option<TcpStream> {
            if let Some(c) = own.take() {
                if allow_reuse && c.backend == bi && c.server == idx && pool::is_alive(&c.stream) {
                    prev_uses = c.uses;
                    return Some(c.stream);
                }
                if !c.private {
                    pool::put(c.addr, c.stream, c.uses > 1);
                }
            }
            if !allow_reuse || srv.send_proxy.is_some() {
                return None;
            }
            let idle = match (be.reuse, first) {
                (HttpReuse::Never, _) | (HttpReuse::Safe, true) => None,
                (HttpReuse::Aggressive, true) => pool::take(srv.addr, true),
                _ => pool::take(srv.addr, false),
            }?;
            prev_uses = if idle.reused { 2 } else { 1 };
            Some(idle.stream)
        };
        let conn = match connect::connect(be, s.addrs, None, &mut reuse).await {
            Ok(c) => c,
            Err(ConnectError::NoServer(_)) | Err(ConnectError::Failed(_)) => {
                return Ok(Next::Error(503))
            }
        };
        drop(reuse);
        if let Some(c) = own.take() {
            if !c.private {
                pool::put(c.addr, c.stream, c.uses > 1);
            }
        }
        let mut stream = conn.stream;
        let can_replay = conn.reused && framing == Framing::None;
        let saved = can_replay.then(|| req_out.clone());
        let mut sbuf = Buf::take(rt.tune.bufsize);
        let mut resp_out = Vec::with_capacity(512);
        let (req_res, resp_res) = exchange(
            s,
            &mut stream,
            &mut sbuf,
            &mut req_out,
            &mut resp_out,
            framing,
            &p,
        )
        .await;
        let outcome = match resp_res {
            Ok(o) => o,
            // A reused connection the server closed meanwhile: replay once on a
            // fresh one, which is safe because nothing of the request was consumed.
            Err(RespError::ServerGone) if can_replay && !retried => {
                retried = true;
                if let Some(saved) = saved {
                    req_out = saved;
                }
                continue;
            }
            Err(RespError::Timeout) => return Ok(Next::Error(504)),
            Err(RespError::Invalid) | Err(RespError::ServerGone) => {
                return Ok(match req_res {
                    Some(Err(BodyError::Invalid)) => Next::Error(400),
                    _ => Next::Error(502),
                })
            }
            Err(RespError::Aborted) => return Ok(Next::Close),
        };
        let req_done = matches!(req_res, Some(Ok(())));
        if outcome.upgraded {
            let t = TunnelTimeouts {
                idle: be
                    .timeouts
                    .tunnel
                    .or(min_opt(fe.timeouts.client, be.timeouts.server)),
                client_fin: fe.timeouts.client_fin,
                server_fin: be.timeouts.server_fin,
                splice_request: false,
                splice_response: false,
            };
            tunnel::run(&mut s.client, &mut s.cbuf, &mut stream, &mut sbuf, t).await?;
            return Ok(Next::Close);
        }
        if outcome.server_keep && req_done {
            if let Some(lease) = &conn.lease {
                let srv = &be.servers[lease.server];
                s.srv = Some(SrvConn {
                    backend: bi,
                    server: lease.server,
                    addr: srv.addr,
                    stream,
                    uses: prev_uses + 1,
                    private: srv.send_proxy.is_some(),
                });
            }
        }
        drop(conn.lease);
        return Ok(if outcome.client_keep && req_done {
            Next::KeepAlive
        } else {
            Next::Close
        });
    }
}

/// Writes the request head for the server: bytes as received, `Connection`
/// adjusted to the connection mode, forwarding headers added.
fn build_request(s: &Session<'_>, bi: usize, p: &Params, pretend: bool, out: &mut Vec<u8>) {
    let (fe, be) = (s.fe, &s.rt.backends[bi]);
    let buf = s.cbuf.readable();
    let mut adds: Vec<(&str, String)> = Vec::new();
    let close_server = p.mode != ConnMode::KeepAlive && !pretend && !p.upgrade;
    if close_server {
        adds.push(("Connection", "close".into()));
    }
    if let Some(ff) = be.http.forwardfor.as_ref().or(fe.http.forwardfor.as_ref()) {
        let ip = s.addrs.src.ip();
        let excluded = ff.except.is_some_and(|n| n.contains(ip));
        if !excluded && !(ff.if_none && s.head.has(buf, &ff.header)) {
            adds.push((ff.header.as_str(), ip_text(ip)));
        }
    }
    if let Some(ot) = be.http.originalto.as_ref().or(fe.http.originalto.as_ref()) {
        let ip = s.addrs.dst.ip();
        if !ot.except.is_some_and(|n| n.contains(ip)) {
            adds.push((ot.header.as_str(), ip_text(ip)));
        }
    }
    let adds: Vec<(&str, &str)> = adds.iter().map(|(n, v)| (*n, v.as_str())).collect();
    head::rewrite(
        out,
        buf,
        &s.head,
        |n| close_server && n.eq_ignore_ascii_case(b"connection"),
        &adds,
    );
}

fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        v4 => v4.to_string(),
    }
}

/// Streams the request (head + body) and the response concurrently.
async fn exchange(
    s: &mut Session<'_>,
    server: &mut TcpStream,
    sbuf: &mut Buf,
    req_out: &mut Vec<u8>,
    resp_out: &mut Vec<u8>,
    framing: Framing,
    p: &Params,
) -> (
    Option<Result<(), BodyError>>,
    Result<RespOutcome, RespError>,
) {
    let max_trailers = s.rt.tune.bufsize;
    let (mut cr, mut cw) = s.client.split();
    let (mut sr, mut sw) = server.split();
    let cbuf = &mut s.cbuf;
    let req = async {
        let mut body = BodyReader::new(framing, max_trailers);
        body::forward(
            &mut cr, cbuf, &mut sw, &mut body, req_out, p.client_t, p.server_t,
        )
        .await
    };
    let resp = response(&mut sr, sbuf, &mut cw, &mut s.head, resp_out, p);
    tokio::pin!(req);
    tokio::pin!(resp);
    let mut req_res = None;
    loop {
        tokio::select! {
            r = &mut req, if req_res.is_none() => {
                match r {
                    // The client left or sent a bad body: nothing more to do.
                    Err(BodyError::Read(_)) => return (Some(r), Err(RespError::Aborted)),
                    Err(BodyError::Invalid) => return (Some(r), Err(RespError::Invalid)),
                    // The server may have answered early; keep reading its response.
                    _ => req_res = Some(r),
                }
            }
            r = &mut resp => return (req_res, r),
        }
    }
}

async fn response(
    sr: &mut tokio::net::tcp::ReadHalf<'_>,
    sbuf: &mut Buf,
    cw: &mut tokio::net::tcp::WriteHalf<'_>,
    rhead: &mut Head,
    out: &mut Vec<u8>,
    p: &Params,
) -> Result<RespOutcome, RespError> {
    loop {
        loop {
            match head::parse_response(sbuf.readable(), rhead) {
                Ok(Some(())) => break,
                Ok(None) if sbuf.len() >= p.max_head => return Err(RespError::Invalid),
                Ok(None) => {}
                Err(_) => return Err(RespError::Invalid),
            }
            match body::with_timeout(p.server_t, sbuf.fill_from(sr)).await {
                Ok(0) => return Err(RespError::ServerGone),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(RespError::Timeout),
                Err(_) => return Err(RespError::ServerGone),
            }
        }
        if (100..200).contains(&rhead.status) && rhead.status != 101 {
            // Interim responses (100 Continue) go to the client as they are.
            let len = rhead.len;
            body::with_timeout(p.client_t, cw.write_all(&sbuf.readable()[..len]))
                .await
                .map_err(|_| RespError::Aborted)?;
            sbuf.consume(len);
            continue;
        }
        break;
    }
    let buf = sbuf.readable();
    let upgraded = rhead.status == 101;
    if upgraded && !p.upgrade {
        return Err(RespError::Invalid);
    }
    let framing = if upgraded {
        Framing::None
    } else {
        let method: &[u8] = if p.is_head { b"HEAD" } else { b"GET" };
        rhead
            .response_framing(buf, method)
            .map_err(|_| RespError::Invalid)?
    };
    let server_keep = p.mode == ConnMode::KeepAlive
        && !upgraded
        && framing != Framing::UntilClose
        && rhead.wants_keep_alive(buf);
    let client_keep =
        p.client_keep && p.mode != ConnMode::Close && !upgraded && framing != Framing::UntilClose;
    let srv_close = rhead.has_token(buf, "connection", "close");
    let touch = !upgraded && (!client_keep || p.client_minor == 0 || srv_close);
    let add: &[(&str, &str)] = match (touch, client_keep) {
        (false, _) => &[],
        (true, false) => &[("Connection", "close")],
        (true, true) if p.client_minor == 0 => &[("Connection", "keep-alive")],
        (true, true) => &[],
    };
    head::rewrite(
        out,
        buf,
        rhead,
        |n| touch && n.eq_ignore_ascii_case(b"connection"),
        add,
    );
    sbuf.consume(rhead.len);
    let mut body = BodyReader::new(framing, p.max_head);
    match body::forward(sr, sbuf, cw, &mut body, out, p.server_t, p.client_t).await {
        Ok(()) => Ok(RespOutcome {
            server_keep,
            client_keep,
            upgraded,
        }),
        Err(_) => Err(RespError::Aborted),
    }
}
