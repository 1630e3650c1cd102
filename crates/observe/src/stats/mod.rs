//! Statistics snapshots, filled by the engine from its counters, and their
//! renderings: HAProxy's CSV / typed / JSON (`csv`), the HTML page (`html`),
//! Prometheus text (`prom`), and the page's admin form (`admin`).

pub mod admin;
pub mod auth;
pub mod csv;
mod fields;
pub mod histogram;
pub mod html;
mod info;
pub mod prom;

pub use fields::{Field, FieldValue, ObjType, Row, FIELD_NAMES};
pub use histogram::{AtomicHistogram, Histogram};
pub use info::{uptime_text, ProcessInfo};

/// The proxy's mode as HAProxy prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyMode {
    Tcp,
    #[default]
    Http,
    Health,
}

impl ProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Tcp => "tcp",
            ProxyMode::Http => "http",
            ProxyMode::Health => "health",
        }
    }
}

/// Counters every row type has (frontend, backend, server); fields that do
/// not apply to a type are left out by the renderers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Traffic {
    pub qcur: u32,
    pub qmax: u32,
    pub scur: u32,
    pub smax: u32,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub dreq: u64,
    pub dresp: u64,
    pub ereq: u64,
    pub econ: u64,
    pub eresp: u64,
    pub wretr: u64,
    pub wredis: u64,
    /// Sessions per second over the last second.
    pub rate: u32,
    pub rate_max: u32,
    /// HTTP responses by class: 1xx, 2xx, 3xx, 4xx, 5xx, other.
    pub hrsp: [u64; 6],
    pub req_rate: u32,
    pub req_rate_max: u32,
    pub req_tot: u64,
    pub cli_abrt: u64,
    pub srv_abrt: u64,
    pub comp_in: u64,
    pub comp_out: u64,
    pub comp_byp: u64,
    pub comp_rsp: u64,
    /// Seconds since the last session; `None` when there never was one.
    pub lastsess: Option<u64>,
    /// Averages over the last 1024 requests, in ms.
    pub qtime: u32,
    pub ctime: u32,
    pub rtime: u32,
    pub ttime: u32,
    pub qtime_max: u32,
    pub ctime_max: u32,
    pub rtime_max: u32,
    pub ttime_max: u32,
    pub conn_rate: u32,
    pub conn_rate_max: u32,
    pub conn_tot: u64,
    pub intercepted: u64,
    pub dcon: u64,
    pub dses: u64,
    pub wrew: u64,
    pub connect: u64,
    pub reuse: u64,
    pub cache_lookups: u64,
    pub cache_hits: u64,
    pub eint: u64,
    pub ssl_sess: u64,
    pub ssl_reused_sess: u64,
    pub ssl_failed_handshake: u64,
    /// The h2 module's counters in CSV order (`h2_headers_rcvd` …
    /// `h2_backend_total_streams`); frontends and backends only.
    pub h2: [u64; 13],
}

/// A frontend's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FrontendStatus {
    #[default]
    Open,
    /// Disabled or stopped (`disable frontend`).
    Stop,
    /// At its `maxconn`.
    Full,
}

impl FrontendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FrontendStatus::Open => "OPEN",
            FrontendStatus::Stop => "STOP",
            FrontendStatus::Full => "FULL",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrontendStats {
    pub status: FrontendStatus,
    /// `maxconn`.
    pub slim: u32,
    /// `rate-limit sessions`; `None` without a limit.
    pub rate_lim: Option<u32>,
    pub traffic: Traffic,
}

/// A server's state as HAProxy prints it in `status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerStatus {
    #[default]
    Up,
    Down,
    /// Up but not taking new traffic (agent or 404 with `disable-on-404`).
    NoLb,
    Maint,
    /// In maintenance because the tracked server is.
    MaintVia,
    Drain,
    /// Checks disabled.
    NoCheck,
    /// Up, but the last `n` checks of `of` failed.
    GoingDown {
        n: u32,
        of: u32,
    },
    /// Down, but the last `n` checks of `of` passed.
    GoingUp {
        n: u32,
        of: u32,
    },
    NoLbGoingDown {
        n: u32,
        of: u32,
    },
}

impl ServerStatus {
    pub fn as_string(self) -> String {
        match self {
            ServerStatus::Up => "UP".into(),
            ServerStatus::Down => "DOWN".into(),
            ServerStatus::NoLb => "NOLB".into(),
            ServerStatus::Maint => "MAINT".into(),
            ServerStatus::MaintVia => "MAINT(via)".into(),
            ServerStatus::Drain => "DRAIN".into(),
            ServerStatus::NoCheck => "no check".into(),
            ServerStatus::GoingDown { n, of } => format!("UP {n}/{of}"),
            ServerStatus::GoingUp { n, of } => format!("DOWN {n}/{of}"),
            ServerStatus::NoLbGoingDown { n, of } => format!("NOLB {n}/{of}"),
        }
    }

    /// Whether the server can take traffic (for the backend's status).
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            ServerStatus::Up | ServerStatus::NoCheck | ServerStatus::GoingDown { .. }
        )
    }
}

