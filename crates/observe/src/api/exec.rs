//! Carrying out commands: the [`Runtime`] the engine implements, and a CLI
//! session that frames outputs the way HAProxy's socket does.

use super::command::{
    parse_command, split_commands, AccessLevel, Command, HealthForce, OutFormat, RateLimitKind,
    ServerAdminState, TableFilter, WeightSpec,
};
use super::format::{write_servers_state, write_table, ServerStateLine, TableDump};
use super::ApiError;
use crate::stats::admin::{AdminAction, AdminOutcome, AdminRequest, BackendRef};
use crate::stats::csv::{write_csv, write_json, write_typed};
use crate::stats::{ProcessInfo, ProxyStats};
use std::net::IpAddr;

/// What the engine provides to the runtime API. Acting methods return the
/// text to print on success (often empty) or HAProxy's error message, e.g.
/// `No such server.`; those not implemented yet answer so.
pub trait Runtime {
    fn info(&self) -> ProcessInfo;
    fn stats(&self) -> Vec<ProxyStats>;
    /// `Err("Can't find backend.")` for an unknown name.
    fn servers_state(&self, backend: Option<&str>) -> Result<Vec<ServerStateLine>, String>;
    /// Backend names in configuration order.
    fn backends(&self) -> Vec<String>;

    fn set_server_state(
        &self,
        _b: &str,
        _s: &str,
        _st: ServerAdminState,
    ) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_server_weight(&self, _b: &str, _s: &str, _w: WeightSpec) -> Result<String, String> {
        Err(unsupported())
    }
    /// `(current, initial)` weights.
    fn get_weight(&self, _b: &str, _s: &str) -> Result<(u32, u32), String> {
        Err(unsupported())
    }
    fn set_server_addr(
        &self,
        _b: &str,
        _s: &str,
        _a: IpAddr,
        _p: Option<u16>,
    ) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_server_health(&self, _b: &str, _s: &str, _f: HealthForce) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_server_agent(&self, _b: &str, _s: &str, _f: HealthForce) -> Result<String, String> {
        Err(unsupported())
    }
    /// What HAProxy checks before reading a `set server B/S SUB` value: the
    /// server exists (and for `agent` its agent is enabled, for `health` it
    /// does not track another). `Err` is the answer.
    fn set_server_precheck(&self, _b: &str, _s: &str, _sub: &str) -> Result<(), String> {
        Ok(())
    }
    fn set_health_checks(&self, _b: &str, _s: &str, _enabled: bool) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_agent_checks(&self, _b: &str, _s: &str, _enabled: bool) -> Result<String, String> {
        Err(unsupported())
    }
    /// `v` is the value or the message for a bad one, given after the server
    /// is found (HAProxy's order).
    fn set_maxconn_server(
        &self,
        _b: &str,
        _s: &str,
        _v: Result<u32, String>,
    ) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_maxconn_frontend(&self, _f: &str, _v: u32) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_maxconn_global(&self, _v: u32) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_rate_limit(&self, _k: RateLimitKind, _v: u32) -> Result<String, String> {
        Err(unsupported())
    }
    fn set_frontend_enabled(&self, _f: &str, _enabled: bool) -> Result<String, String> {
        Err(unsupported())
    }
    fn shutdown_frontend(&self, _f: &str) -> Result<String, String> {
        Err(unsupported())
    }
    fn shutdown_server_sessions(&self, _b: &str, _s: &str) -> Result<String, String> {
        Err(unsupported())
    }
    fn shutdown_session(&self, _id: &str) -> Result<String, String> {
        Err(unsupported())
    }
    fn add_server(&self, _b: &str, _s: &str, _args: &[String]) -> Result<String, String> {
        Err(unsupported())
    }
    fn del_server(&self, _b: &str, _s: &str) -> Result<String, String> {
        Err(unsupported())
    }
    fn show_sess(&self, _target: Option<&str>) -> Result<String, String> {
        Ok(String::new())
    }
    fn show_errors(&self, _proxy: Option<&str>, _side: Option<&str>) -> Result<String, String> {
        Ok(String::new())
    }
    fn show_activity(&self) -> Result<String, String> {
        Ok(String::new())
    }
    fn tables(
        &self,
        _name: Option<&str>,
        _filters: &[TableFilter],
    ) -> Result<Vec<TableDump>, String> {
        Ok(Vec::new())
    }
    fn clear_table(&self, _name: &str, _filters: &[TableFilter]) -> Result<String, String> {
        Err(unsupported())
    }
    /// The rings of the configuration, for `show events`; `None` lists only HAProxy's
    /// built-in sinks.
    fn rings(&self) -> Option<std::sync::Arc<crate::log::Rings>> {
        None
    }
    /// `show env`: the process environment by default.
    fn env(&self) -> Vec<(String, String)> {
        std::env::vars().collect()
    }
}

