//! The compiled runtime: what the engine runs, built once from the typed model
//! (or directly by tests). Nothing here parses text; every field is ready to use.

use crate::error::EngineError;
use crate::select::{BalanceAlgo, BalanceOptions, ServerState};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Everything the engine needs to serve traffic.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// Worker threads; 0 means one per CPU.
    pub nbthread: usize,
    /// `global maxconn`; `None` is unlimited.
    pub maxconn: Option<usize>,
    pub tune: Tune,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Arc<Backend>>,
}

/// `tune.*` settings the engine uses.
#[derive(Clone, Copy, Debug)]
pub struct Tune {
    pub bufsize: usize,
    pub maxrewrite: usize,
}

impl Default for Tune {
    fn default() -> Self {
        Tune {
            bufsize: 16384,
            maxrewrite: 1024,
        }
    }
}

impl Tune {
    /// Largest head accepted: HAProxy keeps `maxrewrite` bytes free for rewrites.
    pub fn max_head(&self) -> usize {
        self.bufsize.saturating_sub(self.maxrewrite).max(1024)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Tcp,
    Http,
}

/// Where a `bind` listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindAddr {
    Socket(SocketAddr),
    /// `fd@N`: a socket inherited from the parent process.
    Fd(i32),
    /// `/path`, `unix@path`, `abns@name` (`unix-bind prefix` already applied).
    Unix(crate::unix::UnixAddr),
}

#[derive(Clone, Debug)]
pub struct Bind {
    pub name: Option<String>,
    pub addr: BindAddr,
    pub backlog: Option<u32>,
    pub maxconn: Option<usize>,
    pub v4v6: bool,
    pub v6only: bool,
    pub accept_proxy: bool,
    pub interface: Option<String>,
    /// UNIX sockets: `mode`, `uid`/`user`, `gid`/`group` (or `unix-bind`'s).
    pub unix_perms: crate::unix::UnixPerms,
    /// `defer-accept`: TCP_DEFER_ACCEPT (one second).
    pub defer_accept: bool,
    /// `mss N`: TCP_MAXSEG; negative takes that much off the default MSS.
    pub mss: Option<i32>,
    /// `tfo`: TCP Fast Open, with the backlog as queue length.
    pub tfo: bool,
    /// The frontend's `option tcp-smart-accept` (on by default in HTTP mode):
    /// TCP_QUICKACK off on the listening socket.
    pub smart_accept: bool,
    /// The address bound, set at start when it names one IP and port: every
    /// client accepted there has it as local address, read without a
    /// `getsockname` per connection (`None`: wildcard or UNIX binds).
    pub local: Option<SocketAddr>,
}

impl Bind {
    pub fn new(addr: SocketAddr) -> Self {
        Bind {
            name: None,
            addr: BindAddr::Socket(addr),
            backlog: None,
            maxconn: None,
            v4v6: false,
            v6only: false,
            accept_proxy: false,
            interface: None,
            unix_perms: Default::default(),
            defer_accept: false,
            mss: None,
            tfo: false,
            smart_accept: false,
            local: None,
        }
    }
}

/// Timeouts; `None` is "not set" (HAProxy then waits forever, with a warning at
/// configuration time).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeouts {
    pub client: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server: Option<Duration>,
    pub server_fin: Option<Duration>,
    pub connect: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    pub queue: Option<Duration>,
    pub tarpit: Option<Duration>,
}

/// `option http-keep-alive | http-server-close | httpclose`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum ConnMode {
    #[default]
    KeepAlive,
    ServerClose,
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpReuse {
    Never,
    #[default]
    Safe,
    Aggressive,
    Always,
}

/// `option forwardfor [except NET] [header NAME] [if-none]`.
#[derive(Clone, Debug)]
pub struct ForwardFor {
    pub except: Option<IpNet>,
    pub header: String,
    pub if_none: bool,
}

impl Default for ForwardFor {
    fn default() -> Self {
        ForwardFor {
            except: None,
            header: "X-Forwarded-For".into(),
            if_none: false,
        }
    }
}

