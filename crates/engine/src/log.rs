//! Traffic logs: the engine fills fulcrum-observe's [`LogRecord`] once per
//! HTTP transaction or TCP session and hands it to the [`LogSink`] the binary
//! set up (formats, `log` servers, policy live there). Without a sink nothing
//! is recorded and nothing is allocated.

use crate::runtime::{Frontend, Runtime};
use fulcrum_observe::log::{LogRecord, Stamps, TermState, Timers};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Receives one record per request (HTTP) or session (TCP), on the worker
/// thread that served it: it must not block.
pub trait LogSink: Send + Sync {
    fn emit(&self, frontend: &Frontend, rec: LogRecord);
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What one transaction records as it goes.
pub(crate) struct TxnLog {
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
}

impl TxnLog {
    pub(crate) fn new(sink: Arc<dyn LogSink>, accept: Instant, accept_date: SystemTime) -> Self {
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
        }
    }

    /// Emits the record and resets for the next request of the connection
    /// (whose accept time becomes the end of this one, as HAProxy counts idle time).
    pub(crate) fn emit(
        &mut self,
        rt: &Runtime,
        fe: &Frontend,
        client: SocketAddr,
        local: SocketAddr,
    ) {
        let now = Instant::now();
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
        let rec = LogRecord {
            accept_date: self.accept_date,
            request_date: self.request_start.map(|r| r.1),
            utc_offset: fulcrum_observe::time::local_offset(self.accept_date),
            client: Some(client),
            frontend_addr: Some(local),
            backend_src: None,
            server_addr: srv.map(|s| s.addr),
            frontend: fe.name.clone(),
            frontend_tls: false,
            backend: be.map_or_else(|| fe.name.clone(), |b| b.name.clone()),
            server: srv.map(|s| s.name.clone()),
            hostname: String::new(),
            pid: std::process::id(),
            timers: Timers::from_stamps(&stamps),
            status: self.status,
            bytes_read: self.bytes_read,
            bytes_uploaded: self.bytes_uploaded,
            logasap: false,
            captured_request_cookie: None,
            captured_response_cookie: None,
            request_captures: Vec::new(),
            response_captures: Vec::new(),
            termination: self.term,
            actconn: 0,
            feconn: 0,
            beconn: 0,
            srv_conn: srv.map_or(0, |s| s.state.cur_conns()),
            retries: self.retries,
            redispatched: false,
            srv_queue: 0,
            backend_queue: be.map_or(0, |b| u32::try_from(b.lb.queued()).unwrap_or(u32::MAX)),
            request_line: self.request_line.take(),
            unique_id: None,
            log_counter: 0,
            request_counter: REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed),
            ssl_version: None,
            ssl_cipher: None,
        };
        self.sink.emit(fe, rec);
        let sink = self.sink.clone();
        *self = TxnLog::new(sink, now, SystemTime::now());
    }
}
