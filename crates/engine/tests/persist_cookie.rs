//! Cookie persistence end to end (GitHub issue 7): insert/indirect, prefix,
//! rewrite, a dead server's cookie with and without `option redispatch`, and the
//! `%ts` cookie flags in the log.

mod common;

use common::http::{ok, origin, Origin};
use common::logsink::*;
use common::*;
use std::time::{Duration, Instant};

fn serve(text: &str) -> Running {
    start_cfg(text, "web")
}

/// Two origins answering with their name (and `extra` response headers).
fn two(extra: &'static str) -> (Origin, Origin) {
    let mk = |name: &'static str| {
        origin(move |_| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}\r\n{name}",
                name.len()
            )
            .into_bytes()
        })
    };
    (mk("web1"), mk("web2"))
}

fn config(cookie: &str, extra: &str, s1: &str, s2: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    balance roundrobin\n    {cookie}\n{extra}\
         \x20   server web1 {s1} cookie web1\n    server web2 {s2} cookie web2\n"
    )
}

/// One request on a new connection: (status, head, body).
fn get(run: &Running, cookie: Option<&str>) -> (u16, String, String) {
    let mut c = client(run.addr);
    let ck = cookie
        .map(|v| format!("Cookie: {v}\r\n"))
        .unwrap_or_default();
    write(
        &mut c,
        format!("GET / HTTP/1.1\r\nHost: h\r\n{ck}\r\n").as_bytes(),
    );
    let (h, b) = read_response(&mut c);
    (status(&h), h, String::from_utf8_lossy(&b).into_owned())
}

fn set_cookies(head: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("set-cookie")
                .then(|| v.trim().to_string())
        })
        .collect()
}

#[test]
fn insert_indirect_sets_cookie_then_sticks_and_hides_it() {
    let (w1, w2) = two("");
    let run = serve(&config(
        "cookie SERVERID insert indirect nocache",
        "",
        &w1.addr.to_string(),
        &w2.addr.to_string(),
    ));
    let (code, head, first) = get(&run, None);
    assert_eq!(code, 200);
    assert_eq!(
        set_cookies(&head),
        [format!("SERVERID={first}; path=/")],
        "{head}"
    );
    assert!(head.contains("Cache-control: private"), "{head}");
    // With the cookie, every request reaches web1; without, they alternate.
    for _ in 0..10 {
        let (code, head, body) = get(&run, Some("SERVERID=web1; lang=fr"));
        assert_eq!((code, body.as_str()), (200, "web1"));
        assert!(set_cookies(&head).is_empty(), "{head}");
    }
    let seen = w1.seen.lock().unwrap().clone();
    let with_cookie: Vec<_> = seen.iter().filter_map(|r| r.header("cookie")).collect();
    assert_eq!(with_cookie.len(), 10, "{seen:?}");
    // `indirect`: web1 never sees our cookie, only the application's.
    assert!(
        with_cookie.iter().all(|c| c == "lang=fr"),
        "{with_cookie:?}"
    );
    // A cookie naming no server: balanced, and corrected.
    let (_, head, body) = get(&run, Some("SERVERID=nope"));
    assert_eq!(set_cookies(&head), [format!("SERVERID={body}; path=/")]);
}

#[test]
fn prefix_mode_round_trips_the_application_cookie() {
    let (w1, w2) = two("Set-Cookie: JSESSIONID=abc; path=/\r\n");
    let run = serve(&config(
        "cookie JSESSIONID prefix",
        "",
        &w1.addr.to_string(),
        &w2.addr.to_string(),
    ));
    let (_, head, first) = get(&run, None);
    assert_eq!(
        set_cookies(&head),
        [format!("JSESSIONID={first}~abc; path=/")]
    );
    for _ in 0..5 {
        let (_, head, body) = get(&run, Some("JSESSIONID=web2~abc"));
        assert_eq!(body, "web2");
        // The server set its cookie again: it goes back prefixed.
        assert_eq!(set_cookies(&head), ["JSESSIONID=web2~abc; path=/"]);
    }
    let seen = w2.seen.lock().unwrap().clone();
    let cookies: Vec<_> = seen.iter().filter_map(|r| r.header("cookie")).collect();
    assert_eq!(cookies, vec!["JSESSIONID=abc".to_string(); 5]);
}