/// `option originalto [except NET] [header NAME]`.
#[derive(Clone, Debug)]
pub struct OriginalTo {
    pub except: Option<IpNet>,
    pub header: String,
}

/// An address and prefix length, as in `except 10.0.0.0/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (_, ip) => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let bits = u32::from(self.prefix.min(32));
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let bits = u32::from(self.prefix.min(128));
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// HTTP options of one proxy section; a transaction combines the frontend's and
/// the backend's as HAProxy does.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    pub conn_mode: ConnMode,
    pub pretend_keepalive: bool,
    pub forwardfor: Option<ForwardFor>,
    pub originalto: Option<OriginalTo>,
    pub ignore_probes: bool,
    /// `option idle-close-on-response`: a soft stop leaves idle connections
    /// open; each closes after its next response (or its keep-alive timeout).
    pub idle_close_on_response: bool,
    pub abortonclose: bool,
    pub buffer_request: bool,
    /// `option accept-invalid-http-request` (frontends) and
    /// `accept-invalid-http-response` (backends): the relaxations of
    /// [`fulcrum_proto::Limits::accept_invalid`].
    pub accept_invalid_request: bool,
    pub accept_invalid_response: bool,
    /// `capture …` lines (frontends only): values go to the log lines.
    pub captures: Arc<crate::log::Captures>,
    /// Connections open on the frontend, for `%fc`.
    pub live: crate::log::LiveConns,
    /// `unique-id-format` / `unique-id-header` (frontends only).
    pub unique_id: Option<Arc<UniqueId>>,
    /// The formats of the frontend's log lines and their compiled `%[…]` (frontends only).
    pub log_formats: Option<Arc<crate::log_sample::LogFormats>>,
}

/// A frontend's request id: rendered per request, sent in `header` if set, logged as `%ID`.
#[derive(Clone, Debug)]
pub struct UniqueId {
    pub format: fulcrum_rules::Template,
    pub header: Option<String>,
}

/// TCP-level options of one proxy section.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpOptions {
    pub splice_request: bool,
    pub splice_response: bool,
    pub nolinger: bool,
    pub independent_streams: bool,
    /// `option clitcpka` (frontends) / `srvtcpka` (backends), or `tcpka`.
    pub keepalive: Option<KeepAlive>,
    /// `option tcp-smart-connect` (backends).
    pub smart_connect: bool,
    /// 1.x `mode health`: the bytes every connection gets before it is closed.
    pub health_answer: Option<&'static [u8]>,
}

/// SO_KEEPALIVE and its timers (`clitcpka-idle`, `-intvl`, `-cnt`); `None`
/// keeps the system's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepAlive {
    pub idle: Option<Duration>,
    pub intvl: Option<Duration>,
    pub cnt: Option<u32>,
}

/// Error responses sent as they are (status line included): `errorfile`,
/// `errorloc*`, `errorfiles`, already resolved to bytes.
#[derive(Clone, Debug, Default)]
pub struct ErrorPages {
    pub by_status: HashMap<u16, Arc<[u8]>>,
}

#[derive(Clone, Debug)]
pub struct Frontend {
    pub name: String,
    /// The proxy's number (`id`, else HAProxy's automatic numbering): `fe_id`.
    pub id: u32,
    pub mode: Mode,
    pub binds: Vec<Bind>,
    /// `monitor-net` (1.x): clients from these networks get HAProxy's bare health answer
    /// (`HTTP/1.0 200 OK` in HTTP mode, an immediate close in TCP mode), unlogged.
    pub monitor_net: Vec<IpNet>,
    pub maxconn: Option<usize>,
    /// Index into [`Runtime::backends`].
    pub default_backend: Option<usize>,
    pub timeouts: Timeouts,
    pub http: HttpOptions,
    pub tcp: TcpOptions,
    pub errors: ErrorPages,
    /// Compiled ACLs, `http-request` rules and `use_backend`; `None` when the
    /// section has none (the fast path).
    pub rules: Option<Arc<fulcrum_rules::CompiledProxy>>,
}

