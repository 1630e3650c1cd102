//! Defaults inheritance, the keyword matrix and "did you mean", as a user sees them.

use fulcrum_config::model::options::HttpMode;
use fulcrum_config::model::{Balance, Mode};
use fulcrum_config::reader::ProcessEnv;
use fulcrum_config::{load_str, Level, Loaded};
use std::time::Duration;

fn load(text: &str) -> Loaded {
    load_str("t.cfg", text, &ProcessEnv)
}

/// (level, line, message + hint) of every finding except notices.
fn findings(l: &Loaded) -> Vec<(Level, u32, String)> {
    l.diagnostics
        .items
        .iter()
        .filter(|d| d.level >= Level::Warning)
        .map(|d| {
            (
                d.level,
                d.span.as_ref().map_or(0, |s| s.line),
                d.to_string(),
            )
        })
        .collect()
}

const TIMEOUTS: &str = "timeout client 1s\ntimeout server 1s\ntimeout connect 1s\n";

#[test]
fn proxies_copy_the_defaults_before_them_and_no_option_clears() {
    let l = load(&format!(
        "defaults\nmode http\noption httplog\noption forwardfor\nretries 5\n{TIMEOUTS}\
         frontend a\nbind :80\nno option httplog\ndefault_backend b\n\
         backend b\nserver s 127.0.0.1:81\n\
         defaults\nmode tcp\n{TIMEOUTS}\
         backend c\nserver s 127.0.0.1:82\n"
    ));
    assert_eq!(findings(&l), vec![]);
    let c = l.config.unwrap();
    let a = c.frontend("a").unwrap();
    assert_eq!(a.mode, Mode::Http);
    assert!(
        a.options.httplog.is_none(),
        "'no option httplog' clears the inherited option"
    );
    assert!(a.options.forwardfor.is_some());
    let b = c.backend("b").unwrap();
    assert!(b.options.httplog.is_some());
    assert_eq!(b.retries, Some(5));
    let cc = c.backend("c").unwrap();
    assert_eq!(
        cc.mode,
        Mode::Tcp,
        "a new defaults section resets the previous one"
    );
    assert!(cc.options.forwardfor.is_none());
    assert_eq!(cc.retries, None);
}

#[test]
fn named_defaults_with_from() {
    let l = load(&format!(
        "defaults base\nmode http\nbalance leastconn\n{TIMEOUTS}\
         defaults tcpish\nmode tcp\n{TIMEOUTS}\
         defaults derived from base\noption redispatch\n\
         backend one from base\nserver s 127.0.0.1:1\n\
         backend two\nserver s 127.0.0.1:1\n\
         backend three from derived\nserver s 127.0.0.1:1\n"
    ));
    assert_eq!(findings(&l), vec![]);
    let c = l.config.unwrap();
    let one = c.backend("one").unwrap();
    assert_eq!(
        (one.mode, one.balance.clone()),
        (Mode::Http, Some(Balance::LeastConn))
    );
    assert_eq!(
        c.backend("two").unwrap().options.redispatch,
        Some(1),
        "last defaults without from"
    );
    let three = c.backend("three").unwrap();
    assert_eq!(three.balance, Some(Balance::LeastConn));
    assert_eq!(three.options.redispatch, Some(1));
}

#[test]
fn from_an_unknown_defaults_is_an_error_with_a_suggestion() {
    let l = load("defaults base\nmode http\nbackend b from baze\n");
    let f = findings(&l);
    assert_eq!(f[0].0, Level::Alert);
    assert_eq!(f[0].1, 3);
    assert!(
        f[0].2.contains("no defaults section named 'baze'"),
        "{}",
        f[0].2
    );
    assert!(f[0].2.contains("did you mean 'base'?"), "{}", f[0].2);
}

