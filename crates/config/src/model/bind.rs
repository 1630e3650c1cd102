//! `bind` lines.

use super::addr::Address;
use crate::diag::Span;

/// One `bind` line: one or more addresses sharing the same settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bind {
    pub span: Option<Span>,
    pub addresses: Vec<Address>,
    pub name: Option<String>,
    pub v4v6: bool,
    pub v6only: bool,
    pub accept_proxy: bool,
    pub transparent: bool,
    pub interface: Option<String>,
    pub backlog: Option<u32>,
    pub maxconn: Option<u32>,
    /// `process` / `thread` sets, accepted as written (Fulcrum spreads binds on all threads).
    pub process: Option<String>,
    pub thread: Option<String>,
    pub ssl: bool,
    pub crt: Vec<String>,
    pub alpn: Option<String>,
    pub id: Option<u32>,
    pub tfo: bool,
    pub defer_accept: bool,
    pub mss: Option<String>,
    /// Unix socket permissions (`mode 660`, `uid`, `gid`, `user`, `group`).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub level: Option<String>,
    pub expose_fd_listeners: bool,
    pub severity_output: Option<String>,
}
