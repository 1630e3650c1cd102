//! `option httplog` lines of seed 01 as a syslog server receives them: the fields users
//! grep and feed to their tools, in HAProxy's order (seed-logging/httplog-sample.log).

mod support;

use std::net::UdpSocket;
use std::time::Duration;
use support::*;

/// Receives syslog datagrams until one contains `needle` (bounded by `limit`).
fn recv_line(sock: &UdpSocket, needle: &str, limit: Duration) -> Option<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    let deadline = std::time::Instant::now() + limit;
    let mut buf = [0u8; 8192];
    while std::time::Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            if line.contains(needle) {
                return Some(line);
            }
        }
    }
    None
}

fn slash_ints(s: &str, n: usize) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == n
        && parts
            .iter()
            .all(|p| p.trim_start_matches(['-', '+']).parse::<u64>().is_ok())
}

#[test]
fn s01_httplog_line_has_haproxys_fields_in_order() {
    let Some(text) = seed("01") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    // The frontend's own target (`log /dev/log local3 info`) and the global one.
    let fe_log = UdpSocket::bind(run.ports.log("ft_web", 0)).expect("bind log port");
    let global_log = UdpSocket::bind(run.ports.log("global", 0)).expect("bind log port");
    let _s1 = HttpBackend::start("websrv1", run.server("bk_web", "websrv1"));
    let _s2 = HttpBackend::start("websrv2", run.server("bk_web", "websrv2"));
    let _f = Fulcrum::start(&run);
    let r = get(run.bind("ft_web"), "/app/logged?x=1", &[("tableId", "7")]);
    assert_eq!(r.status, 200, "{}", r.head);
    let needle = "\"GET /app/logged?x=1 HTTP/1.1\"";
    let line = recv_line(&fe_log, needle, Duration::from_secs(3)).expect("a log line");
    assert!(
        recv_line(&global_log, needle, Duration::from_secs(3)).is_some(),
        "'log global' in defaults sends it to the global target too"
    );
    // local3.info = 19 * 8 + 6
    assert!(line.starts_with("<158>"), "{line}");
    let msg = line
        .split("]: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no 'tag[pid]: ': {line}"));
    let f: Vec<&str> = msg.split(' ').collect();
    assert!(f.len() >= 12, "{msg}");
    assert!(
        f[0].starts_with("127.0.0.1:"),
        "client ip:port first: {msg}"
    );
    assert!(
        f[1].starts_with('[') && f[1].ends_with(']'),
        "accept date: {msg}"
    );
    assert_eq!(f[2], "ft_web", "{msg}");
    assert!(
        f[3] == format!("bk_web/{}", r.server()),
        "backend/server: {msg}"
    );
    assert!(slash_ints(f[4], 5), "TR/Tw/Tc/Tr/Ta: {msg}");
    assert_eq!(f[5], "200", "{msg}");
    assert!(
        f[6].parse::<u64>().is_ok_and(|b| b > 0),
        "bytes read: {msg}"
    );
    assert_eq!((f[7], f[8]), ("-", "-"), "captured cookies: {msg}");
    assert_eq!(f[9].len(), 4, "termination state: {msg}");
    assert!(
        slash_ints(f[10], 5),
        "actconn/feconn/beconn/srv_conn/retries: {msg}"
    );
    assert!(slash_ints(f[11], 2), "srv_queue/backend_queue: {msg}");
    assert!(msg.trim_end().ends_with(needle), "{msg}");
}

#[test]
fn s07_captured_headers_in_the_log_and_level_filters() {
    let Some(text) = seed("07") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    // `log global` (defaults) → `local0` (every level) and `local1 notice` (not info);
    // the section's own `log 127.0.0.1 local3 err` drops info lines too.
    let local0 = UdpSocket::bind(run.ports.log("global", 0)).expect("bind log port");
    let local1 = UdpSocket::bind(run.ports.log("global", 1)).expect("bind log port");
    let local3 = UdpSocket::bind(run.ports.log("admin_status", 0)).expect("bind log port");
    let _f = Fulcrum::start(&run);
    // A path other than the stats URI: the server-less listen answers 503 itself.
    let r = get(
        run.bind("admin_status"),
        "/app/captured",
        &[
            ("Host", "www.itnihao.cn"),
            ("Referer", "http://ref.example/from"),
        ],
    );
    assert_eq!(r.status, 503, "{}", r.head);
    let needle = "\"GET /app/captured HTTP/1.1\"";
    let line = recv_line(&local0, needle, Duration::from_secs(3)).expect("a local0 line");
    // local0.info = 16 * 8 + 6
    assert!(line.starts_with("<134>"), "{line}");
    assert!(
        line.contains("{www.itnihao.cn||http://ref.example/from} {"),
        "request captures in declaration order: {line}"
    );
    let msg = line.split("]: ").nth(1).unwrap_or("");
    let blocks: Vec<&str> = msg.split(" {").skip(1).collect();
    assert_eq!(
        blocks.len(),
        2,
        "request and response capture blocks: {msg}"
    );
    assert_eq!(
        blocks[1].split('}').next().map(|b| b.matches('|').count()),
        Some(2)
    );
    assert!(recv_line(&local1, needle, Duration::from_millis(800)).is_none());
    assert!(recv_line(&local3, needle, Duration::from_millis(800)).is_none());
}

#[test]
fn s02_captured_host_and_websocket_key_cut_to_their_length() {
    let Some(text) = seed("02") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    // `log /dev/log local3 debug` of ft_web.
    let fe_log = UdpSocket::bind(run.ports.log("ft_web", 0)).expect("bind log port");
    let _s1 = HttpBackend::start("websrv1", run.server("bk_web", "websrv1"));
    let _s2 = HttpBackend::start("websrv2", run.server("bk_web", "websrv2"));
    let _f = Fulcrum::start(&run);
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let r = get(
        run.bind("ft_web"),
        "/app/captured?tableId=1",
        &[
            ("Host", "games.example.com:8080"),
            ("Sec-WebSocket-Key", key),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.head);
    let needle = "\"GET /app/captured?tableId=1 HTTP/1.1\"";
    let line = recv_line(&fe_log, needle, Duration::from_secs(3)).expect("a log line");
    // `capture request header Host len 15`: cut to 15 characters.
    assert!(
        line.contains(&format!(" {{games.example.c|{key}}} ")),
        "captures: {line}"
    );
}

#[test]
fn s01_httplog_counts_the_logged_connection() {
    let Some(text) = seed("01") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let fe_log = UdpSocket::bind(run.ports.log("ft_web", 0)).expect("bind log port");
    let _s1 = HttpBackend::start("websrv1", run.server("bk_web", "websrv1"));
    let _s2 = HttpBackend::start("websrv2", run.server("bk_web", "websrv2"));
    let _f = Fulcrum::start(&run);
    let r = get(run.bind("ft_web"), "/app/counted", &[("tableId", "7")]);
    assert_eq!(r.status, 200, "{}", r.head);
    let line = recv_line(&fe_log, "/app/counted", Duration::from_secs(3)).expect("a log line");
    let msg = line.split("]: ").nth(1).unwrap_or("");
    let counts: Vec<u64> = msg
        .split(' ')
        .nth(10)
        .unwrap_or("")
        .split('/')
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(counts.len(), 5, "{msg}");
    // actconn and feconn include the connection being logged.
    assert!(counts[0] >= 1 && counts[1] >= 1, "{msg}");
}
