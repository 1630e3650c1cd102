//! Everything a log line can print about one session or request.

use super::syslog::Severity;
use super::term::TermState;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

/// The timers of configuration.txt §8.4, in milliseconds; `-1` means the
/// phase was never reached (HAProxy prints `-1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// `%Th`: handshake (PROXY protocol, TLS).
    pub th: i64,
    /// `%Ti`: idle time before the request's first byte (keep-alive).
    pub ti: i64,
    /// `%TR`: receiving the full request from its first byte.
    pub tr_request: i64,
    /// `%Tw`: waiting in queues.
    pub tw: i64,
    /// `%Tc`: connecting to the server.
    pub tc: i64,
    /// `%Tr`: the server's response headers.
    pub tr_response: i64,
    /// `%Ta`: active time, from the request to the end of the response.
    pub ta: i64,
    /// `%Tt`: total session time.
    pub tt: i64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            th: 0,
            ti: 0,
            tr_request: -1,
            tw: -1,
            tc: -1,
            tr_response: -1,
            ta: -1,
            tt: -1,
        }
    }
}

impl Timers {
    /// `%Tq` = Th + Ti + TR.
    pub fn tq(&self) -> i64 {
        sum_or_minus_one(&[self.th, self.ti, self.tr_request])
    }
    /// `%Td` = Tt − (Tq + Tw + Tc + Tr): the data transfer time.
    pub fn td(&self) -> i64 {
        let used = sum_or_minus_one(&[self.tq(), self.tw, self.tc, self.tr_response]);
        if used < 0 || self.tt < 0 {
            -1
        } else {
            self.tt - used
        }
    }
    /// `%Tu` = Tt − Ti: the total time the client saw.
    pub fn tu(&self) -> i64 {
        if self.tt < 0 {
            -1
        } else {
            self.tt - self.ti.max(0)
        }
    }
}

/// The moments of a session the engine records; timers derive from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamps {
    pub accept: Instant,
    /// PROXY header / TLS handshake finished.
    pub handshake_done: Option<Instant>,
    /// First byte of the request (HTTP).
    pub request_start: Option<Instant>,
    /// Request headers complete (HTTP).
    pub request_done: Option<Instant>,
    /// Left the queues with a server assigned.
    pub dequeued: Option<Instant>,
    /// Connection to the server established.
    pub connected: Option<Instant>,
    /// Response headers received (HTTP).
    pub response_headers: Option<Instant>,
    /// Both sides closed (or now, for `option logasap`).
    pub closed: Instant,
}

fn ms(from: Instant, to: Instant) -> i64 {
    i64::try_from(to.saturating_duration_since(from).as_millis()).unwrap_or(i64::MAX)
}

impl Timers {
    /// HAProxy's timers from the session's moments (configuration.txt §8.4):
    /// each phase is measured from the end of the previous one, `-1` when
    /// the phase never completed.
    pub fn from_stamps(s: &Stamps) -> Timers {
        let hs = s.handshake_done.unwrap_or(s.accept);
        let req_start = s.request_start.unwrap_or(hs);
        // TCP has no request phase: queues start after the handshake.
        let queue_start = match (s.request_start, s.request_done) {
            (Some(_), Some(done)) => Some(done),
            (Some(_), None) => None,
            (None, _) => Some(hs),
        };
        let opt = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
            (Some(f), Some(t)) => ms(f, t),
            _ => -1,
        };
        Timers {
            th: ms(s.accept, hs),
            ti: s.request_start.map_or(0, |r| ms(hs, r)),
            tr_request: s.request_start.map_or(-1, |r| opt(Some(r), s.request_done)),
            tw: opt(queue_start, s.dequeued),
            tc: opt(s.dequeued, s.connected),
            tr_response: opt(s.connected, s.response_headers),
            ta: ms(req_start, s.closed),
            tt: ms(s.accept, s.closed),
        }
    }
}

fn sum_or_minus_one(parts: &[i64]) -> i64 {
    if parts.iter().any(|v| *v < 0) {
        -1
    } else {
        parts.iter().sum()
    }
}

