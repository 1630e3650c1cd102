//! Traffic logs: the engine fills fulcrum-observe's [`LogRecord`] once per
//! HTTP transaction or TCP session and hands it to the [`LogSink`] the binary
//! set up (formats, `log` servers, policy live there). Without a sink nothing
//! is recorded and nothing is allocated.

use crate::runtime::{Frontend, Runtime};
use fulcrum_observe::log::{LogRecord, Severity, Stamps, TermPhase, TermState, Timers};
use fulcrum_proto::http1::{HeaderEntry, Headers};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

/// Receives one record per request (HTTP) or session (TCP), on the worker
/// thread that served it: it must not block.
pub trait LogSink: Send + Sync {
    fn emit(&self, frontend: &Frontend, rec: LogRecord);
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The next `%rt` (HAProxy's `global.req_count`, taken as a stream starts).
pub(crate) fn next_request_counter() -> u64 {
    REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed)
}
/// `%ac`: connections open in the process (HAProxy's `actconn`).
static ACTCONN: AtomicU32 = AtomicU32::new(0);

/// A frontend's `capture request header`, `capture response header` and
/// `capture cookie` lines: `(name, len)` in declaration order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captures {
    pub request_headers: Vec<(String, usize)>,
    pub response_headers: Vec<(String, usize)>,
    pub cookie: Option<(String, usize)>,
}

/// The header captures and the cookie capture of one head.
pub(crate) type Taken = (Vec<Option<String>>, Option<String>);

fn cut(v: &[u8], len: usize) -> String {
    String::from_utf8_lossy(&v[..v.len().min(len)]).into_owned()
}

impl Captures {
    pub fn is_empty(&self) -> bool {
        self.request_headers.is_empty() && self.response_headers.is_empty() && self.cookie.is_none()
    }

    /// HAProxy keeps the whole value of the last occurrence, cut to `len`.
    fn headers(list: &[(String, usize)], h: &Headers<'_>) -> Vec<Option<String>> {
        list.iter()
            .map(|(name, len)| h.fhdr(name.as_bytes(), -1).map(|v| cut(v, *len)))
            .collect()
    }

    /// The `name=value` of the first cookie whose name starts with the
    /// captured name, cut to `len` (configuration.txt "capture cookie").
    fn cookie<'a>(&self, pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Option<String> {
        let (name, len) = self.cookie.as_ref()?;
        let (n, v) = pairs
            .into_iter()
            .find(|(n, _)| n.starts_with(name.as_bytes()))?;
        let mut pair = n.to_vec();
        pair.push(b'=');
        pair.extend_from_slice(v);
        Some(cut(&pair, *len))
    }

    /// Captures of a request head (`buf` holds the head `entries` point into).
    pub(crate) fn request(&self, buf: &[u8], entries: &[HeaderEntry]) -> Taken {
        let h = Headers::new(buf, entries);
        (
            Self::headers(&self.request_headers, &h),
            self.cookie(h.cookies()),
        )
    }

    /// Captures of a response head; the cookie comes from `Set-Cookie`.
    pub(crate) fn response(&self, buf: &[u8], entries: &[HeaderEntry]) -> Taken {
        let h = Headers::new(buf, entries);
        let set_cookies = h.get_all(b"set-cookie").filter_map(|v| {
            let pair = v.split(|&b| b == b';').next()?;
            let eq = pair.iter().position(|&b| b == b'=')?;
            Some((pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()))
        });
        (
            Self::headers(&self.response_headers, &h),
            self.cookie(set_cookies),
        )
    }
}

/// How many connections a frontend has open (`%fc`); clones share the count.
#[derive(Clone, Debug, Default)]
pub struct LiveConns(Arc<AtomicU32>);

