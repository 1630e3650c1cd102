//! `defaults`, `frontend`, `backend`, `listen` sections (configuration.txt §4).

use super::addr::{Address, IpNet};
use super::balance::{Balance, HashType};
use super::bind::Bind;
use super::check::CheckSettings;
use super::log::LogSetting;
use super::options::Options;
use super::persist::PersistSettings;
use super::server::{Server, ServerSettings};
use crate::diag::Span;
use crate::logformat::LogFormat;
use crate::rules::{AclDef, Condition, HttpRule, TcpRule, UseTarget};
use std::path::PathBuf;
use std::time::Duration;

/// Which section kind a proxy comes from; decides which keywords apply (§4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyKind {
    #[default]
    Defaults,
    Frontend,
    Backend,
    Listen,
}

impl ProxyKind {
    pub fn is_frontend(self) -> bool {
        matches!(self, ProxyKind::Frontend | ProxyKind::Listen)
    }
    pub fn is_backend(self) -> bool {
        matches!(self, ProxyKind::Backend | ProxyKind::Listen)
    }
    pub fn word(self) -> &'static str {
        match self {
            ProxyKind::Defaults => "defaults",
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }
}

/// `mode tcp|http` (`health` is refused since HAProxy 2.4… and here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Tcp,
    Http,
}

impl Mode {
    pub fn word(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Http => "http",
        }
    }
}

/// `timeout X` values; `None` = not set (infinite).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub client: Option<Duration>,
    pub server: Option<Duration>,
    pub connect: Option<Duration>,
    pub queue: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server_fin: Option<Duration>,
    pub tarpit: Option<Duration>,
    pub check: Option<Duration>,
}

/// `stats …` settings of a proxy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsSettings {
    pub enable: bool,
    pub uri: Option<String>,
    pub realm: Option<String>,
    /// `stats auth USER:PASS`, several allowed.
    pub auth: Vec<(String, String)>,
    pub refresh: Option<Duration>,
    pub hide_version: bool,
    /// `stats show-node [NAME]`: `Some(None)` shows the global node name.
    pub show_node: Option<Option<String>>,
    pub show_desc: Option<Option<String>>,
    pub show_legends: bool,
    pub show_modules: bool,
    pub scope: Vec<String>,
    /// `stats admin if|unless COND`.
    pub admin: Option<Condition>,
    /// `stats http-request …` rules.
    pub http_request: Vec<HttpRule>,
}

impl StatsSettings {
    /// HAProxy's URI prefix when `stats enable` is written without `stats uri`.
    pub const DEFAULT_URI: &'static str = "/haproxy?stats";
    /// HAProxy's realm when `stats auth` is written without `stats realm`.
    pub const DEFAULT_REALM: &'static str = "HAProxy Statistics";

    /// The URI prefix the stats page answers on, when stats are enabled.
    pub fn effective_uri(&self) -> Option<&str> {
        self.enable
            .then(|| self.uri.as_deref().unwrap_or(Self::DEFAULT_URI))
    }
    pub fn effective_realm(&self) -> &str {
        self.realm.as_deref().unwrap_or(Self::DEFAULT_REALM)
    }
}

/// `capture request|response header NAME len N` and `capture cookie NAME len N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    pub span: Span,
    pub what: CaptureWhat,
    pub name: String,
    pub len: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureWhat {
    RequestHeader,
    ResponseHeader,
    Cookie,
}

/// `errorfile CODE FILE`, `errorloc[302|303] CODE URL`, `errorfiles NAME [CODE…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPage {
    pub span: Span,
    pub kind: ErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    File {
        status: u16,
        path: PathBuf,
    },
    Location {
        status: u16,
        url: String,
        code: u16,
    },
    /// A reference to an `http-errors` section, for the listed codes (all when empty).
    Section {
        name: String,
        codes: Vec<u16>,
    },
}

/// `http-reuse never|safe|aggressive|always`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpReuse {
    Never,
    #[default]
    Safe,
    Aggressive,
    Always,
}

/// A proxy section with `defaults` applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proxy {
    pub name: String,
    pub span: Option<Span>,
    pub kind: ProxyKind,
    /// The named `defaults` section given with `from NAME`; `None` = the last `defaults` before it.
    pub from: Option<String>,
    pub mode: Mode,
    pub binds: Vec<Bind>,
    pub servers: Vec<Server>,
    pub default_server: ServerSettings,
    pub timeouts: Timeouts,
    pub maxconn: Option<u32>,
    /// `rate-limit sessions N`: new sessions accepted per second (frontends).
    pub rate_limit_sessions: Option<u32>,
    pub backlog: Option<u32>,
    pub fullconn: Option<u32>,
    pub retries: Option<u32>,
    pub retry_on: Vec<String>,
    pub http_reuse: HttpReuse,
    pub options: Options,
    pub balance: Option<Balance>,
    pub hash_type: HashType,
    pub hash_balance_factor: Option<u32>,
    pub acls: Vec<AclDef>,
    pub http_request: Vec<HttpRule>,
    pub http_response: Vec<HttpRule>,
    pub http_after_response: Vec<HttpRule>,
    pub tcp_request: Vec<TcpRule>,
    pub tcp_response: Vec<TcpRule>,
    pub use_backend: Vec<UseTarget>,
    pub default_backend: Option<(String, Span)>,
    pub use_server: Vec<UseTarget>,
    pub stats: StatsSettings,
    pub logs: LogSetting,
    pub log_format: Option<LogFormat>,
    pub error_log_format: Option<LogFormat>,
    pub log_tag: Option<String>,
    pub captures: Vec<Capture>,
    pub monitor_uri: Option<String>,
    pub monitor_fail: Option<Condition>,
    /// `force-persist if|unless COND`, in order: persistence applies even to a down server.
    pub force_persist: Vec<Condition>,
    /// `ignore-persist if|unless COND`, in order: persistence is not used.
    pub ignore_persist: Vec<Condition>,
    pub monitor_net: Vec<IpNet>,
    /// 1.x `mode health` (read as `mode tcp`): every connection is answered
    /// `OK` (`HTTP/1.0 200 OK` with `option httpchk`) and closed, unlogged.
    pub health_mode: bool,
    pub errors: Vec<ErrorPage>,
    pub unique_id_format: Option<LogFormat>,
    pub unique_id_header: Option<String>,
    pub id: Option<u32>,
    pub description: Option<String>,
    pub disabled: bool,
    /// Proxy-wide `source ADDR [usesrc …]`.
    pub source: Option<Address>,
    pub check: CheckSettings,
    pub persist: PersistSettings,
    /// Backends named by `use_backend` / `default_backend` lines, for validation.
    pub backend_refs: Vec<BackendRef>,
    /// Files the section names (`acl … -f FILE`, `map(FILE)`), checked at load like HAProxy.
    pub files: Vec<FileRef>,
    /// Keywords Fulcrum parses but does not act on yet, as written.
    pub other: Vec<(String, Vec<String>, Span)>,
    /// Where `log-format`, `error-log-format`, `log-format-sd` and `unique-id-format`
    /// were written (keyword, line), for errors in their `%[…]` expressions.
    pub format_lines: Vec<(String, Span)>,
}

/// A backend name written in a switching rule; names built at run time (`%[…]`) are not listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendRef {
    pub name: String,
    pub span: Span,
}

/// A file named by a rule line, with what kind of file it is ("ACL", "map").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub path: PathBuf,
    pub what: &'static str,
    pub span: Span,
}
