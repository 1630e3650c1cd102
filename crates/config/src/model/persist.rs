//! Persistence settings: `cookie`, `appsession`, `stick-table`, `stick …`. OWNER: config-sections helper.

use std::time::Duration;

use crate::diag::Span;
use crate::rules::{Condition, SampleExpr};

/// Proxy-level persistence settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersistSettings {
    /// `cookie NAME …`.
    pub cookie: Option<CookieSettings>,
    /// `dynamic-cookie-key KEY`.
    pub dynamic_cookie_key: Option<String>,
    /// `appsession …` (removed from HAProxy in 1.6; kept with its 1.5 meaning).
    pub appsession: Option<AppSession>,
    /// `stick-table …` declared in this proxy.
    pub stick_table: Option<StickTable>,
    /// `stick on|match|store-request|store-response …`, in order.
    pub stick_rules: Vec<StickRule>,
}

impl PersistSettings {
    /// `defaults` carry `cookie` and `dynamic-cookie-key` only (HAProxy does not
    /// inherit stick tables, stick rules nor appsession).
    pub fn inherit_from(&mut self, d: &PersistSettings) {
        if self.cookie.is_none() {
            self.cookie = d.cookie.clone();
        }
        if self.dynamic_cookie_key.is_none() {
            self.dynamic_cookie_key = d.dynamic_cookie_key.clone();
        }
    }
}

/// How the persistence cookie is handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CookieMode {
    /// No mode word: the cookie set by the server is only read for persistence.
    #[default]
    Passive,
    Rewrite,
    Insert,
    Prefix,
}

/// `cookie NAME [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve]
/// [httponly] [secure] [domain D]* [maxidle T] [maxlife T] [dynamic] [attr A]*`.
#[derive(Clone, Debug, PartialEq)]
pub struct CookieSettings {
    pub name: String,
    pub mode: CookieMode,
    pub indirect: bool,
    pub nocache: bool,
    pub postonly: bool,
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    pub domains: Vec<String>,
    pub maxidle: Option<Duration>,
    pub maxlife: Option<Duration>,
    pub dynamic: bool,
    pub attrs: Vec<String>,
    pub span: Span,
}

impl CookieSettings {
    pub fn new(name: impl Into<String>, span: Span) -> Self {
        CookieSettings {
            name: name.into(),
            mode: CookieMode::Passive,
            indirect: false,
            nocache: false,
            postonly: false,
            preserve: false,
            httponly: false,
            secure: false,
            domains: Vec::new(),
            maxidle: None,
            maxlife: None,
            dynamic: false,
            attrs: Vec::new(),
            span,
        }
    }
}

/// Where an appsession looks for the session id in the URL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AppSessionMode {
    /// `;NAME=value` path parameters (HAProxy 1.5's default).
    #[default]
    PathParameters,
    /// `?NAME=value` query string.
    QueryString,
}

/// `appsession COOKIE len N timeout T [request-learn] [prefix] [mode path-parameters|query-string]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AppSession {
    pub cookie: String,
    /// Characters of the cookie value remembered and compared.
    pub len: u32,
    /// Idle time after which a learnt session is forgotten.
    pub timeout: Duration,
    pub request_learn: bool,
    /// Match cookies whose name starts with `cookie`; the value is what follows.
    pub prefix: bool,
    pub mode: AppSessionMode,
    pub span: Span,
}

impl AppSession {
    /// The modern lines with the same effect (HAProxy ≥ 1.6): a string stick-table keyed
    /// on the application cookie, learnt from responses and matched on requests, plus the
    /// URL form of the same id. `prefix` has no modern form and is reported by the caller.
    pub fn modern_lines(&self) -> Vec<String> {
        let c = &self.cookie;
        let url = match self.mode {
            AppSessionMode::PathParameters => format!("urlp({c},;)"),
            AppSessionMode::QueryString => format!("urlp({c})"),
        };
        vec![
            format!(
                "stick-table type string len {} size 1m expire {}",
                self.len,
                format_time(self.timeout)
            ),
            format!("stick store-response res.cook({c})"),
            format!("stick on req.cook({c})"),
            format!("stick on {url}"),
        ]
    }
}

/// A duration written back in the largest exact unit (`15m`, `1500ms`).
pub fn format_time(d: Duration) -> String {
    let us = d.as_micros();
    for (unit, per) in [
        ("d", 86_400_000_000u128),
        ("h", 3_600_000_000),
        ("m", 60_000_000),
        ("s", 1_000_000),
        ("ms", 1000),
    ] {
        if us != 0 && us.checked_rem(per) == Some(0) {
            return format!("{}{unit}", us / per);
        }
    }
    if us == 0 {
        "0".to_string()
    } else {
        format!("{us}us")
    }
}

/// `stick-table type …` key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKeyType {
    Ip,
    Ipv6,
    Integer,
    /// Keys truncated to `len` bytes (default 32).
    String {
        len: u32,
    },
    Binary {
        len: u32,
    },
}

/// `stick-table type T [len N] size N [expire T] [nopurge] [peers P] [srvkey name|addr]
/// [write-to T] [recv-only] [store DATA,…]*`.
#[derive(Clone, Debug, PartialEq)]
pub struct StickTable {
    pub key: TableKeyType,
    /// Maximum number of entries.
    pub size: u64,
    pub expire: Option<Duration>,
    pub nopurge: bool,
    pub peers: Option<String>,
    /// `srvkey addr` = `true` (default `name`).
    pub srvkey_addr: bool,
    pub write_to: Option<String>,
    pub recv_only: bool,
    pub store: Vec<StoreData>,
    pub span: Span,
}

/// Data stored per stick-table entry; rate periods are typed durations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreData {
    ServerId,
    ServerKey,
    Gpc0,
    Gpc1,
    Gpc0Rate(Duration),
    Gpc1Rate(Duration),
    /// `gpc(N)`: an array of N counters.
    Gpc(u32),
    /// `gpc_rate(N,P)`.
    GpcRate(u32, Duration),
    Gpt0,
    /// `gpt(N)`.
    Gpt(u32),
    ConnCnt,
    ConnCur,
    ConnRate(Duration),
    SessCnt,
    SessRate(Duration),
    HttpReqCnt,
    HttpReqRate(Duration),
    HttpErrCnt,
    HttpErrRate(Duration),
    HttpFailCnt,
    HttpFailRate(Duration),
    BytesInCnt,
    BytesInRate(Duration),
    BytesOutCnt,
    BytesOutRate(Duration),
}

/// Which `stick` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StickKind {
    /// Match on requests, and store when no match (= `match` + `store-request`).
    On,
    Match,
    StoreRequest,
    StoreResponse,
}

/// `stick on|match|store-request|store-response EXPR [table T] [if|unless COND]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StickRule {
    pub kind: StickKind,
    pub expr: SampleExpr,
    /// Another proxy's table; `None` = this proxy's own.
    pub table: Option<String>,
    pub cond: Option<Condition>,
    pub span: Span,
}

/// Persistence options of a `server` / `default-server` line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerPersist {
    /// `cookie VALUE`: the value the persistence cookie carries for this server.
    pub cookie: Option<String>,
    /// `non-stick` = `Some(true)`, `stick` = `Some(false)`: whether stick rules may learn this server.
    pub non_stick: Option<bool>,
}

impl ServerPersist {
    pub fn inherit_from(&mut self, d: &ServerPersist) {
        // A cookie value is per server: HAProxy does not take it from `default-server`.
        self.non_stick = self.non_stick.or(d.non_stick);
    }
}
