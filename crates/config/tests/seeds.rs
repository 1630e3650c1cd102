//! Acceptance test: the 10 seed configurations of `shared/fixtures` give exactly the
//! outcome of the fixtures table (valid / named warnings / named errors).

use fulcrum_config::model::addr::IpNet;
use fulcrum_config::model::{Address, Balance, Family, Host, HttpMode, Mode, Ports};
use fulcrum_config::reader::ProcessEnv;
use fulcrum_config::{load_str, Level, Loaded};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn seeds_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/seed-configs"
    ))
}

/// The seed's text with every `errorfile` path moved into `dir`, where the file is
/// created unless its code is in `missing`.
fn with_errorfiles(text: &str, dir: &Path, missing: &[&str]) -> String {
    text.lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.first() == Some(&"errorfile") && w.len() >= 3 {
                let path = dir.join(format!("{}.http", w[1]));
                if !missing.contains(&w[1]) {
                    std::fs::write(&path, format!("HTTP/1.0 {} Error\r\n\r\n", w[1])).unwrap();
                }
                l.replace(w[2], &path.display().to_string())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn load_seed(name: &str, missing: &[&str]) -> Option<Loaded> {
    let path = seeds_dir().join(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipping {name}: {} not found", path.display());
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = with_errorfiles(&text, dir.path(), missing);
    Some(load_str(name, &text, &ProcessEnv))
}

fn dump(l: &Loaded) -> String {
    l.diagnostics
        .items
        .iter()
        .map(|d| format!("{d}\n"))
        .collect()
}

/// Lines (and a word each message must contain) of the findings at `level`.
fn at(l: &Loaded, level: Level) -> Vec<(u32, String)> {
    l.diagnostics
        .items
        .iter()
        .filter(|d| d.level == level)
        .map(|d| (d.span.as_ref().map_or(0, |s| s.line), d.to_string()))
        .collect()
}

/// Asserts the seed gives exactly these warnings and alerts, by line and text.
fn expect(l: &Loaded, warnings: &[(u32, &str)], alerts: &[(u32, &str)]) {
    for (level, want) in [(Level::Warning, warnings), (Level::Alert, alerts)] {
        let got = at(l, level);
        assert_eq!(
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            want.iter().map(|w| w.0).collect::<Vec<_>>(),
            "{level:?} lines differ; all findings:\n{}",
            dump(l)
        );
        for ((_, text), (line, word)) in got.iter().zip(want) {
            assert!(text.contains(word), "line {line}: '{word}' not in '{text}'");
        }
    }
    assert_eq!(l.is_valid(), alerts.is_empty(), "{}", dump(l));
}

macro_rules! seed {
    ($name:literal) => {
        match load_seed($name, &[]) {
            Some(l) => l,
            None => return,
        }
    };
}

#[test]
fn seed_01_http_hdr_balance_is_valid() {
    let l = seed!("01-http-hdr-balance.cfg");
    expect(&l, &[], &[]);
    let c = l.config.unwrap();
    let bk = c.backend("bk_web").unwrap();
    assert_eq!(
        bk.balance,
        Some(Balance::Hdr {
            name: "tableId".into(),
            use_domain_only: false
        })
    );
    assert!(bk.options.forwardfor.is_some());
    assert_eq!(
        bk.servers[0].addr,
        Address::Inet {
            family: Family::Any,
            host: Host::Name("localhost".into()),
            ports: Ports::One(7070),
        }
    );
    assert_eq!(bk.servers[0].settings.weight, 10);
    assert_eq!(
        bk.servers[0].settings.check.rise,
        Some(2),
        "default-server applies"
    );
    let fe = c.frontend("ft_web").unwrap();
    assert_eq!(fe.errors.len(), 7, "errorfiles inherited from defaults");
    assert_eq!(fe.timeouts.tunnel, Some(Duration::from_secs(3600)));
    assert_eq!(c.global.stats_sockets[0].level.as_deref(), Some("admin"));
}

#[test]
fn seed_02_websocket_url_param_is_valid() {
    let l = seed!("02-websocket-url-param.cfg");
    expect(&l, &[], &[]);
    let c = l.config.unwrap();
    assert!(
        matches!(c.backend("bk_ws").unwrap().balance, Some(Balance::UrlParam { ref name, .. }) if name == "tableId")
    );
    assert_eq!(c.backend("bk_ws").unwrap().http_request.len(), 2);
    assert_eq!(c.frontend("ft_web").unwrap().captures.len(), 2);
}

#[test]
fn seed_03_legacy_lines_warn_with_modern_form() {
    let l = seed!("03-cometd-websocket-longpoll.cfg");
    expect(
        &l,
        &[
            (8, "nbthread 1"),
            (35, "http-pretend-keepalive"),
            (43, "http-check send hdr"),
            (47, "appsession"),
        ],
        &[],
    );
    let c = l.config.unwrap();
    assert_eq!(c.global.threads(), Some(1));
    let fe = c.frontend("ft_web").unwrap();
    assert_eq!(
        fe.stats.uri.as_deref(),
        Some("/stats"),
        "stats from defaults"
    );
    assert_eq!(fe.timeouts.client, Some(Duration::from_secs(600)));
    assert_eq!(
        c.backend("cometd").unwrap().timeouts.tunnel,
        Some(Duration::from_secs(600))
    );
}

#[test]
fn seed_04_duplicate_servers_error_at_both_lines() {
    let l = seed!("04-websocket-host-routing.cfg");
    let dup = "duplicate server name 'server1'";
    expect(&l, &[], &[(41, dup), (42, dup), (46, dup), (47, dup)]);
    for d in l.diagnostics.errors() {
        assert!(
            d.hint.as_deref().unwrap_or("").contains("distinct name"),
            "{d}"
        );
    }
}

#[test]
fn seed_05_only_the_address_and_glued_stats_uri_are_errors() {
    let l = seed!("05-listen-stats-httpchk.cfg");
    expect(
        &l,
        &[
            (10, "nbthread 8"),
            (18, "timeout connect 5000"),
            (19, "timeout client 50000"),
            (20, "timeout server 50000"),
        ],
        &[(25, "'x.x.x.x:80'"), (29, "stats uri /admin?stats")],
    );
}

#[test]
fn seed_06_tcp_ssh_is_valid_with_warnings() {
    let l = seed!("06-tcp-ssh-proxy.cfg");
    expect(
        &l,
        &[
            (10, "nbthread 8"),
            (17, "timeout connect"),
            (18, "timeout client"),
            (19, "timeout server"),
        ],
        &[],
    );
    let c = l.config.unwrap();
    let p = c.backend("oldboytest").unwrap();
    assert_eq!(p.mode, Mode::Tcp);
    assert_eq!(
        p.timeouts.connect,
        Some(Duration::from_secs(15)),
        "own line beats the legacy default"
    );
    assert_eq!(p.timeouts.client, Some(Duration::from_millis(50000)));
    let s = &p.servers[0].settings.check;
    assert_eq!(
        (s.port, s.inter, s.fall),
        (Some(22), Some(Duration::from_millis(5000)), Some(5))
    );
}

#[test]
fn seed_07_valid_with_warnings_when_errorfiles_exist() {
    let l = seed!("07-full-annotated.cfg");
    expect(
        &l,
        &[
            (12, "nbthread 1"),
            (32, "timeout connect"),
            (33, "timeout client"),
            (34, "timeout server"),
            (71, "http-request return status 200"),
            (72, "http-request return status 200"),
        ],
        &[],
    );
    let c = l.config.unwrap();
    let adm = c.frontend("admin_status").unwrap();
    assert_eq!(adm.stats.auth.len(), 2);
    assert!(adm.stats.hide_version && adm.stats.admin.is_some());
    assert_eq!(adm.stats.refresh, Some(Duration::from_secs(5)));
    assert_eq!(adm.captures.len(), 6);
    let site = c.frontend("site_status").unwrap();
    assert_eq!(site.monitor_uri.as_deref(), Some("/site_status"));
    assert_eq!(site.monitor_net.len(), 2);
    assert!(site.monitor_fail.is_some());
    let web = c.backend("server_web").unwrap();
    assert_eq!(web.servers[1].settings.weight, 2);
    assert_eq!(web.options.http_mode, HttpMode::Close);
}

#[test]
fn seed_07_missing_errorfile_is_an_error_at_its_line() {
    let Some(l) = load_seed("07-full-annotated.cfg", &["502"]) else {
        return;
    };
    let errs: Vec<_> = l.diagnostics.errors().collect();
    assert_eq!(errs.len(), 1, "{}", dump(&l));
    assert_eq!(errs[0].span.as_ref().map(|s| s.line), Some(50));
    assert!(errs[0].message.contains("errorfile 502"), "{}", errs[0]);
    assert!(
        errs[0].message.to_lowercase().contains("no such file"),
        "{}",
        errs[0]
    );
}

#[test]
fn seed_08_keepalived_stats_admin_is_valid() {
    let l = seed!("08-keepalived-pair-stats-admin.cfg");
    expect(&l, &[], &[]);
    let c = l.config.unwrap();
    let st = c.frontend("stats").unwrap();
    assert_eq!(st.stats.realm.as_deref(), Some("Haproxy stats"));
    assert_eq!(st.stats.refresh, Some(Duration::from_secs(30)));
    assert_eq!(c.backend("httpservers").unwrap().servers.len(), 3);
}

#[test]
fn seed_09_mysql_and_http_is_valid_with_warnings() {
    let l = seed!("09-l4-mysql-and-http.cfg");
    expect(
        &l,
        &[
            (17, "timeout connect"),
            (18, "timeout client"),
            (19, "timeout server"),
        ],
        &[],
    );
    let c = l.config.unwrap();
    let fw = c
        .frontend("web")
        .unwrap()
        .options
        .forwardfor
        .clone()
        .unwrap();
    assert_eq!(fw.except, Some(IpNet::parse("127.0.0.0/8").unwrap()));
    assert_eq!(c.backend("mysql").unwrap().mode, Mode::Tcp);
    assert_eq!(
        c.frontend("web").unwrap().maxconn,
        Some(3000),
        "maxconn from defaults"
    );
}

#[test]
fn seed_10_listen_www_source_is_valid() {
    let l = seed!("10-listen-www-source.cfg");
    expect(&l, &[], &[]);
    let c = l.config.unwrap();
    assert_eq!(c.proxies.len(), 1);
    assert_eq!(c.proxies[0].name, "www.qfedu.com");
    assert_eq!(c.proxies[0].binds[0].addresses[0].port(), Some(80));
}
