//! The runtime API as scripts and operators use it over the stats socket.

use fulcrum_observe::api::{
    execute, parse_command, split_commands, AccessLevel, CliSession, Command, HealthForce,
    OutFormat, RateLimitKind, Runtime, ServerAdminState, ServerStateLine, TableDump, TableEntry,
    TableFilter, WeightSpec,
};
use fulcrum_observe::stats::{ProcessInfo, ProxyStats, StatFilter};
use proptest::prelude::*;
use std::cell::RefCell;

mod common;

/// A runtime that records what it was asked to do.
#[derive(Default)]
struct Fake {
    calls: RefCell<Vec<String>>,
}

impl Runtime for Fake {
    fn info(&self) -> ProcessInfo {
        ProcessInfo {
            pid: 4242,
            version: "0.1.0".into(),
            ..ProcessInfo::default()
        }
    }
    fn stats(&self) -> Vec<ProxyStats> {
        common::sample_proxies()
    }
    fn servers_state(&self, backend: Option<&str>) -> Result<Vec<ServerStateLine>, String> {
        if backend.is_some_and(|b| b != "app") {
            return Err("Can't find backend.\n".into());
        }
        Ok(vec![ServerStateLine {
            be_id: 3,
            be_name: "app".into(),
            srv_id: 1,
            srv_name: "s1".into(),
            srv_addr: "127.0.0.1".into(),
            srv_op_state: 2,
            srv_uweight: 1,
            srv_iweight: 1,
            srv_time_since_last_change: 120,
            srv_check_status: 6,
            srv_check_result: 3,
            srv_check_health: 4,
            srv_check_state: 6,
            srv_port: 8001,
            ..ServerStateLine::default()
        }])
    }
    fn backends(&self) -> Vec<String> {
        vec!["app".into(), "static".into()]
    }
    fn set_server_state(&self, b: &str, s: &str, st: ServerAdminState) -> Result<String, String> {
        self.calls.borrow_mut().push(format!("{b}/{s} {st:?}"));
        if s == "nope" {
            return Err("No such server.".into());
        }
        Ok(String::new())
    }
    fn get_weight(&self, _b: &str, _s: &str) -> Result<(u32, u32), String> {
        Ok((3, 1))
    }
    fn tables(&self, name: Option<&str>, _f: &[TableFilter]) -> Result<Vec<TableDump>, String> {
        Ok(vec![TableDump {
            name: name.unwrap_or("front").into(),
            key_type: "ip".into(),
            size: 1024,
            used: 1,
            entries: vec![TableEntry {
                id: 0x55aa,
                key: "127.0.0.1".into(),
                use_count: 0,
                exp_ms: 2989,
                data: vec![("conn_rate(30000)".into(), "1".into())],
            }],
        }])
    }
}

