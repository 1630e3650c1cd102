//! One client connection in `mode http`: waits for each request head under the
//! right timeout, hands it to a transaction, and keeps the server connection
//! for the next request when the connection mode allows it.

use super::rules::{self, Decision};
use super::{errors, pool, txn};
use crate::buf::Buf;
use crate::connect::ClientAddrs;
use crate::log::{LogSink, TxnLog};
use crate::runtime::{Backend, Bind, Frontend, Runtime};
use fulcrum_observe::log::TermState;
use fulcrum_proto::{BodyFraming, Limits, Parsed, RequestHead, Side};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A server connection kept by a session between requests.
pub(crate) struct SrvConn {
    pub backend: usize,
    pub server: usize,
    pub addr: SocketAddr,
    pub stream: TcpStream,
    pub uses: u32,
    /// Carries this client's PROXY header: never shared with another client.
    pub private: bool,
}

pub(crate) struct Session<'a> {
    pub rt: &'a Runtime,
    pub fe: &'a Frontend,
    pub client: TcpStream,
    pub cbuf: Buf,
    pub addrs: ClientAddrs,
    /// The request being served; offsets into `cbuf`.
    pub req: Option<RequestHead>,
    pub limits: Limits,
    /// The request head as rules rewrote it, if they did.
    pub rewritten: Option<Vec<u8>>,
    /// The request as `http-response` rules will see it, when there are any.
    pub req_parts: Option<Box<rules::ReqParts>>,
    pub requests: u64,
    pub srv: Option<SrvConn>,
    /// The current transaction's log facts, when a log sink is set.
    pub log: Option<Box<TxnLog<'a>>>,
    /// Tracking counters and the request's persistence; `None` when nothing persists.
    pub persist: Option<std::rc::Rc<crate::persist::SessionState>>,
    /// `sess.` variables: set by any rule, read by every request on the connection.
    pub sess_vars: fulcrum_rules::SessionVars,
}

/// How long a session keeps its server connection while its client is idle.
const PARK_SERVER_AFTER: Duration = crate::park::PARK_AFTER;

/// What waiting for a request head produced.
enum HeadWait {
    Ready,
    /// Client closed or idled out between requests: close quietly.
    Gone,
    Fail(u16),
    /// Idle long enough to be parked; the keep-alive deadline goes with it.
    Park(Option<Instant>),
}

/// How a session's loop ended.
enum Ended {
    Closed,
    /// The client idles: the session is to be parked (see `crate::park`).
    Park(Option<Instant>),
}

/// A parked HTTP connection's session, reduced to what the next request
/// needs. Rarely used parts sit behind one pointer.
pub(crate) struct ParkedHttp {
    addrs: PackedAddrs,
    requests: u64,
    extra: Option<Box<ParkedExtra>>,
}

struct ParkedExtra {
    log: Option<crate::log::ParkedLog>,
    persist: Option<std::rc::Rc<crate::persist::SessionState>>,
    sess_vars: Option<fulcrum_rules::SessionVars>,
    track: Option<Box<crate::persist::TcpTrack>>,
}

impl ParkedHttp {
    /// The client's address (after any PROXY header), for `show sess`.
    pub(crate) fn client_addr(&self) -> SocketAddr {
        self.addrs.unpack().src
    }
}

/// A connection's two addresses in 16 bytes when both are IPv4, the common
/// case (`ClientAddrs` takes 64), else behind a pointer.
enum PackedAddrs {
    V4(std::net::SocketAddrV4, std::net::SocketAddrV4),
    Other(Box<ClientAddrs>),
}

impl PackedAddrs {
    fn pack(a: ClientAddrs) -> Self {
        match (a.src, a.dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => PackedAddrs::V4(s, d),
            _ => PackedAddrs::Other(Box::new(a)),
        }
    }

    fn unpack(&self) -> ClientAddrs {
        match self {
            PackedAddrs::V4(s, d) => ClientAddrs {
                src: SocketAddr::V4(*s),
                dst: SocketAddr::V4(*d),
            },
            PackedAddrs::Other(a) => **a,
        }
    }
}

