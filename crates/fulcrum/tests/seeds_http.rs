//! Seeds 01 and 10 on runnable copies, through the real binary: hash balancing on a header,
//! X-Forwarded-For, error files, and a `listen` section round-robin over three servers.

mod support;

use std::collections::HashMap;
use support::*;

/// Seed 01 started with both `bk_web` servers up.
fn seed01() -> Option<(Runnable, Fulcrum, HttpBackend, HttpBackend)> {
    let text = seed("01")?;
    let run = Runnable::new(&text, CopyOptions::default());
    let s1 = HttpBackend::start("websrv1", run.server("bk_web", "websrv1"));
    let s2 = HttpBackend::start("websrv2", run.server("bk_web", "websrv2"));
    let f = Fulcrum::start(&run);
    Some((run, f, s1, s2))
}

fn spread(counts: &HashMap<String, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<_> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    v.sort();
    v
}

#[test]
fn copy_rewrites_addresses_and_paths_in_place() {
    let Some(text) = seed("06") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    assert_eq!(run.text.split('\n').count(), text.split('\n').count());
    let web01 = run.server("oldboytest", "web01");
    assert!(
        run.text.contains(&format!(
            "server  web01 {web01}  check port {} inter 5000 fall 5",
            web01.port()
        )),
        "{}",
        run.text
    );
    assert!(run
        .text
        .contains(&format!("bind  {}", run.bind("oldboytest"))));
    assert!(run.text.contains("# dropped for the test: daemon"));
    assert!(!run.text.contains("/application/haproxy/var/run"));
}

