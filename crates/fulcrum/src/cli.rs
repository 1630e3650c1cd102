//! Command line, as HAProxy's: `fulcrum -f haproxy.cfg -c`, `-vv`, `-cc EXPR`, `-D -p PIDFILE`, `-sf PID…`.
//!
//! HAProxy's flags are single-dash and several are two letters long (`-cc`, `-db`, `-vv`,
//! `-sf`), which no argument parser reads as such. [`normalize`] rewrites them into long
//! options first, then clap does the rest (help, errors, values).

use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;

/// What the user asked for, validated but not yet acted on.
#[derive(Parser, Debug, Default, Clone, PartialEq)]
#[command(
    name = "fulcrum",
    disable_version_flag = true,
    about = "Fulcrum: a load balancer and reverse proxy that reads HAProxy's configuration language.",
    after_help = "HAProxy's flags work as written: -f FILE -c, -cc EXPR, -vv, -db, -sf PID... \
                  Use `fulcrum migrate FILE` to rewrite legacy directives."
)]
pub struct Args {
    /// Configuration file or directory (`*.cfg` read in lexical order); repeatable.
    #[arg(short = 'f', value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,

    /// Configuration files given after `--`.
    #[arg(value_name = "FILE", last = true)]
    pub trailing_files: Vec<PathBuf>,

    /// Check the configuration and exit: 0 when valid, 1 otherwise.
    #[arg(short = 'c')]
    pub check: bool,

    /// Evaluate a `.if` condition expression and exit: 0 when true, 1 when false (`-cc`).
    #[arg(long = "cc", value_name = "EXPR")]
    pub check_cond: Option<String>,

    /// Debug mode: stay in the foreground and log every event to stderr.
    #[arg(short = 'd')]
    pub debug: bool,

    /// Stay in the foreground even when the configuration says `daemon` (`-db`).
    #[arg(long = "db")]
    pub no_background: bool,

    /// Fork into the background (as `daemon` in `global`).
    #[arg(short = 'D')]
    pub daemon: bool,

    /// Master-worker mode (accepted; Fulcrum's single process reloads itself).
    #[arg(short = 'W')]
    pub master_worker: bool,

    /// Master-worker mode with systemd notify (`-Ws`; accepted).
    #[arg(long = "ws")]
    pub master_worker_systemd: bool,

    /// Write the process id to this file (as `pidfile` in `global`).
    #[arg(short = 'p', value_name = "PIDFILE")]
    pub pidfile: Option<PathBuf>,

    /// Quiet: print nothing at start-up.
    #[arg(short = 'q')]
    pub quiet: bool,

    /// Print the version and exit.
    #[arg(short = 'v')]
    pub version: bool,

    /// Print the version, build options and supported features, then exit (`-vv`).
    #[arg(long = "vv")]
    pub version_verbose: bool,

    /// Verbose start-up.
    #[arg(short = 'V')]
    pub verbose: bool,

    /// Local peer name (for `peers` sections).
    #[arg(short = 'L', value_name = "NAME")]
    pub local_peer: Option<String>,

    /// Memory limit in megabytes.
    #[arg(short = 'm', value_name = "MEGS")]
    pub mem_limit_mb: Option<u64>,

    /// Global maximum number of connections (overrides `maxconn` in `global`).
    #[arg(short = 'n', value_name = "MAXCONN")]
    pub maxconn: Option<u32>,

    /// Default per-proxy maximum number of connections.
    #[arg(short = 'N', value_name = "MAXCONN")]
    pub default_maxconn: Option<u32>,

    /// Change to this directory before reading the configuration.
    #[arg(short = 'C', value_name = "DIR")]
    pub chdir: Option<PathBuf>,

    /// Old processes to stop gracefully once this one listens (`-sf PID…`).
    #[arg(long = "sf", value_name = "PID", num_args = 1.., conflicts_with = "terminate_pids")]
    pub finish_pids: Vec<i32>,

    /// Old processes to stop at once once this one listens (`-st PID…`).
    #[arg(long = "st", value_name = "PID", num_args = 1..)]
    pub terminate_pids: Vec<i32>,

    /// Take the listening sockets from the old process's stats socket (`-x SOCKET`).
    #[arg(short = 'x', value_name = "SOCKET")]
    pub xfer_socket: Option<PathBuf>,

    /// Master CLI socket (`-S`; accepted).
    #[arg(short = 'S', value_name = "BIND")]
    pub master_socket: Option<String>,