pub(crate) async fn serve(
    rt: &Runtime,
    fe: &Frontend,
    bind: &Bind,
    client: TcpStream,
    peer: SocketAddr,
    sink: Option<Arc<dyn LogSink>>,
    held: crate::engine::Held,
) -> io::Result<()> {
    // The opening (connection rules, PROXY header) is its own boxed future, freed
    // before the first request: its state does not size every idle connection.
    // Scoped so the session is stored once in this future: in `drive`'s state,
    // not also as a moved-from local of this one.
    let drive = {
        let opened = Box::pin(opening(rt, fe, bind, client, peer, sink)).await?;
        let Some((s, track)) = opened else {
            return Ok(());
        };
        drive(s, track, held)
    };
    drive.await
}

/// Goes on with a parked connection whose client spoke again.
pub(crate) async fn resume(
    rt: &Runtime,
    fe: &Frontend,
    client: TcpStream,
    parked: ParkedHttp,
    held: crate::engine::Held,
) -> io::Result<()> {
    let ParkedHttp {
        addrs,
        requests,
        extra,
    } = parked;
    let addrs = addrs.unpack();
    let (log, persist, sess_vars, track) = match extra.map(|e| *e) {
        Some(e) => (e.log, e.persist, e.sess_vars, e.track),
        None => (None, None, None, None),
    };
    let cbuf = Buf::lazy(rt.tune.bufsize);
    let mut s = Session::new(rt, fe, client, cbuf, addrs, sess_vars.unwrap_or_default());
    s.log = log.map(|l| Box::new(TxnLog::resume(l, rt, fe)));
    s.requests = requests;
    s.persist = persist;
    drive(s, track, held).await
}

/// Serves requests until the connection closes, or parks it when it idles.
/// An `async` block rather than an `async fn`: the session is stored once in
/// the future, where an `async fn` would keep its argument and a local copy.
#[allow(clippy::manual_async_fn)]
fn drive<'a>(
    mut s: Session<'a>,
    track: Option<Box<crate::persist::TcpTrack>>,
    held: crate::engine::Held,
) -> impl std::future::Future<Output = io::Result<()>> + 'a {
    async move {
        let r = s.run().await;
        s.park_server();
        match r {
            Ok(Ended::Park(deadline)) => {
                if let Some(p) = s.into_parked(track, held, deadline) {
                    crate::park::park(p);
                }
                Ok(())
            }
            r => {
                // As before parking existed: the session, then its trackers, then
                // what the connection held (its counts) go, in that order.
                drop(s);
                drop(track);
                drop(held);
                r.map(|_| ())
            }
        }
    }
}

/// Connection-level steps before the first request: `None` when rules refused.
async fn opening<'a>(
    rt: &'a Runtime,
    fe: &'a Frontend,
    bind: &Bind,
    mut client: TcpStream,
    peer: SocketAddr,
    sink: Option<Arc<dyn LogSink>>,
) -> io::Result<Option<(Session<'a>, Option<Box<crate::persist::TcpTrack>>)>> {
    let mut log = sink.map(|k| {
        Box::new(TxnLog::new(
            k,
            rt,
            fe,
            std::time::Instant::now(),
            std::time::SystemTime::now(),
        ))
    });
    let mut cbuf = Buf::lazy(rt.tune.bufsize);
    let mut addrs = ClientAddrs {
        src: peer,
        dst: crate::unix::local_of(&client, &peer, bind)?,
    };
    // `tcp-request connection|session` rules apply in HTTP mode too; their tracking
    // counters live as long as the connection. Connection rules come before the
    // PROXY header, as in HAProxy.
    let mut track = crate::persist::TcpTrack::new(rt);
    let sess_vars = fulcrum_rules::SessionVars::default();
    let t = track.as_deref_mut();
    let Some(expect_proxy) = crate::tcp_rules::connection_http(fe, &mut addrs, t, &sess_vars)
    else {
        // Rejected before a request exists: reset, as HAProxy does, and log nothing.
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
        return Ok(None);
    };
    if bind.accept_proxy {
        let got = Box::pin(crate::tcp::read_proxy_header(&mut client, &mut cbuf, fe)).await;
        if let Err(e) = &got {
            let l = log.as_deref_mut();
            crate::log::handshake_failed(l, addrs.src, addrs.dst, e, cbuf.readable());
        }
        if let Some((s, d)) = got? {
            addrs = ClientAddrs { src: s, dst: d };
        }
    }
    let t = track.as_deref_mut();
    let (c, b, a) = (&mut client, &mut cbuf, &mut addrs);
    let accepted = crate::tcp_rules::session_http(fe, c, b, a, t, expect_proxy, &sess_vars);
    if !Box::pin(accepted).await {
        // Rejected before a request exists: reset, as HAProxy does, and log nothing.
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
        return Ok(None);
    }
    if let Some(t) = &track {
        t.accepted();
    }
    let mut s = Session::new(rt, fe, client, cbuf, addrs, sess_vars);
    // Where a killed session's line says the client came from, until rules change it.
    s.log = log.map(|mut l| {
        l.set_addrs(addrs.src, addrs.dst);
        l
    });
    s.persist = crate::persist::session_state(rt);
    Ok(Some((s, track)))
}