/// The last health-check (or agent-check) result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckStats {
    /// `L4OK`, `L7STS`, `L4CON`…
    pub status: String,
    /// A check is running now: the status is printed with a `* ` prefix.
    pub running: bool,
    pub code: Option<u32>,
    pub duration_ms: Option<u64>,
    /// Human-readable status, e.g. `Layer7 check passed`.
    pub desc: String,
    /// The check's reply or error text (`last_chk`).
    pub last: String,
    pub rise: u32,
    pub fall: u32,
    pub health: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerStats {
    pub name: String,
    pub sid: u32,
    pub status: ServerStatus,
    /// Effective weight (after slowstart/agent) and the configured one.
    pub weight: u32,
    pub uweight: u32,
    pub backup: bool,
    /// `maxconn`; `None` without a limit.
    pub slim: Option<u32>,
    /// `maxqueue`; `None` without a limit.
    pub qlimit: Option<u32>,
    /// Slowstart percentage, when in slowstart.
    pub throttle: Option<u32>,
    pub chkfail: u64,
    pub chkdown: u64,
    /// Seconds since the last state change.
    pub lastchg: u64,
    /// Total seconds down.
    pub downtime: u64,
    pub lbtot: u64,
    /// `track BACKEND/SERVER`.
    pub tracked: Option<String>,
    pub check: Option<CheckStats>,
    pub agent: Option<CheckStats>,
    /// Failed health checks when `observe` is set; `None` otherwise.
    pub hanafail: Option<u64>,
    /// `ADDR:PORT`, IPv6 in brackets.
    pub addr: String,
    pub cookie: Option<String>,
    pub idle_conn_cur: u32,
    pub safe_conn_cur: u32,
    pub used_conn_cur: u32,
    pub need_conn_est: u32,
    pub srv_icur: u32,
    pub src_ilim: Option<u32>,
    pub traffic: Traffic,
    pub timings: Option<Timings>,
}

/// Latency histograms for Prometheus (connect, queue, response, total).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timings {
    pub queue: Histogram,
    pub connect: Histogram,
    pub response: Histogram,
    pub total: Histogram,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackendStats {
    /// `UP` when a server can take traffic, else `DOWN`.
    pub up: bool,
    pub slim: u32,
    pub weight: u32,
    pub uweight: u32,
    pub act: u32,
    pub bck: u32,
    pub chkdown: u64,
    pub lastchg: u64,
    pub downtime: Option<u64>,
    pub lbtot: u64,
    /// The persistence cookie's name.
    pub cookie: Option<String>,
    /// `roundrobin`, `leastconn`…
    pub algo: String,
    pub traffic: Traffic,
    pub timings: Option<Timings>,
}

/// One `frontend`, `backend` or `listen` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyStats {
    pub name: String,
    /// The proxy's numeric id (`iid`), as `id` or HAProxy's numbering sets it.
    pub iid: u32,
    pub mode: ProxyMode,
    pub frontend: Option<FrontendStats>,
    pub servers: Vec<ServerStats>,
    pub backend: Option<BackendStats>,
}

/// Which rows `show stat` / `;csv` print: HAProxy's `<iid> <type> <sid>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatFilter {
    /// A proxy name or numeric id; `None` for all.
    pub proxy: Option<String>,
    /// Bit mask: 1 frontends, 2 backends, 4 servers; -1 for all.
    pub types: i32,
    /// A server id; `None` or -1 for all.
    pub sid: Option<i32>,
    /// Show addresses, cookies and algorithms (`stats show-legends`, or an
    /// operator/admin socket).
    pub show_legends: bool,
    /// `up`: only servers that are up.
    pub up_only: bool,
    /// `no-maint`: hide servers in maintenance.
    pub no_maint: bool,
}

impl Default for StatFilter {
    fn default() -> Self {
        StatFilter {
            proxy: None,
            types: -1,
            sid: None,
            show_legends: false,
            up_only: false,
            no_maint: false,
        }
    }
}

impl StatFilter {
    /// `up` / `no-maint` for one server.
    pub(crate) fn keeps_server(&self, sv: &ServerStats) -> bool {
        if self.up_only && !sv.status.is_usable() {
            return false;
        }
        !(self.no_maint && matches!(sv.status, ServerStatus::Maint | ServerStatus::MaintVia))
    }

    pub(crate) fn keeps_proxy(&self, px: &ProxyStats) -> bool {
        match self.proxy.as_deref() {
            None | Some("-1") => true,
            Some(p) => p == px.name || p.parse::<u32>().is_ok_and(|id| id == px.iid),
        }
    }
    pub(crate) fn keeps(&self, ty: ObjType, sid: u32) -> bool {
        let bit = match ty {
            ObjType::Frontend => 1,
            ObjType::Backend => 2,
            ObjType::Server => 4,
            ObjType::Listener => 8,
        };
        if self.types != -1 && self.types & bit == 0 {
            return false;
        }
        match (ty, self.sid) {
            (ObjType::Server, Some(s)) if s >= 0 => u32::try_from(s).is_ok_and(|s| s == sid),
            _ => true,
        }
    }
}
