//! The stats page: Basic auth (401 then 200), CSV column by column with
//! servers' health, and the admin form draining a server out of traffic.

mod health_support;

use health_support::*;
use std::time::Duration;

/// `admin:secret`, base64.
const CREDS: &str = "YWRtaW46c2VjcmV0";

fn config(s1: &Origin, s2: &Origin, dead: std::net::SocketAddr) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen stats\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /admin?stats\n\
         \x20   stats realm Ops\n    stats auth admin:secret\n    stats refresh 5s\n    stats admin if TRUE\n\
         \x20   server st1 {}\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    balance roundrobin\n\
         \x20   server s1 {} check inter 100ms fall 1 rise 1\n\
         \x20   server s2 {} check inter 100ms fall 1 rise 1\n\
         \x20   server s3 {} check inter 100ms fall 1 rise 1\n",
        s1.addr, s1.addr, s2.addr, dead
    )
}

fn authed(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {CREDS}\r\nConnection: close\r\n\r\n"),
    )
}

fn dead_addr() -> std::net::SocketAddr {
    // Bound but never listening: connections are refused, and the port stays taken for
    // the whole test process, so no test running in parallel can start listening on it.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&any.into()).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    std::mem::forget(s);
    addr
}

#[test]
fn auth_is_asked_then_the_page_is_served() {
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&config(&s1, &s2, dead_addr()));
    let addr = r.addr("stats");
    let (st, head, _) = get(addr, "/admin?stats");
    assert_eq!(st, 401);
    assert!(
        head.contains("WWW-Authenticate: Basic realm=\"Ops\""),
        "{head}"
    );
    let (st, _, _) = request(
        addr,
        "GET /admin?stats HTTP/1.1\r\nAuthorization: Basic YWRtaW46bm9wZQ==\r\n\r\n",
    );
    assert_eq!(st, 401, "a wrong password is refused");
    let (st, head, body) = authed(addr, "/admin?stats");
    assert_eq!(st, 200);
    assert!(head.contains("text/html"), "{head}");
    assert!(head.contains("Refresh: 5"), "{head}");
    assert!(body.contains("app"), "backend missing from the page");
    let (_, head, _) = authed(addr, "/admin?stats;norefresh");
    assert!(!head.contains("Refresh:"), "{head}");
    let (st, head, body) = request(
        addr,
        &format!("HEAD /admin?stats HTTP/1.1\r\nAuthorization: Basic {CREDS}\r\n\r\n"),
    );
    assert_eq!(st, 200);
    assert!(head.contains("Content-Length: "), "{head}");
    assert!(body.is_empty(), "a HEAD answer has no body");
    // Other paths are proxied as usual.
    assert_eq!(get(addr, "/other").2, "s1");
}

#[test]
fn csv_lists_every_proxy_and_server_with_its_health() {
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&config(&s1, &s2, dead_addr()));
    let addr = r.addr("stats");
    let mut rows = Vec::new();
    let settled = wait_until(Duration::from_secs(3), || {
        let (st, head, body) = authed(addr, "/admin?stats;csv");
        assert_eq!(st, 200);
        assert!(head.contains("text/plain"), "{head}");
        assert!(body.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,"));
        rows = parse_csv(&body);
        row(&rows, "app", "s3")["status"] == "DOWN"
    });
    assert!(settled, "s3 never went DOWN");
    assert_eq!(row(&rows, "app", "s1")["status"], "UP");
    assert_eq!(row(&rows, "app", "s2")["status"], "UP");
    assert_eq!(row(&rows, "app", "s1")["check_status"], "L4OK");
    assert_eq!(row(&rows, "app", "s3")["check_status"], "L4CON");
    assert_eq!(row(&rows, "app", "BACKEND")["status"], "UP");
    assert_eq!(row(&rows, "app", "BACKEND")["act"], "2");
    assert_eq!(row(&rows, "web", "FRONTEND")["status"], "OPEN");
    assert_eq!(row(&rows, "stats", "st1")["status"], "no check");
    // Traffic shows in the servers' totals.
    let web = r.addr("web");
    for _ in 0..4 {
        assert_eq!(get(web, "/").0, 200);
    }
    let rows = parse_csv(&authed(addr, "/admin?stats;csv").2);
    let stot = |s: &str| row(&rows, "app", s)["stot"].parse::<u64>().unwrap();
    assert_eq!((stot("s1"), stot("s2"), stot("s3")), (2, 2, 0));
    assert_eq!(row(&rows, "app", "BACKEND")["stot"], "4");
    // `;up` hides the server that is down.
    let up = parse_csv(&authed(addr, "/admin?stats;csv;up").2);
    assert!(up.iter().all(|r| r["svname"] != "s3"));
    // `;json` is JSON.
    let (_, head, body) = authed(addr, "/admin?stats;json");
    assert!(head.contains("application/json"), "{head}");
    assert!(body.trim_start().starts_with('['), "{body}");
}