#[test]
fn parses_every_documented_command() {
    let ok = |s: &str| parse_command(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(
        ok("show info typed"),
        Command::ShowInfo {
            format: OutFormat::Typed
        }
    );
    assert_eq!(
        ok("show stat json 3 4 -1"),
        Command::ShowStat {
            format: OutFormat::Json,
            filter: StatFilter {
                proxy: Some("3".into()),
                types: 4,
                sid: Some(-1),
                ..StatFilter::default()
            }
        }
    );
    assert_eq!(
        ok("show servers state app"),
        Command::ShowServersState {
            backend: Some("app".into())
        }
    );
    assert_eq!(
        ok("set server app/s1 state drain"),
        Command::SetServerState {
            backend: "app".into(),
            server: "s1".into(),
            state: ServerAdminState::Drain
        }
    );
    assert_eq!(
        ok("set server app/s1 weight 50%"),
        Command::SetServerWeight {
            backend: "app".into(),
            server: "s1".into(),
            weight: WeightSpec::Percent(50)
        }
    );
    assert_eq!(
        ok("set weight app/s1 7"),
        Command::SetServerWeight {
            backend: "app".into(),
            server: "s1".into(),
            weight: WeightSpec::Absolute(7)
        }
    );
    assert_eq!(
        ok("set server app/s1 addr ::1 port 8080"),
        Command::SetServerAddr {
            backend: "app".into(),
            server: "s1".into(),
            addr: "::1".parse().unwrap(),
            port: Some(8080)
        }
    );
    assert_eq!(
        ok("set server app/s1 health stopping"),
        Command::SetServerHealth {
            backend: "app".into(),
            server: "s1".into(),
            force: HealthForce::Stopping
        }
    );
    assert_eq!(
        ok("show table t data.conn_rate gt 5 key 10.0.0.1"),
        Command::ShowTable {
            name: Some("t".into()),
            filters: vec![
                TableFilter::Data {
                    name: "conn_rate".into(),
                    op: "gt".into(),
                    value: 5
                },
                TableFilter::Key("10.0.0.1".into())
            ]
        }
    );
    for s in [
        "help",
        "prompt",
        "quit",
        "show backend",
        "show sess",
        "show sess all",
        "show errors app request",
        "show env HOME",
        "show activity",
        "clear table t key 1.2.3.4",
        "disable server a/b",
        "enable server a/b",
        "disable health a/b",
        "enable health a/b",
        "disable agent a/b",
        "enable agent a/b",
        "set server a/b agent up",
        "get weight a/b",
        "set maxconn server a/b 10",
        "set maxconn frontend f 10",
        "set maxconn global 100",
        "set rate-limit connections global 10",
        "set rate-limit sessions global 0",
        "disable frontend f",
        "enable frontend f",
        "shutdown frontend f",
        "shutdown sessions server a/b",
        "shutdown session 0x1234",
        "add server a/b 127.0.0.1:80 weight 2",
        "del server a/b",
        "show stat",
        "show stat typed",
        "show stat domain proxy",
        "show info json",
    ] {
        ok(s);
    }
}

#[test]
fn usage_errors_say_what_is_expected() {
    let err = |s: &str| parse_command(s).unwrap_err().to_string();
    assert_eq!(err("disable server app"), "Require 'backend/server'.");
    // Bad `set server` values are answered after the server lookup, as
    // HAProxy does: the command carries the text.
    let bad = |s: &str| match parse_command(s).unwrap() {
        Command::SetServerBadArg { usage, .. } => usage,
        c => panic!("{c:?}"),
    };
    assert_eq!(
        bad("set server a/b state sleeping"),
        "'set server <srv> state' expects 'ready', 'drain' and 'maint'."
    );
    assert_eq!(
        bad("set server a/b agent stopping"),
        "'set server <srv> agent' expects 'up' or 'down'."
    );
    assert_eq!(
        bad("set server a/b weight heavy"),
        "Require <weight> or <weight%>."
    );
    assert_eq!(
        err("set maxconn global lots"),
        "Require a valid integer value."
    );
    // HAProxy 2.6 built without TLS: the usage text, no `ssl-sessions`.
    let usage = err("set rate-limit sessions 10");
    assert!(usage.starts_with("'set rate-limit' only supports :\n   - 'connections global'"));
    assert!(!usage.contains("ssl"));
    assert_eq!(err("set rate-limit ssl-sessions global 5"), usage);
    assert_eq!(
        err("set rate-limit connections global"),
        "Expects an integer value."
    );
    assert_eq!(
        err("set rate-limit connections global -1"),
        "Value out of range."
    );
    assert_eq!(
        parse_command("set rate-limit http-compression global 5x").unwrap(),
        Command::SetRateLimit {
            kind: RateLimitKind::HttpCompression,
            value: 5
        }
    );
    assert!(err("frobnicate now").contains("Unknown command"));
}

#[test]
fn semicolons_and_escapes() {
    assert_eq!(
        split_commands("show info;show stat ; ;help"),
        vec!["show info", "show stat", "help"]
    );
    assert_eq!(
        split_commands("set x a\\;b;quit"),
        vec!["set x a\\;b", "quit"]
    );
}

#[test]
fn show_outputs_tools_parse() {
    let rt = Fake::default();
    let info = execute(
        &rt,
        &Command::ShowInfo {
            format: OutFormat::Text,
        },
        AccessLevel::User,
    );
    assert!(
        info.starts_with("Name: Fulcrum\nVersion: 0.1.0\n"),
        "{info}"
    );
    assert!(info.contains("\nPid: 4242\n"));
    let state = execute(
        &rt,
        &parse_command("show servers state").unwrap(),
        AccessLevel::User,
    );
    assert_eq!(
        state.lines().nth(2),
        Some("3 app 1 s1 127.0.0.1 2 0 1 1 120 6 3 4 6 0 0 0 - 8001 - 0 0 - - 0")
    );
    assert!(state.starts_with("1\n# be_id be_name srv_id srv_name srv_addr "));
    assert_eq!(
        execute(
            &rt,
            &parse_command("show servers state zz").unwrap(),
            AccessLevel::User
        ),
        "Can't find backend.\n"
    );
    let table = execute(
        &rt,
        &parse_command("show table front").unwrap(),
        AccessLevel::Operator,
    );
    assert_eq!(
        table,
        "# table: front, type: ip, size:1024, used:1\n0x55aa: key=127.0.0.1 use=0 exp=2989 conn_rate(30000)=1\n"
    );
    let stat = execute(&rt, &parse_command("show stat").unwrap(), AccessLevel::User);
    assert!(stat.starts_with("# pxname,svname,"));
    assert_eq!(stat.lines().count(), 5);
    assert_eq!(
        execute(
            &rt,
            &parse_command("show backend").unwrap(),
            AccessLevel::User
        ),
        "# name\napp\nstatic\n"
    );
    assert_eq!(
        execute(
            &rt,
            &parse_command("get weight a/b").unwrap(),
            AccessLevel::User
        ),
        "3 (initial 1)\n"
    );
}

#[test]
fn levels_are_enforced() {
    let rt = Fake::default();
    let cmd = parse_command("disable server app/s1").unwrap();
    assert_eq!(
        execute(&rt, &cmd, AccessLevel::Operator),
        "Permission denied\n"
    );
    assert!(rt.calls.borrow().is_empty());
    assert_eq!(execute(&rt, &cmd, AccessLevel::Admin), "");
    assert_eq!(rt.calls.borrow().as_slice(), ["app/s1 Maint"]);
    let err = execute(
        &rt,
        &parse_command("enable server app/nope").unwrap(),
        AccessLevel::Admin,
    );
    assert_eq!(err, "No such server.\n");
}

#[test]
fn session_framing_and_prompt_mode() {
    let rt = Fake::default();
    let mut s = CliSession::new(AccessLevel::Admin);
    // Non-interactive: outputs separated by empty lines, then close.
    let (out, keep) = s.handle_line(&rt, "show backend;get weight a/b");
    assert_eq!(out, "# name\napp\nstatic\n\n3 (initial 1)\n\n");
    assert!(!keep);
    // `prompt` enters interactive mode: a prompt after each line.
    let (out, keep) = s.handle_line(&rt, "prompt");
    assert_eq!((out.as_str(), keep), ("\n> ", true));
    let (out, keep) = s.handle_line(&rt, "get weight a/b");
    assert_eq!((out.as_str(), keep), ("3 (initial 1)\n\n> ", true));
    let (_, keep) = s.handle_line(&rt, "quit");
    assert!(!keep);
    let (out, _) = CliSession::new(AccessLevel::User).handle_line(&rt, "bogus");
    assert!(out.starts_with("Unknown command: 'bogus'\nThe following commands are valid"));
}

proptest! {
    #[test]
    fn parsing_and_sessions_never_panic(line in "\\PC{0,80}") {
        for c in split_commands(&line) {
            let _ = parse_command(&c);
        }
        let rt = Fake::default();
        let _ = CliSession::new(AccessLevel::Admin).handle_line(&rt, &line);
    }

    #[test]
    fn structured_commands_never_panic(
        verb in prop::sample::select(vec!["set", "show", "get", "enable", "disable", "clear", "add", "del", "shutdown"]),
        words in prop::collection::vec(prop::sample::select(vec![
            "server", "stat", "table", "a/b", "/", "a/", "weight", "state", "health", "agent", "addr",
            "port", "maxconn", "global", "frontend", "rate-limit", "sessions", "data.x", "gt", "key",
            "-1", "99999999999", "256", "257", "%", "50%", "::1", "typed", "json", "domain", "proxy",
        ]), 0..6),
    ) {
        let line = format!("{verb} {}", words.join(" "));
        let _ = parse_command(&line);
    }
}

#[test]
fn show_info_keeps_haproxy_names_and_order() {
    let rt = Fake::default();
    let info = execute(
        &rt,
        &Command::ShowInfo {
            format: OutFormat::Text,
        },
        AccessLevel::User,
    );
    let keys: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(k, _)| k))
        .collect();
    // The first fields, in the order HAProxy prints them.
    assert_eq!(
        &keys[..21],
        &[
            "Name",
            "Version",
            "Release_date",
            "Nbthread",
            "Nbproc",
            "Process_num",
            "Pid",
            "Uptime",
            "Uptime_sec",
            "Memmax_MB",
            "PoolAlloc_MB",
            "PoolUsed_MB",
            "PoolFailed",
            "Ulimit-n",
            "Maxsock",
            "Maxconn",
            "Hard_maxconn",
            "CurrConns",
            "CumConns",
            "CumReq",
            "MaxSslConns"
        ]
    );
    assert!(info.contains("\nTotalSplicdedBytesOut: 0\n"));
    assert!(info.contains("\nUnstoppable Jobs: 0\n"));
    assert!(
        !info.contains("description"),
        "empty description is not printed"
    );
    let i = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    assert!(
        i("CompressBpsRateLim") < i("ZlibMemUsage")
            && i("Idle_pct") < i("node")
            && i("node") < i("Stopping")
    );
}

