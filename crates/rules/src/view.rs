//! What the engine exposes to rules: the session, the request, the response.
//!
//! Header access is by index so that any header storage works; names compare
//! case-insensitively in this crate. Side effects that do not stop processing
//! (captures, timeouts, tracking) arrive as [`Effect`]s.

use std::net::{IpAddr, SocketAddr};

use fulcrum_config::logformat::{Flags, Var};
use fulcrum_persist::track::Trackers;
use fulcrum_persist::Tables;

use crate::value::Vars;

/// Live counters of proxies and servers, looked up by name. `None`: unknown name.
pub trait Stats {
    fn nbsrv(&self, backend: &str) -> Option<i64>;
    fn be_conn(&self, backend: &str) -> Option<i64>;
    fn fe_conn(&self, frontend: &str) -> Option<i64>;
    fn connslots(&self, backend: &str) -> Option<i64>;
    fn srv_conn(&self, backend: &str, server: &str) -> Option<i64>;
    fn srv_is_up(&self, backend: &str, server: &str) -> Option<bool>;
    fn queue(&self, backend: &str) -> Option<i64>;
    fn avg_queue(&self, backend: &str) -> Option<i64>;
}

/// A [`Stats`] that knows nothing (every lookup fails, so such fetches do not match).
pub struct NoStats;

impl Stats for NoStats {
    fn nbsrv(&self, _: &str) -> Option<i64> {
        None
    }
    fn be_conn(&self, _: &str) -> Option<i64> {
        None
    }
    fn fe_conn(&self, _: &str) -> Option<i64> {
        None
    }
    fn connslots(&self, _: &str) -> Option<i64> {
        None
    }
    fn srv_conn(&self, _: &str, _: &str) -> Option<i64> {
        None
    }
    fn srv_is_up(&self, _: &str, _: &str) -> Option<bool> {
        None
    }
    fn queue(&self, _: &str) -> Option<i64> {
        None
    }
    fn avg_queue(&self, _: &str) -> Option<i64> {
        None
    }
}

/// A side effect asked by a rule that lets processing continue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect<'a> {
    /// `capture EXPR len N` (a new slot, in rule order) or `capture EXPR id N`
    /// (slot N of `declare capture`); the value is already cut to `len`.
    Capture {
        id: Option<usize>,
        len: Option<usize>,
        value: &'a [u8],
    },
    SetLogLevel(&'a str),
    SetTimeout {
        kind: fulcrum_config::rules::TimeoutKind,
        ms: u64,
    },
    /// `track-scN KEY [table T]`, only for a view without [`SessionView::tables`]
    /// (with them the rules call `Trackers::track` themselves).
    TrackSc {
        counter: u8,
        key: &'a [u8],
        table: Option<&'a str>,
    },
    EarlyHint {
        name: &'a [u8],
        value: &'a [u8],
    },
    SetSrc(IpAddr),
    SetDst(IpAddr),
    /// `set-src-port` / `set-dst-port`: the address stays.
    SetSrcPort(u16),
    SetDstPort(u16),
    /// `tcp-request connection expect-proxy layer4`.
    ExpectProxy,
    /// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)`: increment general purpose counter `gpc`
    /// (only without [`SessionView::tables`], like `TrackSc`).
    IncGpc {
        counter: u8,
        gpc: u8,
    },
    /// `sc-set-gpt0(N) VALUE` (only without [`SessionView::tables`]).
    SetGpt0 {
        counter: u8,
        value: i64,
    },
}

/// A stick-counter read (`sc_http_req_rate(0)`, `sc1_conn_cur`, `src_conn_rate(t)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StickQuery<'a> {
    /// `Some(n)`: the entry tracked by `track-scN`; `None`: the entry of the client address.
    pub tracked: Option<u8>,
    /// The counter, e.g. `http_req_rate`, `conn_cur`, `gpc0`, `tracked`.
    pub counter: &'a str,
    /// The table named in the fetch; `None` = the tracking rule's (or this proxy's) table.
    pub table: Option<&'a str>,
}

/// Which trackers a `track-scN` fills: the session's (`tcp-request connection|session`)
/// or the stream's (`tcp-request content`, `http-request`, `http-response`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackScope {
    Session,
    Stream,
}