#[test]
fn default_server_applies_to_later_servers_then_lines_override() {
    let l = load(&format!(
        "defaults\n{TIMEOUTS}default-server inter 3s rise 2 fall 3 maxconn 50\n\
         backend b\nserver early 127.0.0.1:1 check\ndefault-server maxconn 10\n\
         server late 127.0.0.1:2 check fall 5\n"
    ));
    assert_eq!(findings(&l), vec![]);
    let c = l.config.unwrap();
    let b = c.backend("b").unwrap();
    let (early, late) = (&b.servers[0].settings, &b.servers[1].settings);
    assert_eq!(early.maxconn, Some(50));
    assert_eq!(late.maxconn, Some(10));
    assert_eq!(early.check.inter, Some(Duration::from_secs(3)));
    assert_eq!((early.check.fall, late.check.fall), (Some(3), Some(5)));
    assert_eq!(late.check.rise, Some(2));
}

#[test]
fn keyword_matrix_as_haproxy() {
    let l = load(&format!(
        "defaults\n{TIMEOUTS}bind :80\n\
         frontend f\nbind :80\nbalance roundrobin\ndefault_backend b\n\
         backend b\nuse_backend x\nserver s 127.0.0.1:1\n"
    ));
    let f = findings(&l);
    assert_eq!(f.len(), 3, "{f:#?}");
    assert_eq!((f[0].0, f[0].1), (Level::Alert, 5));
    assert!(f[0].2.contains("'bind' not allowed in 'defaults' section"));
    assert_eq!((f[1].0, f[1].1), (Level::Warning, 8));
    assert!(f[1]
        .2
        .contains("'balance' ignored because frontend 'f' has no backend capability"));
    assert_eq!((f[2].0, f[2].1), (Level::Warning, 11));
    assert!(f[2]
        .2
        .contains("'use_backend' ignored because backend 'b' has no frontend capability"));
}

#[test]
fn typos_get_did_you_mean() {
    let l = load(&format!(
        "defaults\n{TIMEOUTS}\nbackend b\nbalanse roundrobin\noption htplog\ntimeout clinet 5s\nserver s 127.0.0.1:1 wieght 3\n"
    ));
    let hints: Vec<String> = l
        .diagnostics
        .errors()
        .map(|d| d.hint.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        hints,
        vec![
            "did you mean 'balance'?",
            "did you mean 'option httplog'?",
            "did you mean 'timeout client'?",
            "did you mean 'weight'?",
        ]
    );
    assert!(l.config.is_none());
}

#[test]
fn glued_keyword_suggests_the_split() {
    let l = load(&format!(
        "defaults\n{TIMEOUTS}frontend f\nbind :80\nmonitor-uri/health\n"
    ));
    let e: Vec<_> = l.diagnostics.errors().collect();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].hint.as_deref(),
        Some("did you mean 'monitor-uri /health'? A space is missing")
    );
}

#[test]
fn http_connection_mode_last_wins_and_no_option_returns_to_keep_alive() {
    let l = load(&format!(
        "defaults\nmode http\n{TIMEOUTS}option http-server-close\n\
         backend a\noption httpclose\nserver s 127.0.0.1:1\n\
         backend b\nno option http-server-close\nserver s 127.0.0.1:1\n\
         backend c\nserver s 127.0.0.1:1\n"
    ));
    let c = l.config.unwrap();
    assert_eq!(c.backend("a").unwrap().options.http_mode, HttpMode::Close);
    assert_eq!(
        c.backend("b").unwrap().options.http_mode,
        HttpMode::KeepAlive
    );
    assert_eq!(
        c.backend("c").unwrap().options.http_mode,
        HttpMode::ServerClose
    );
}

#[test]
fn httplog_on_a_tcp_frontend_falls_back_to_tcplog() {
    let l = load(&format!("defaults\n{TIMEOUTS}option httplog\nlisten l\nmode tcp\nbind :3306\nserver s 127.0.0.1:1\n"));
    let f = findings(&l);
    assert_eq!(f.len(), 1);
    assert!(
        f[0].2
            .contains("'option httplog' not usable with listen 'l'"),
        "{}",
        f[0].2
    );
    let c = l.config.unwrap();
    assert!(c.proxies[0].options.tcplog && c.proxies[0].options.httplog.is_none());
}