#[test]
fn admin_form_drives_the_runtime() {
    use fulcrum_observe::api::apply_admin;
    use fulcrum_observe::stats::admin::{AdminOutcome, AdminRequest};
    let rt = Fake::default();
    // Backend #3 is "app, \"main\"" in the snapshot, which the fake does not
    // list as a backend: invalid parameters.
    let r = AdminRequest::parse(b"s=s1&action=maint&b=%233").unwrap();
    assert_eq!(apply_admin(&rt, &r), AdminOutcome::InvalidParams);
    let r = AdminRequest::parse(b"s=s1&s=nope&action=drain&b=app").unwrap();
    assert_eq!(apply_admin(&rt, &r), AdminOutcome::Partial);
    assert_eq!(
        rt.calls.borrow().as_slice(),
        ["app/s1 Drain", "app/nope Drain"]
    );
    let r = AdminRequest::parse(b"s=s1&action=ready&b=app").unwrap();
    assert_eq!(apply_admin(&rt, &r), AdminOutcome::Done);
    let r = AdminRequest::parse(b"action=ready&b=app").unwrap();
    assert_eq!(apply_admin(&rt, &r), AdminOutcome::None);
    assert_eq!(
        fulcrum_observe::stats::admin::redirect_location("/stats", AdminOutcome::Done),
        "/stats;st=DONE"
    );
}

proptest! {
    #[test]
    fn admin_form_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = fulcrum_observe::stats::admin::AdminRequest::parse(&body);
    }
}

#[test]
fn no_output_contains_an_empty_line() {
    // The CLI ends each command's output with an empty line; none may appear inside.
    let rt = Fake::default();
    for cmd in [
        "show info",
        "show info typed",
        "show info json",
        "show stat",
        "show stat typed",
        "show stat json",
        "show servers state",
        "show table",
        "show backend",
        "help",
        "show env",
    ] {
        let out = execute(&rt, &parse_command(cmd).unwrap(), AccessLevel::Admin);
        assert!(!out.contains("\n\n"), "{cmd} has an empty line");
        assert!(!out.starts_with('\n'), "{cmd} starts with an empty line");
    }
}
