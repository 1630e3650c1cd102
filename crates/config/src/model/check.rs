//! Health-check settings of a proxy and of a server. OWNER: config-sections helper.
//!
//! Every field a `defaults` section or a `default-server` line may set is an `Option`
//! (`None` = inherit); the accessors return the value HAProxy would use.

use std::time::Duration;

/// An enum whose variants are spelled as configuration keywords: `from_keyword`,
/// `keyword` and the list of `KEYWORDS`, from one table.
macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $kw:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            pub const KEYWORDS: &'static [&'static str] = &[$($kw),+];
            pub fn from_keyword(word: &str) -> Option<Self> {
                match word { $($kw => Some(Self::$v),)+ _ => None }
            }
            pub fn keyword(self) -> &'static str {
                match self { $(Self::$v => $kw),+ }
            }
        }
    };
}
pub(crate) use keyword_enum;

/// HAProxy's `inter` when nothing sets it.
pub const DEFAULT_INTER: Duration = Duration::from_millis(2000);
/// HAProxy's `rise` when nothing sets it.
pub const DEFAULT_RISE: u32 = 2;
/// HAProxy's `fall` when nothing sets it.
pub const DEFAULT_FALL: u32 = 3;
/// HAProxy's `error-limit` when nothing sets it.
pub const DEFAULT_ERROR_LIMIT: u32 = 10;

/// Proxy-level check settings (`option httpchk`, `http-check …`, `tcp-check …`, `option *-check`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckSettings {
    /// Which check servers with `check` run; `None` = inherit, then a plain TCP connect.
    pub kind: Option<CheckKind>,
    /// `http-check connect|send|expect|comment` rules, in order (used with `option httpchk`).
    pub http_rules: Vec<CheckRule>,
    /// `tcp-check …` rules, in order (used with `option tcp-check`).
    pub tcp_rules: Vec<CheckRule>,
    /// `http-check disable-on-404`.
    pub disable_on_404: Option<bool>,
    /// `http-check send-state`.
    pub send_state: Option<bool>,
}

impl CheckSettings {
    /// Applies `defaults` the way HAProxy copies them into a proxy: whatever this proxy
    /// does not set itself. Rule lists are inherited as a whole.
    pub fn inherit_from(&mut self, d: &CheckSettings) {
        if self.kind.is_none() {
            self.kind = d.kind.clone();
        }
        if self.http_rules.is_empty() {
            self.http_rules = d.http_rules.clone();
        }
        if self.tcp_rules.is_empty() {
            self.tcp_rules = d.tcp_rules.clone();
        }
        self.disable_on_404 = self.disable_on_404.or(d.disable_on_404);
        self.send_state = self.send_state.or(d.send_state);
    }

    /// The first HTTP check request, as HAProxy builds it: `option httpchk`'s request with
    /// the first `http-check send` laid over it (method, URI, version and body replace
    /// the option's when given; a non-empty `hdr` list replaces its headers). Headers
    /// with an empty value are not sent (HAProxy drops them too). `None` without
    /// `option httpchk`.
    pub fn first_http_request(&self) -> Option<HttpCheckSend> {
        let Some(CheckKind::Http(base)) = &self.kind else {
            return None;
        };
        let mut req = base.clone();
        let first = self.http_rules.iter().find_map(|r| match r {
            CheckRule::HttpSend(s) => Some(s),
            _ => None,
        });
        if let Some(s) = first {
            if s.method.is_some() {
                req.method = s.method.clone();
            }
            if s.uri.is_some() {
                req.uri = s.uri.clone();
                req.uri_is_log_format = s.uri_is_log_format;
            }
            if s.version.is_some() {
                req.version = s.version.clone();
            }
            if !s.headers.is_empty() {
                req.headers = s.headers.clone();
            }
            if s.body.is_some() {
                req.body = s.body.clone();
                req.body_is_log_format = s.body_is_log_format;
            }
        }
        req.headers.retain(|(_, v)| !v.is_empty());
        Some(req)
    }

    /// The kind actually run: a TCP connect when nothing was configured.
    pub fn effective_kind(&self) -> CheckKind {
        self.kind.clone().unwrap_or(CheckKind::Connect)
    }
}

