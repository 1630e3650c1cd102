//! Stick tables, tracking counters and appsession end to end (GitHub issue 7).

mod common;

use common::http::origin;
use common::*;
use fulcrum_engine::{EngineHandle, EngineOptions};
use std::net::TcpStream;
use std::time::Duration;

fn serve(text: &str) -> Running {
    // Two workers: the tables are shared by every thread.
    let opts = EngineOptions {
        nbthread: Some(2),
        ..Default::default()
    };
    start_cfg_with(text, "web", opts)
}

fn handle(run: &Running) -> &EngineHandle {
    run.handle.as_ref().unwrap()
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n";

/// An origin answering with its name, and `Set-Cookie: JSESSIONID=sess-NAME` on `/login`.
fn named(name: &'static str) -> common::http::Origin {
    named_with_cookie(name, format!("JSESSIONID=sess-{name}"))
}

/// An origin answering with its name, and `Set-Cookie: COOKIE; path=/` on `/login`.
fn named_with_cookie(name: &'static str, cookie: String) -> common::http::Origin {
    origin(move |r| {
        let sc = if r.path == "/login" {
            format!("Set-Cookie: {cookie}; path=/\r\n")
        } else {
            String::new()
        };
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{sc}\r\n{name}",
            name.len()
        )
        .into_bytes()
    })
}

/// One request on `c` (keep-alive): (status, body).
fn req(c: &mut TcpStream, path: &str, extra: &str) -> (u16, String) {
    write(
        c,
        format!("GET {path} HTTP/1.1\r\nHost: h\r\n{extra}\r\n").as_bytes(),
    );
    let (h, b) = read_response(c);
    (status(&h), String::from_utf8_lossy(&b).into_owned())
}

fn get(run: &Running, path: &str, extra: &str) -> (u16, String) {
    req(&mut client(run.addr), path, extra)
}

#[test]
fn appsession_learns_routes_then_forgets() {
    let (w1, w2) = (named("web1"), named("web2"));
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    balance roundrobin\n    appsession JSESSIONID len 52 timeout 1s\n\
         \x20   server web1 {}\n    server web2 {}\n",
        w1.addr, w2.addr
    ));
    let (_, owner) = get(&run, "/login", "");
    let sess = format!("Cookie: JSESSIONID=sess-{owner}\r\n");
    for _ in 0..6 {
        assert_eq!(get(&run, "/", &sess).1, owner);
    }
    // The id in the URL (path parameter) routes as well.
    for _ in 0..4 {
        let path = format!("/app;JSESSIONID=sess-{owner}");
        assert_eq!(get(&run, &path, "").1, owner);
    }
    // Idle past `timeout`: forgotten, round robin again.
    std::thread::sleep(Duration::from_millis(1300));
    let bodies: Vec<String> = (0..4).map(|_| get(&run, "/", &sess).1).collect();
    assert!(bodies.iter().any(|b| *b != owner), "{bodies:?}");
}

#[test]
fn stick_on_src_keeps_a_client_then_moves_it_when_its_server_dies() {
    let (w1, w2) = (named("web1"), named("web2"));
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    balance roundrobin\n\
         \x20   stick-table type ip size 1k expire 30s\n    stick on src\n\
         \x20   server web1 {}\n    server web2 {}\n",
        w1.addr, w2.addr
    ));
    let (_, first) = get(&run, "/", "");
    for _ in 0..99 {
        assert_eq!(get(&run, "/", "").1, first);
    }
    let be = &handle(&run).runtime().backends[0];
    let table = be.persist.tables().and_then(|t| t.get("be")).unwrap();
    assert_eq!(table.len(), 1);
    // Its server goes down (as a health check would say): the client moves, and stays.
    let i = usize::from(first == "web2");
    be.servers[i].state.set_up(false);
    be.server_changed(i);
    let (_, moved) = get(&run, "/", "");
    assert_ne!(moved, first);
    be.servers[i].state.set_up(true);
    be.server_changed(i);
    for _ in 0..20 {
        assert_eq!(get(&run, "/", "").1, moved);
    }
}

