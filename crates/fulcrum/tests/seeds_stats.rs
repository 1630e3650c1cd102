//! Seeds 03, 05, 07 and 08 on runnable copies: cookie persistence, stats pages behind
//! authentication (and their admin form), `monitor-uri`, Host routing, weights, and health
//! checks deciding which server gets traffic.

mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::client::base64;
use support::*;

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()))
}

fn get_auth(addr: SocketAddr, path: &str, user: &str, pass: &str) -> Response {
    get(addr, path, &[("Authorization", &basic(user, pass))])
}

/// Waits until `server` has received `n` requests on `path` (its health checks).
fn wait_checks(server: &HttpBackend, path: &str, n: usize, limit: Duration) -> bool {
    wait_until(limit, || {
        server.seen().iter().filter(|s| s.path() == path).count() >= n
    })
}

const S03_SERVERS: [(&str, &str); 3] = [
    ("bayuex-srv1", "bayuex-srv1"),
    ("bayeux-srv2", "bayeux-srv2"),
    ("bayeux-srv3", "bayexu-srv3"),
];

fn seed03() -> Option<(Runnable, Fulcrum, Vec<HttpBackend>)> {
    let text = seed("03")?;
    let run = Runnable::new(&text, CopyOptions::default());
    // Each answers 101 to the WebSocket health check, so all three stay up.
    let servers = S03_SERVERS
        .iter()
        .map(|(n, _)| HttpBackend::start(n, run.server("cometd", n)))
        .collect();
    let f = Fulcrum::start(&run);
    Some((run, f, servers))
}

#[test]
fn s03_cookie_insert_names_the_server_and_then_pins_to_it() {
    let Some((run, _f, servers)) = seed03() else {
        return;
    };
    let addr = run.bind("ft_web");
    let r = get(addr, "/app/first", &[]);
    assert_eq!(r.status, 200, "{}", r.head);
    let cookie_of = |srv: &str| S03_SERVERS.iter().find(|(n, _)| *n == srv).map(|(_, c)| *c);
    let expected = format!("SERVERID={}", cookie_of(r.server()).expect("known server"));
    let set = r
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {}", r.head));
    assert!(set.starts_with(&expected), "{set}");
    for i in 0..10 {
        let r = get(
            addr,
            &format!("/app/{i}"),
            &[("Cookie", "SERVERID=bayexu-srv3")],
        );
        assert_eq!(r.server(), "bayeux-srv3", "{}", r.head);
        assert_eq!(
            r.header("set-cookie"),
            None,
            "a valid cookie is not set again"
        );
    }
    assert_eq!(
        servers[2].hits(),
        10 + usize::from(r.server() == "bayeux-srv3")
    );
}

#[test]
fn s03_appsession_pins_on_the_servers_own_cookie() {
    let Some((run, _f, servers)) = seed03() else {
        return;
    };
    servers[1]
        .behave(|b| b.set_cookie = Some(("/app/login".into(), "SERVERID=sess-0123456789".into())));
    let addr = run.bind("ft_web");
    // Round-robin reaches bayeux-srv2 within three requests; it hands out its session id.
    for _ in 0..3 {
        let _ = get(addr, "/app/login", &[]);
    }
    assert!(servers[1].hits() >= 1);
    let before = servers[1].hits();
    for i in 0..9 {
        let r = get(
            addr,
            &format!("/app/poll{i}"),
            &[("Cookie", "SERVERID=sess-0123456789")],
        );
        assert_eq!(r.server(), "bayeux-srv2", "{}", r.head);
    }
    assert_eq!(servers[1].hits(), before + 9);
}

#[test]
fn s03_stats_page_on_the_frontend_needs_the_password() {
    let Some((run, _f, _servers)) = seed03() else {
        return;
    };
    let addr = run.bind("ft_web");
    let r = get(addr, "/stats", &[]);
    assert_eq!(r.status, 401, "{}", r.head);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"HAProxy Statistics\"")
    );
    assert_eq!(get_auth(addr, "/stats", "baina", "wrong").status, 401);
    let r = get_auth(addr, "/stats", "baina", "P@55word");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(
        r.header("refresh"),
        Some("10"),
        "'stats refresh 10s': {}",
        r.head
    );
    let page = r.body_text();
    assert!(
        page.contains("cometd") && page.contains("bayeux-srv2"),
        "{page}"
    );
}

