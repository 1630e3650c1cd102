//! Seeds 02 and 04 on runnable copies: url_param stickiness, WebSocket tunnels, the deny
//! rules of `bk_ws`, and Host-header routing with no default backend.

mod support;

use std::collections::HashMap;
use support::client::WsClient;
use support::*;

/// Line 74 of seed 02 is `default_backend bk_web`; this copy routes to `bk_ws` instead.
const S02_DEFAULT_BACKEND_LINE: usize = 74;

struct Seed02 {
    run: Runnable,
    _f: Fulcrum,
    servers: Vec<HttpBackend>,
}

fn seed02(to_ws: bool) -> Option<Seed02> {
    let mut text = seed("02")?;
    if to_ws {
        let line = text.split('\n').nth(S02_DEFAULT_BACKEND_LINE - 1)?;
        assert_eq!(line.trim(), "default_backend bk_web", "seed 02 changed");
        text = replace_line(&text, S02_DEFAULT_BACKEND_LINE, "\tdefault_backend bk_ws");
    }
    let run = Runnable::new(&text, CopyOptions::default());
    let be = if to_ws { "bk_ws" } else { "bk_web" };
    let servers = ["websrv1", "websrv2"]
        .iter()
        .map(|n| HttpBackend::start(n, run.server(be, n)))
        .collect();
    let f = Fulcrum::start(&run);
    Some(Seed02 {
        run,
        _f: f,
        servers,
    })
}

