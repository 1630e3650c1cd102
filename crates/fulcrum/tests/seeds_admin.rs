//! Seeds 07 and 08 on runnable copies: stats on its own port (realm, two users,
//! hide-version, admin actions), `monitor-uri` with `monitor fail`, Host routing with
//! `hdr_reg`/`hdr_dom`, weights, cookie persistence, and checked round-robin.

mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::client::base64;
use support::*;

fn auth(user: &str, pass: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()))
}

fn get_auth(addr: SocketAddr, path: &str, user: &str, pass: &str) -> Response {
    get(addr, path, &[("Authorization", &auth(user, pass))])
}

fn fulcrum_version() -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .arg("-v")
        .output()
        .expect("fulcrum -v");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().nth(2).unwrap_or("").to_string()
}

/// `status` of `server` in `backend` from the stats CSV (`<uri>;csv`).
fn csv_status(
    addr: SocketAddr,
    uri: &str,
    auth: (&str, &str),
    backend: &str,
    server: &str,
) -> String {
    let r = get_auth(addr, &format!("{uri};csv"), auth.0, auth.1);
    assert_eq!(r.status, 200, "{}", r.head);
    let text = r.body_text();
    let header = text.lines().next().unwrap_or("");
    let col = header
        .trim_start_matches("# ")
        .split(',')
        .position(|c| c == "status")
        .unwrap_or_else(|| panic!("no status column: {header}"));
    text.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f.len() > col && f[0] == backend && f[1] == server)
        .map(|f| f[col].to_string())
        .unwrap_or_else(|| panic!("{backend}/{server} not in CSV:\n{text}"))
}

struct Seed07 {
    run: Runnable,
    _f: Fulcrum,
    /// web1, web2, blog1, blog2, bbs1, bbs2
    servers: Vec<HttpBackend>,
}

const S07: [(&str, &str); 6] = [
    ("server_web", "web1"),
    ("server_web", "web2"),
    ("server_blog", "blog1"),
    ("server_blog", "blog2"),
    ("server_bbs", "bbs1"),
    ("server_bbs", "bbs2"),
];

fn seed07() -> Option<Seed07> {
    let text = seed("07")?;
    let run = Runnable::new(&text, CopyOptions::default());
    let servers = S07
        .iter()
        .map(|(be, n)| HttpBackend::start(n, run.server(be, n)))
        .collect();
    let f = Fulcrum::start(&run);
    Some(Seed07 {
        run,
        _f: f,
        servers,
    })
}

#[test]
fn s07_stats_realm_two_users_and_hidden_version() {
    let Some(s) = seed07() else { return };
    let addr = s.run.bind("admin_status");
    let r = get(addr, "/admin?stats", &[]);
    assert_eq!(r.status, 401, "{}", r.head);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"itnihao itnihao\"")
    );
    assert_eq!(
        get_auth(addr, "/admin?stats", "admin", "admin1").status,
        401
    );
    for (u, p) in [("admin", "admin"), ("admin1", "admin1")] {
        let r = get_auth(addr, "/admin?stats", u, p);
        assert_eq!(r.status, 200, "{u}: {}", r.head);
        let page = r.body_text();
        assert!(
            page.contains("server_blog") && page.contains("bbs2"),
            "{page}"
        );
        let version = fulcrum_version();
        assert!(
            !version.is_empty() && !page.contains(&version),
            "version {version} shown"
        );
    }
}

#[test]
fn s07_monitor_uri_is_200_then_503_once_a_backend_has_fewer_than_two_servers() {
    let Some(mut s) = seed07() else { return };
    let addr = s.run.bind("site_status");
    let r = get(addr, "/site_status", &[]);
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(
        s.servers.iter().map(|b| b.hits()).sum::<usize>(),
        0,
        "answered by fulcrum"
    );
    // blog2 stops: `check inter 1500 fall 3` marks it down within ~6 s.
    drop(s.servers.remove(3));
    let went_503 = wait_until(Duration::from_secs(8), || {
        get(addr, "/site_status", &[]).status == 503
    });
    assert!(
        went_503,
        "monitor-uri still not 503 8 s after blog2 stopped"
    );
    // blog2 back: `rise 3` good checks at `inter 1500` bring it up, and the URI says 200.
    s.servers.insert(
        3,
        HttpBackend::start("blog2", s.run.server("server_blog", "blog2")),
    );
    let back = wait_until(Duration::from_secs(7), || {
        get(addr, "/site_status", &[]).status == 200
    });
    assert!(back, "monitor-uri not back to 200 7 s after blog2 returned");
}