/// What one request left the connection to do.
enum Flow {
    Next,
    Close(io::Result<()>),
}

impl<'a> Session<'a> {
    /// A session with no request served yet and nothing persisting.
    fn new(
        rt: &'a Runtime,
        fe: &'a Frontend,
        client: TcpStream,
        cbuf: Buf,
        addrs: ClientAddrs,
        sess_vars: fulcrum_rules::SessionVars,
    ) -> Self {
        Session {
            rt,
            fe,
            client,
            cbuf,
            addrs,
            req: None,
            limits: Limits::from_tune(
                rt.tune.bufsize,
                rt.tune.maxrewrite,
                fe.http.accept_invalid_request,
            ),
            rewritten: None,
            req_parts: None,
            log: None,
            requests: 0,
            srv: None,
            persist: None,
            sess_vars,
        }
    }
}

impl Session<'_> {
    /// Between requests only the small wait for the next one's first byte is
    /// live; the request itself runs in one boxed future (one allocation per
    /// request, as the transaction needed anyway), so an idle keep-alive
    /// connection keeps little more than its `Session`.
    async fn run(&mut self) -> io::Result<Ended> {
        loop {
            let deadline = match self.idle().await {
                Ok(d) => d,
                Err(HeadWait::Fail(code)) => {
                    return Box::pin(self.head_failed(code))
                        .await
                        .map(|_| Ended::Closed)
                }
                Err(HeadWait::Park(d)) => return Ok(Ended::Park(d)),
                Err(_) => return Ok(Ended::Closed),
            };
            match Box::pin(self.request(deadline)).await {
                Flow::Next => {}
                Flow::Close(r) => return r.map(|_| Ended::Closed),
            }
        }
    }

    /// The session as a parked record; `None` when its socket cannot leave
    /// tokio (the connection is then closed: it was idle).
    fn into_parked(
        self,
        track: Option<Box<crate::persist::TcpTrack>>,
        held: crate::engine::Held,
        deadline: Option<Instant>,
    ) -> Option<crate::park::Parked> {
        let Session {
            client,
            addrs,
            requests,
            log,
            persist,
            sess_vars,
            ..
        } = self;
        let client = client.into_std().ok()?;
        // An unused `sess.` store is made again on resume: the parked record
        // keeps no allocation from the connection's first moments.
        let sess_vars = (!sess_vars.is_unused()).then_some(sess_vars);
        let log = log.map(|l| l.park());
        let extra = (log.is_some() || persist.is_some() || sess_vars.is_some() || track.is_some())
            .then(|| {
                Box::new(ParkedExtra {
                    log,
                    persist,
                    sess_vars,
                    track,
                })
            });
        Some(crate::park::Parked {
            client,
            held,
            http: ParkedHttp {
                addrs: PackedAddrs::pack(addrs),
                requests,
                extra,
            },
            deadline,
        })
    }

    /// A request head that could not be read: counted as a request error.
    async fn head_failed(&mut self, code: u16) -> io::Result<()> {
        crate::stats::counters::request_error(&self.fe.name);
        self.request_failed(code).await
    }

    /// The client's request failed (`408` when it came too slowly): the
    /// error page, then the log line.
    async fn request_failed(&mut self, code: u16) -> io::Result<()> {
        let term = if code == 408 {
            TermState::CLIENT_TIMEOUT_REQUEST
        } else {
            TermState::PROXY_REQUEST
        };
        let r = self.send_error(code, None).await;
        self.log_done(Some(code), term);
        r
    }

    /// One request, from its head (its first bytes are in) to its end.
    async fn request(&mut self, deadline: Option<Instant>) -> Flow {
        match self.wait_head(deadline).await {
            HeadWait::Ready => {}
            HeadWait::Fail(code) => return Flow::Close(self.head_failed(code).await),
            _ => return Flow::Close(Ok(())),
        }
        self.requests += 1;
        crate::persist::request_start(self.persist.as_deref());
        let t = &self.fe.timeouts;
        let mut wait = self
            .buffer_request()
            .then_some((t.http_request.or(t.client), None));
        let (mut waits, mut paused) = (0, None);
        // `wait-for-body` rules ask for more of the body, then the rules go on
        // where they stopped; a few rounds at most.
        let decision = loop {
            if let Some((time, at_least)) = wait.take() {
                if let Err(code) = self.wait_body(time, at_least).await {
                    return Flow::Close(self.request_failed(code).await);
                }
            }
            match rules::decide(self, waits < 4, paused.take()) {
                Decision::WaitBody {
                    time,
                    at_least,
                    paused: p,
                } => {
                    waits += 1;
                    wait = Some((Some(time), at_least));
                    paused = Some(p);
                }
                d => break d,
            }
        };
        let bi = match decision {
            Decision::Forward {
                backend,
                head,
                parts,
            } => {
                rules::send_early_hints(self).await;
                self.rewritten = head;
                self.req_parts = parts;
                backend
            }
            Decision::NoBackend => {
                let r = self.send_error(503, None).await;
                self.log_done(Some(503), TermState::SERVER_CONNECT);
                return Flow::Close(r);
            }
            // `WaitBody` ends the loop above, never here.
            Decision::Close | Decision::WaitBody { .. } => {
                // No FIN handshake for the client to wait on: reset, as HAProxy does.
                let _ = socket2::SockRef::from(&self.client).set_linger(Some(Duration::ZERO));
                self.log_done(None, TermState::PROXY_REQUEST);
                return Flow::Close(Ok(()));
            }
            Decision::Reply(bytes) => {
                let r = self.send_reply(&bytes).await;
                let code = reply_status(&bytes);
                // Answers the proxy gives itself (stats page, `return`, redirects,
                // monitor-uri) are 'L'ocal in HAProxy's logs; refusals are 'P'roxy.
                let term = if code < 400 {
                    TermState::LOCAL_REQUEST
                } else {
                    TermState::PROXY_REQUEST
                };
                self.log_done(Some(code), term);
                return Flow::Close(r);
            }
            Decision::Tarpit(bytes) => {
                let t = self.fe.timeouts.tarpit.or(self.fe.timeouts.connect);
                tokio::time::sleep(t.unwrap_or(Duration::ZERO)).await;
                let r = self.send_reply(&bytes).await;
                self.log_done(Some(reply_status(&bytes)), TermState::PROXY_TARPIT);
                return Flow::Close(r);
            }
        };
        if let Some(l) = self.log.as_mut() {
            l.backend = Some(bi);
        }
        match txn::run(self, bi).await {
            Err(e) => Flow::Close(Err(e)),
            Ok(txn::Next::KeepAlive) => {
                self.log_done(None, TermState::NORMAL);
                Flow::Next
            }
            Ok(txn::Next::Close) => {
                self.log_done(None, TermState::NORMAL);
                Flow::Close(Ok(()))
            }
            Ok(txn::Next::Error(code)) => {
                let r = self.send_error(code, Some(&self.rt.backends[bi])).await;
                let term = match code {
                    504 => TermState::SERVER_TIMEOUT_HEADERS,
                    502 => TermState::SERVER_ABORT_HEADERS,
                    503 => TermState::SERVER_CONNECT,
                    _ => TermState::PROXY_REQUEST,
                };
                self.log_done(Some(code), term);
                Flow::Close(r)
            }
        }
    }

    /// `option http-buffer-request` on the frontend or its default backend.
    fn buffer_request(&self) -> bool {
        self.fe.http.buffer_request
            || self
                .fe
                .default_backend
                .and_then(|i| self.rt.backends.get(i))
                .is_some_and(|b| b.http.buffer_request)
    }

    /// Waits until the whole body is buffered (or the buffer is full), so rules
    /// see it and the server gets it at once. `time` bounds the whole wait (408
    /// past it); `at_least` body bytes are enough (`wait-for-body … at-least N`).
    async fn wait_body(
        &mut self,
        time: Option<Duration>,
        at_least: Option<u64>,
    ) -> Result<(), u16> {
        let Some(req) = self.req.as_ref() else {
            return Ok(());
        };
        let (head_len, framing) = (req.head_len, req.framing);
        let mut expect_continue = req.expect_continue;
        let deadline = time.map(|d| Instant::now() + d);
        for _ in 0..100_000 {
            let body = &self.cbuf.readable()[head_len..];
            let complete = match framing {
                BodyFraming::ContentLength(n) => body.len() as u64 >= n,
                BodyFraming::Chunked => {
                    let mut d =
                        fulcrum_proto::chunked::ChunkedDecoder::with_limit(self.limits.max_head);
                    d.feed(body).map_err(|_| 400u16)?.done
                }
                BodyFraming::None | BodyFraming::CloseDelimited => true,
            };
            let enough = at_least.is_some_and(|n| n > 0 && body.len() as u64 >= n);
            if complete || enough || self.cbuf.is_full() {
                return Ok(());
            }
            if std::mem::take(&mut expect_continue) {
                // The client waits for this before sending the body we wait for.
                self.client
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .map_err(|_| 400u16)?;
            }
            let read = self.cbuf.fill_from(&mut self.client);
            let got = match deadline {
                Some(d) => tokio::time::timeout_at(d, read).await.map_err(|_| 408u16)?,
                None => read.await,
            };
            match got {
                Ok(n) if n > 0 => {}
                _ => return Err(400),
            }
        }
        Ok(())
    }

    /// Emits the transaction's log record; `status`/`term` override what the
    /// transaction recorded when the engine answered itself.
    fn log_done(&mut self, status: Option<u16>, term: TermState) {
        let (rt, fe, addrs) = (self.rt, self.fe, self.addrs);
        if let Some(code) = status {
            crate::stats::counters::local_answer(&fe.name, code);
        }
        if let Some(l) = self.log.as_mut() {
            if status.is_some() {
                l.status = status;
            }
            if term != TermState::NORMAL {
                l.term = term;
            }
            crate::persist::log_term(self.persist.as_deref(), &mut l.term);
            // What the line's `%[…]` read: the request as rules left it when it was
            // forwarded, else as received.
            let parts = self
                .req_parts
                .as_deref_mut()
                .filter(|_| l.backend.is_some());
            let (req, buf) = (self.req.as_ref(), self.cbuf.readable());
            l.seen = crate::log_sample::seen_http(fe, parts, req, buf, l.seen.take());
            // No rule ran (an error before them): the line still reads `sess.` variables.
            if let Some(seen) = l.seen.as_mut().filter(|s| s.vars.session().is_none()) {
                seen.vars = fulcrum_rules::Vars::with_session(self.sess_vars.clone());
            }
            l.emit(rt, fe, addrs.src, addrs.dst);
        }
        crate::persist::txn_end(self.persist.as_deref(), status);
    }

    /// Waits for the first byte of the next request (none when pipelined
    /// bytes are already in), under `timeout http-keep-alive` between
    /// requests; returns the deadline of the rest of the head. A server
    /// connection kept this long returns to the thread's pool, as HAProxy
    /// moves it to the server's idle list, so idle clients do not each hold
    /// one.
    async fn idle(&mut self) -> Result<Option<Instant>, HeadWait> {
        let t = &self.fe.timeouts;
        let first = self.requests == 0;
        let request_t = t.http_request.or(t.client);
        let idle_t = if first {
            request_t
        } else {
            t.http_keep_alive.or(request_t)
        };
        let now = Instant::now();
        let deadline = idle_t.map(|d| now + d);
        if !self.cbuf.is_empty() {
            return Ok(if first {
                deadline
            } else {
                request_t.map(|d| now + d)
            });
        }
        // A soft stop closes idle keep-alive connections (this one, had it been
        // idle when the stop came, was closed then). A new connection is still
        // served: it may be one the stop took from the listener's queue.
        if !first && !self.fe.http.idle_close_on_response {
            if crate::park::stopping() {
                return Err(HeadWait::Gone);
            }
            crate::sessions::set_idle(true);
        }
        // An idle connection holds no buffer: the last request's goes back now
        // (a drained socket is not read again before new data comes).
        self.cbuf.release();
        // Private connections (a PROXY header for this client) and those of
        // `http-reuse never` stay with their session, as in HAProxy.
        let shared = |c: &SrvConn| {
            !c.private
                && (self.rt.backends.get(c.backend))
                    .is_some_and(|b| b.reuse != crate::runtime::HttpReuse::Never)
        };
        // A keep-alive connection idle this long is parked too, unless its
        // server connection must stay with it.
        let parkable = !first && self.srv.as_ref().is_none_or(&shared) && crate::park::available();
        let mut park_at =
            (parkable || self.srv.as_ref().is_some_and(shared)).then_some(now + PARK_SERVER_AFTER);
        loop {
            let until = match (deadline, park_at) {
                (Some(d), Some(p)) => Some(d.min(p)),
                (d, p) => d.or(p),
            };
            let (cbuf, client) = (&mut self.cbuf, &self.client);
            // Idle connections hold no buffer while they wait: readiness can
            // be stale (new sockets start "ready"), so the buffer is taken for
            // one non-blocking read and given back if there was nothing. The
            // task's waker waits in the socket's own slot (`poll_read_ready`),
            // not in a waiter node carried by every idle connection's future.
            let read = std::future::poll_fn(|cx| loop {
                std::task::ready!(client.poll_read_ready(cx))?;
                match cbuf.try_fill(|b| crate::readiness::read_drained(client, b)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    r => return std::task::Poll::Ready(r),
                }
            });
            let got = match until {
                Some(u) => match tokio::time::timeout_at(u, read).await {
                    Ok(r) => r,
                    Err(_) if park_at.is_some_and(|p| p <= u) && deadline != Some(u) => {
                        park_at = None;
                        self.park_server_cold();
                        if parkable {
                            return Err(HeadWait::Park(deadline));
                        }
                        continue;
                    }
                    Err(_) => {
                        // A silent keep-alive connection just ends; a first
                        // request gets 408 (unless http-ignore-probes).
                        if !first || self.fe.http.ignore_probes {
                            return Err(HeadWait::Gone);
                        }
                        return Err(HeadWait::Fail(408));
                    }
                },
                None => read.await,
            };
            return match got {
                Ok(0) | Err(_) => Err(HeadWait::Gone),
                Ok(_) => {
                    crate::sessions::set_idle(false);
                    let now = Instant::now();
                    if let Some(l) = self.log.as_mut() {
                        l.request_start = Some((now.into_std(), std::time::SystemTime::now()));
                    }
                    Ok(if first {
                        deadline
                    } else {
                        request_t.map(|d| now + d)
                    })
                }
            };
        }
    }

    /// Reads until a complete request head is in `cbuf`, parsed into `req`;
    /// its first bytes are in, the whole head is due by `deadline`.
    async fn wait_head(&mut self, deadline: Option<Instant>) -> HeadWait {
        loop {
            match fulcrum_proto::parse_request(self.cbuf.readable(), &self.limits) {
                Ok(Parsed::Complete(h, _)) => {
                    if let Some(l) = self.log.as_mut() {
                        let now = std::time::Instant::now();
                        l.request_start
                            .get_or_insert((now, std::time::SystemTime::now()));
                        l.request_done = Some(now);
                        let line = h.start_line.get(self.cbuf.readable());
                        let line = line.strip_suffix(b"\n").unwrap_or(line);
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        l.request_line = Some(String::from_utf8_lossy(line).into_owned());
                        let caps = &self.fe.http.captures;
                        if !caps.is_empty() {
                            let buf = self.cbuf.readable();
                            l.request_captures = Some(caps.request(buf, &h.headers));
                        }
                    }
                    self.req = Some(h);
                    return HeadWait::Ready;
                }
                Ok(Parsed::Partial) => {}
                Err(e) => return HeadWait::Fail(e.status(Side::Request)),
            }
            let read = self.cbuf.fill_from(&mut self.client);
            let got = match deadline {
                Some(d) => match tokio::time::timeout_at(d, read).await {
                    Ok(r) => r,
                    Err(_) => return HeadWait::Fail(408),
                },
                None => read.await,
            };
            if !matches!(got, Ok(n) if n > 0) {
                return HeadWait::Fail(400);
            }
        }
    }

    /// Sends an error page and closes, draining briefly so the client reads it
    /// instead of getting a reset.
    pub(crate) async fn send_error(&mut self, code: u16, be: Option<&Backend>) -> io::Result<()> {
        let page = errors::page(code, be.map(|b| &b.errors), &self.fe.errors);
        match rules::after_error(self, page) {
            Some(edited) => self.send_reply(&edited).await,
            None => self.send_reply(page).await,
        }
    }

    /// Sends a complete response and closes the connection.
    pub(crate) async fn send_reply(&mut self, page: &[u8]) -> io::Result<()> {
        let w = body_timeout(self.fe.timeouts.client, self.client.write_all(page)).await;
        // `%B`: what the client was sent (HAProxy counts its answers too).
        if let (Some(l), true) = (self.log.as_mut(), w.is_ok()) {
            l.bytes_read = page.len() as u64;
        }
        let _ = self.client.shutdown().await;
        if w.is_ok() {
            let mut sink = [0u8; 4096];
            let until = Instant::now() + Duration::from_millis(500);
            for _ in 0..256 {
                match tokio::time::timeout_at(until, self.client.read(&mut sink)).await {
                    Ok(Ok(n)) if n > 0 => continue,
                    _ => break,
                }
            }
        }
        w
    }

    /// Returns the session's server connection to the thread's idle pool.
    pub(crate) fn park_server(&mut self) {
        if let Some(c) = self.srv.take() {
            if !c.private {
                pool::put(c.addr, c.stream, c.uses > 1);
            }
        }
    }

    /// [`Self::park_server`] for a client gone idle: the connection waits in
    /// the pool outside tokio's registration.
    fn park_server_cold(&mut self) {
        if let Some(c) = self.srv.take() {
            if !c.private {
                pool::put_cold(c.addr, c.stream, c.uses > 1);
            }
        }
    }
}