#[test]
fn rewrite_mode_replaces_the_server_value_and_routes_by_it() {
    let (w1, w2) = two("Set-Cookie: SERVERID=placeholder; path=/\r\n");
    let run = serve(&config(
        "cookie SERVERID rewrite",
        "",
        &w1.addr.to_string(),
        &w2.addr.to_string(),
    ));
    let (_, head, first) = get(&run, None);
    assert_eq!(set_cookies(&head), [format!("SERVERID={first}; path=/")]);
    for _ in 0..5 {
        let (_, head, body) = get(&run, Some("SERVERID=web1"));
        assert_eq!(body, "web1");
        assert_eq!(set_cookies(&head), ["SERVERID=web1; path=/"]);
    }
}

#[test]
fn dead_server_cookie_redispatches_and_is_corrected() {
    let (_w1, w2) = two("");
    let dead = dead_addr();
    let run = serve(&config(
        "cookie SERVERID insert indirect",
        "    option redispatch\n    retries 1\n",
        &dead.to_string(),
        &w2.addr.to_string(),
    ));
    let t0 = Instant::now();
    let (code, head, body) = get(&run, Some("SERVERID=web1"));
    assert_eq!((code, body.as_str()), (200, "web2"), "{head}");
    assert_eq!(set_cookies(&head), ["SERVERID=web2; path=/"]);
    assert!(t0.elapsed() < Duration::from_secs(4));
}

#[test]
fn dead_server_cookie_without_redispatch_is_503() {
    let (_w1, w2) = two("");
    let dead = dead_addr();
    let run = serve(&config(
        "cookie SERVERID insert indirect",
        "    retries 1\n",
        &dead.to_string(),
        &w2.addr.to_string(),
    ));
    let (code, head, _) = get(&run, Some("SERVERID=web1"));
    assert_eq!(code, 503, "{head}");
    assert!(w2.seen.lock().unwrap().is_empty());
    // Without the cookie the balancer still finds web2.
    let mut ok_seen = false;
    for _ in 0..2 {
        let (code, _, body) = get(&run, None);
        ok_seen |= code == 200 && body == "web2";
    }
    assert!(ok_seen);
}

#[test]
fn log_shows_cookie_flags() {
    let w = origin(|_| ok("x"));
    let (run, sink) = start_cfg_logged(
        &config(
            "cookie SERVERID insert indirect",
            "",
            &w.addr.to_string(),
            &w.addr.to_string(),
        ),
        "web",
    );
    get(&run, None);
    get(&run, Some("SERVERID=web1"));
    get(&run, Some("SERVERID=zzz"));
    let flags: Vec<String> = wait_for(&sink, 3)
        .iter()
        .map(|r| {
            let t = r.termination;
            format!("{}{}", t.cookie_req.as_char(), t.cookie_res.as_char())
        })
        .collect();
    assert_eq!(flags, ["NI", "VN", "II"]);
}

#[test]
fn use_server_wins_and_force_or_ignore_persist_apply() {
    let (w1, w2) = two("");
    let run = serve(&config(
        "cookie SERVERID insert indirect",
        "    use-server web2 if { path_beg /two }\n\
         \x20   ignore-persist if { path_end .css }\n\
         \x20   force-persist if { req.hdr(x-admin) -m found }\n",
        &w1.addr.to_string(),
        &w2.addr.to_string(),
    ));
    let at = |path: &str, extra: &str| {
        let mut c = client(run.addr);
        write(
            &mut c,
            format!("GET {path} HTTP/1.1\r\nHost: h\r\nCookie: SERVERID=web1\r\n{extra}\r\n")
                .as_bytes(),
        );
        let (h, b) = read_response(&mut c);
        (status(&h), String::from_utf8_lossy(&b).into_owned())
    };
    for _ in 0..3 {
        assert_eq!(at("/two", "").1, "web2");
        assert_eq!(at("/one", "").1, "web1");
    }
    let css: Vec<String> = (0..4).map(|_| at("/a.css", "").1).collect();
    assert!(css.iter().any(|b| b == "web2"), "{css:?}");
    // web1 marked down: the cookie no longer sticks, unless persistence is forced.
    let be = &run.handle.as_ref().unwrap().runtime().backends[0];
    be.servers[0].state.set_up(false);
    be.server_changed(0);
    assert_eq!(at("/one", "").1, "web2");
    assert_eq!(at("/one", "X-Admin: 1\r\n").1, "web1");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    struct Shared {
        run: Running,
        _w: (Origin, Origin),
    }

    fn shared() -> &'static Running {
        static S: OnceLock<Shared> = OnceLock::new();
        &S.get_or_init(|| {
            let (w1, w2) = two("Set-Cookie: SERVERID=app; path=/\r\n");
            let run = serve(&config(
                "cookie SERVERID prefix indirect",
                "",
                &w1.addr.to_string(),
                &w2.addr.to_string(),
            ));
            Shared { run, _w: (w1, w2) }
        })
        .run
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever `Cookie` header a client sends, the request is served by a
        /// server and the cookie given back names that server.
        #[test]
        fn any_cookie_header_is_served_and_answered_with_a_valid_cookie(
            cookie in "[ -~]{0,80}"
        ) {
            let (code, head, body) = get(shared(), Some(&cookie));
            prop_assert_eq!(code, 200, "{}", head);
            prop_assert!(body == "web1" || body == "web2");
            let expected = format!("SERVERID={body}~app; path=/");
            prop_assert_eq!(set_cookies(&head), vec![expected]);
        }
    }
}