#[test]
fn s07_host_routing_with_hdr_reg_and_hdr_dom() {
    let Some(s) = seed07() else { return };
    let addr = s.run.bind("http_80_in");
    for (host, backend) in [
        ("www.itnihao.cn", ["web1", "web2"]),
        ("WW1.itnihao.cn", ["web1", "web2"]),
        ("blog.itnihao.cn", ["blog1", "blog2"]),
        ("img.blog.itnihao.cn", ["blog1", "blog2"]),
        ("itnihao.cn", ["bbs1", "bbs2"]),
        ("www.itnihao.cn.example", ["bbs1", "bbs2"]),
        ("bbs.itnihao.cn", ["bbs1", "bbs2"]),
    ] {
        let r = get(addr, "/app/route", &[("Host", host)]);
        assert_eq!(r.status, 200, "{host}: {}", r.head);
        assert!(
            backend.contains(&r.server()),
            "{host} reached {}",
            r.server()
        );
    }
}

#[test]
fn s07_weights_one_to_two() {
    let Some(s) = seed07() else { return };
    for i in 0..30 {
        let r = get(
            s.run.bind("http_80_in"),
            &format!("/app/{i}"),
            &[("Host", "www.itnihao.cn")],
        );
        assert_eq!(r.status, 200, "{}", r.head);
    }
    assert_eq!((s.servers[0].hits(), s.servers[1].hits()), (10, 20));
}

#[test]
fn s07_cookie_without_mode_persists_and_leaves_the_servers_cookie_alone() {
    let Some(s) = seed07() else { return };
    let addr = s.run.bind("http_80_in");
    for b in &s.servers {
        b.behave(|x| {
            x.set_cookie = Some(("/app/login".into(), "SERVERID=app-made; path=/".into()))
        });
    }
    // `cookie SERVERID` with no mode: HAProxy only reads the cookie (no insert, no
    // rewrite), so the application's own Set-Cookie passes unchanged.
    let r = get(addr, "/app/login", &[("Host", "blog.itnihao.cn")]);
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(
        r.header("set-cookie"),
        Some("SERVERID=app-made; path=/"),
        "{}",
        r.head
    );
    for (host, cookie, server) in [
        ("blog.itnihao.cn", "SERVERID=blog1", "blog1"),
        ("www.itnihao.cn", "SERVERID=web2", "web2"),
        ("bbs.itnihao.cn", "lang=en; SERVERID=bbs1", "bbs1"),
    ] {
        for i in 0..6 {
            let r = get(
                addr,
                &format!("/app/{i}"),
                &[("Host", host), ("Cookie", cookie)],
            );
            assert_eq!(r.server(), server, "{cookie}: {}", r.head);
        }
    }
}

fn seed08(down: &[&str]) -> Option<(Runnable, Fulcrum, Vec<Option<HttpBackend>>)> {
    let text = seed("08")?;
    let run = Runnable::new(&text, CopyOptions::default());
    let servers = ["http1", "http2", "http3"]
        .iter()
        .map(|n| (!down.contains(n)).then(|| HttpBackend::start(n, run.server("httpservers", n))))
        .collect();
    let f = Fulcrum::start(&run);
    Some((run, f, servers))
}

fn hits(servers: &[Option<HttpBackend>]) -> Vec<usize> {
    servers
        .iter()
        .map(|s| s.as_ref().map_or(0, |b| b.hits()))
        .collect()
}

fn send(run: &Runnable, n: usize, tag: &str) {
    for i in 0..n {
        let r = get(run.bind("web"), &format!("/app/{tag}{i}"), &[]);
        assert_eq!(r.status, 200, "{}", r.head);
    }
}