impl LiveConns {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts one connection in `%ac` and its frontend's `%fc` while alive.
pub(crate) struct LiveGuard(Arc<AtomicU32>);

impl LiveGuard {
    fn new(fe: &Frontend) -> Self {
        ACTCONN.fetch_add(1, Ordering::Relaxed);
        fe.http.live.0.fetch_add(1, Ordering::Relaxed);
        LiveGuard(fe.http.live.0.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        ACTCONN.fetch_sub(1, Ordering::Relaxed);
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `%H`: the machine's host name, read once.
pub(crate) fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return String::new();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    })
}

/// What one transaction records as it goes.
pub(crate) struct TxnLog<'a> {
    pub sink: Arc<dyn LogSink>,
    pub accept: Instant,
    pub accept_date: SystemTime,
    pub request_start: Option<(Instant, SystemTime)>,
    pub request_done: Option<Instant>,
    pub dequeued: Option<Instant>,
    pub connected: Option<Instant>,
    pub response_headers: Option<Instant>,
    pub backend: Option<usize>,
    pub server: Option<usize>,
    pub status: Option<u16>,
    pub bytes_read: u64,
    pub bytes_uploaded: u64,
    pub request_line: Option<String>,
    pub term: TermState,
    pub retries: u32,
    pub redispatched: bool,
    pub request_captures: Option<Taken>,
    pub response_captures: Option<Taken>,
    /// `set-log-level silent`: this transaction logs nothing.
    pub silent: bool,
    /// `set-log-level LEVEL`: the line's severity (a later `silent` wins, see
    /// [`TxnLog::set_level`]).
    pub level: Option<Severity>,
    /// `unique-id-format` value (`%ID`).
    pub unique_id: Option<String>,
    /// `%rt`, taken when the request starts so the unique id and the line agree.
    pub request_counter: Option<u64>,
    /// What the line's `%[…]` expressions read (request, response, variables).
    pub seen: Option<Box<crate::log_sample::Seen>>,
    /// `option logasap` already sent this transaction's line.
    asap_sent: bool,
    /// Why the connection failed before a session existed (PROXY header).
    conn_error: Option<&'static str>,
    /// Held for the whole client connection, across its requests.
    live: Option<LiveGuard>,
    /// What a line needs when the session is killed (its future dropped).
    kill: KillCtx<'a>,
    /// The session is TCP: it logs once, however it ends.
    tcp: bool,
    /// Nothing was logged yet on this connection.
    fresh: bool,
}

/// The log of a parked connection between two requests: where lines go, when
/// the idle time began (the next request's accept time), and the
/// connection's place in the frontend's live count.
pub(crate) struct ParkedLog {
    sink: Arc<dyn LogSink>,
    accept: Instant,
    accept_date: SystemTime,
    live: Option<LiveGuard>,
    addrs: Option<(SocketAddr, SocketAddr)>,
}

/// Where a killed session's line goes, and from which addresses.
struct KillCtx<'a> {
    rt: &'a Runtime,
    fe: &'a Frontend,
    addrs: Option<(SocketAddr, SocketAddr)>,
    /// The registry entry of the session (absent outside a registered session).
    entry: Option<Arc<crate::sessions::Entry>>,
}

impl<'a> TxnLog<'a> {
    /// What reaching the server took: its name, `%Tw`'s end, `%rc` and its `+`.
    pub(crate) fn tried(&mut self, t: crate::connect::Tried) {
        self.server = t.server.or(self.server);
        // Layer-7 retries connect again: `%Tw` ends at the first assignment.
        self.dequeued = self.dequeued.or(t.dequeued);
        self.retries = t.retries;
        self.redispatched |= t.redispatched;
    }

    /// The log of a connection just accepted on `fe`, counted there until it ends.
    pub(crate) fn new(
        sink: Arc<dyn LogSink>,
        rt: &'a Runtime,
        fe: &'a Frontend,
        accept: Instant,
        accept_date: SystemTime,
    ) -> Self {
        let kill = KillCtx {
            rt,
            fe,
            addrs: None,
            entry: crate::sessions::current(),
        };
        let mut l = Self::next(sink, kill, accept, accept_date);
        l.live = Some(LiveGuard::new(fe));
        l.tcp = fe.mode == crate::runtime::Mode::Tcp;
        l.fresh = true;
        l
    }

    /// Between two requests: what the next one's line needs.
    pub(crate) fn park(mut self) -> ParkedLog {
        ParkedLog {
            sink: self.sink.clone(),
            accept: self.accept,
            accept_date: self.accept_date,
            live: self.live.take(),
            addrs: self.kill.addrs,
        }
    }

    /// The log of a parked connection going on (in its new session's task).
    pub(crate) fn resume(p: ParkedLog, rt: &'a Runtime, fe: &'a Frontend) -> Self {
        let kill = KillCtx {
            rt,
            fe,
            addrs: p.addrs,
            entry: crate::sessions::current(),
        };
        let mut l = Self::next(p.sink, kill, p.accept, p.accept_date);
        l.live = p.live;
        l
    }