#[test]
fn admin_form_drains_a_server_and_traffic_follows() {
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&config(&s1, &s2, dead_addr()));
    let (addr, web) = (r.addr("stats"), r.addr("web"));
    assert!(wait_until(Duration::from_secs(3), || {
        row(&parse_csv(&authed(addr, "/admin?stats;csv").2), "app", "s3")["status"] == "DOWN"
    }));
    let form = "s=s1&action=drain&b=app";
    let (st, head, _) = request(
        addr,
        &format!(
            "POST /admin?stats HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {CREDS}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(st, 303);
    assert!(head.contains("Location: /admin?stats;st=DONE"), "{head}");
    let before = s1.hits();
    for _ in 0..10 {
        assert_eq!(get(web, "/").2, "s2");
    }
    assert_eq!(s1.hits(), before, "a drained server got new traffic");
    let rows = parse_csv(&authed(addr, "/admin?stats;csv").2);
    assert_eq!(row(&rows, "app", "s1")["status"], "DRAIN");
    // `ready` gives it back.
    let form = "s=s1&action=ready&b=app";
    let (st, _, _) = request(
        addr,
        &format!(
            "POST /admin?stats HTTP/1.1\r\nAuthorization: Basic {CREDS}\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(st, 303);
    let bodies: Vec<String> = (0..4).map(|_| get(web, "/").2).collect();
    assert!(bodies.iter().any(|b| b == "s1"), "{bodies:?}");
}

#[test]
fn admin_form_body_sent_after_the_head_is_waited_for() {
    use std::io::{Read, Write};
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&config(&s1, &s2, dead_addr()));
    let addr = r.addr("stats");
    let form = "s=s2&action=maint&b=app";
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST /admin?stats HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {CREDS}\r\nContent-Length: {}\r\n\r\n",
        form.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.write_all(form.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 303"), "{out}");
    assert!(out.contains("Location: /admin?stats;st=DONE"), "{out}");
    let rows = parse_csv(&authed(addr, "/admin?stats;csv").2);
    assert_eq!(row(&rows, "app", "s2")["status"], "MAINT");
}

#[test]
fn frontend_rules_run_before_the_stats_page() {
    let s1 = Origin::start("s1");
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen stats\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /st\n\
         \x20   http-request deny if {{ req.hdr(x-block) -m found }}\n    server s1 {}\n",
        s1.addr
    ));
    let addr = r.addr("stats");
    assert_eq!(get(addr, "/st;csv").0, 200);
    let (st, _, _) = request(
        addr,
        "GET /st;csv HTTP/1.1\r\nHost: t\r\nX-Block: 1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(st, 403, "a deny rule must protect the stats page");
}

#[test]
fn stats_http_request_rules_deny_and_ask_for_a_userlist_password() {
    let s1 = Origin::start("s1");
    let r = Running::start(&format!(
        "userlist admins\n    user ops insecure-password pw\n\
         defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen stats\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /st\n\
         \x20   stats http-request deny if {{ req.hdr(x-evil) -m found }}\n\
         \x20   stats http-request auth realm Admins unless {{ http_auth(admins) }}\n    server s1 {}\n",
        s1.addr
    ));
    let addr = r.addr("stats");
    let (st, head, _) = get(addr, "/st");
    assert_eq!(st, 401);
    assert!(head.contains("Basic realm=\"Admins\""), "{head}");
    let ok = "GET /st;csv HTTP/1.1\r\nAuthorization: Basic b3BzOnB3\r\nConnection: close\r\n";
    assert_eq!(request(addr, &format!("{ok}\r\n")).0, 200);
    assert_eq!(request(addr, &format!("{ok}X-Evil: 1\r\n\r\n")).0, 403);
    // Other paths are not the page's business.
    assert_eq!(get(addr, "/").2, "s1");
}