/// Carries out a stats page admin form through the runtime, as HAProxy's
/// page does: `NONE` without servers, `ERRP` for an unknown backend, `PART`
/// when some servers refused, else `DONE`.
pub fn apply_admin(rt: &dyn Runtime, req: &AdminRequest) -> AdminOutcome {
    let backend = match &req.backend {
        BackendRef::Name(n) => Some(n.clone()),
        BackendRef::Id(id) => rt
            .stats()
            .into_iter()
            .find(|p| p.iid == *id && p.backend.is_some())
            .map(|p| p.name),
    };
    let Some(b) = backend.filter(|b| rt.backends().contains(b)) else {
        return AdminOutcome::InvalidParams;
    };
    if req.servers.is_empty() {
        return AdminOutcome::None;
    }
    let mut failed = 0;
    for s in &req.servers {
        let r = match req.action {
            AdminAction::Ready => rt.set_server_state(&b, s, ServerAdminState::Ready),
            AdminAction::Drain => rt.set_server_state(&b, s, ServerAdminState::Drain),
            AdminAction::Maint => rt.set_server_state(&b, s, ServerAdminState::Maint),
            AdminAction::DisableHealth => rt.set_health_checks(&b, s, false),
            AdminAction::EnableHealth => rt.set_health_checks(&b, s, true),
            AdminAction::HealthUp => rt.set_server_health(&b, s, HealthForce::Up),
            AdminAction::HealthNoLb => rt.set_server_health(&b, s, HealthForce::Stopping),
            AdminAction::HealthDown => rt.set_server_health(&b, s, HealthForce::Down),
            AdminAction::DisableAgent => rt.set_agent_checks(&b, s, false),
            AdminAction::EnableAgent => rt.set_agent_checks(&b, s, true),
            AdminAction::AgentUp => rt.set_server_agent(&b, s, HealthForce::Up),
            AdminAction::AgentDown => rt.set_server_agent(&b, s, HealthForce::Down),
            AdminAction::Shutdown => rt.shutdown_server_sessions(&b, s),
        };
        if r.is_err() {
            failed += 1;
        }
    }
    match failed {
        0 => AdminOutcome::Done,
        n if n == req.servers.len() => AdminOutcome::InvalidParams,
        _ => AdminOutcome::Partial,
    }
}

fn unsupported() -> String {
    "This command is not supported yet.".into()
}