    fn next(
        sink: Arc<dyn LogSink>,
        kill: KillCtx<'a>,
        accept: Instant,
        accept_date: SystemTime,
    ) -> Self {
        TxnLog {
            sink,
            accept,
            accept_date,
            request_start: None,
            request_done: None,
            dequeued: None,
            connected: None,
            response_headers: None,
            backend: None,
            server: None,
            status: None,
            bytes_read: 0,
            bytes_uploaded: 0,
            request_line: None,
            term: TermState::NORMAL,
            retries: 0,
            redispatched: false,
            request_captures: None,
            response_captures: None,
            silent: false,
            level: None,
            unique_id: None,
            request_counter: None,
            seen: None,
            asap_sent: false,
            conn_error: None,
            live: None,
            kill,
            tcp: false,
            fresh: false,
        }
    }

    /// This request's `%rt`, taken the first time it is asked (request start).
    pub(crate) fn counter(&mut self) -> u64 {
        *self
            .request_counter
            .get_or_insert_with(next_request_counter)
    }

    /// `set-log-level`: the last one a rule ran wins (`silent` included).
    pub(crate) fn set_level(&mut self, level: LevelOverride) {
        match level {
            LevelOverride::Silent => self.silent = true,
            LevelOverride::At(s) => {
                self.silent = false;
                self.level = Some(s);
            }
        }
    }

    /// The variables rules left (TCP sessions), for the line's `%[var(…)]`.
    pub(crate) fn set_vars(&mut self, vars: &fulcrum_rules::Vars) {
        let fe = self.kill.fe;
        if fe
            .http
            .log_formats
            .as_ref()
            .is_some_and(|f| f.reads_messages())
        {
            self.seen.get_or_insert_with(Default::default).vars = vars.clone();
        }
    }

    /// The client-side addresses a killed session's line shows (after the
    /// PROXY header and `set-src`/`set-dst`).
    pub(crate) fn set_addrs(&mut self, client: SocketAddr, local: SocketAddr) {
        self.kill.addrs = Some((client, local));
    }

    /// Emits the record and resets for the next request of the connection
    /// (whose accept time becomes the end of this one, as HAProxy counts idle time).
    /// After an `option logasap` line, nothing more is sent for this transaction.
    pub(crate) fn emit(
        &mut self,
        rt: &Runtime,
        fe: &Frontend,
        client: SocketAddr,
        local: SocketAddr,
    ) {
        let now = Instant::now();
        if !self.asap_sent {
            let rec = self.record(rt, fe, client, local, now, false);
            if !self.silent {
                self.sink.emit(fe, rec);
            }
        }
        self.kill.addrs = Some((client, local));
        let kill = KillCtx {
            rt: self.kill.rt,
            fe: self.kill.fe,
            addrs: self.kill.addrs,
            entry: self.kill.entry.take(),
        };
        let (sink, live) = (self.sink.clone(), self.live.take());
        let tcp = self.tcp;
        // The finished transaction must not log again when it is dropped.
        self.request_start = None;
        self.fresh = false;
        *self = TxnLog::next(sink, kill, now, SystemTime::now());
        self.live = live;
        self.tcp = tcp;
    }

    /// `option logasap`: sends the line now (totals so far, marked `+`); the
    /// transaction's end then sends nothing.
    pub(crate) fn emit_asap(
        &mut self,
        rt: &Runtime,
        fe: &Frontend,
        client: SocketAddr,
        local: SocketAddr,
    ) {
        if self.asap_sent {
            return;
        }
        let rec = self.record(rt, fe, client, local, Instant::now(), true);
        if !self.silent {
            self.sink.emit(fe, rec);
        }
        self.asap_sent = true;
    }

    /// The phase a session was in when it was killed (second `%ts` character).
    fn phase(&self) -> TermPhase {
        let requesting = !self.tcp && self.request_done.is_none();
        if requesting || (self.backend.is_none() && self.connected.is_none()) {
            TermPhase::Request
        } else if self.connected.is_none() {
            TermPhase::Connect
        } else if !self.tcp && self.response_headers.is_none() {
            TermPhase::Headers
        } else {
            TermPhase::Data
        }
    }