/// The status of a generated response (`HTTP/1.1 302 …`), 0 if unreadable.
fn reply_status(bytes: &[u8]) -> u16 {
    bytes
        .get(9..12)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn body_timeout(
    t: Option<Duration>,
    f: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    super::body::with_timeout(t, f).await
}

#[cfg(test)]
mod tests {
    /// Memory per idle keep-alive connection is mostly this future: keep it small
    /// (the transaction and error paths are boxed).
    #[test]
    fn idle_http_session_future_stays_small() {
        let rt = crate::runtime::Runtime {
            nbthread: 1,
            maxconn: None,
            tune: Default::default(),
            frontends: vec![],
            backends: vec![],
        };
        let fe = crate::runtime::Frontend {
            name: String::new(),
            id: 0,
            mode: crate::runtime::Mode::Http,
            binds: vec![],
            maxconn: None,
            monitor_net: vec![],
            default_backend: None,
            timeouts: Default::default(),
            http: Default::default(),
            tcp: Default::default(),
            errors: Default::default(),
            rules: None,
        };
        let r = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        r.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let c = tokio::net::TcpStream::connect(addr).await.unwrap();
            let b = crate::runtime::Bind::new(addr);
            let held = crate::engine::Held::detached();
            let f = super::serve(&rt, &fe, &b, c, addr, None, held);
            assert!(
                std::mem::size_of_val(&f) <= 1000,
                "{}",
                std::mem::size_of_val(&f)
            );
        });
    }
}