/// The address a UNIX socket endpoint takes in a record's (and the engine's)
/// `SocketAddr` fields, which have no UNIX variant: an IPv6 address of the
/// discard-only prefix `100::/64` (RFC 6666), never a real peer. A client's port
/// holds its listener's id, which HAProxy logs as `%cp`; a server's tells UNIX
/// servers apart (idle pools are keyed by address); other ports print "unix".
pub const UNIX_IP: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0x756e, 0x6978);

/// A UNIX socket endpoint as a `SocketAddr` (see [`UNIX_IP`]).
pub fn unix_addr(port: u16) -> SocketAddr {
    SocketAddr::new(std::net::IpAddr::V6(UNIX_IP), port)
}

/// Whether `a` stands for a UNIX socket endpoint (see [`UNIX_IP`]).
pub fn is_unix(a: &SocketAddr) -> bool {
    a.ip() == std::net::IpAddr::V6(UNIX_IP)
}

/// One session's (TCP) or request's (HTTP) facts, filled by the engine when
/// the log line is due. Absent text prints as `-` unless noted.
#[derive(Clone, Debug)]
pub struct LogRecord {
    /// Accept date: `%t`, `%T`, `%Tl`, `%Ts`, `%ms`.
    pub accept_date: SystemTime,
    /// Date of the request's first byte: `%tr`, `%trg`, `%trl`; the accept
    /// date when `None`.
    pub request_date: Option<SystemTime>,
    /// Local UTC offset in seconds for the local dates (`%t`, `%tr`, `%Tl`);
    /// the engine computes it with [`crate::time::local_offset`].
    pub utc_offset: i32,
    pub client: Option<SocketAddr>,
    /// The address the client connected to.
    pub frontend_addr: Option<SocketAddr>,
    /// Our source address towards the server.
    pub backend_src: Option<SocketAddr>,
    pub server_addr: Option<SocketAddr>,
    pub frontend: String,
    /// The listener is TLS: `%ft` gets a `~` suffix.
    pub frontend_tls: bool,
    /// Backend name; the frontend's name when no backend was chosen.
    pub backend: String,
    /// `None` prints `<NOSRV>`.
    pub server: Option<String>,
    /// `%H`.
    pub hostname: String,
    pub pid: u32,
    pub timers: Timers,
    /// `%ST`; `None` prints `-1` (no response, TCP).
    pub status: Option<u16>,
    /// `%B`: bytes from the server to the client.
    pub bytes_read: u64,
    /// `%U`: bytes from the client to the server.
    pub bytes_uploaded: u64,
    /// `option logasap`: the line is emitted before the end, `%Tt`, `%Ta` and `%B` get a `+`.
    pub logasap: bool,
    pub captured_request_cookie: Option<String>,
    pub captured_response_cookie: Option<String>,
    /// `capture request header` values in declaration order (`None`: header absent).
    pub request_captures: Vec<Option<String>>,
    pub response_captures: Vec<Option<String>>,
    pub termination: TermState,
    /// `%ac`: process-wide concurrent connections.
    pub actconn: u32,
    /// `%fc`: the frontend's concurrent connections.
    pub feconn: u32,
    /// `%bc`: the backend's concurrent connections.
    pub beconn: u32,
    /// `%sc`: the server's concurrent connections.
    pub srv_conn: u32,
    /// `%rc`: connection retries.
    pub retries: u32,
    /// The request was redispatched: `%rc` gets a `+`.
    pub redispatched: bool,
    /// `%sq`: requests ahead of this one in the server's queue.
    pub srv_queue: u32,
    /// `%bq`: requests ahead of this one in the backend's queue.
    pub backend_queue: u32,
    /// `%r`: the request line as received; `None` prints `<BADREQ>`.
    pub request_line: Option<String>,
    /// `%ID`.
    pub unique_id: Option<String>,
    /// `%lc`: the frontend's log counter.
    pub log_counter: u64,
    /// `%rt`: the request counter.
    pub request_counter: u64,
    pub ssl_version: Option<String>,
    pub ssl_cipher: Option<String>,
    /// The values of the formats' `%[…]` expressions, evaluated by the engine.
    pub samples: SampleValues,
    /// `set-log-level LEVEL`: the severity of this line, whatever the options say.
    pub level: Option<Severity>,
    /// Why a connection failed before a session existed (a bad PROXY header):
    /// HAProxy logs such "embryonic" sessions with this reason.
    pub conn_error: Option<String>,
}