/// The connection and the proxies it went through.
pub trait SessionView {
    fn src(&self) -> Option<SocketAddr>;
    fn dst(&self) -> Option<SocketAddr>;
    /// Frontend name and id.
    fn frontend(&self) -> (&str, i64);
    /// Backend once chosen.
    fn backend(&self) -> Option<(&str, i64)>;
    /// Server once chosen.
    fn server(&self) -> Option<(&str, i64)>;
    fn stats(&self) -> &dyn Stats;
    fn vars(&self) -> &Vars;
    fn vars_mut(&mut self) -> &mut Vars;
    /// Request bytes buffered so far (`req.payload`, `req.len`, `rdp_cookie`).
    fn payload(&self) -> &[u8] {
        &[]
    }
    /// Response bytes buffered so far (`res.payload`, `res.len`: `tcp-response content`).
    fn res_payload(&self) -> &[u8] {
        &[]
    }
    /// TLS SNI, once TLS exists.
    fn ssl_sni(&self) -> Option<&[u8]> {
        None
    }
    /// `true` once the inspect delay expired or the buffer is full (`WAIT_END`).
    fn wait_ended(&self) -> bool {
        true
    }
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    /// Seconds since the epoch (`date`).
    fn now_unix(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
    /// A random number (`rand`, `uuid`); the engine may use its own generator.
    fn random(&self) -> u64 {
        crate::hash::fallback_random()
    }
    /// A log-format `%` variable the engine renders as its log lines do, with
    /// its flags (`Q`, `E`, `X`); `false`: the rules' own rendering, else `-`.
    fn log_var(&self, _var: Var, _flags: Flags, _out: &mut Vec<u8>) -> bool {
        false
    }
    fn effect(&mut self, _effect: Effect<'_>) {}
    /// The `unique-id-format` value of this transaction (`unique-id`).
    fn unique_id(&self) -> Option<&[u8]> {
        None
    }
    /// A `capture request|response header` slot (`capture.req.hdr(N)`).
    fn captured_header(&self, _response: bool, _slot: usize) -> Option<&[u8]> {
        None
    }
    /// A stick-table counter; `None` when nothing is tracked (the fetch then fails).
    /// Only asked when [`SessionView::tables`] is `None`.
    fn stick_counter(&self, _q: &StickQuery<'_>) -> Option<i64> {
        None
    }
    /// The configuration's stick tables (`Tables::from_config`, shared by workers).
    /// With them, `sc_*`/`src_*`/`table_*` fetches and converters read the tables
    /// and `track-scN`/`sc-inc-gpc*`/`sc-set-gpt0` act on the trackers below;
    /// `None` (the default): they fall back to `stick_counter` and [`Effect`]s.
    fn tables(&self) -> Option<&Tables> {
        None
    }
    /// Counters tracked by the session (`tcp-request connection|session track-scN`).
    fn session_trackers(&self) -> Option<&Trackers> {
        None
    }
    /// Counters tracked by the current stream (HTTP request, `tcp-request content`).
    fn stream_trackers(&self) -> Option<&Trackers> {
        None
    }
    /// The trackers a `track-scN` of `scope` fills; `None`: tracking is skipped.
    fn trackers_mut(&mut self, _scope: TrackScope) -> Option<&mut Trackers> {
        None
    }
    /// Milliseconds on a monotonic clock: the `now` of tables and trackers.
    fn now_ms(&self) -> u64 {
        0
    }
}

/// An HTTP request (and its session).
pub trait RequestView: SessionView {
    fn method(&self) -> &[u8];
    /// The request target as received (`/a/b?x=1`, or absolute form).
    fn uri(&self) -> &[u8];
    /// `HTTP/1.1`.
    fn version(&self) -> &[u8];
    fn header_count(&self) -> usize;
    /// Name and value of the header at `i`, in wire order.
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])>;
    /// Body bytes buffered so far.
    fn body(&self) -> &[u8] {
        &[]
    }
    /// `false` for the second and later requests of a keep-alive connection.
    fn is_first_request(&self) -> bool {
        true
    }
    /// Whether `wait-for-body` may let the rules go on: the whole body is in, the
    /// buffer is full, or `at_least` body bytes are in (`None`/0: no minimum).
    /// `false` stops the rules with [`Verdict::WaitForBody`](crate::Verdict).
    fn body_ready(&self, _at_least: Option<u64>) -> bool {
        true
    }
    fn set_method(&mut self, method: &[u8]);
    fn set_uri(&mut self, uri: &[u8]);
    fn add_header(&mut self, name: &[u8], value: &[u8]);
    fn set_header_value(&mut self, i: usize, value: &[u8]);
    fn remove_header(&mut self, i: usize);
}

/// An HTTP response (with the request it answers).
pub trait ResponseView: RequestView {
    fn status(&self) -> u16;
    fn res_version(&self) -> &[u8];
    fn res_header_count(&self) -> usize;
    fn res_header(&self, i: usize) -> Option<(&[u8], &[u8])>;
    fn set_status(&mut self, status: u16, reason: Option<&[u8]>);
    fn res_add_header(&mut self, name: &[u8], value: &[u8]);
    fn res_set_header_value(&mut self, i: usize, value: &[u8]);
    fn res_remove_header(&mut self, i: usize);
    /// Response body bytes buffered so far (`res.body`).
    fn res_body(&self) -> &[u8] {
        &[]
    }
    /// [`RequestView::body_ready`] for `http-response wait-for-body`.
    fn res_body_ready(&self, _at_least: Option<u64>) -> bool {
        true
    }
}