    fn record(
        &mut self,
        rt: &Runtime,
        fe: &Frontend,
        client: SocketAddr,
        local: SocketAddr,
        now: Instant,
        logasap: bool,
    ) -> LogRecord {
        let stamps = Stamps {
            accept: self.accept,
            handshake_done: None,
            request_start: self.request_start.map(|r| r.0),
            request_done: self.request_done,
            dequeued: self.dequeued.or(self.connected),
            connected: self.connected,
            response_headers: self.response_headers,
            closed: now,
        };
        let be = self.backend.and_then(|i| rt.backends.get(i));
        let srv = be.zip(self.server).and_then(|(b, i)| b.servers.get(i));
        // The server lease ends before the line is logged; HAProxy still
        // counts the logged stream when it reached its server, so it is added
        // back here (a failed connection counts nowhere, as in HAProxy).
        let own = u32::from(self.connected.is_some());
        let beconn = be.map_or(0, |b| {
            let on_servers: u32 = b.servers.iter().map(|s| s.state.cur_conns()).sum();
            let queued = u32::try_from(b.lb.queued()).unwrap_or(u32::MAX);
            on_servers.saturating_add(queued).saturating_add(own)
        });
        let caps = &fe.http.captures;
        let (mut req_caps, req_cookie) = self.request_captures.take().unwrap_or_default();
        let (mut resp_caps, resp_cookie) = self.response_captures.take().unwrap_or_default();
        // A head never received still prints its (empty) capture fields.
        // `http-request capture` slots come after the declared ones.
        req_caps.resize(req_caps.len().max(caps.request_headers.len()), None);
        resp_caps.resize(resp_caps.len().max(caps.response_headers.len()), None);
        let mut rec = LogRecord {
            accept_date: self.accept_date,
            request_date: self.request_start.map(|r| r.1),
            utc_offset: fulcrum_observe::time::local_offset(self.accept_date),
            client: Some(client),
            frontend_addr: Some(local),
            backend_src: None,
            server_addr: srv.map(|s| s.addr()),
            frontend: fe.name.clone(),
            frontend_tls: false,
            backend: be.map_or_else(|| fe.name.clone(), |b| b.name.clone()),
            server: srv.map(|s| s.name.to_string()),
            hostname: hostname().to_owned(),
            pid: std::process::id(),
            timers: Timers::from_stamps(&stamps),
            status: self.status,
            bytes_read: self.bytes_read,
            bytes_uploaded: self.bytes_uploaded,
            logasap,
            captured_request_cookie: req_cookie,
            captured_response_cookie: resp_cookie,
            request_captures: req_caps,
            response_captures: resp_caps,
            termination: self.term,
            actconn: ACTCONN.load(Ordering::Relaxed),
            feconn: fe.http.live.get(),
            beconn,
            srv_conn: srv.map_or(0, |s| s.state.cur_conns().saturating_add(own)),
            retries: self.retries,
            redispatched: self.redispatched,
            srv_queue: 0,
            backend_queue: be.map_or(0, |b| u32::try_from(b.lb.queued()).unwrap_or(u32::MAX)),
            request_line: self.request_line.take(),
            unique_id: self.unique_id.take(),
            log_counter: 0,
            request_counter: self
                .request_counter
                .take()
                .unwrap_or_else(next_request_counter),
            ssl_version: None,
            ssl_cipher: None,
            samples: Default::default(),
            level: self.level,
            conn_error: self.conn_error.map(str::to_string),
        };
        if let Some(f) = &fe.http.log_formats {
            rec.samples = f.evaluate(self.seen.take(), &rec);
        }
        rec
    }
}

impl Drop for TxnLog<'_> {
    /// A session ended by `shutdown session(s)` or a health action has its
    /// future dropped: its line is sent from here, with the killing cause.
    fn drop(&mut self) {
        let pending = self.request_start.is_some() || (self.tcp && self.fresh);
        let Some(cause) = self.kill.entry.as_ref().and_then(|e| e.kill_cause()) else {
            return;
        };
        let Some((client, local)) = self.kill.addrs.filter(|_| pending) else {
            return;
        };
        self.term = TermState::new(cause, self.phase());
        let (rt, fe) = (self.kill.rt, self.kill.fe);
        self.emit(rt, fe, client, local);
    }
}

/// `option logasap` in HTTP: the transaction's log, lent to the response side so
/// that the line goes out as soon as the response headers are through.
pub(crate) struct Asap<'l, 'a> {
    log: &'l mut TxnLog<'a>,
    client: SocketAddr,
    local: SocketAddr,
}

/// The logasap handle of a transaction, when its frontend asks for it.
pub(crate) fn asap<'l, 'a>(
    log: Option<&'l mut TxnLog<'a>>,
    fe: &Frontend,
    addrs: crate::connect::ClientAddrs,
) -> Option<Asap<'l, 'a>> {
    log.filter(|_| logasap(fe)).map(|log| Asap {
        log,
        client: addrs.src,
        local: addrs.dst,
    })
}

