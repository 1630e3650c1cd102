//! One HTTP transaction: request head rewrite → server connection (reused or
//! dialled) → request body and response streamed concurrently (so
//! `100-continue` and early answers work) → keep-alive, tunnel or close.

use super::body::{self, BodyError, BodyReader};
use super::pool;
use super::session::{Session, SrvConn};
use crate::buf::Buf;
use crate::runtime::{ConnMode, HttpReuse, Server};
use crate::select::HttpKey;
use crate::tcp::min_opt;
use crate::tunnel::{self, TunnelTimeouts};
use fulcrum_proto::http1::Edit;
use fulcrum_proto::{BodyFraming, Limits, Method, Parsed, RequestHead, Version};
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
struct Params<'a> {
    be: &'a crate::runtime::Backend,
    mode: ConnMode,
    method: Method,
    upgrade: bool,
    client_keep: bool,
    client_http10: bool,
    client_t: Option<Duration>,
    server_t: Option<Duration>,
    limits: Limits,
    /// Statuses answered by retrying instead (`retry-on 5xx…`), when the
    /// request can be replayed and retries remain.
    retry_statuses: Vec<u16>,
    /// When the response head arrived and its status, for the log.
    resp_head: std::cell::Cell<Option<(std::time::Instant, u16)>>,
    persist: Option<std::rc::Rc<crate::persist::SessionState>>,
    /// The frontend's `capture response header|cookie` lines and their values.
    caps: &'a crate::log::Captures,
    resp_caps: std::cell::Cell<Option<crate::log::Taken>>,
}

struct RespOutcome {
    server_keep: bool,
    client_keep: bool,
    upgraded: bool,
    /// Bytes sent to the client (head and body).
    bytes: u64,
}

enum RespError {
    /// Before any response byte reached the client.
    Timeout,
    /// `http-response wait-for-body` ran out of time (504, never retried).
    BodyTimeout,
    Invalid,
    ServerGone,
    /// A status listed in `retry-on`; nothing was sent to the client.
    RetryStatus(u16),
    /// `http-response deny`: the client gets a 502.
    Denied,
    /// The response was partly sent; only closing is left.
    Aborted,
}