#[test]
fn stick_on_a_dead_server_redispatches_and_learns_the_new_one() {
    let w2 = named("web2");
    let dead = dead_addr();
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    balance roundrobin\n    option redispatch\n    retries 1\n\
         \x20   stick-table type string len 32 size 1k expire 30s\n    stick on hdr(x-user)\n\
         \x20   server web1 {dead}\n    server web2 {}\n",
        w2.addr
    ));
    let be = &handle(&run).runtime().backends[0];
    let table = be.persist.tables().and_then(|t| t.get("be")).unwrap();
    // Teach the table that alice belongs to web1 (id 1), which is dead.
    let key = fulcrum_persist::Key::from_text(table.key_type(), b"alice").unwrap();
    table
        .stick_store(&key, 1, fulcrum_engine::persist::now_ms())
        .unwrap();
    assert_eq!(get(&run, "/", "X-User: alice\r\n"), (200, "web2".into()));
    assert_eq!(
        table.stick_match(&key, fulcrum_engine::persist::now_ms()),
        Some(2)
    );
}

#[test]
fn rate_limit_answers_429_at_the_21st_request() {
    let w = named("web1");
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n\
         \x20   stick-table type ip size 100k expire 30s store http_req_rate(10s)\n\
         \x20   http-request track-sc0 src\n\
         \x20   http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 20 }}\n\
         \x20   default_backend be\n\
         backend be\n    server web1 {}\n",
        w.addr
    ));
    let mut c = client(run.addr);
    for n in 1..=20 {
        assert_eq!(req(&mut c, "/", "").0, 200, "request {n}");
    }
    assert_eq!(get(&run, "/", "").0, 429);
    assert_eq!(w.seen.lock().unwrap().len(), 20);
}

#[test]
fn a_table_of_size_1000_stays_bounded_under_a_flood() {
    let w = named("web1");
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n\
         \x20   stick-table type string len 32 size 1000 expire 60s store http_req_cnt\n\
         \x20   http-request track-sc0 hdr(x-user)\n\
         \x20   default_backend be\n\
         backend be\n    server web1 {}\n",
        w.addr
    ));
    let mut c = client(run.addr);
    for n in 0..1500 {
        let (code, _) = req(&mut c, "/", &format!("X-User: user-{n}\r\n"));
        assert_eq!(code, 200);
    }
    let rt = handle(&run).runtime();
    let table = rt.backends[0]
        .persist
        .tables()
        .and_then(|t| t.get("web"))
        .unwrap();
    assert!(table.len() <= 1000, "{}", table.len());
    assert!(table.len() >= 900, "{}", table.len());
}

#[test]
fn tracked_counters_see_requests_errors_bytes_and_end_with_the_transaction() {
    let w = origin(|r| {
        if r.path == "/missing" {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope".to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec()
        }
    });
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n\
         \x20   stick-table type ip size 1k expire 30s store http_req_cnt,http_err_cnt,bytes_out_cnt,conn_cur\n\
         \x20   http-request track-sc0 src\n\
         \x20   default_backend be\n\
         backend be\n    server web1 {}\n",
        w.addr
    ));
    let mut c = client(run.addr);
    assert_eq!(req(&mut c, "/", "").0, 200);
    assert_eq!(req(&mut c, "/missing", "").0, 404);
    assert_eq!(req(&mut c, "/", "").0, 200);
    let table = handle(&run).runtime().backends[0]
        .persist
        .tables()
        .and_then(|t| t.get("web"))
        .cloned()
        .unwrap();
    let key = fulcrum_persist::Key::from_ip(table.key_type(), run.addr.ip()).unwrap();
    let read = |c: fulcrum_persist::data::Cnt| {
        let now = fulcrum_engine::persist::now_ms();
        table.get(&key, now, |d| d.cnt(table.schema(), c)).flatten()
    };
    use fulcrum_persist::data::Cnt;
    // The last transaction ends just after its response reached the client.
    for _ in 0..200 {
        if read(Cnt::ConnCur) == Some(0) && read(Cnt::BytesOutCnt).unwrap_or(0) >= 12 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(read(Cnt::HttpReqCnt), Some(3));
    assert_eq!(read(Cnt::HttpErrCnt), Some(1));
    assert!(
        read(Cnt::BytesOutCnt).unwrap_or(0) >= 3 * 4,
        "{:?}",
        read(Cnt::BytesOutCnt)
    );
    // Each transaction ended its tracking: nothing is pinned between requests.
    assert_eq!(read(Cnt::ConnCur), Some(0));
}