/// The list `help` prints.
pub const HELP_TEXT: &str = "The following commands are valid at this level:
  add server <bk>/<srv>                   : create a new server
  clear table <table> [<filter>]*         : remove an entry from a table
  del server <bk>/<srv>                   : remove a dynamically added server
  disable agent <bk>/<srv>                : disable agent checks
  disable frontend <frontend>             : temporarily disable specific frontend
  disable health <bk>/<srv>               : disable health checks
  disable server <bk>/<srv>               : disable a server for maintenance (use 'set server' instead)
  enable agent <bk>/<srv>                 : enable agent checks
  enable frontend <frontend>              : re-enable specific frontend
  enable health <bk>/<srv>                : enable health checks
  enable server <bk>/<srv>                : enable a disabled server (use 'set server' instead)
  get weight <bk>/<srv>                   : report a server's current weight
  help [<command>]                        : list matching or all commands
  prompt                                  : toggle interactive mode with prompt
  quit                                    : disconnect
  set maxconn frontend <frontend> <value> : change a frontend's maxconn setting
  set maxconn global <value>              : change the per-process maxconn setting
  set maxconn server <bk>/<srv> <value>   : change a server's maxconn setting
  set rate-limit <setting> <value>        : change a rate limiting value
  set server <bk>/<srv> [opts]            : change a server's state, weight, address or health
  set weight <bk>/<srv> (<w>|<w>%)        : change a server's weight (use 'set server' instead)
  show activity                           : show per-thread activity stats (for support/developers)
  show backend                            : list backends in the current running config
  show env [<var>]                        : dump environment variables known to the process
  show errors [<px>] [request|response]   : report last request and/or response errors for each proxy
  show events [<sink>] [-w] [-n]          : show event sink state
  show info [desc|json|typed]*            : report information about the running process
  show servers state [<backend>]          : dump volatile server information (all or for a single backend)
  show sess [<id>|all]                    : report the list of current sessions or dump this exact session
  show stat [desc|json|typed|up|no-maint]* : report counters for each proxy and server
  show table <table> [<filter>]*          : report table usage stats or dump this table's contents
  shutdown frontend <frontend>            : stop a specific frontend
  shutdown session [id]                   : kill a specific session
  shutdown sessions server <bk>/<srv>     : kill sessions on a server
";

fn ok_or_msg(r: Result<String, String>) -> String {
    match r {
        Ok(s) | Err(s) => s,
    }
}