pub(crate) async fn run(s: &mut Session<'_>, bi: usize) -> io::Result<Next> {
    let (rt, fe) = (s.rt, s.fe);
    let be = &rt.backends[bi];
    let Some(req) = s.req.take() else {
        return Ok(Next::Error(500));
    };
    let framing = req.framing;
    let mode = fe.http.conn_mode.max(be.http.conn_mode);
    let pretend = fe.http.pretend_keepalive || be.http.pretend_keepalive;
    let set_t = s.req_parts.as_ref().map(|r| r.timeouts).unwrap_or_default();
    let p = Params {
        be,
        mode,
        method: req.method,
        upgrade: req.wants_upgrade(),
        client_keep: req.keep_alive(),
        client_http10: req.version == Version::Http10,
        client_t: fe.timeouts.client,
        server_t: set_t.server.or(be.timeouts.server),
        limits: s.limits,
        retry_statuses: Vec::new(),
        resp_head: std::cell::Cell::new(None),
        persist: s.persist.clone(),
        caps: &fe.http.captures,
        resp_caps: std::cell::Cell::new(None),
    };
    let mut p = p;
    // Layer-7 retries replay the request: only bodiless idempotent ones.
    let replayable = framing == BodyFraming::None
        && !p.upgrade
        && matches!(
            p.method,
            Method::Get
                | Method::Head
                | Method::Options
                | Method::Trace
                | Method::Delete
                | Method::Put
        );
    let l7 = replayable && be.retry_on.any_l7();
    let mut req_out = Vec::with_capacity(req.head_len + 64);
    let orig_len = req.head_len;
    let (built, rewritten) = match s.rewritten.take() {
        // Rules changed the head: parse what they produced (it must still be valid).
        Some(h) => match fulcrum_proto::parse_request(&h, &s.limits) {
            Ok(Parsed::Complete(r, _)) => {
                let b = build_request(s, &h, &r, bi, &p, pretend, &mut req_out);
                (b, Some((h, r)))
            }
            _ => return Ok(Next::Error(500)),
        },
        None => (
            build_request(s, s.cbuf.readable(), &req, bi, &p, pretend, &mut req_out),
            None,
        ),
    };
    if built.is_err() {
        return Ok(Next::Error(500));
    }
    // `balance` looks at the request as rules left it, and at the body bytes
    // already buffered behind it (never waiting for more).
    let ctx = crate::select::HashCtx {
        fe: &fe.name,
        be: &be.name,
        src: s.addrs.src,
        dst: s.addrs.dst,
    };
    let cb = s.cbuf.readable();
    let head = || rewritten.unwrap_or_else(|| (cb[..orig_len].to_vec(), req));
    let key = HttpKey::new(&be.lb, ctx, head, cb.get(orig_len..).unwrap_or_default());
    s.cbuf.consume(orig_len);

    let mut retried = false;
    let mut l7_retries = 0u32;
    let mut exclude = None;
    loop {
        p.retry_statuses = if l7 && l7_retries < be.retries {
            be.retry_on.statuses.clone()
        } else {
            Vec::new()
        };
        let first = s.requests == 1;
        let mut own = s.srv.take();
        let mut prev_uses = 0u32;
        let allow_reuse = !retried;
        let mut reuse = |idx: usize, srv: &Server| -> Option<TcpStream> {
            if let Some(c) = own.take() {
                // Requests without a body skip the liveness probe (one syscall):
                // if the server closed meanwhile they are replayed on a new connection.
                let alive = framing == BodyFraming::None || pool::is_alive(&c.stream);
                if allow_reuse && c.backend == bi && c.server == idx && alive {
                    prev_uses = c.uses;
                    return Some(c.stream);
                }
                if !c.private {
                    pool::put(c.addr, c.stream, c.uses > 1);
                }
            }
            if !allow_reuse || srv.proxy_header().is_some() {
                return None;
            }
            let idle = match (be.reuse, first) {
                (HttpReuse::Never, _) | (HttpReuse::Safe, true) => None,
                (HttpReuse::Aggressive, true) => pool::take(srv.addr(), true),
                _ => pool::take(srv.addr(), false),
            }?;
            prev_uses = if idle.reused { 2 } else { 1 };
            Some(idle.stream)
        };
        let connecting =
            crate::persist::connect(p.persist.as_deref(), be, s.addrs, &key, exclude, &mut reuse);
        let abortonclose = fe.http.abortonclose || be.http.abortonclose;
        let conn = tokio::select! {
            c = connecting => c,
            // `option abortonclose`: a client that left stops waiting in the queue.
            _ = client_gone(&s.client), if abortonclose => return Ok(Next::Close),
        };
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("backend '{}': {e}", be.name);
                if let (Some(l), crate::connect::ConnectError::Failed(_, t)) = (s.log.as_mut(), &e)
                {
                    l.tried(*t);
                    l.retries += l7_retries;
                }
                return Ok(Next::Error(503));
            }
        };
        if let Some(c) = own.take() {
            if !c.private {
                pool::put(c.addr, c.stream, c.uses > 1);
            }
        }
        if let Some(l) = s.log.as_mut() {
            l.connected = Some(std::time::Instant::now());
            l.server = conn.lease.as_ref().map(|l| l.server);
            l.tried(conn.tried);
            l.retries += l7_retries;
        }
        let connected_at = std::time::Instant::now();
        let mut stream = conn.stream;
        let can_replay = conn.reused && framing == BodyFraming::None;
        let saved = (can_replay || l7).then(|| req_out.clone());
        let leased = conn.lease.as_ref().map(|l| l.server);
        crate::sessions::set_server(bi, leased);
        if let Some(parts) = s.req_parts.as_deref_mut() {
            // `srv_id`/`srv_name` in `http-response` rules.
            parts.server = leased.and_then(|i| crate::tcp_rules::server_ident(be, i));
        }
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
        let up = req_res.as_ref().and_then(|r| r.as_ref().ok()).copied();
        crate::persist::on_bytes(
            p.persist.as_deref(),
            up,
            resp_res.as_ref().ok().map(|o| o.bytes),
        );
        crate::stats::counters::exchange(
            &fe.name,
            crate::stats::counters::Exchange {
                backend: bi,
                server: leased,
                status: p.resp_head.get().map(|h| h.1),
                connected: connected_at,
                resp_at: p.resp_head.get().map(|h| h.0),
                bytes_in: up.unwrap_or(0),
                bytes_out: resp_res.as_ref().map_or(0, |o| o.bytes),
                forwarded: resp_res.is_ok(),
            },
        );
        if let Some(l) = s.log.as_mut() {
            if let Some((at, status)) = p.resp_head.get() {
                l.response_headers = Some(at);
                l.status = Some(status);
            }
            if let Some(c) = p.resp_caps.take() {
                l.response_captures = Some(c);
            }
            if let Some(Ok(n)) = &req_res {
                l.bytes_uploaded = *n;
            }
            match &resp_res {
                Ok(o) => l.bytes_read = o.bytes,
                Err(RespError::Aborted) => {
                    l.term = fulcrum_observe::log::TermState::CLIENT_ABORT_DATA
                }
                Err(_) => {}
            }
        }
        super::rules::response_effects(s);
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
            Err(e) if l7 && l7_retries < be.retries && be.retry_on.wants(&e) => {
                l7_retries += 1;
                if be.redispatch.is_some() {
                    exclude = leased;
                    if let Some(l) = s.log.as_mut() {
                        l.redispatched = true;
                    }
                }
                retried = true;
                if let Some(saved) = saved {
                    req_out = saved;
                }
                continue;
            }
            Err(RespError::RetryStatus(code)) => return Ok(Next::Error(code)),
            Err(RespError::Denied) => {
                if Box::pin(super::rules::send_response_answer(s)).await {
                    return Ok(Next::Close);
                }
                return Ok(Next::Error(502));
            }
            Err(RespError::Timeout) | Err(RespError::BodyTimeout) => return Ok(Next::Error(504)),
            Err(RespError::Invalid) | Err(RespError::ServerGone) => {
                return Ok(match req_res {
                    Some(Err(BodyError::Invalid)) => Next::Error(400),
                    _ => Next::Error(502),
                })
            }
            Err(RespError::Aborted) => return Ok(Next::Close),
        };
        let req_done = matches!(req_res, Some(Ok(_)));
        if outcome.upgraded {
            let t = TunnelTimeouts {
                idle: set_t
                    .tunnel
                    .or(be.timeouts.tunnel)
                    .or(min_opt(fe.timeouts.client, p.server_t)),
                client_fin: fe.timeouts.client_fin,
                server_fin: be.timeouts.server_fin,
                splice_request: false,
                splice_response: false,
                server_down: None,
                client_independent: fe.tcp.independent_streams,
                server_independent: be.tcp.independent_streams,
            };
            let moved = std::cell::Cell::new(tunnel::Moved::default());
            tunnel::run(
                &mut s.client,
                &mut s.cbuf,
                &mut stream,
                &mut sbuf,
                t,
                &moved,
            )
            .await?;
            if let Some(l) = s.log.as_mut() {
                l.bytes_uploaded += moved.get().up;
                l.bytes_read += moved.get().down;
            }
            return Ok(Next::Close);
        }
        if outcome.server_keep && req_done {
            if let Some(lease) = &conn.lease {
                let srv = &be.servers[lease.server];
                s.srv = Some(SrvConn {
                    backend: bi,
                    server: lease.server,
                    addr: srv.addr(),
                    stream,
                    uses: prev_uses + 1,
                    private: srv.proxy_header().is_some(),
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

impl crate::runtime::RetryOn {
    fn wants(&self, e: &RespError) -> bool {
        match e {
            RespError::ServerGone => self.empty_response,
            RespError::Invalid => self.junk_response,
            RespError::Timeout => self.response_timeout,
            RespError::RetryStatus(_) => true,
            RespError::Aborted | RespError::Denied | RespError::BodyTimeout => false,
        }
    }
}

/// Resolves when the client closed its side; pending while it is open or has
/// sent more (pipelined) data.
async fn client_gone(c: &TcpStream) {
    let mut b = [0u8; 1];
    match c.peek(&mut b).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// Writes the request head for the server: bytes as received, `Connection`
/// adjusted to the connection mode, forwarding headers added.
#[allow(clippy::too_many_arguments)]
fn build_request(
    s: &Session<'_>,
    buf: &[u8],
    req: &RequestHead,
    bi: usize,
    p: &Params<'_>,
    pretend: bool,
    out: &mut Vec<u8>,
) -> Result<(), fulcrum_proto::Error> {
    let (fe, be) = (s.fe, &s.rt.backends[bi]);
    let cookies = crate::persist::on_request(s.persist.as_deref(), be, buf, req);
    let mut values: Vec<(&[u8], String)> = Vec::new();
    if let Some(ff) = be.http.forwardfor.as_ref().or(fe.http.forwardfor.as_ref()) {
        let ip = s.addrs.src.ip();
        // HAProxy adds nothing for a UNIX client: it has no address.
        let excluded =
            crate::unix::is_unix(&s.addrs.src) || ff.except.is_some_and(|n| n.contains(ip));
        let present = ff.if_none && req.headers_in(buf).contains(ff.header.as_bytes());
        if !excluded && !present {
            values.push((ff.header.as_bytes(), ip_text(ip)));
        }
    }
    if let Some(ot) = be.http.originalto.as_ref().or(fe.http.originalto.as_ref()) {
        let ip = s.addrs.dst.ip();
        if !crate::unix::is_unix(&s.addrs.dst) && !ot.except.is_some_and(|n| n.contains(ip)) {
            values.push((ot.header.as_bytes(), ip_text(ip)));
        }
    }
    let mut edits: Vec<Edit<'_>> = Vec::with_capacity(values.len() + 2);
    if p.mode != ConnMode::KeepAlive && !pretend && !p.upgrade {
        edits.push(Edit::DelHeader {
            name: b"connection",
        });
        edits.push(Edit::AddHeader {
            name: b"Connection",
            value: b"close",
        });
    } else if p.mode == ConnMode::KeepAlive && !p.upgrade && !p.client_keep && !p.client_http10 {
        // As HAProxy in keep-alive mode: the client's `close` ends the client
        // side only. The server connection stays open, for the pool or for a
        // silent close (no TIME_WAIT on either side).
        edits.push(Edit::DelHeader {
            name: b"connection",
        });
    }
    for (n, v) in &values {
        edits.push(Edit::AddHeader {
            name: n,
            value: v.as_bytes(),
        });
    }
    crate::persist::cookie_edits(&cookies, &mut edits);
    if !fulcrum_proto::http1::rewrite_request(buf, req, &edits, out)? {
        out.extend_from_slice(&buf[..req.head_len]);
    }
    Ok(())
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
    framing: BodyFraming,
    p: &Params<'_>,
) -> (
    Option<Result<u64, BodyError>>,
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
    let rr = s.req_parts.as_deref_mut().map(|parts| RespRules {
        fe: s.fe,
        be: p.be,
        addrs: s.addrs,
        parts,
    });
    let asap = crate::log::asap(s.log.as_deref_mut(), s.fe, s.addrs);
    let resp = response(&mut sr, sbuf, &mut cw, resp_out, p, rr, asap);
    tokio::pin!(req);
    tokio::pin!(resp);
    let mut req_res = None;
    loop {
        tokio::select! {
            r = &mut req, if req_res.is_none() => {
                match r {
                    // The client left or sent a bad body: nothing more to do.
                    Err(BodyError::Read) => return (Some(r), Err(RespError::Aborted)),
                    Err(BodyError::Invalid) => return (Some(r), Err(RespError::Invalid)),
                    // The server may have answered early; keep reading its response.
                    _ => req_res = Some(r),
                }
            }
            r = &mut resp => return (req_res, r),
        }
    }
}

/// What `http-response` rules need besides the response.
struct RespRules<'a> {
    fe: &'a crate::runtime::Frontend,
    be: &'a crate::runtime::Backend,
    addrs: crate::connect::ClientAddrs,
    parts: &'a mut super::rules::ReqParts,
}

async fn response(
    sr: &mut tokio::net::tcp::ReadHalf<'_>,
    sbuf: &mut Buf,
    cw: &mut tokio::net::tcp::WriteHalf<'_>,
    out: &mut Vec<u8>,
    p: &Params<'_>,
    mut rr: Option<RespRules<'_>>,
    asap: Option<crate::log::Asap<'_, '_>>,
) -> Result<RespOutcome, RespError> {
    let head = loop {
        let head = loop {
            // The backend's `option accept-invalid-http-response` relaxes this side.
            let limits = Limits {
                accept_invalid: p.be.http.accept_invalid_response,
                ..p.limits
            };
            match fulcrum_proto::parse_response(sbuf.readable(), p.method, &limits) {
                Ok(Parsed::Complete(h, _)) => break h,
                Ok(Parsed::Partial) => {}
                Err(_) => return Err(RespError::Invalid),
            }
            match body::with_timeout(p.server_t, sbuf.fill_from(sr)).await {
                Ok(0) => return Err(RespError::ServerGone),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(RespError::Timeout),
                Err(_) => return Err(RespError::ServerGone),
            }
        };
        if head.is_interim() {
            // Interim responses (100 Continue) go to the client as they are.
            let len = head.head_len;
            body::with_timeout(p.client_t, cw.write_all(&sbuf.readable()[..len]))
                .await
                .map_err(|_| RespError::Aborted)?;
            sbuf.consume(len);
            continue;
        }
        break head;
    };
    p.resp_head
        .set(Some((std::time::Instant::now(), head.status)));
    if !p.caps.is_empty() {
        p.resp_caps
            .set(Some(p.caps.response(sbuf.readable(), &head.headers)));
    }
    if p.retry_statuses.contains(&head.status) {
        return Err(RespError::RetryStatus(head.status));
    }
    let upgraded = head.tunnel;
    if head.status == 101 && !p.upgrade {
        return Err(RespError::Invalid);
    }
    let framing = head.framing;
    let server_keep = p.mode == ConnMode::KeepAlive && !upgraded && head.keep_alive();
    // An HTTP/1.0 client cannot read chunked encoding: it gets the payload
    // alone, delimited by the close, as HAProxy does.
    let dechunk = p.client_http10 && framing == BodyFraming::Chunked;
    // A soft stop ends each connection after its current response.
    let client_keep = p.client_keep
        && p.mode != ConnMode::Close
        && !crate::park::stopping()
        && !upgraded
        && !dechunk
        && framing != BodyFraming::CloseDelimited;
    let touch = !upgraded && (!client_keep || p.client_http10 || head.connection.close);
    let mut edits: Vec<Edit<'_>> = Vec::new();
    if dechunk {
        edits.push(Edit::DelHeader {
            name: b"transfer-encoding",
        });
    }
    if touch {
        edits.push(Edit::DelHeader {
            name: b"connection",
        });
        if !client_keep {
            edits.push(Edit::AddHeader {
                name: b"Connection",
                value: b"close",
            });
        } else if p.client_http10 {
            edits.push(Edit::AddHeader {
                name: b"Connection",
                value: b"keep-alive",
            });
        }
    }
    if let Some(rr) = rr.as_mut() {
        let conn: Option<Option<&[u8]>> = match (touch, client_keep) {
            (false, _) => None,
            (true, false) => Some(Some(b"close")),
            (true, true) if p.client_http10 => Some(Some(b"keep-alive")),
            (true, true) => Some(None),
        };
        // `http-response wait-for-body` reads more of the body and runs the
        // rules again from where it stopped.
        let mut wait = super::rules::Waiting::default();
        loop {
            match super::rules::on_response(
                rr.fe,
                rr.be,
                rr.addrs.src,
                rr.addrs.dst,
                rr.parts,
                &head,
                sbuf.readable(),
                conn,
                (&mut wait, sbuf.is_full()),
            ) {
                Err(()) => return Err(RespError::Denied),
                Ok(Some(h)) => {
                    out.extend_from_slice(&h);
                    edits.clear();
                }
                Ok(None) => {}
            }
            let Some(until) = wait.until() else { break };
            match super::rules::read_more(sr, sbuf, until, &mut wait).await {
                Ok(true) => {}
                // HAProxy answers 504 when the body did not come in time.
                Ok(false) => return Err(RespError::BodyTimeout),
                Err(_) => return Err(RespError::ServerGone),
            }
        }
    }
    let buf = sbuf.readable();
    // `tcp-response content close`: this response goes through, then the server connection ends.
    let server_keep = server_keep && !rr.as_ref().is_some_and(|r| r.parts.server_close);
    let edited = !out.is_empty();
    match fulcrum_proto::http1::rewrite_response(buf, &head, &edits, out) {
        _ if edited => {}
        Ok(true) => {}
        Ok(false) => out.extend_from_slice(&buf[..head.head_len]),
        Err(_) => return Err(RespError::Invalid),
    }
    crate::persist::on_response(p.persist.as_deref(), p.be, p.method, &p.limits, out);
    // `option logasap`: the line goes out with the headers, before the body.
    if let Some(a) = asap {
        let caps = p.resp_caps.take();
        p.resp_caps.set(caps.clone());
        a.send(head.status, out.len(), caps, rr.map(|r| r.parts));
    }
    sbuf.consume(head.head_len);
    let mut body = BodyReader::new(framing, p.limits.max_head);
    let sent = if dechunk {
        body::forward_dechunked(sr, sbuf, cw, out, p.limits.max_head, p.server_t, p.client_t).await
    } else {
        body::forward(sr, sbuf, cw, &mut body, out, p.server_t, p.client_t).await
    };
    match sent {
        Ok(bytes) => Ok(RespOutcome {
            server_keep,
            client_keep,
            upgraded,
            bytes,
        }),
        Err(_) => Err(RespError::Aborted),
    }
}
