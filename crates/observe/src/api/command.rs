//! Runtime API commands: a line becomes `;`-separated commands, a command
//! becomes words, words become a typed [`Command`].

use super::words::{
    be_srv, format_flags, int, rate_limit, server_maxconn, set_server, show_stat, table_filters,
    usage, weight,
};
use super::ApiError;
use crate::stats::StatFilter;
use std::net::IpAddr;

pub use super::words::{split_commands, split_words};

/// `level` of a stats socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccessLevel {
    User,
    Operator,
    Admin,
}

/// `typed` / `json` suffixes of `show info` / `show stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutFormat {
    #[default]
    Text,
    Typed,
    Json,
}

/// `set server B/S state …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerAdminState {
    Ready,
    Drain,
    Maint,
}

/// `set server B/S health|agent up|down|stopping`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthForce {
    Up,
    Down,
    Stopping,
}

/// A weight: absolute, or a percentage of the configured one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightSpec {
    Absolute(u32),
    Percent(u32),
}

/// `set rate-limit KIND global VALUE`. `ssl-sessions` is not one: like a
/// HAProxy built without TLS, Fulcrum answers it with the usage text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimitKind {
    Connections,
    /// kB/s of input to compress (`maxcomprate`).
    HttpCompression,
    Sessions,
}

/// `data.<type> <op> <value>` or `key <key>` of `show table` / `clear table`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableFilter {
    Key(String),
    Data {
        name: String,
        op: String,
        value: i64,
    },
}

/// One runtime API command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Prompt,
    Quit,
    /// `set timeout cli <seconds>`: the idle timeout of this connection.
    SetTimeoutCli {
        secs: u32,
    },
    ShowInfo {
        format: OutFormat,
    },
    ShowStat {
        format: OutFormat,
        filter: StatFilter,
    },
    ShowServersState {
        backend: Option<String>,
    },
    ShowBackend,
    ShowSess {
        target: Option<String>,
    },
    ShowErrors {
        proxy: Option<String>,
        side: Option<String>,
    },
    /// `show events [<sink>] [-w] [-n]`; the options are read once the sink is found.
    ShowEvents {
        name: Option<String>,
        opts: Vec<String>,
    },
    ShowTable {
        name: Option<String>,
        filters: Vec<TableFilter>,
    },
    ClearTable {
        name: String,
        filters: Vec<TableFilter>,
    },
    ShowEnv {
        name: Option<String>,
    },
    ShowActivity,
    DisableServer {
        backend: String,
        server: String,
    },
    EnableServer {
        backend: String,
        server: String,
    },
    DisableHealth {
        backend: String,
        server: String,
    },
    EnableHealth {
        backend: String,
        server: String,
    },
    DisableAgent {
        backend: String,
        server: String,
    },
    EnableAgent {
        backend: String,
        server: String,
    },
    SetServerState {
        backend: String,
        server: String,
        state: ServerAdminState,
    },
    SetServerWeight {
        backend: String,
        server: String,
        weight: WeightSpec,
    },
    SetServerAddr {
        backend: String,
        server: String,
        addr: IpAddr,
        port: Option<u16>,
    },
    SetServerHealth {
        backend: String,
        server: String,
        force: HealthForce,
    },
    SetServerAgent {
        backend: String,
        server: String,
        force: HealthForce,
    },
    /// `set server B/S state|weight|health|agent` with a value HAProxy
    /// refuses: it answers `usage` only once the server is found (and, for
    /// `agent`/`health`, its agent enabled / it not tracking).
    SetServerBadArg {
        backend: String,
        server: String,
        sub: String,
        usage: String,
    },
    GetWeight {
        backend: String,
        server: String,
    },
    SetMaxconnServer {
        backend: String,
        server: String,
        /// The value, or HAProxy's message for a bad one: printed only once
        /// the server is found, as HAProxy checks in that order.
        value: Result<u32, String>,
    },
    SetMaxconnFrontend {
        frontend: String,
        value: u32,
    },
    SetMaxconnGlobal {
        value: u32,
    },
    SetRateLimit {
        kind: RateLimitKind,
        value: u32,
    },
    DisableFrontend {
        frontend: String,
    },
    EnableFrontend {
        frontend: String,
    },
    ShutdownFrontend {
        frontend: String,
    },
    ShutdownSessionsServer {
        backend: String,
        server: String,
    },
    ShutdownSession {
        id: String,
    },
    AddServer {
        backend: String,
        server: String,
        args: Vec<String>,
    },
    DelServer {
        backend: String,
        server: String,
    },
}

impl Command {
    /// The socket level the command needs (HAProxy's split: reading is for
    /// everyone, sessions/tables/env need operator, changes need admin).
    pub fn required_level(&self) -> AccessLevel {
        use Command::*;
        match self {
            Help
            | Prompt
            | Quit
            | SetTimeoutCli { .. }
            | ShowInfo { .. }
            | ShowStat { .. }
            | ShowServersState { .. }
            | ShowBackend
            | ShowActivity
            | GetWeight { .. }
            | ShowEvents { name: None, .. } => AccessLevel::User,
            ShowSess { .. }
            | ShowErrors { .. }
            | ShowTable { .. }
            | ShowEnv { .. }
            | ShowEvents { .. } => AccessLevel::Operator,
            _ => AccessLevel::Admin,
        }
    }
}