/// `send-proxy` / `send-proxy-v2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyVersion {
    V1,
    V2,
}

#[derive(Clone, Debug)]
pub struct Server {
    /// Changed in place by `add server` / `del server` (empty: a spare slot).
    pub name: crate::srv_name::SrvName,
    pub weight: u32,
    pub maxconn: Option<usize>,
    pub maxqueue: Option<usize>,
    /// `minconn`: with the backend's `fullconn`, the server's limit grows from
    /// here to `maxconn` with the backend's load (see [`crate::select`]).
    pub minconn: Option<usize>,
    pub backup: bool,
    pub id: Option<u32>,
    /// As configured; connections read [`Server::source_addr`], which `add
    /// server` may set for a spare slot.
    pub source: Option<SocketAddr>,
    /// A UNIX socket server (`/path`, `unix@`, `abns@`); its address in
    /// [`ServerState`] is then a placeholder (see [`crate::unix`]).
    pub unix: Option<Arc<crate::unix::UnixAddr>>,
    /// As configured; connections read [`Server::proxy_header`].
    pub send_proxy: Option<ProxyVersion>,
    pub shutdown_on_down: bool,
    /// Shared by every thread: up/down, counters.
    pub state: Arc<ServerState>,
    /// The connection settings in force, set from the fields above when the
    /// backend is built and replaced as a whole by `add server`.
    pub(crate) live: Arc<arc_swap::ArcSwap<Live>>,
}

/// What a new server connection reads once (see [`Server::live`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Live {
    pub(crate) send_proxy: Option<ProxyVersion>,
    pub(crate) source: Option<SocketAddr>,
    pub(crate) maxqueue: Option<usize>,
}

impl Server {
    pub fn new(name: &str, addr: SocketAddr) -> Self {
        let state = ServerState::new(0, 1, false);
        state.set_addr(addr);
        Server {
            name: crate::srv_name::SrvName::new(name),
            weight: 1,
            maxconn: None,
            maxqueue: None,
            minconn: None,
            backup: false,
            id: None,
            source: None,
            unix: None,
            send_proxy: None,
            shutdown_on_down: false,
            state: Arc::new(state),
            live: Arc::new(arc_swap::ArcSwap::from_pointee(Live::default())),
        }
    }

    /// `send-proxy`/`send-proxy-v2` in force.
    pub fn proxy_header(&self) -> Option<ProxyVersion> {
        self.live.load().send_proxy
    }

    /// `maxqueue` in force (stats; the backend's bound is their sum).
    pub fn queue_limit(&self) -> Option<usize> {
        self.live.load().maxqueue
    }

    /// `source` in force: the address outgoing connections bind to.
    pub fn source_addr(&self) -> Option<SocketAddr> {
        self.live.load().source
    }

    /// Where new connections go: the configured address, or the last
    /// `set server addr` (connections already open stay where they are).
    pub fn addr(&self) -> SocketAddr {
        let none = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);
        self.state.addr().unwrap_or(none)
    }

    /// A server (not a spare or deleted slot).
    pub fn is_present(&self) -> bool {
        !self.name.is_empty()
    }
}

/// `retry-on`: which failures are retried (within `retries`). The default is
/// connection failures only; layer-7 conditions replay the request, which the
/// engine does only for bodiless requests with an idempotent method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryOn {
    pub conn_failure: bool,
    pub empty_response: bool,
    pub junk_response: bool,
    pub response_timeout: bool,
    pub statuses: Vec<u16>,
}

impl Default for RetryOn {
    fn default() -> Self {
        RetryOn {
            conn_failure: true,
            empty_response: false,
            junk_response: false,
            response_timeout: false,
            statuses: Vec::new(),
        }
    }
}