#[test]
fn maxidle_and_maxlife_dates_are_written_and_enforced() {
    let (w1, w2) = two("");
    let run = serve(&config(
        "cookie SERVERID insert indirect maxidle 30m maxlife 8h",
        "",
        &w1.addr.to_string(),
        &w2.addr.to_string(),
    ));
    let (_, head, first) = get(&run, None);
    let set = set_cookies(&head);
    let value = set[0]
        .strip_prefix("SERVERID=")
        .and_then(|v| v.strip_suffix("; path=/"))
        .unwrap()
        .to_string();
    let parts: Vec<&str> = value.split('|').collect();
    assert_eq!((parts.len(), parts[0]), (3, first.as_str()), "{value}");
    assert!(parts[1..].iter().all(|d| d.len() == 5));
    // The fresh cookie sticks (and its idle date is refreshed when due).
    let (_, _, body) = get(&run, Some(&format!("SERVERID={value}")));
    assert_eq!(body, first);
    // A cookie first set long ago is too old: balanced, replaced by a new one.
    let ancient = format!("SERVERID={first}|{}|AAAAB", parts[1]);
    let (_, head, body) = get(&run, Some(&ancient));
    let set = set_cookies(&head);
    assert_eq!(set.len(), 1, "{head}");
    assert!(set[0].starts_with(&format!("SERVERID={body}|")), "{set:?}");
    assert!(!set[0].ends_with("|AAAAB; path=/"), "{set:?}");
}

#[test]
fn dynamic_cookies_of_servers_named_by_host_name() {
    let (w1, w2) = two("");
    let run = serve(&format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    balance roundrobin\n    dynamic-cookie-key s3cret\n    cookie SRV insert indirect dynamic\n\
         \x20   server web1 localhost:{}\n    server web2 localhost:{}\n",
        w1.addr.port(),
        w2.addr.port()
    ));
    let (_, head, first) = get(&run, None);
    let port = if first == "web1" {
        w1.addr.port()
    } else {
        w2.addr.port()
    };
    let value = fulcrum_persist::dyncookie::server_cookie("s3cret", w1.addr.ip(), port);
    assert_eq!(set_cookies(&head), [format!("SRV={value}; path=/")]);
    for _ in 0..4 {
        assert_eq!(get(&run, Some(&format!("SRV={value}"))).2, first);
    }
}

#[test]
fn passive_cookie_routes_without_touching_headers() {
    let (w1, w2) = two("");
    let run = serve(&config(
        "cookie SERVERID",
        "",
        &w1.addr.to_string(),
        &w2.addr.to_string(),
    ));
    let (_, head, _) = get(&run, None);
    assert!(set_cookies(&head).is_empty(), "{head}");
    for _ in 0..4 {
        let (_, head, body) = get(&run, Some("SERVERID=web2; x=1"));
        assert_eq!(body, "web2");
        assert!(set_cookies(&head).is_empty(), "{head}");
    }
    let seen = w2.seen.lock().unwrap().clone();
    assert!(seen
        .iter()
        .filter_map(|r| r.header("cookie"))
        .all(|c| c == "SERVERID=web2; x=1"));
}
