//! Acceptance: the rule behaviour the seed configurations rely on.

mod common;

use common::{compile, Fake};
use fulcrum_rules::Answer;
use fulcrum_rules::{eval, run_http_request, Verdict};

const SEED02_BK_WS: &str = "
acl hdr_connection_upgrade hdr(Connection)                 -i upgrade
acl hdr_upgrade_websocket  hdr(Upgrade)                    -i websocket
acl hdr_websocket_key      hdr_cnt(Sec-WebSocket-Key)      eq 1
acl hdr_websocket_version  hdr_cnt(Sec-WebSocket-Version)  eq 1
http-request deny if ! hdr_connection_upgrade ! hdr_upgrade_websocket ! hdr_websocket_key ! hdr_websocket_version
acl ws_valid_protocol hdr(Sec-WebSocket-Protocol) echo-protocol
http-request deny if ! ws_valid_protocol
";

#[test]
fn seed02_denies_exactly_when_all_four_ws_headers_are_absent() {
    let p = compile(SEED02_BK_WS);
    let hdrs = [
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    for mask in 0u8..16 {
        let mut raw = String::from(
            "GET /ws HTTP/1.1\nHost: ws.example\nSec-WebSocket-Protocol: echo-protocol\n",
        );
        for (i, h) in hdrs.iter().enumerate() {
            if mask & (1 << i) != 0 {
                raw.push_str(h);
                raw.push('\n');
            }
        }
        let mut v = Fake::request(&raw);
        let verdict = run_http_request(&p.http_request, &mut v);
        if mask == 0 {
            assert_eq!(
                verdict,
                Verdict::Deny(Answer::Errorfile(403)),
                "mask {mask}"
            );
        } else {
            assert_eq!(verdict, Verdict::Continue, "mask {mask}");
        }
    }
}

#[test]
fn seed02_denies_a_wrong_or_missing_websocket_protocol() {
    let p = compile(SEED02_BK_WS);
    let base = "GET /ws HTTP/1.1\nConnection: Upgrade\nUpgrade: websocket\n";
    for proto in [
        "Sec-WebSocket-Protocol: chat\n",
        "",
        "Sec-WebSocket-Protocol: Echo-Protocol\n",
    ] {
        let mut v = Fake::request(&format!("{base}{proto}"));
        assert_eq!(
            run_http_request(&p.http_request, &mut v),
            Verdict::Deny(Answer::Errorfile(403)),
            "{proto:?}"
        );
    }
}

const SEED04: &str = "
acl host_ws hdr_beg(Host) -i ws.yangguo.info
use_backend bk_ws if host_ws
acl hdr_connection_upgrade hdr(Connection)  -i upgrade
acl hdr_upgrade_websocket  hdr(Upgrade)     -i websocket
use_backend bk_ws if hdr_connection_upgrade hdr_upgrade_websocket
acl host_short hdr_beg(Host) -i short.im.yangguo.info
use_backend bk_short if host_short
";

fn backend(p: &fulcrum_rules::CompiledProxy, raw: &str) -> Option<String> {
    let v = Fake::request(raw);
    p.routing.backend(&v, &|_| true).map(|b| b.into_owned())
}

#[test]
fn seed04_routes_by_host_prefix_and_upgrade_headers() {
    let p = compile(SEED04);
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: WS.yangguo.info:8080\n").as_deref(),
        Some("bk_ws")
    );
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: short.im.yangguo.info\n").as_deref(),
        Some("bk_short")
    );
    assert_eq!(
        backend(
            &p,
            "GET / HTTP/1.1\nHost: other\nConnection: keep-alive, Upgrade\nUpgrade: WebSocket\n"
        )
        .as_deref(),
        Some("bk_ws")
    );
    // Only one of the two upgrade headers: no match.
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: other\nUpgrade: websocket\n"),
        None
    );
    // No matching rule and no default_backend: the engine answers 503.
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: www.yangguo.info\n"),
        None
    );
}

const SEED07: &str = "
acl site_dead nbsrv(server_web) lt 2
acl site_dead nbsrv(server_blog) lt 2
acl site_dead nbsrv(server_bbs)  lt 2
monitor fail if site_dead
acl itnihao_web hdr_reg(host) -i ^(www.itnihao.cn|ww1.itnihao.cn)$
acl itnihao_blog hdr_dom(host) -i blog.itnihao.cn
use_backend  server_web  if itnihao_web
use_backend  server_blog if itnihao_blog
default_backend server_bbs
";

#[test]
fn seed07_routes_with_hdr_reg_and_hdr_dom() {
    let p = compile(SEED07);
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: WWW.itnihao.cn\n").as_deref(),
        Some("server_web")
    );
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: ww1.itnihao.cn\n").as_deref(),
        Some("server_web")
    );
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: www.itnihao.cn.evil\n").as_deref(),
        Some("server_bbs")
    );
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: blog.itnihao.cn\n").as_deref(),
        Some("server_blog")
    );
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: m.blog.itnihao.cn\n").as_deref(),
        Some("server_blog")
    );
    assert_eq!(
        backend(&p, "GET / HTTP/1.1\nHost: myblog.itnihao.cn\n").as_deref(),
        Some("server_bbs")
    );
}

#[test]
fn seed07_monitor_fails_when_any_backend_has_fewer_than_two_servers() {
    let p = compile(SEED07);
    let mut v = Fake::request("GET /site_status HTTP/1.1\n");
    for b in ["server_web", "server_blog", "server_bbs"] {
        v.stats.nbsrv.insert(b.into(), 2);
    }
    assert!(!eval(&p.extra[0], &v));
    v.stats.nbsrv.insert("server_blog".into(), 1);
    assert!(eval(&p.extra[0], &v));
}