impl Asap<'_, '_> {
    /// Sends the line of a response whose head (`head_len` bytes) goes to the
    /// client now; `parts` is the request as rules saw it (for `%[…]`).
    pub(crate) fn send(
        self,
        status: u16,
        head_len: usize,
        caps: Option<Taken>,
        parts: Option<&mut crate::http::ReqParts>,
    ) {
        let l = self.log;
        l.response_headers = Some(Instant::now());
        l.status = Some(status);
        l.bytes_read = head_len as u64;
        if caps.is_some() {
            l.response_captures = caps;
        }
        let (rt, fe) = (l.kill.rt, l.kill.fe);
        l.seen = crate::log_sample::seen_http(fe, parts, None, &[], None);
        l.emit_asap(rt, fe, self.client, self.local);
    }
}

/// Logs a connection whose PROXY header (`accept-proxy`) failed, as HAProxy logs
/// such embryonic sessions: with the reason, `got` being what was received.
pub(crate) fn handshake_failed(
    log: Option<&mut TxnLog<'_>>,
    client: SocketAddr,
    local: SocketAddr,
    err: &std::io::Error,
    got: &[u8],
) {
    use std::io::ErrorKind;
    let Some(l) = log else {
        return;
    };
    const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
    let (reason, term) = match err.kind() {
        ErrorKind::TimedOut => (
            "Timeout while waiting for PROXY protocol header",
            TermState::CLIENT_TIMEOUT_REQUEST,
        ),
        ErrorKind::UnexpectedEof => (
            "Connection closed while waiting for PROXY protocol header",
            TermState::CLIENT_ABORT_REQUEST,
        ),
        _ if got.starts_with(b"PROXY ") || got.starts_with(V2_SIG) => (
            "Received an invalid PROXY protocol header",
            TermState::PROXY_REQUEST,
        ),
        _ => (
            "Received something which does not look like a PROXY protocol header",
            TermState::PROXY_REQUEST,
        ),
    };
    l.conn_error = Some(reason);
    l.term = term;
    let (rt, fe) = (l.kill.rt, l.kill.fe);
    l.emit(rt, fe, client, local);
}

/// `option logasap` on the frontend.
pub(crate) fn logasap(fe: &Frontend) -> bool {
    fe.http.log_formats.as_ref().is_some_and(|f| f.logasap)
}

/// `set-log-level` as a rule wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LevelOverride {
    Silent,
    At(Severity),
}

impl LevelOverride {
    pub(crate) fn parse(name: &str) -> Option<LevelOverride> {
        match name {
            "silent" => Some(LevelOverride::Silent),
            n => Severity::parse(n).map(LevelOverride::At),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_proto::{Limits, Parsed, RequestHead};
    use proptest::prelude::*;

    fn request(headers: &[(&str, &str)]) -> (Vec<u8>, RequestHead) {
        let mut b = b"GET / HTTP/1.1\r\n".to_vec();
        for (n, v) in headers {
            b.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        b.extend_from_slice(b"\r\n");
        let h = match fulcrum_proto::parse_request(&b, &Limits::from_tune(16384, 1024, false)) {
            Ok(Parsed::Complete(h, _)) => h,
            other => panic!("{other:?}"),
        };
        (b, h)
    }

    #[test]
    fn cookie_capture_takes_the_first_name_with_the_prefix() {
        let caps = Captures {
            cookie: Some(("SESS".into(), 12)),
            ..Default::default()
        };
        let (b, h) = request(&[("Cookie", "a=1; SESSION=0123456789; SESSX=2")]);
        assert_eq!(
            caps.request(&b, &h.headers).1.as_deref(),
            Some("SESSION=0123")
        );
        let (b, h) = request(&[("Cookie", "a=1")]);
        assert_eq!(caps.request(&b, &h.headers).1, None);
    }

    proptest! {
        #[test]
        fn header_capture_is_the_last_value_cut_to_len(
            values in prop::collection::vec("[a-zA-Z0-9,;=./-]{1,30}", 0..5),
            len in 0usize..40,
        ) {
            let mut hs: Vec<(&str, &str)> = vec![("Other", "zzz")];
            hs.extend(values.iter().map(|v| ("X-Cap", v.as_str())));
            let (b, h) = request(&hs);
            let caps = Captures {
                request_headers: vec![("x-cap".into(), len), ("Absent".into(), 5)],
                ..Default::default()
            };
            let want = values.last().map(|v| v[..v.len().min(len)].to_string());
            prop_assert_eq!(caps.request(&b, &h.headers).0, vec![want, None]);
        }
    }
}