/// What a health check does.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    /// No option: the check is a TCP connection (and the SSL handshake with `check-ssl`).
    Connect,
    /// `option httpchk [METHOD] [URI] [VERSION]`; `http_rules` add to it.
    Http(HttpCheckSend),
    /// `option tcp-check`: run `tcp_rules`.
    TcpCheck,
    /// `option mysql-check [user U [post-41|pre-41]]`.
    Mysql { user: Option<String>, post41: bool },
    /// `option pgsql-check user U`.
    Pgsql { user: String },
    /// `option redis-check`.
    Redis,
    /// `option smtpchk [HELO|EHLO domain]`; HAProxy's default is `HELO localhost`.
    Smtp { hello: String, domain: String },
    /// `option ldap-check`.
    Ldap,
    /// `option ssl-hello-chk`.
    SslHello,
    /// `option spop-check`.
    Spop,
    /// `option external-check`: accepted, not run by Fulcrum.
    External,
}

/// The request of an HTTP check (`option httpchk` and `http-check send`).
/// `None` fields keep HAProxy's defaults: `OPTIONS / HTTP/1.0`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpCheckSend {
    pub method: Option<String>,
    pub uri: Option<String>,
    /// `uri-lf`: `uri` is a log-format string.
    pub uri_is_log_format: bool,
    pub version: Option<String>,
    /// Header pairs, in order (including those glued into a legacy VERSION word).
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// `body-lf`: `body` is a log-format string.
    pub body_is_log_format: bool,
    pub comment: Option<String>,
}

impl HttpCheckSend {
    pub fn method_or_default(&self) -> &str {
        self.method.as_deref().unwrap_or("OPTIONS")
    }
    pub fn uri_or_default(&self) -> &str {
        self.uri.as_deref().unwrap_or("/")
    }
    pub fn version_or_default(&self) -> &str {
        self.version.as_deref().unwrap_or("HTTP/1.0")
    }
}

/// One `http-check` / `tcp-check` rule.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckRule {
    Connect(CheckConnect),
    /// `http-check send …`.
    HttpSend(HttpCheckSend),
    /// `tcp-check send|send-lf|send-binary|send-binary-lf`.
    TcpSend {
        data: CheckData,
        comment: Option<String>,
    },
    Expect(Expect),
    /// `tcp-check comment TEXT` / `http-check comment TEXT`.
    Comment(String),
    /// `tcp-check|http-check set-var|unset-var …`, kept as words for the engine.
    Var(Vec<String>),
}

/// Data sent by a TCP check.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckData {
    Bytes(Vec<u8>),
    /// `send-lf`: a log-format string.
    LogFormat(String),
    /// `send-binary-lf`: a log-format string whose result is hex.
    BinaryLogFormat(String),
}

/// `tcp-check connect` / `http-check connect` options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckConnect {
    /// `default`: take port, address and options from the server's check settings.
    pub default: bool,
    pub port: Option<String>,
    pub addr: Option<String>,
    pub send_proxy: bool,
    pub via_socks4: bool,
    pub ssl: bool,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub linger: bool,
    pub proto: Option<String>,
    pub comment: Option<String>,
}

/// `http-check expect` / `tcp-check expect`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// `!`: the check succeeds when the pattern does NOT match.
    pub negate: bool,
    pub matcher: ExpectMatch,
    pub min_recv: Option<i64>,
    pub comment: Option<String>,
    pub ok_status: Option<String>,
    pub error_status: Option<String>,
    pub tout_status: Option<String>,
    pub on_success: Option<String>,
    pub on_error: Option<String>,
    pub status_code: Option<String>,
}

/// What an `expect` rule compares. Regexes are kept as text; `fulcrum-rules` compiles them.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpectMatch {
    /// `status 200,300-399`: inclusive ranges.
    Status(Vec<(u16, u16)>),
    Rstatus(String),
    String(String),
    Rstring(String),
    /// `string-lf`.
    StringLogFormat(String),
    Binary(Vec<u8>),
    Rbinary(String),
    /// `binary-lf`.
    BinaryLogFormat(String),
    /// `hdr name [-m M] NAME [value [-m M] VALUE]`; `fhdr` sets `full`.
    Header {
        full: bool,
        name: HeaderPattern,
        value: Option<HeaderPattern>,
    },
}

/// A header name or value pattern of `expect hdr`.
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderPattern {
    pub method: HeaderMatchMethod,
    pub pattern: String,
}

keyword_enum! {
    /// `-m str|beg|end|sub|reg` (`str` by default).
    HeaderMatchMethod { Str = "str", Beg = "beg", End = "end", Sub = "sub", Reg = "reg" }
}