impl RetryOn {
    /// Parses the keywords of a `retry-on` line; `Err` names an unknown one.
    pub fn parse(words: &[String]) -> Result<RetryOn, String> {
        let mut r = RetryOn {
            conn_failure: false,
            ..RetryOn::default()
        };
        for w in words {
            match w.as_str() {
                "none" => {
                    return Ok(RetryOn {
                        conn_failure: false,
                        ..RetryOn::default()
                    })
                }
                "conn-failure" => r.conn_failure = true,
                "empty-response" => r.empty_response = true,
                "junk-response" => r.junk_response = true,
                "response-timeout" => r.response_timeout = true,
                // No TLS early data exists here, so nothing is ever rejected.
                "0rtt-rejected" => {}
                "all-retryable-errors" => {
                    r.conn_failure = true;
                    r.empty_response = true;
                    r.junk_response = true;
                    r.response_timeout = true;
                    r.statuses.extend([500, 502, 503, 504]);
                }
                code => match code.parse::<u16>() {
                    Ok(c @ (401 | 403 | 404 | 408 | 425 | 500 | 501 | 502 | 503 | 504)) => {
                        r.statuses.push(c)
                    }
                    _ => return Err(format!("retry-on: unknown keyword '{code}'")),
                },
            }
        }
        Ok(r)
    }

    pub(crate) fn any_l7(&self) -> bool {
        self.empty_response
            || self.junk_response
            || self.response_timeout
            || !self.statuses.is_empty()
    }
}

/// `option redispatch [N]` as HAProxy counts it: positive P redispatches on
/// every Pth retry, negative N on the Nth retry before the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redispatch(pub i32);

#[derive(Debug)]
pub struct Backend {
    pub name: String,
    /// The proxy's number (`id`, else HAProxy's automatic numbering): `be_id`.
    pub id: u32,
    pub mode: Mode,
    pub servers: Vec<Server>,
    pub timeouts: Timeouts,
    /// `retries`, default 3.
    pub retries: u32,
    pub redispatch: Option<Redispatch>,
    pub retry_on: RetryOn,
    pub http: HttpOptions,
    pub tcp: TcpOptions,
    pub reuse: HttpReuse,
    pub errors: ErrorPages,
    /// `dispatch ADDR`: used when the backend has no server line.
    pub dispatch: Option<SocketAddr>,
    /// Compiled `http-request` rules of the backend section.
    pub rules: Option<Arc<fulcrum_rules::CompiledProxy>>,
    /// Servers' selection and queueing state; built from `servers`.
    pub lb: Arc<crate::select::Balancer>,
    /// Cookie, appsession and `stick` rules (see [`crate::persist`]).
    pub persist: crate::persist::Persist,
}

impl Backend {
    /// A round-robin backend.
    pub fn new(name: &str, mode: Mode, servers: Vec<Server>) -> Result<Self, EngineError> {
        Self::with_balance(
            name,
            mode,
            servers,
            BalanceAlgo::RoundRobin,
            BalanceOptions::default(),
        )
    }

    /// A backend with a `balance` algorithm. Each server's shared state is
    /// (re)built here from its settings.
    pub fn with_balance(
        name: &str,
        mode: Mode,
        mut servers: Vec<Server>,
        algo: BalanceAlgo,
        opts: BalanceOptions,
    ) -> Result<Self, EngineError> {
        crate::select::server_states(&mut servers);
        let lb = crate::select::Balancer::new(&servers, algo, opts)
            .map_err(|e| EngineError::Config(format!("backend '{name}': {e}")))?;
        let lb = Arc::new(lb);
        Ok(Backend {
            name: name.into(),
            id: 0,
            mode,
            servers,
            timeouts: Timeouts::default(),
            retries: 3,
            redispatch: None,
            retry_on: RetryOn::default(),
            http: HttpOptions::default(),
            tcp: TcpOptions::default(),
            reuse: HttpReuse::default(),
            errors: ErrorPages::default(),
            dispatch: None,
            rules: None,
            lb,
            persist: Default::default(),
        })
    }

    /// After a health check or the runtime API changed server `i`'s state.
    pub fn server_changed(&self, i: usize) {
        self.lb.on_server_change(i);
    }
}