/// The values of the `%[…]` expressions of each format a frontend may log
/// with, in the order they appear in it; `None` prints `-`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleValues {
    /// `log-format` (or the built-in format's own expressions).
    pub format: Vec<Option<String>>,
    /// `error-log-format`.
    pub error: Vec<Option<String>>,
    /// `log-format-sd`.
    pub sd: Vec<Option<String>>,
}

impl Default for LogRecord {
    fn default() -> Self {
        LogRecord {
            accept_date: SystemTime::UNIX_EPOCH,
            request_date: None,
            utc_offset: 0,
            client: None,
            frontend_addr: None,
            backend_src: None,
            server_addr: None,
            frontend: String::new(),
            frontend_tls: false,
            backend: String::new(),
            server: None,
            hostname: String::new(),
            pid: 0,
            timers: Timers::default(),
            status: None,
            bytes_read: 0,
            bytes_uploaded: 0,
            logasap: false,
            captured_request_cookie: None,
            captured_response_cookie: None,
            request_captures: Vec::new(),
            response_captures: Vec::new(),
            termination: TermState::default(),
            actconn: 0,
            feconn: 0,
            beconn: 0,
            srv_conn: 0,
            retries: 0,
            redispatched: false,
            srv_queue: 0,
            backend_queue: 0,
            request_line: None,
            unique_id: None,
            log_counter: 0,
            request_counter: 0,
            ssl_version: None,
            ssl_cipher: None,
            samples: SampleValues::default(),
            level: None,
            conn_error: None,
        }
    }
}

impl LogRecord {
    /// The request line's method, URI and version as HAProxy cuts them:
    /// `None` for a missing part (the renderer prints `<BADREQ>`), and
    /// `HTTP/0.9` for a request line without version.
    pub(crate) fn request_parts(&self) -> RequestParts<'_> {
        let Some(line) = self.request_line.as_deref() else {
            return RequestParts::default();
        };
        let is_sp = |c: char| c == ' ' || c == '\t';
        let (method, rest) = match line.find(is_sp) {
            Some(i) => (&line[..i], line[i..].trim_start_matches(is_sp)),
            None => {
                return RequestParts {
                    line: Some(line),
                    ..RequestParts::default()
                }
            }
        };
        let (uri, version) = match rest.find(is_sp) {
            Some(i) => (&rest[..i], rest[i..].trim_start_matches(is_sp)),
            None => (rest, ""),
        };
        RequestParts {
            line: Some(line),
            method: Some(method),
            uri: Some(uri),
            version: Some(if version.is_empty() {
                "HTTP/0.9"
            } else {
                version
            }),
        }
    }
}

/// Pieces of a request line (see [`LogRecord::request_parts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestParts<'a> {
    pub line: Option<&'a str>,
    pub method: Option<&'a str>,
    pub uri: Option<&'a str>,
    pub version: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn http_timers_measure_each_phase() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let s = Stamps {
            accept: t0,
            handshake_done: Some(at(2)),
            request_start: Some(at(10)),
            request_done: Some(at(15)),
            dequeued: Some(at(18)),
            connected: Some(at(21)),
            response_headers: Some(at(40)),
            closed: at(100),
        };
        let t = Timers::from_stamps(&s);
        assert_eq!(
            (t.th, t.ti, t.tr_request, t.tw, t.tc, t.tr_response),
            (2, 8, 5, 3, 3, 19)
        );
        assert_eq!((t.ta, t.tt, t.tq(), t.td()), (90, 100, 15, 60));
    }

    #[test]
    fn unreached_phases_are_minus_one_and_tcp_has_no_request() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let refused = Stamps {
            accept: t0,
            handshake_done: None,
            request_start: None,
            request_done: None,
            dequeued: Some(at(1)),
            connected: None,
            response_headers: None,
            closed: at(5),
        };
        let t = Timers::from_stamps(&refused);
        assert_eq!(
            (t.tr_request, t.tw, t.tc, t.tr_response, t.tt),
            (-1, 1, -1, -1, 5)
        );
        let timeout = Stamps {
            request_start: Some(at(0)),
            request_done: None,
            dequeued: None,
            ..refused
        };
        let t = Timers::from_stamps(&timeout);
        assert_eq!((t.tr_request, t.tw, t.tq(), t.td()), (-1, -1, -1, -1));
    }
}
