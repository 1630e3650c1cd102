//! Passive health (`observe layer4|layer7`, `error-limit`, `on-error
//! mark-down`): errors seen on live traffic take a server out before any
//! check would.

mod health_support;

use health_support::*;
use std::time::Duration;

#[test]
fn layer7_errors_on_traffic_mark_the_server_down() {
    let bad = Origin::with_status("bad", 500);
    let good = Origin::start("good");
    // Checks pass (plain connect) and come rarely: only traffic can tell.
    // The first server of a backend is checked at once, the others later:
    // `bad` comes second so that no passing check resets its error count.
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    balance roundrobin\n\
         \x20   server good {} check inter 60s\n\
         \x20   server bad {} check inter 60s rise 10 observe layer7 error-limit 2 on-error mark-down\n",
        good.addr, bad.addr
    ));
    let addr = r.addr("app");
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(get(addr, "/").0);
    }
    assert_eq!(codes.iter().filter(|c| **c == 500).count(), 2, "{codes:?}");
    assert!(
        wait_until(Duration::from_secs(2), || r.saw_event(
            "Detected 2 consecutive errors, last one was: Wrong http response"
        )),
        "{:?}",
        r.events.lock().unwrap()
    );
    let before = bad.hits();
    for _ in 0..6 {
        let (st, _, body) = get(addr, "/");
        assert_eq!((st, body.as_str()), (200, "good"));
    }
    assert_eq!(
        bad.hits(),
        before,
        "a server marked down by traffic got more"
    );
}

#[test]
fn layer4_connect_failures_mark_the_server_down_and_requests_survive() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let good = Origin::start("good");
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    balance roundrobin\n    retries 2\n    option redispatch\n\
         \x20   server good {} check inter 60s\n\
         \x20   server dead {dead} check inter 60s rise 10 observe layer4 error-limit 1 on-error mark-down\n",
        good.addr
    ));
    let addr = r.addr("app");
    for _ in 0..4 {
        assert_eq!(get(addr, "/").2, "good");
    }
    assert!(
        wait_until(Duration::from_secs(2), || r
            .saw_event("last one was: L4 unsuccessful connection")),
        "{:?}",
        r.events.lock().unwrap()
    );
}
