//! The seed configurations through the real reader and section parser: every proxy's
//! rules compile, and the routing/deny behaviour the fixtures table names holds.

mod common;

use std::path::PathBuf;

use common::Fake;
use fulcrum_config::diag::Diagnostics;
use fulcrum_config::model::Config;
use fulcrum_config::reader::{read_str, ProcessEnv};
use fulcrum_rules::{
    compile_proxy, eval, run_http_request, userlists_from_model, Answer, CompileEnv, CompiledProxy,
    ProxyInput, Verdict,
};

fn seeds_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/seed-configs"
    ))
}

fn load(name: &str) -> Config {
    let path = seeds_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let read = read_str(name, &text, &ProcessEnv);
    let mut d = Diagnostics::default();
    fulcrum_config::parse::parse_lines(&read.lines, &mut d)
}

fn compiled(config: &Config, proxy: &str) -> CompiledProxy {
    let env = CompileEnv::new(seeds_dir()).with_userlists(userlists_from_model(config));
    let p = config
        .proxies
        .iter()
        .find(|p| p.name == proxy)
        .unwrap_or_else(|| panic!("no proxy {proxy}"));
    compile_proxy(&ProxyInput::from_model(p), &env).unwrap_or_else(|e| panic!("{proxy}: {e:?}"))
}

#[test]
fn every_seed_proxy_compiles() {
    let mut seen = 0;
    for entry in std::fs::read_dir(seeds_dir()).expect("seed-configs directory") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".cfg") {
            continue;
        }
        let config = load(&name);
        match fulcrum_rules::compile_config(&config, &seeds_dir()) {
            Ok(compiled) => assert_eq!(compiled.len(), config.proxies.len()),
            Err(e) => panic!("{name}: {e:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 10);
}

#[test]
fn seed02_bk_ws_from_the_file() {
    let c = load("02-websocket-url-param.cfg");
    let p = compiled(&c, "bk_ws");
    let mut ok = Fake::request(
        "GET /ws HTTP/1.1\nConnection: Upgrade\nSec-WebSocket-Protocol: echo-protocol\n",
    );
    assert_eq!(
        run_http_request(&p.http_request, &mut ok),
        Verdict::Continue
    );
    let mut none = Fake::request("GET /ws HTTP/1.1\nSec-WebSocket-Protocol: echo-protocol\n");
    assert_eq!(
        run_http_request(&p.http_request, &mut none),
        Verdict::Deny(Answer::Errorfile(403))
    );
    let mut wrong =
        Fake::request("GET /ws HTTP/1.1\nUpgrade: websocket\nSec-WebSocket-Protocol: chat\n");
    assert_eq!(
        run_http_request(&p.http_request, &mut wrong),
        Verdict::Deny(Answer::Errorfile(403))
    );
}

#[test]
fn seed04_host_routing_from_the_file() {
    let c = load("04-websocket-host-routing.cfg");
    let fe = c
        .proxies
        .iter()
        .find(|p| p.kind.is_frontend() && !p.use_backend.is_empty())
        .expect("frontend");
    let p = compiled(&c, &fe.name);
    let route = |raw: &str| {
        p.routing
            .backend(&Fake::request(raw), &|_| true)
            .map(|b| b.into_owned())
    };
    assert_eq!(
        route("GET / HTTP/1.1\nHost: ws.yangguo.info\n").as_deref(),
        Some("bk_ws")
    );
    assert_eq!(
        route("GET / HTTP/1.1\nHost: short.im.yangguo.info\n").as_deref(),
        Some("bk_short")
    );
    assert_eq!(
        route("GET / HTTP/1.1\nHost: x\nConnection: upgrade\nUpgrade: websocket\n").as_deref(),
        Some("bk_ws")
    );
    assert_eq!(route("GET / HTTP/1.1\nHost: nothing.example\n"), None);
}

#[test]
fn seed07_routing_and_monitor_from_the_file() {
    let c = load("07-full-annotated.cfg");
    let p = compiled(&c, "http_80_in");
    let route = |raw: &str| {
        p.routing
            .backend(&Fake::request(raw), &|_| true)
            .map(|b| b.into_owned())
    };
    assert_eq!(
        route("GET / HTTP/1.1\nHost: www.itnihao.cn\n").as_deref(),
        Some("server_web")
    );
    assert_eq!(
        route("GET / HTTP/1.1\nHost: blog.itnihao.cn\n").as_deref(),
        Some("server_blog")
    );
    assert_eq!(
        route("GET / HTTP/1.1\nHost: bbs.itnihao.cn\n").as_deref(),
        Some("server_bbs")
    );
    let p = compiled(&c, "site_status");
    let monitor = p.monitor_fail.as_ref().expect("compiled monitor fail");
    let mut v = Fake::request("GET /site_status HTTP/1.1\n");
    for b in ["server_web", "server_blog", "server_bbs"] {
        v.stats.nbsrv.insert(b.into(), 2);
    }
    assert!(!eval(monitor, &v));
    v.stats.nbsrv.insert("server_bbs".into(), 1);
    assert!(eval(monitor, &v));
}

#[test]
fn rule_errors_come_back_as_alerts_at_their_line() {
    let text = "frontend f\n  mode http\n  acl a path /x\n  http-request deny if a b\n  use_backend %[path,map(missing.map)]\n";
    let read = read_str("bad.cfg", text, &ProcessEnv);
    let mut d = Diagnostics::default();
    let config = fulcrum_config::parse::parse_lines(&read.lines, &mut d);
    let errors = fulcrum_rules::compile_config(&config, &seeds_dir()).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("[ALERT]    (bad.cfg:4) : no such ACL: 'b'")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.contains("(bad.cfg:5)") && e.contains("missing.map")),
        "{shown:?}"
    );
}

#[test]
fn stick_rules_compile_with_the_proxy() {
    let text = "backend b\n  mode http\n  stick-table type ip size 1m\n  acl api path_beg /api\n  stick on src if api\n  stick match req.hdr(x-user),lower\n";
    let read = read_str("stick.cfg", text, &ProcessEnv);
    let mut d = Diagnostics::default();
    let config = fulcrum_config::parse::parse_lines(&read.lines, &mut d);
    let compiled = fulcrum_rules::compile_config(&config, &seeds_dir()).unwrap();
    let stick = &compiled[0].stick;
    assert_eq!(stick.len(), 2, "{:?}", d.items);
    let v = Fake::request("GET /api HTTP/1.1\nX-User: Ann\n");
    let key = stick[0]
        .0
        .eval_request(&v)
        .map(|s| s.to_bytes().into_owned());
    assert_eq!(key, Some(b"192.0.2.10".to_vec()));
    assert!(eval(stick[0].1.as_ref().unwrap(), &v));
    let key = stick[1]
        .0
        .eval_request(&v)
        .map(|s| s.to_bytes().into_owned());
    assert_eq!(key, Some(b"ann".to_vec()));
    assert!(stick[1].1.is_none());
}