    /// HAProxy debug switches such as `-dM`, `-dV`, `-dr` (accepted, listed in `-vv`).
    #[arg(long = "debug-opt", value_name = "OPT", hide = true)]
    pub debug_opts: Vec<String>,
}

impl Args {
    /// Every configuration path, in the order given.
    pub fn config_paths(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .chain(&self.trailing_files)
            .cloned()
            .collect()
    }
}

/// What the binary is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// `fulcrum migrate FILE…`: print the configuration with legacy lines rewritten.
    Migrate(Vec<PathBuf>),
    /// Everything HAProxy's command line does.
    Proxy(Box<Args>),
}

/// Parses the process arguments (the first one is the program name).
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Invocation, clap::Error> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    if argv.get(1).map(|a| a == "migrate").unwrap_or(false) {
        let files: Vec<PathBuf> = argv[2..].iter().map(PathBuf::from).collect();
        if files.is_empty() {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                "usage: fulcrum migrate FILE...\n",
            ));
        }
        return Ok(Invocation::Migrate(files));
    }
    let args = Args::try_parse_from(normalize(argv))?;
    Ok(Invocation::Proxy(Box::new(args)))
}

/// Rewrites HAProxy's multi-letter single-dash flags into long options clap reads.
pub fn normalize(argv: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut after_double_dash = false;
    for (i, arg) in argv.into_iter().enumerate() {
        if i == 0 || after_double_dash {
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        let mapped: Option<String> = match s {
            "--" => {
                after_double_dash = true;
                None
            }
            "-cc" => Some("--cc".into()),
            "-db" => Some("--db".into()),
            "-vv" => Some("--vv".into()),
            "-sf" => Some("--sf".into()),
            "-st" => Some("--st".into()),
            "-Ws" => Some("--ws".into()),
            _ if s.len() > 2 && s.starts_with("-d") && !s.starts_with("--") => {
                Some(format!("--debug-opt={}", &s[2..]))
            }
            _ => None,
        };
        out.push(mapped.map(OsString::from).unwrap_or(arg));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Args {
        let argv = std::iter::once("fulcrum")
            .chain(line.split_whitespace())
            .map(OsString::from);
        match parse(argv) {
            Ok(Invocation::Proxy(a)) => *a,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn haproxy_check_line() {
        let a = args("-c -f /etc/haproxy/haproxy.cfg -f conf.d");
        assert!(a.check);
        assert_eq!(
            a.config_paths(),
            vec![
                PathBuf::from("/etc/haproxy/haproxy.cfg"),
                PathBuf::from("conf.d")
            ]
        );
    }

    #[test]
    fn two_letter_flags() {
        let a = args("-vv");
        assert!(a.version_verbose && !a.version);
        let a = args("-db -f x.cfg");
        assert!(a.no_background && !a.debug);
        let a = args("-cc defined(HOME)");
        assert_eq!(a.check_cond.as_deref(), Some("defined(HOME)"));
        let a = args("-dM -dV -f x.cfg");
        assert_eq!(a.debug_opts, vec!["M".to_string(), "V".to_string()]);
    }

    #[test]
    fn soft_finish_takes_pid_list() {
        let a = args("-f x.cfg -p /run/f.pid -sf 12 34 56");
        assert_eq!(a.finish_pids, vec![12, 34, 56]);
        assert_eq!(a.pidfile, Some(PathBuf::from("/run/f.pid")));
        let a = args("-st 7 -f x.cfg");
        assert_eq!(a.terminate_pids, vec![7]);
        assert_eq!(a.files, vec![PathBuf::from("x.cfg")]);
    }

    #[test]
    fn numeric_limits_and_files_after_double_dash() {
        let a = args("-n 100 -N 50 -m 256 -L peer1 -- a.cfg b.cfg");
        assert_eq!(
            (a.maxconn, a.default_maxconn, a.mem_limit_mb),
            (Some(100), Some(50), Some(256))
        );
        assert_eq!(a.local_peer.as_deref(), Some("peer1"));
        assert_eq!(
            a.config_paths(),
            vec![PathBuf::from("a.cfg"), PathBuf::from("b.cfg")]
        );
    }

    #[test]
    fn migrate_subcommand() {
        let argv = ["fulcrum", "migrate", "old.cfg"].map(OsString::from);
        assert_eq!(
            parse(argv).ok(),
            Some(Invocation::Migrate(vec![PathBuf::from("old.cfg")]))
        );
    }

    #[test]
    fn bad_number_is_an_error() {
        let argv = ["fulcrum", "-n", "lots"].map(OsString::from);
        assert!(parse(argv).is_err());
    }
}
