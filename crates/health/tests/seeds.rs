//! Users' configurations: the checks their `option httpchk` lines describe
//! reach a server byte for byte as HAProxy sends them.

mod common;

use common::*;
use fulcrum_balance::ServerState;
use fulcrum_config::reader::ProcessEnv;
use fulcrum_health::status::CheckStatus;
use fulcrum_health::target::CheckTarget;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn seed(name: &str) -> fulcrum_config::model::Config {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/seed-configs")
        .join(name);
    let loaded = fulcrum_config::load(&[p], &ProcessEnv);
    loaded
        .config
        .unwrap_or_else(|| panic!("{name}: {:#?}", loaded.diagnostics))
}

/// A server recording each request head and answering `answer`.
fn recorder(answer: &'static str, seen: Arc<Mutex<Vec<String>>>) -> Fake {
    fake(Arc::new(move |s: &mut TcpStream| {
        let head = read_head(s);
        seen.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&head).into_owned());
        let _ = s.write_all(answer.as_bytes());
        std::thread::sleep(Duration::from_millis(20));
    }))
}

fn first_check(
    cfg: &fulcrum_config::model::Config,
    backend: &str,
    srv: &Fake,
) -> (CheckStatus, Option<u32>) {
    let px = cfg.proxies.iter().find(|p| p.name == backend).unwrap();
    let t = CheckTarget::from_config(px, 0, 0, Arc::new(ServerState::new(1, 10, false)), srv.addr)
        .unwrap();
    assert!(t.check.is_enabled());
    let h = start(vec![t]);
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let s = h.handle.snapshot(0, 0).unwrap();
        if s.check_status != CheckStatus::Init {
            return (s.check_status, s.check_code);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no check ran");
}

#[test]
fn seed_03_websocket_check_sends_glued_headers_and_wants_101() {
    let cfg = seed("03-cometd-websocket-longpoll.cfg");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let ws = recorder(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        seen.clone(),
    );
    assert_eq!(
        first_check(&cfg, "cometd", &ws),
        (CheckStatus::L7Ok, Some(101))
    );
    // `Host:\ ` has an empty value: HAProxy does not send it.
    assert_eq!(
        seen.lock().unwrap()[0],
        "GET /cometd HTTP/1.1\r\nconnection: upgrade\r\nupgrade: websocket\r\ncontent-length: 0\r\n\r\n"
    );
    let plain = recorder(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        Arc::new(Mutex::new(Vec::new())),
    );
    assert_eq!(
        first_check(&cfg, "cometd", &plain),
        (CheckStatus::L7Sts, Some(200))
    );
}

#[test]
fn seed_05_head_check() {
    // Seed 05 as a whole has placeholders (`x.x.x.x`); its check line is taken verbatim.
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/seed-configs/05-listen-stats-httpchk.cfg");
    let text = std::fs::read_to_string(p).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("option  httpchk"))
        .unwrap();
    let cfg_text = format!("defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nbackend www\n{line}\n server www01 127.0.0.1:80 check\n");
    let loaded = fulcrum_config::load_str("seed05.cfg", &cfg_text, &ProcessEnv);
    let cfg = loaded
        .config
        .unwrap_or_else(|| panic!("{:#?}", loaded.diagnostics));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let srv = recorder(
        "HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\n",
        seen.clone(),
    );
    assert_eq!(
        first_check(&cfg, "www", &srv),
        (CheckStatus::L7Ok, Some(200))
    );
    assert_eq!(
        seen.lock().unwrap()[0],
        "HEAD /check.html HTTP/1.0\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
}

#[test]
fn default_server_settings_reach_the_checks() {
    let text = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n timeout check 300ms\n option log-health-checks\n\
backend bk\n default-server inter 40 fall 2 rise 1 init-state fully-up\n server s1 127.0.0.1:1 check\n server s2 127.0.0.1:1 check fall 4\n";
    let loaded = fulcrum_config::load_str("ds.cfg", text, &ProcessEnv);
    let cfg = loaded
        .config
        .unwrap_or_else(|| panic!("{:#?}", loaded.diagnostics));
    let px = cfg.proxies.iter().find(|p| p.name == "bk").unwrap();
    let dead = refused_addr();
    let targets: Vec<CheckTarget> = (0..2)
        .map(|i| {
            CheckTarget::from_config(
                px,
                0,
                i,
                Arc::new(ServerState::new(i as u32 + 1, 1, false)),
                dead,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(targets[0].check.fall(), 2);
    assert_eq!(targets[1].check.fall(), 4);
    assert_eq!(targets[0].timeouts().1, Duration::from_millis(340));
    assert!(targets[0].log_health_checks);
    let h = start(targets);
    let first = h.wait_line("is DOWN", 3).expect("no DOWN");
    assert!(first.starts_with("Server bk/s1 is DOWN"), "{first}");
    assert!(h.wait_line("Server bk/s2 is DOWN", 3).is_some());
    let msgs = h.messages();
    let s2_fails = msgs
        .iter()
        .filter(|m| m.starts_with("Health check for server bk/s2 failed"))
        .count();
    assert_eq!(s2_fails, 4, "{msgs:#?}");
}