#[test]
fn copy_changes_only_addresses_paths_and_dropped_lines() {
    const TOUCHED: &[&str] = &[
        "bind",
        "server",
        "log",
        "stats",
        "chroot",
        "pidfile",
        "errorfile",
        "user",
        "group",
        "uid",
        "gid",
        "daemon",
    ];
    for n in 1..=10 {
        let Some(text) = seed(&format!("{n:02}")) else {
            return;
        };
        let run = Runnable::new(&text, CopyOptions::default());
        let (old, new): (Vec<&str>, Vec<&str>) =
            (text.split('\n').collect(), run.text.split('\n').collect());
        assert_eq!(old.len(), new.len(), "seed {n:02}: line count");
        for (i, (a, b)) in old.iter().zip(&new).enumerate() {
            if a == b {
                continue;
            }
            let kw = a.split_whitespace().next().unwrap_or("");
            assert!(
                TOUCHED.contains(&kw),
                "seed {n:02} line {}: {a:?} → {b:?}",
                i + 1
            );
            let words: Vec<&str> = b.split_whitespace().collect();
            let addr = match kw {
                "bind" => words.get(1),
                "server" => words.get(2),
                _ => None,
            };
            if let Some(addr) = addr {
                assert!(
                    addr.starts_with("127.0.0.1:"),
                    "seed {n:02} line {}: {b}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn s01_same_table_id_always_reaches_the_same_server() {
    let Some((run, _f, _s1, _s2)) = seed01() else {
        return;
    };
    let addr = run.bind("ft_web");
    let mut per_value: HashMap<String, String> = HashMap::new();
    let mut servers = HashMap::new();
    for i in 0..50 {
        let value = format!("table-{}", i % 10);
        let r = get(addr, &format!("/app/{i}"), &[("tableId", &value)]);
        assert_eq!(r.status, 200, "{}", r.head);
        let server = r.server().to_string();
        *servers.entry(server.clone()).or_insert(0) += 1;
        if let Some(prev) = per_value.insert(value.clone(), server.clone()) {
            assert_eq!(
                prev, server,
                "tableId {value} moved from {prev} to {server}"
            );
        }
    }
    // Ten distinct values must not all hash to one server.
    assert_eq!(
        servers.len(),
        2,
        "values not spread: {:?}",
        spread(&servers)
    );
}

#[test]
fn s01_requests_without_table_id_are_round_robin() {
    let Some((run, _f, s1, s2)) = seed01() else {
        return;
    };
    let addr = run.bind("ft_web");
    let mut order = Vec::new();
    for i in 0..20 {
        let r = get(addr, &format!("/app/{i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
        order.push(r.server().to_string());
    }
    // Equal weights: strict alternation, 10 each.
    assert_eq!((s1.hits(), s2.hits()), (10, 10), "{order:?}");
    assert!(order.windows(2).all(|w| w[0] != w[1]), "{order:?}");
}

#[test]
fn s01_forwardfor_adds_client_address() {
    let Some((run, _f, s1, s2)) = seed01() else {
        return;
    };
    let r = get(run.bind("ft_web"), "/app/xff", &[("tableId", "t")]);
    assert_eq!(r.status, 200, "{}", r.head);
    let seen: Vec<_> = s1.seen().into_iter().chain(s2.seen()).collect();
    let req = seen
        .iter()
        .find(|s| s.path() == "/app/xff")
        .expect("request reached a server");
    assert_eq!(
        req.header("x-forwarded-for"),
        Some("127.0.0.1"),
        "{}",
        req.head
    );
}

#[test]
fn s01_idle_keep_alive_connection_closed_after_one_second() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let Some((run, _f, _s1, _s2)) = seed01() else {
        return;
    };
    let mut c = support::client::connect(run.bind("ft_web"));
    c.write_all(b"GET /app/ka HTTP/1.1\r\nHost: test\r\ntableId: 1\r\n\r\n")
        .expect("send");
    let mut buf = Vec::new();
    let r = support::client::read_response(&mut c, &mut buf, false).expect("response");
    assert_eq!(r.status, 200, "{}", r.head);
    let idle = Instant::now();
    let mut rest = [0u8; 64];
    // `timeout http-keep-alive 1s`: closed after about a second of silence, not before.
    assert!(matches!(c.read(&mut rest), Ok(0)), "closed, no data");
    let waited = idle.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_millis(2500),
        "closed after {waited:?}"
    );
}

#[test]
fn s01_errorfile_503_served_verbatim_when_servers_are_down() {
    let Some(text) = seed("01") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let _f = Fulcrum::start(&run);
    // No backend started: every connect is refused, retries and redispatch fail too.
    let r = get(run.bind("ft_web"), "/app/down", &[("tableId", "t")]);
    assert_eq!(r.status, 503, "{}", r.head);
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        String::from_utf8_lossy(&run.ports.errorfile(503))
    );
}

#[test]
fn s01_errorfile_400_served_verbatim_for_a_bad_request() {
    let Some((run, _f, s1, s2)) = seed01() else {
        return;
    };
    let r = request(
        run.bind("ft_web"),
        b"GET /app/x HTTP/1.1\r\nBad Header Line\r\n\r\n",
    );
    assert_eq!(r.status, 400, "{}", r.head);
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        String::from_utf8_lossy(&run.ports.errorfile(400))
    );
    assert_eq!(s1.hits() + s2.hits(), 0);
}

#[test]
fn s01_errorfile_502_served_verbatim_for_an_invalid_server_response() {
    let Some(text) = seed("01") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    // Both servers answer with bytes that are not HTTP.
    let _b1 = BannerServer::start(run.server("bk_web", "websrv1"), b"SSH-2.0-not-http\r\n\r\n");
    let _b2 = BannerServer::start(run.server("bk_web", "websrv2"), b"SSH-2.0-not-http\r\n\r\n");
    let _f = Fulcrum::start(&run);
    let r = get(run.bind("ft_web"), "/app/garbage", &[("tableId", "t")]);
    assert_eq!(r.status, 502, "{}", r.head);
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        String::from_utf8_lossy(&run.ports.errorfile(502))
    );
}

#[test]
fn s10_listen_section_round_robin_over_three_servers() {
    let Some(text) = seed("10") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let px = "www.qfedu.com";
    let servers: Vec<_> = ["http1", "http2", "http3"]
        .iter()
        .map(|n| HttpBackend::start(n, run.server(px, n)))
        .collect();
    let _f = Fulcrum::start(&run);
    let mut order = Vec::new();
    for i in 0..30 {
        let r = get(run.bind(px), &format!("/app/{i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
        order.push(r.server().to_string());
    }
    let hits: Vec<usize> = servers.iter().map(|s| s.hits()).collect();
    assert_eq!(hits, vec![10, 10, 10], "{order:?}");
    // Round-robin: every window of three requests visits the three servers.
    for w in order.windows(3) {
        let mut w = w.to_vec();
        w.sort();
        w.dedup();
        assert_eq!(w.len(), 3, "{order:?}");
    }
}

#[test]
fn s10_down_server_gets_no_traffic_after_checks() {
    let Some(text) = seed("10") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let px = "www.qfedu.com";
    let s1 = HttpBackend::start("http1", run.server(px, "http1"));
    let s2 = HttpBackend::start("http2", run.server(px, "http2"));
    // http3 never listens: `check inter 1s fall 2` marks it down within ~3 s.
    let _f = Fulcrum::start(&run);
    std::thread::sleep(std::time::Duration::from_millis(3500));
    for i in 0..12 {
        let r = get(run.bind(px), &format!("/app/{i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
    }
    assert_eq!((s1.hits(), s2.hits()), (6, 6));
}

#[test]
fn s01_stats_socket_answers_the_runtime_api() {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    let Some((run, _f, _s1, _s2)) = seed01() else {
        return;
    };
    let path = run.dir.path().join("haproxy/admin.sock");
    assert!(wait_until(std::time::Duration::from_secs(3), || path.exists()));
    let mode = std::fs::metadata(&path)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660, "'mode 660'");
    let mut s = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"show servers state bk_web\n").expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.contains("websrv1") && out.contains("websrv2"), "{out}");
}

#[test]
fn s01_each_request_of_a_keep_alive_connection_is_balanced_on_its_own_header() {
    use std::io::Write;
    let Some((run, _f, _s1, _s2)) = seed01() else {
        return;
    };
    let addr = run.bind("ft_web");
    // Find two tableId values that hash to different servers.
    let mut by_server: HashMap<String, String> = HashMap::new();
    for i in 0..20 {
        let v = format!("k{i}");
        let r = get(addr, "/app/probe", &[("tableId", &v)]);
        by_server.entry(r.server().to_string()).or_insert(v);
    }
    let mut pairs: Vec<(String, String)> = by_server.into_iter().collect();
    pairs.sort();
    assert_eq!(pairs.len(), 2, "20 values all on one server: {pairs:?}");
    // `option http-server-close`: one client connection, a server chosen per request.
    let mut s = support::client::connect(addr);
    let mut buf = Vec::new();
    for i in 0..6 {
        let (server, value) = &pairs[i % 2];
        let req = format!("GET /app/ka{i} HTTP/1.1\r\nHost: test\r\ntableId: {value}\r\n\r\n");
        s.write_all(req.as_bytes())
            .expect("send on the same connection");
        let r = support::client::read_response(&mut s, &mut buf, false)
            .unwrap_or_else(|| panic!("no response to request {i} on a kept-alive connection"));
        assert_eq!(r.status, 200, "{}", r.head);
        assert_eq!(r.server(), server, "request {i} with tableId {value}");
    }
}