#[test]
fn globals_merge_and_process_settings_are_typed() {
    let l = load(
        "global\ndaemon\nmaxconn 100\nnbthread 4\ncpu-map auto:1/1-4 0-3\ntune.bufsize 32k\n\
         global\nuser haproxy\nulimit-n 65535\nstats socket ipv4@127.0.0.1:9999 level operator\n\
         stats timeout 2m\nlog 127.0.0.1:514 local0 notice\nspread-checks 5\nhard-stop-after 30s\n",
    );
    assert_eq!(findings(&l), vec![]);
    let g = l.config.unwrap().global;
    assert!(g.daemon);
    assert_eq!(
        (g.maxconn, g.threads(), g.ulimit_n),
        (Some(100), Some(4), Some(65535))
    );
    assert_eq!(g.user.as_deref(), Some("haproxy"));
    assert_eq!(g.tune_bufsize, Some(32 * 1024));
    assert_eq!(g.cpu_map[0].cpus, vec![0, 1, 2, 3]);
    assert!(g.cpu_map[0].auto);
    assert_eq!(g.stats_sockets[0].level.as_deref(), Some("operator"));
    assert_eq!(g.stats_timeout, Some(Duration::from_secs(120)));
    assert_eq!(g.logs[0].max_level, 5);
    assert_eq!(g.hard_stop_after, Some(Duration::from_secs(30)));
}

#[test]
fn global_errors_are_each_reported() {
    let l = load("global\nmaxconn many\nspread-checks 60\ndeamon\nnbthread 0\n");
    let e: Vec<_> = l.diagnostics.errors().map(|d| d.to_string()).collect();
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(e[0].contains("'maxconn' expects a non-negative integer, got 'many'"));
    assert!(e[1].contains("between 0 and 50"));
    assert!(e[2].contains("did you mean 'daemon'?"));
    assert!(e[3].contains("greater than 0"));
}

#[test]
fn lines_outside_any_section_are_errors() {
    let l = load("maxconn 10\nglobl\n");
    let e: Vec<_> = l.diagnostics.errors().map(|d| d.to_string()).collect();
    assert_eq!(e.len(), 2);
    assert!(e[1].contains("did you mean 'global'?"), "{}", e[1]);
}

#[test]
fn rules_after_use_backend_warn_as_haproxy() {
    let l = load(&format!(
        "defaults\nmode http\n{TIMEOUTS}frontend f\nbind :80\nuse_backend b if TRUE\nhttp-request deny if FALSE\n\
         default_backend b\nbackend b\nserver s 127.0.0.1:1\n"
    ));
    let f = findings(&l);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!((f[0].0, f[0].1), (Level::Warning, 9));
    assert!(f[0].2.contains(
        "a 'http-request' rule placed after a 'use_backend' rule will still be processed before"
    ));
    let c = l.config.unwrap();
    assert_eq!(
        c.frontend("f").unwrap().http_request.len(),
        1,
        "the rule is kept"
    );
}

#[test]
fn rate_limit_sessions_is_read_and_inherited_by_frontends() {
    let l = load(&format!(
        "defaults\nmode http\nrate-limit sessions 7\n{TIMEOUTS}\
         frontend a\nbind :80\ndefault_backend b\n\
         frontend c\nbind :81\nrate-limit sessions 3\ndefault_backend b\n\
         backend b\nserver s 127.0.0.1:81\n"
    ));
    assert_eq!(findings(&l), vec![]);
    assert!(
        !l.diagnostics
            .items
            .iter()
            .any(|d| d.to_string().contains("rate-limit")),
        "no 'not yet supported' notice"
    );
    let c = l.config.unwrap();
    assert_eq!(c.frontend("a").unwrap().rate_limit_sessions, Some(7));
    assert_eq!(c.frontend("c").unwrap().rate_limit_sessions, Some(3));
    let bad = load(&format!(
        "defaults\n{TIMEOUTS}frontend a\nbind :80\nrate-limit connections 3\n"
    ));
    let f = findings(&bad);
    assert!(
        f.iter()
            .any(|(lvl, _, m)| *lvl == Level::Alert && m.contains("'sessions'")),
        "{f:?}"
    );
}