/// Runs one parsed command and returns its output (without the final empty
/// line the CLI adds). Commands above `level` are refused.
pub fn execute(rt: &dyn Runtime, cmd: &Command, level: AccessLevel) -> String {
    if cmd.required_level() > level {
        return format!("{}\n", ApiError::PermissionDenied);
    }
    let mut out = String::new();
    match cmd {
        Command::Help => out.push_str(HELP_TEXT),
        Command::Prompt | Command::Quit | Command::SetTimeoutCli { .. } => {}
        Command::ShowInfo { format } => {
            let info = rt.info();
            match format {
                OutFormat::Typed => info.write_typed(&mut out),
                OutFormat::Json => info_json(&info, &mut out),
                OutFormat::Text => info.write_text(&mut out),
            }
        }
        Command::ShowStat { format, filter } => {
            let pid = rt.info().process_num;
            let px = rt.stats();
            // Operator and admin sockets see addresses and algorithms.
            let filter = &crate::stats::StatFilter {
                show_legends: level >= AccessLevel::Operator,
                ..filter.clone()
            };
            match format {
                OutFormat::Text => write_csv(&px, filter, pid, &mut out),
                OutFormat::Typed => write_typed(&px, filter, pid, &mut out),
                OutFormat::Json => write_json(&px, filter, pid, &mut out),
            }
        }
        Command::ShowServersState { backend } => match rt.servers_state(backend.as_deref()) {
            Ok(lines) => write_servers_state(&lines, &mut out),
            Err(e) => out.push_str(&e),
        },
        Command::ShowBackend => {
            out.push_str("# name\n");
            for b in rt.backends() {
                out.push_str(&b);
                out.push('\n');
            }
        }
        Command::ShowSess { target } => out.push_str(&ok_or_msg(rt.show_sess(target.as_deref()))),
        Command::ShowErrors { proxy, side } => out.push_str(&ok_or_msg(
            rt.show_errors(proxy.as_deref(), side.as_deref()),
        )),
        Command::ShowActivity => out.push_str(&ok_or_msg(rt.show_activity())),
        Command::ShowEvents { name, opts } => {
            out.push_str(&super::events::show_events(rt, name.as_deref(), opts).0)
        }
        Command::ShowTable { name, filters } => match rt.tables(name.as_deref(), filters) {
            Ok(tables) => tables.iter().for_each(|t| write_table(t, &mut out)),
            Err(e) => out.push_str(&e),
        },
        Command::ClearTable { name, filters } => {
            out.push_str(&ok_or_msg(rt.clear_table(name, filters)))
        }
        Command::ShowEnv { name } => {
            let env = rt.env();
            match name {
                Some(n) => match env.iter().find(|(k, _)| k == n) {
                    Some((k, v)) => out.push_str(&format!("{k}={v}\n")),
                    None => out.push_str("Variable not found\n"),
                },
                None => env
                    .iter()
                    .for_each(|(k, v)| out.push_str(&format!("{k}={v}\n"))),
            }
        }
        Command::DisableServer { backend, server } => out.push_str(&ok_or_msg(
            rt.set_server_state(backend, server, ServerAdminState::Maint),
        )),
        Command::EnableServer { backend, server } => out.push_str(&ok_or_msg(rt.set_server_state(
            backend,
            server,
            ServerAdminState::Ready,
        ))),
        Command::DisableHealth { backend, server } => {
            out.push_str(&ok_or_msg(rt.set_health_checks(backend, server, false)))
        }
        Command::EnableHealth { backend, server } => {
            out.push_str(&ok_or_msg(rt.set_health_checks(backend, server, true)))
        }
        Command::DisableAgent { backend, server } => {
            out.push_str(&ok_or_msg(rt.set_agent_checks(backend, server, false)))
        }
        Command::EnableAgent { backend, server } => {
            out.push_str(&ok_or_msg(rt.set_agent_checks(backend, server, true)))
        }
        Command::SetServerState {
            backend,
            server,
            state,
        } => out.push_str(&ok_or_msg(rt.set_server_state(backend, server, *state))),
        Command::SetServerWeight {
            backend,
            server,
            weight,
        } => out.push_str(&ok_or_msg(rt.set_server_weight(backend, server, *weight))),
        Command::SetServerAddr {
            backend,
            server,
            addr,
            port,
        } => out.push_str(&ok_or_msg(
            rt.set_server_addr(backend, server, *addr, *port),
        )),
        Command::SetServerHealth {
            backend,
            server,
            force,
        } => out.push_str(&ok_or_msg(rt.set_server_health(backend, server, *force))),
        Command::SetServerAgent {
            backend,
            server,
            force,
        } => out.push_str(&ok_or_msg(rt.set_server_agent(backend, server, *force))),
        Command::SetServerBadArg {
            backend,
            server,
            sub,
            usage,
        } => match rt.set_server_precheck(backend, server, sub) {
            Ok(()) => out.push_str(usage),
            Err(e) => out.push_str(&e),
        },
        Command::GetWeight { backend, server } => match rt.get_weight(backend, server) {
            Ok((cur, init)) => out.push_str(&format!("{cur} (initial {init})\n")),
            Err(e) => out.push_str(&e),
        },
        Command::SetMaxconnServer {
            backend,
            server,
            value,
        } => out.push_str(&ok_or_msg(rt.set_maxconn_server(
            backend,
            server,
            value.clone(),
        ))),
        Command::SetMaxconnFrontend { frontend, value } => {
            out.push_str(&ok_or_msg(rt.set_maxconn_frontend(frontend, *value)))
        }
        Command::SetMaxconnGlobal { value } => {
            out.push_str(&ok_or_msg(rt.set_maxconn_global(*value)))
        }
        Command::SetRateLimit { kind, value } => {
            out.push_str(&ok_or_msg(rt.set_rate_limit(*kind, *value)))
        }
        Command::DisableFrontend { frontend } => {
            out.push_str(&ok_or_msg(rt.set_frontend_enabled(frontend, false)))
        }
        Command::EnableFrontend { frontend } => {
            out.push_str(&ok_or_msg(rt.set_frontend_enabled(frontend, true)))
        }
        Command::ShutdownFrontend { frontend } => {
            out.push_str(&ok_or_msg(rt.shutdown_frontend(frontend)))
        }
        Command::ShutdownSessionsServer { backend, server } => {
            out.push_str(&ok_or_msg(rt.shutdown_server_sessions(backend, server)))
        }
        Command::ShutdownSession { id } => out.push_str(&ok_or_msg(rt.shutdown_session(id))),
        Command::AddServer {
            backend,
            server,
            args,
        } => out.push_str(&ok_or_msg(rt.add_server(backend, server, args))),
        Command::DelServer { backend, server } => {
            out.push_str(&ok_or_msg(rt.del_server(backend, server)))
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    // An empty line ends a command's output on the CLI: none may come from
    // runtime texts or environment values.
    if out.contains("\n\n") || out.starts_with('\n') {
        out = out
            .split('\n')
            .filter(|l| !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
    }
    out
}

fn info_json(info: &ProcessInfo, out: &mut String) {
    out.push('[');
    for (i, (k, v)) in info.fields().into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let numeric = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        out.push_str(&format!(
            "{{\"field\":{{\"pos\":{i},\"name\":\"{k}\"}},\"processNum\":{},\"tags\":{{\"origin\":\"{}\",\"nature\":\"{}\",\"scope\":\"Service\"}},\"value\":{{\"type\":\"{}\",\"value\":",
            info.process_num,
            if numeric { "Metric" } else { "Product" },
            if numeric { "Gauge" } else { "Output" },
            if numeric { "u64" } else { "str" },
        ));
        if numeric {
            out.push_str(&v);
        } else {
            crate::stats::csv::json_str(out, &v);
        }
        out.push_str("}}");
    }
    out.push_str("]\n");
}

/// One connection to the stats socket: non-interactive by default (one line,
/// then close), interactive after `prompt` (a `> ` prompt after each line).
#[derive(Debug)]
pub struct CliSession {
    pub level: AccessLevel,
    pub interactive: bool,
    /// Set by `set timeout cli`; the listener's `stats timeout` otherwise.
    pub timeout: Option<std::time::Duration>,
    /// Set by `show events NAME -w`: the caller sends the ring's new lines until
    /// the client sends anything, then the empty line that ends the command.
    pub follow: Option<super::events::Follow>,
}

impl CliSession {
    pub fn new(level: AccessLevel) -> Self {
        CliSession {
            level,
            interactive: false,
            timeout: None,
            follow: None,
        }
    }

    /// Handles one input line: every `;`-separated command, each output
    /// followed by an empty line. Returns the bytes to send and whether the
    /// connection stays open.
    pub fn handle_line(&mut self, rt: &dyn Runtime, line: &str) -> (String, bool) {
        let mut out = String::new();
        for cmd_text in split_commands(line) {
            match parse_command(&cmd_text) {
                Ok(Command::Quit) => return (out, false),
                Ok(Command::Prompt) => self.interactive = !self.interactive,
                Ok(Command::SetTimeoutCli { secs }) => {
                    self.timeout = Some(std::time::Duration::from_secs(u64::from(secs.max(1))));
                }
                Ok(Command::ShowEvents { name, opts })
                    if name.is_some() && self.level >= AccessLevel::Operator =>
                {
                    let (text, follow) = super::events::show_events(rt, name.as_deref(), &opts);
                    out.push_str(&text);
                    if follow.is_some() {
                        // The command goes on: no end line, nothing after it runs.
                        self.follow = follow;
                        return (out, true);
                    }
                }
                Ok(cmd) => out.push_str(&execute(rt, &cmd, self.level)),
                Err(e @ ApiError::UnknownCommand(_)) => {
                    out.push_str(&format!("{e}\n{HELP_TEXT}"));
                }
                Err(e) => out.push_str(&format!("{e}\n")),
            }
            // Every command ends with an empty line, followed by the prompt
            // in interactive mode.
            out.push_str(if self.interactive { "\n> " } else { "\n" });
        }
        // Without prompt mode (or on leaving it) the connection closes after
        // the line, as HAProxy does.
        (out, self.interactive)
    }
}