impl ExpectMatch {
    /// Whether an HTTP status satisfies a `status` matcher (ignoring `!`).
    pub fn status_matches(ranges: &[(u16, u16)], status: u16) -> bool {
        ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

/// Server-level check settings (`check`, `inter`, `rise`, `fall`, `port`, `addr`, `agent-*`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerCheck {
    /// `check` = `Some(true)`, `no-check` = `Some(false)`.
    pub enabled: Option<bool>,
    pub inter: Option<Duration>,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    pub port: Option<u16>,
    pub addr: Option<String>,
    pub init_state: Option<InitState>,
    pub slowstart: Option<Duration>,
    pub track: Option<TrackTarget>,
    /// `on-marked-down shutdown-sessions`.
    pub shutdown_sessions_on_down: Option<bool>,
    /// `on-marked-up shutdown-backup-sessions`.
    pub shutdown_backup_sessions_on_up: Option<bool>,
    /// `check-send-proxy`.
    pub send_proxy: Option<bool>,
    /// `check-ssl` / `no-check-ssl` (accepted; Fulcrum checks without TLS for now).
    pub ssl: Option<bool>,
    pub sni: Option<String>,
    pub agent: AgentCheck,
    pub observe: Option<Observe>,
    pub error_limit: Option<u32>,
    pub on_error: Option<OnError>,
}

/// `agent-check`, `agent-port`, `agent-inter`, `agent-send`, `agent-addr`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentCheck {
    pub enabled: Option<bool>,
    pub port: Option<u16>,
    pub inter: Option<Duration>,
    pub send: Option<String>,
    pub addr: Option<String>,
}

keyword_enum! {
    /// `init-state fully-up|up|down|fully-down`.
    InitState { FullyUp = "fully-up", Up = "up", Down = "down", FullyDown = "fully-down" }
}

/// `track [BACKEND/]SERVER`; `backend` `None` = the current backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackTarget {
    pub backend: Option<String>,
    pub server: String,
}

keyword_enum! {
    /// `observe layer4|layer7`.
    Observe { Layer4 = "layer4", Layer7 = "layer7" }
}

keyword_enum! {
    /// `on-error fastinter|fail-check|sudden-death|mark-down`.
    OnError { FastInter = "fastinter", FailCheck = "fail-check", SuddenDeath = "sudden-death", MarkDown = "mark-down" }
}

impl ServerCheck {
    /// `default-server` values for whatever this `server` line leaves unset.
    pub fn inherit_from(&mut self, d: &ServerCheck) {
        macro_rules! or {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = d.$f.clone(); } )* };
        }
        or!(
            enabled,
            inter,
            fastinter,
            downinter,
            rise,
            fall,
            port,
            addr,
            init_state,
            slowstart,
            track,
            shutdown_sessions_on_down,
            shutdown_backup_sessions_on_up,
            send_proxy,
            ssl,
            sni,
            observe,
            error_limit,
            on_error
        );
        let (a, da) = (&mut self.agent, &d.agent);
        a.enabled = a.enabled.or(da.enabled);
        a.port = a.port.or(da.port);
        a.inter = a.inter.or(da.inter);
        if a.send.is_none() {
            a.send = da.send.clone();
        }
        if a.addr.is_none() {
            a.addr = da.addr.clone();
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(false)
    }
    pub fn inter(&self) -> Duration {
        self.inter.unwrap_or(DEFAULT_INTER)
    }
    /// Interval while a server is going up or down; `inter` when unset.
    pub fn fastinter(&self) -> Duration {
        self.fastinter.unwrap_or_else(|| self.inter())
    }
    /// Interval while a server is down; `inter` when unset.
    pub fn downinter(&self) -> Duration {
        self.downinter.unwrap_or_else(|| self.inter())
    }
    pub fn rise(&self) -> u32 {
        self.rise.unwrap_or(DEFAULT_RISE)
    }
    pub fn fall(&self) -> u32 {
        self.fall.unwrap_or(DEFAULT_FALL)
    }
    pub fn error_limit(&self) -> u32 {
        self.error_limit.unwrap_or(DEFAULT_ERROR_LIMIT)
    }
    pub fn on_error(&self) -> OnError {
        self.on_error.unwrap_or(OnError::FailCheck)
    }
    /// HAProxy starts checked servers "up, going down" unless told otherwise.
    pub fn init_state(&self) -> InitState {
        self.init_state.unwrap_or(InitState::Up)
    }
    pub fn agent_inter(&self) -> Duration {
        self.agent.inter.unwrap_or(DEFAULT_INTER)
    }
}