#[test]
fn s08_round_robin_over_three_checked_servers() {
    let Some((run, _f, servers)) = seed08(&[]) else {
        return;
    };
    send(&run, 30, "rr");
    assert_eq!(hits(&servers), vec![10, 10, 10]);
}

#[test]
fn s08_server_failing_checks_gets_no_traffic() {
    let Some((run, _f, servers)) = seed08(&["http3"]) else {
        return;
    };
    // No retries, no redispatch in this seed: only the checks (`inter 1s fall 2`) keep
    // clients away from http3.
    std::thread::sleep(Duration::from_millis(3500));
    send(&run, 20, "down");
    assert_eq!(hits(&servers), vec![10, 10, 0]);
}

#[test]
fn s08_server_back_after_two_good_checks_gets_traffic_again() {
    let Some((run, _f, mut servers)) = seed08(&["http3"]) else {
        return;
    };
    std::thread::sleep(Duration::from_millis(3500));
    send(&run, 4, "before");
    assert_eq!(hits(&servers), vec![2, 2, 0]);
    servers[2] = Some(HttpBackend::start(
        "http3",
        run.server("httpservers", "http3"),
    ));
    // `inter 1s rise 2`: back in the rotation about 2 s after it listens again.
    let back = wait_until(Duration::from_secs(5), || {
        send(&run, 3, "after");
        hits(&servers)[2] > 0
    });
    assert!(
        back,
        "http3 got no traffic 5 s after it came back: {:?}",
        hits(&servers)
    );
}

fn admin_post(addr: SocketAddr, body: &str) -> Response {
    let raw = format!(
        "POST /haproxystats HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        auth("qfedu", "123"),
        body.len()
    );
    request(addr, raw.as_bytes())
}

#[test]
fn s08_stats_admin_disables_and_enables_a_server() {
    let Some((run, _f, servers)) = seed08(&[]) else {
        return;
    };
    let stats = run.bind("stats");
    let r = get(stats, "/haproxystats", &[]);
    assert_eq!(r.status, 401, "{}", r.head);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Haproxy stats\"")
    );
    let r = admin_post(stats, "s=http2&action=maint&b=httpservers");
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(r.header("location"), Some("/haproxystats;st=DONE"));
    let creds = ("qfedu", "123");
    assert_eq!(
        csv_status(stats, "/haproxystats", creds, "httpservers", "http2"),
        "MAINT"
    );
    send(&run, 10, "maint");
    assert_eq!(hits(&servers), vec![5, 0, 5]);
    let r = admin_post(stats, "s=http2&action=ready&b=httpservers");
    assert_eq!(r.status, 303, "{}", r.head);
    // Out of maintenance, back in the rotation once its checks agree (`rise 2`).
    assert!(wait_until(Duration::from_secs(4), || {
        csv_status(stats, "/haproxystats", creds, "httpservers", "http2") == "UP"
    }));
    send(&run, 9, "ready");
    let after = hits(&servers);
    assert!(after[1] >= 2, "http2 back in rotation: {after:?}");
    assert_eq!(after.iter().sum::<usize>(), 19);
}

#[test]
fn s09_stats_page_with_realm_and_hidden_version() {
    let Some(text) = seed("09") else { return };
    let run = Runnable::new(&text, CopyOptions::default());
    let _servers: Vec<_> = ["http1", "http2", "http3"]
        .iter()
        .map(|n| HttpBackend::start(n, run.server("httpservers", n)))
        .collect();
    let _f = Fulcrum::start(&run);
    let stats = run.bind("stats");
    let r = get(stats, "/haproxystats", &[]);
    assert_eq!(r.status, 401, "{}", r.head);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Haproxy stats\"")
    );
    let r = get_auth(stats, "/haproxystats", "qfedu", "123");
    assert_eq!(r.status, 200, "{}", r.head);
    let page = r.body_text();
    assert!(
        page.contains("mysql3") && page.contains("httpservers"),
        "{page}"
    );
    assert!(!page.contains(&fulcrum_version()), "hide-version");
}
