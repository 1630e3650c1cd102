//! `server` and `default-server` lines (configuration.txt §5.2).

use super::addr::Address;
use super::check::ServerCheck;
use super::persist::ServerPersist;
use crate::diag::Span;
use std::time::Duration;

/// One `server NAME ADDR [settings…]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    pub name: String,
    pub span: Span,
    pub addr: Address,
    /// The `default-server` values, then this line's own.
    pub settings: ServerSettings,
}

/// `send-proxy` / `send-proxy-v2`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendProxy {
    #[default]
    None,
    V1,
    V2,
}

/// What a server's line (or `default-server`) sets.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSettings {
    pub weight: u32,
    pub maxconn: Option<u32>,
    pub maxqueue: Option<u32>,
    pub minconn: Option<u32>,
    pub backup: bool,
    pub disabled: bool,
    pub id: Option<u32>,
    pub send_proxy: SendProxy,
    pub source: Option<Address>,
    pub usesrc: Option<String>,
    pub init_addr: Vec<String>,
    pub on_marked_down: Option<String>,
    pub on_marked_up: Option<String>,
    pub on_error: Option<String>,
    pub error_limit: Option<u32>,
    pub observe: Option<String>,
    pub slowstart: Option<Duration>,
    pub redir: Option<String>,
    pub track: Option<String>,
    pub resolvers: Option<String>,
    pub resolve_prefer: Option<String>,
    pub ssl: bool,
    pub verify: Option<String>,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub proto: Option<String>,
    pub tfo: bool,
    pub pool_max_conn: Option<i64>,
    pub pool_purge_delay: Option<Duration>,
    pub max_reuse: Option<i64>,
    pub check: ServerCheck,
    /// `cookie VALUE`, `non-stick`: persistence settings of the server.
    pub persist: ServerPersist,
    /// Settings Fulcrum parses but does not act on yet, as written (`name`, values).
    pub other: Vec<(String, Vec<String>)>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            weight: 1,
            maxconn: None,
            maxqueue: None,
            minconn: None,
            backup: false,
            disabled: false,
            id: None,
            send_proxy: SendProxy::None,
            source: None,
            usesrc: None,
            init_addr: Vec::new(),
            on_marked_down: None,
            on_marked_up: None,
            on_error: None,
            error_limit: None,
            observe: None,
            slowstart: None,
            redir: None,
            track: None,
            resolvers: None,
            resolve_prefer: None,
            ssl: false,
            verify: None,
            sni: None,
            alpn: None,
            proto: None,
            tfo: false,
            pool_max_conn: None,
            pool_purge_delay: None,
            max_reuse: None,
            check: ServerCheck::default(),
            persist: ServerPersist::default(),
            other: Vec::new(),
        }
    }
}