#[test]
fn http_response_rules_read_the_tracked_counters() {
    let w = named("web1");
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n\
         \x20   stick-table type ip size 1k expire 30s store http_req_cnt\n\
         \x20   http-request track-sc0 src\n\
         \x20   http-response set-header X-Count %[sc_http_req_cnt(0)]\n\
         \x20   default_backend be\n\
         backend be\n    server web1 {}\n",
        w.addr
    ));
    let mut c = client(run.addr);
    for n in 1..=3 {
        write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let (h, _) = read_response(&mut c);
        assert!(h.contains(&format!("X-Count: {n}\r\n")), "{h}");
    }
}

#[test]
fn stick_store_response_learns_the_server_cookie_and_stick_match_follows_it() {
    let sid = |name: &'static str| named_with_cookie(name, format!("SID={name}-sid"));
    let (w1, w2) = (sid("web1"), sid("web2"));
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    balance roundrobin\n\
         \x20   stick-table type string len 32 size 1k expire 1m\n\
         \x20   stick store-response res.cook(SID)\n    stick match req.cook(SID)\n\
         \x20   server web1 {}\n    server web2 {}\n",
        w1.addr, w2.addr
    ));
    let (_, owner) = get(&run, "/login", "");
    let other = if owner == "web1" { "web2" } else { "web1" };
    for _ in 0..6 {
        assert_eq!(
            get(&run, "/", &format!("Cookie: SID={owner}-sid\r\n")).1,
            owner
        );
    }
    // An unknown session is balanced, and nothing is learnt from a request.
    let bodies: Vec<String> = (0..4)
        .map(|_| get(&run, "/", &format!("Cookie: SID={other}-sid\r\n")).1)
        .collect();
    assert!(bodies.iter().any(|b| b == "web1") && bodies.iter().any(|b| b == "web2"));
}

#[test]
fn expired_entries_are_swept_as_requests_come() {
    let w = named("web1");
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n\
         \x20   stick-table type string len 32 size 100 expire 1s store http_req_cnt\n\
         \x20   http-request track-sc0 hdr(x-user)\n\
         \x20   default_backend be\n\
         backend be\n    server web1 {}\n",
        w.addr
    ));
    let table = handle(&run).runtime().backends[0]
        .persist
        .tables()
        .and_then(|t| t.get("web"))
        .cloned()
        .unwrap();
    for u in ["a", "b", "c"] {
        assert_eq!(get(&run, "/", &format!("X-User: {u}\r\n")).0, 200);
    }
    assert_eq!(table.len(), 3);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(get(&run, "/", "X-User: d\r\n").0, 200);
    assert_eq!(table.len(), 1);
}

#[test]
fn only_the_first_storing_rule_of_a_table_stores() {
    let (w1, w2) = (named("web1"), named("web2"));
    let run = serve(&format!(
        "{DEFAULTS}frontend web\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    balance roundrobin\n\
         \x20   stick-table type string len 32 size 1k expire 1m\n\
         \x20   stick store-request hdr(x-a)\n    stick store-request hdr(x-b)\n\
         \x20   server web1 {}\n    server web2 {}\n",
        w1.addr, w2.addr
    ));
    assert_eq!(get(&run, "/", "X-A: one\r\nX-B: two\r\n").0, 200);
    let table = handle(&run).runtime().backends[0]
        .persist
        .tables()
        .and_then(|t| t.get("be"))
        .cloned()
        .unwrap();
    assert_eq!(table.len(), 1);
    let key = fulcrum_persist::Key::from_text(table.key_type(), b"one").unwrap();
    assert!(table.contains(&key, fulcrum_engine::persist::now_ms()));
}