#[test]
fn s03_server_not_answering_101_to_the_websocket_check_gets_no_traffic() {
    let Some(text) = seed("03") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let servers: Vec<_> = S03_SERVERS
        .iter()
        .map(|(n, _)| HttpBackend::start(n, run.server("cometd", n)))
        .collect();
    servers[0].behave(|b| b.refuse_upgrade = true); // answers 200, not 101
    let _f = Fulcrum::start(&run);
    // `inter 5s fall 3`: down after its third failed check (≤ 15 s from start).
    assert!(
        wait_checks(&servers[0], "/cometd", 3, Duration::from_secs(16)),
        "fewer than 3 checks on bayuex-srv1 in 16 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    let check = servers[1]
        .seen()
        .into_iter()
        .find(|s| s.path() == "/cometd")
        .expect("bayeux-srv2 was checked");
    assert_eq!(check.request_line, "GET /cometd HTTP/1.1");
    assert_eq!(check.header("upgrade"), Some("websocket"), "{}", check.head);
    for i in 0..6 {
        let r = get(run.bind("ft_web"), &format!("/app/{i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
    }
    assert_eq!(servers[0].hits(), 0);
    assert_eq!(servers[1].hits() + servers[2].hits(), 6);
}

#[test]
fn s03_websocket_tunnel_outlives_the_keep_alive_timeout() {
    let Some((run, _f, servers)) = seed03() else {
        return;
    };
    let mut ws = support::client::WsClient::connect(run.bind("ft_web"), "/app/cometd", &[]);
    assert_eq!(ws.response.status, 101, "{}", ws.response.head);
    let (_, hello) = ws.recv().expect("greeting frame");
    assert!(hello.starts_with(b"hello from "));
    // Idle past `timeout http-keep-alive 2s`: `timeout tunnel 10m` governs the tunnel.
    std::thread::sleep(Duration::from_millis(2500));
    ws.send_text("/meta/connect");
    assert_eq!(ws.recv().map(|f| f.1), Some(b"/meta/connect".to_vec()));
    assert_eq!(servers.iter().map(|s| s.ws_sessions()).sum::<usize>(), 1);
}

/// Seed 05 with its two errors fixed: the bind address (every copy rewrites it) and
/// `stats uri/admin?stats` (line 29) → `stats uri /admin?stats`.
fn seed05() -> Option<(Runnable, Fulcrum, Vec<HttpBackend>)> {
    let text = seed("05")?;
    let line = text.split('\n').nth(28)?;
    assert!(
        line.contains("stats uri/admin?stats"),
        "seed 05 changed: {line}"
    );
    let text = replace_line(&text, 29, &line.replacen("uri/admin", "uri /admin", 1));
    let run = Runnable::new(&text, CopyOptions::default());
    let servers = ["www01", "www02"]
        .iter()
        .map(|n| HttpBackend::start(n, run.server("www", n)))
        .collect();
    let f = Fulcrum::start(&run);
    Some((run, f, servers))
}

#[test]
fn s05_httpclose_closes_the_client_connection_after_each_response() {
    use std::io::{Read, Write};
    let Some((run, _f, _servers)) = seed05() else {
        return;
    };
    let mut c = support::client::connect(run.bind("www"));
    // HTTP/1.1 without `Connection: close`: the client would keep the connection.
    c.write_all(b"GET /app/one HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    let mut buf = Vec::new();
    let r = support::client::read_response(&mut c, &mut buf, false).expect("response");
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(
        r.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close")),
        "{}",
        r.head
    );
    c.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut rest = [0u8; 64];
    assert!(
        matches!(c.read(&mut rest), Ok(0)),
        "'option httpclose': fulcrum closes after the response"
    );
}

#[test]
fn s05_stats_page_behind_basic_auth() {
    let Some((run, _f, _servers)) = seed05() else {
        return;
    };
    let addr = run.bind("www");
    let r = get(addr, "/admin?stats", &[]);
    assert_eq!(r.status, 401, "{}", r.head);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Basic realm=")));
    assert_eq!(get_auth(addr, "/admin?stats", "proxy", "wrong").status, 401);
    let r = get_auth(addr, "/admin?stats", "proxy", "oldboy");
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(r.body_text().contains("www01"), "{}", r.body_text());
    if curl_available() {
        let url = format!("http://{addr}/admin?stats");
        let (code, err, _) = curl(&["-o", "/dev/null", "-w", "%{http_code}", &url]);
        assert_eq!(code, "401", "{err}");
        let (code, err, _) = curl(&[
            "-u",
            "proxy:oldboy",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url,
        ]);
        assert_eq!(code, "200", "{err}");
    }
}

#[test]
fn s05_httpchk_head_decides_which_server_gets_traffic() {
    let Some((run, _f, servers)) = seed05() else {
        return;
    };
    servers[1].behave(|b| {
        b.status.insert("/check.html".into(), 404);
    });
    // Default `inter 2s`, `fall 3`: www02 is down after its third failed check.
    assert!(
        wait_checks(&servers[1], "/check.html", 3, Duration::from_secs(10)),
        "fewer than 3 checks on www02 in 10 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    let check = servers[0]
        .seen()
        .into_iter()
        .find(|s| s.path() == "/check.html")
        .expect("www01 was checked");
    assert_eq!(check.request_line, "HEAD /check.html HTTP/1.0");
    for i in 0..6 {
        let r = get(run.bind("www"), &format!("/app/{i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
    }
    assert_eq!((servers[0].hits(), servers[1].hits()), (6, 0));
}
