//! The `global` section: process settings acting at start (configuration.txt §3).
//! Several `global` sections merge into one.

use super::bind::Bind;
use super::log::LogTarget;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use super::cpumap::CpuMap;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Global {
    /// `set-var`/`set-var-fmt`: `proc.` variables set when the configuration loads.
    pub set_vars: Vec<crate::rules::GlobalVar>,
    pub daemon: bool,
    pub master_worker: bool,
    pub pidfile: Option<PathBuf>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub chroot: Option<PathBuf>,
    pub ulimit_n: Option<u64>,
    pub maxconn: Option<u32>,
    pub maxconnrate: Option<u32>,
    pub maxsessrate: Option<u32>,
    pub maxsslconn: Option<u32>,
    pub nbthread: Option<u32>,
    /// `nbproc N` from old configs; Fulcrum runs threads, and uses it as `nbthread` when that is unset.
    pub nbproc: Option<u32>,
    pub cpu_map: Vec<CpuMap>,
    pub logs: Vec<LogTarget>,
    pub log_tag: Option<String>,
    /// `log-send-hostname [NAME]`: `Some(None)` sends the system host name.
    pub log_send_hostname: Option<Option<String>>,
    /// `stats socket ADDR [options]`, one per line.
    pub stats_sockets: Vec<Bind>,
    pub stats_timeout: Option<Duration>,
    pub stats_maxconn: Option<u32>,
    /// `spread-checks PERCENT` (0..=50).
    pub spread_checks: Option<u32>,
    pub hard_stop_after: Option<Duration>,
    pub tune_bufsize: Option<u64>,
    pub tune_maxrewrite: Option<u64>,
    /// Other `tune.*` keywords, as written.
    pub tune_other: BTreeMap<String, String>,
    pub ssl_default_bind_ciphers: Option<String>,
    pub ssl_default_bind_ciphersuites: Option<String>,
    pub ssl_default_bind_options: Vec<String>,
    pub ssl_default_server_ciphers: Option<String>,
    pub ssl_default_server_ciphersuites: Option<String>,
    pub ssl_default_server_options: Vec<String>,
    pub ssl_server_verify: Option<String>,
    pub ca_base: Option<PathBuf>,
    pub crt_base: Option<PathBuf>,
    pub node: Option<String>,
    pub description: Option<String>,
    pub quiet: bool,
    pub debug: bool,
    pub zero_warning: bool,
    pub strict_limits: bool,
    /// `setenv`/`presetenv`/`resetenv`/`unsetenv`, in order, as written.
    pub env_ops: Vec<(String, Vec<String>)>,
    pub server_state_file: Option<PathBuf>,
    pub server_state_base: Option<PathBuf>,
    /// `unix-bind`: defaults for every UNIX socket `bind` (a `bind` setting wins).
    pub unix_bind: UnixBind,
    /// Keywords Fulcrum parses but does not act on yet, as written.
    pub other: Vec<(String, Vec<String>)>,
}

/// `unix-bind [prefix P] [mode M] [user U] [uid N] [group G] [gid N]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnixBind {
    /// Prepended as written to every UNIX socket path of a `bind` (not to `abns@`).
    pub prefix: Option<String>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
}

impl Global {
    /// Worker threads to run: `nbthread`, else the legacy `nbproc`, else `None` (all CPUs).
    pub fn threads(&self) -> Option<u32> {
        self.nbthread.or(self.nbproc)
    }
}