/// Parses one command (no `;`). `Err` carries the text the CLI prints.
pub fn parse_command(cmd: &str) -> Result<Command, ApiError> {
    let owned = split_words(cmd);
    let w: Vec<&str> = owned.iter().map(String::as_str).collect();
    let unknown = || ApiError::UnknownCommand(cmd.trim().to_string());
    let c = match w.as_slice() {
        ["help", ..] => Command::Help,
        ["prompt", ..] => Command::Prompt,
        ["quit", ..] => Command::Quit,
        ["set", "timeout", "cli", rest @ ..] => Command::SetTimeoutCli {
            secs: rest
                .first()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| usage("Expects an integer value."))?,
        },
        ["set", "timeout", ..] => return Err(usage("'set timeout' only supports 'cli'.")),
        ["show", "info", rest @ ..] => Command::ShowInfo {
            format: format_flags(rest),
        },
        ["show", "stat", rest @ ..] => show_stat(rest)?,
        ["show", "servers", "state", rest @ ..] => Command::ShowServersState {
            backend: rest.first().map(|s| (*s).to_string()),
        },
        ["show", "backend", ..] => Command::ShowBackend,
        ["show", "sess", rest @ ..] => Command::ShowSess {
            target: rest.first().map(|s| (*s).to_string()),
        },
        ["show", "errors", rest @ ..] => {
            let side = rest.iter().find(|w| matches!(**w, "request" | "response"));
            let proxy = rest.iter().find(|w| !matches!(**w, "request" | "response"));
            Command::ShowErrors {
                proxy: proxy.map(|s| (*s).to_string()),
                side: side.map(|s| (*s).to_string()),
            }
        }
        ["show", "events", rest @ ..] => Command::ShowEvents {
            name: rest.first().map(|s| (*s).to_string()),
            opts: rest.iter().skip(1).map(|s| (*s).to_string()).collect(),
        },
        ["show", "table"] => Command::ShowTable {
            name: None,
            filters: Vec::new(),
        },
        ["show", "table", name, rest @ ..] => Command::ShowTable {
            name: Some((*name).to_string()),
            filters: table_filters(rest)?,
        },
        ["clear", "table", name, rest @ ..] => Command::ClearTable {
            name: (*name).to_string(),
            filters: table_filters(rest)?,
        },
        ["clear", "table"] => return Err(usage("Optional table name expected")),
        ["show", "env", rest @ ..] => Command::ShowEnv {
            name: rest.first().map(|s| (*s).to_string()),
        },
        ["show", "activity", ..] => Command::ShowActivity,
        ["disable", "server", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::DisableServer { backend, server }
        }
        ["enable", "server", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::EnableServer { backend, server }
        }
        ["disable", "health", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::DisableHealth { backend, server }
        }
        ["enable", "health", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::EnableHealth { backend, server }
        }
        ["disable", "agent", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::DisableAgent { backend, server }
        }
        ["enable", "agent", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::EnableAgent { backend, server }
        }
        ["disable", "frontend", rest @ ..]
        | ["enable", "frontend", rest @ ..]
        | ["shutdown", "frontend", rest @ ..] => {
            let frontend = rest
                .first()
                .map(|s| (*s).to_string())
                .ok_or_else(|| usage("A frontend name is expected."))?;
            match w[0] {
                "disable" => Command::DisableFrontend { frontend },
                "enable" => Command::EnableFrontend { frontend },
                _ => Command::ShutdownFrontend { frontend },
            }
        }
        ["set", "server", rest @ ..] => set_server(rest)?,
        ["set", "weight", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::SetServerWeight {
                backend,
                server,
                weight: weight(rest.get(1).copied())?,
            }
        }
        ["get", "weight", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::GetWeight { backend, server }
        }
        ["set", "maxconn", "server", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::SetMaxconnServer {
                backend,
                server,
                value: server_maxconn(rest.get(1).copied()),
            }
        }
        ["set", "maxconn", "frontend", rest @ ..] => {
            let frontend = rest
                .first()
                .map(|s| (*s).to_string())
                .ok_or_else(|| usage("A frontend name is expected."))?;
            Command::SetMaxconnFrontend {
                frontend,
                value: int(rest.get(1).copied())?,
            }
        }
        ["set", "maxconn", "global", rest @ ..] => Command::SetMaxconnGlobal {
            value: int(rest.first().copied())?,
        },
        ["set", "maxconn", ..] => {
            return Err(usage(
                "'set maxconn' only supports 'frontend', 'server', and 'global'.",
            ))
        }
        ["set", "rate-limit", rest @ ..] => rate_limit(rest)?,
        ["shutdown", "sessions", "server", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::ShutdownSessionsServer { backend, server }
        }
        ["shutdown", "session", id, ..] => Command::ShutdownSession {
            id: (*id).to_string(),
        },
        ["add", "server", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::AddServer {
                backend,
                server,
                args: rest.iter().skip(1).map(|s| (*s).to_string()).collect(),
            }
        }
        ["del", "server", rest @ ..] => {
            let (backend, server) = be_srv(rest.first().copied())?;
            Command::DelServer { backend, server }
        }
        _ => return Err(unknown()),
    };
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_timeout_cli_takes_seconds_and_other_timeouts_are_refused() {
        assert_eq!(
            parse_command("set timeout cli 60").unwrap(),
            Command::SetTimeoutCli { secs: 60 }
        );
        assert_eq!(
            parse_command("set timeout cli x").unwrap_err().to_string(),
            "Expects an integer value."
        );
        assert!(parse_command("set timeout server 5").is_err());
        assert_eq!(
            Command::SetTimeoutCli { secs: 1 }.required_level(),
            AccessLevel::User
        );
    }
}