#[test]
fn s02_same_url_param_always_reaches_the_same_server() {
    let Some(s) = seed02(false) else { return };
    let addr = s.run.bind("ft_web");
    let mut per_value: HashMap<String, String> = HashMap::new();
    for i in 0..50 {
        let value = format!("t{}", i % 10);
        let r = get(addr, &format!("/app/game?x=1&tableId={value}&n={i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
        let server = r.server().to_string();
        if let Some(prev) = per_value.insert(value.clone(), server.clone()) {
            assert_eq!(
                prev, server,
                "tableId={value} moved from {prev} to {server}"
            );
        }
    }
    let used: Vec<usize> = s.servers.iter().map(|b| b.hits()).collect();
    assert!(used.iter().all(|&n| n > 0), "values not spread: {used:?}");
}

#[test]
fn s02_requests_without_url_param_are_round_robin() {
    let Some(s) = seed02(false) else { return };
    for i in 0..10 {
        let r = get(s.run.bind("ft_web"), &format!("/app/lobby?n={i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
    }
    let used: Vec<usize> = s.servers.iter().map(|b| b.hits()).collect();
    assert_eq!(used, vec![5, 5]);
}

#[test]
fn s02_websocket_upgrade_tunnels_frames_both_ways() {
    let Some(s) = seed02(true) else { return };
    let mut ws = WsClient::connect(
        s.run.bind("ft_web"),
        "/app/ws?tableId=42",
        &[("Sec-WebSocket-Protocol", "echo-protocol")],
    );
    assert_eq!(ws.response.status, 101, "{}", ws.response.head);
    assert_eq!(
        ws.response.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    let (op, hello) = ws.recv().expect("server's greeting frame");
    assert_eq!(op, 1);
    let hello = String::from_utf8_lossy(&hello).into_owned();
    assert!(hello.starts_with("hello from websrv"), "{hello}");
    for i in 0..5 {
        let msg = format!("frame {i} from the client");
        ws.send_text(&msg);
        let (op, echo) = ws.recv().expect("echoed frame");
        assert_eq!((op, echo), (1, msg.into_bytes()));
    }
    // Idle well past `timeout http-keep-alive 1s`: `timeout tunnel 3600s` governs now.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    ws.send_text("after idle");
    assert_eq!(ws.recv().map(|f| f.1), Some(b"after idle".to_vec()));
}

#[test]
fn s02_deny_when_none_of_the_four_upgrade_headers_is_present() {
    let Some(s) = seed02(true) else { return };
    let addr = s.run.bind("ft_web");
    // Valid protocol, none of the four headers: the first rule denies.
    let r = get(
        addr,
        "/app/plain",
        &[("Sec-WebSocket-Protocol", "echo-protocol")],
    );
    assert_eq!(r.status, 403, "{}", r.head);
    assert_eq!(r.raw, s.run.ports.errorfile(403));
    // `! a ! b ! c ! d` is an AND of negations: one header present is enough to pass it.
    let one_each: [(&str, &str); 4] = [
        ("Connection", "upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    for (i, h) in one_each.iter().enumerate() {
        let mut raw = format!(
            "GET /app/one{i} HTTP/1.1\r\nHost: test\r\n{}: {}\r\n",
            h.0, h.1
        );
        raw.push_str("Sec-WebSocket-Protocol: echo-protocol\r\n");
        if h.0 != "Connection" {
            raw.push_str("Connection: close\r\n");
        }
        raw.push_str("\r\n");
        let r = request(addr, raw.as_bytes());
        assert_ne!(r.status, 403, "denied with only {}: {}", h.0, r.head);
    }
    let reached: usize = s.servers.iter().map(|b| b.hits()).sum();
    assert_eq!(reached, 4);
}

#[test]
fn s02_deny_for_a_wrong_or_missing_websocket_protocol() {
    let Some(s) = seed02(true) else { return };
    let addr = s.run.bind("ft_web");
    for proto in [Some("chat"), Some("Echo-Protocol"), None] {
        let extra: Vec<(&str, &str)> = proto
            .map(|p| vec![("Sec-WebSocket-Protocol", p)])
            .unwrap_or_default();
        let ws = WsClient::connect(addr, "/app/ws", &extra);
        assert_eq!(ws.response.status, 403, "{proto:?}: {}", ws.response.head);
    }
    let sessions: usize = s.servers.iter().map(|b| b.ws_sessions()).sum();
    assert_eq!(sessions, 0);
}

/// Seed 04 with the duplicate server names fixed (second of each pair renamed `server2`).
fn seed04() -> Option<(Runnable, Fulcrum, Vec<HttpBackend>)> {
    let mut text = seed("04")?;
    for line in [42, 47] {
        let old = text.split('\n').nth(line - 1)?.to_string();
        assert!(old.contains("server server1"), "seed 04 changed: {old}");
        text = replace_line(
            &text,
            line,
            &old.replacen("server server1", "server server2", 1),
        );
    }
    let run = Runnable::new(&text, CopyOptions::default());
    let mut servers = Vec::new();
    for be in ["bk_ws", "bk_short"] {
        for n in ["server1", "server2"] {
            servers.push(HttpBackend::start(&format!("{be}/{n}"), run.server(be, n)));
        }
    }
    let f = Fulcrum::start(&run);
    Some((run, f, servers))
}

#[test]
fn s04_host_prefix_routes_to_its_backend() {
    let Some((run, _f, _servers)) = seed04() else {
        return;
    };
    let addr = run.bind("http");
    for (host, backend) in [
        ("ws.yangguo.info", "bk_ws/"),
        ("WS.YANGGUO.INFO:8080", "bk_ws/"),
        ("ws.yangguo.info.example", "bk_ws/"),
        ("short.im.yangguo.info", "bk_short/"),
        ("Short.IM.yangguo.info", "bk_short/"),
    ] {
        let r = get(addr, "/app/route", &[("Host", host)]);
        assert_eq!(r.status, 200, "{host}: {}", r.head);
        assert!(
            r.server().starts_with(backend),
            "{host} reached {}",
            r.server()
        );
    }
}

#[test]
fn s04_no_matching_backend_and_no_default_is_503() {
    let Some((run, _f, servers)) = seed04() else {
        return;
    };
    for host in ["www.yangguo.info", "im.yangguo.info", "yangguo.info.ws."] {
        let r = get(run.bind("http"), "/app/none", &[("Host", host)]);
        assert_eq!(r.status, 503, "{host}: {}", r.head);
        // No errorfile in this seed: HAProxy's own page.
        assert_eq!(
            r.body_text(),
            "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
        );
    }
    assert_eq!(servers.iter().map(|b| b.hits()).sum::<usize>(), 0);
}

#[test]
fn s04_websocket_detected_by_headers_goes_to_bk_ws() {
    let Some((run, _f, servers)) = seed04() else {
        return;
    };
    let mut ws = WsClient::connect(run.bind("http"), "/app/chat", &[]);
    assert_eq!(ws.response.status, 101, "{}", ws.response.head);
    assert!(
        ws.response.server().starts_with("bk_ws/"),
        "{}",
        ws.response.head
    );
    let _ = ws.recv().expect("greeting");
    ws.send_text("ping");
    assert_eq!(ws.recv().map(|f| f.1), Some(b"ping".to_vec()));
    assert_eq!(servers[0].ws_sessions() + servers[1].ws_sessions(), 1);
}

#[test]
fn s02_websocket_connections_of_one_table_share_a_server() {
    let Some(s) = seed02(true) else { return };
    let mut per_table: HashMap<String, String> = HashMap::new();
    for i in 0..12 {
        let table = format!("{}", i % 4);
        let mut ws = WsClient::connect(
            s.run.bind("ft_web"),
            &format!("/app/ws?tableId={table}"),
            &[("Sec-WebSocket-Protocol", "echo-protocol")],
        );
        assert_eq!(ws.response.status, 101, "{}", ws.response.head);
        let (_, hello) = ws.recv().expect("greeting");
        let server = String::from_utf8_lossy(&hello).into_owned();
        if let Some(prev) = per_table.insert(table.clone(), server.clone()) {
            assert_eq!(prev, server, "table {table} moved");
        }
    }
    let sessions: Vec<usize> = s.servers.iter().map(|b| b.ws_sessions()).collect();
    assert_eq!(sessions.iter().sum::<usize>(), 12, "{sessions:?}");
}
