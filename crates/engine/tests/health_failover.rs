//! Health checks wired into the engine: a server killed under traffic costs
//! no request (retries + redispatch), is marked DOWN after `fall` checks and
//! then gets no traffic; backups take over when every active server is down.

mod health_support;

use health_support::*;
use std::time::Duration;

fn config(s1: &Origin, s2: &Origin, bk: &Origin) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    balance roundrobin\n    retries 3\n    option redispatch\n\
         \x20   server s1 {} check inter 200ms fall 2 rise 100\n\
         \x20   server s2 {} check inter 200ms fall 2 rise 100\n\
         \x20   server bk {} backup check inter 200ms fall 2 rise 1\n",
        s1.addr, s2.addr, bk.addr
    )
}

#[test]
fn killed_server_costs_no_request_and_gets_no_traffic_once_down() {
    let mut s1 = Origin::start("s1");
    let s2 = Origin::start("s2");
    let bk = Origin::start("bk");
    let r = Running::start(&config(&s1, &s2, &bk));
    let addr = r.addr("app");
    let mut failed = 0;
    for i in 0..60 {
        if i == 20 {
            s1.kill();
        }
        let (st, _, _) = get(addr, "/");
        if st != 200 {
            failed += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(failed, 0, "GETs failed while s1 died");
    assert!(
        wait_until(Duration::from_secs(3), || r
            .saw_event("Server app/s1 is DOWN")),
        "no DOWN log line: {:?}",
        r.events.lock().unwrap()
    );
    // s1 listens again but stays DOWN (rise 100): it must get nothing.
    let s1_back = Origin::on("s1", s1.addr);
    for _ in 0..20 {
        assert_eq!(get(addr, "/").0, 200);
    }
    assert_eq!(s1_back.hits(), 0, "a DOWN server got traffic");
    assert_eq!(
        bk.hits(),
        0,
        "the backup served while an active server was up"
    );
    drop(s2);
}

#[test]
fn backup_takes_over_when_every_active_server_is_down() {
    let mut s1 = Origin::start("s1");
    let mut s2 = Origin::start("s2");
    let bk = Origin::start("bk");
    let r = Running::start(&config(&s1, &s2, &bk));
    let addr = r.addr("app");
    assert_eq!(get(addr, "/").0, 200);
    s1.kill();
    s2.kill();
    assert!(wait_until(Duration::from_secs(3), || {
        r.saw_event("Server app/s1 is DOWN") && r.saw_event("Server app/s2 is DOWN")
    }));
    for _ in 0..10 {
        let (st, _, body) = get(addr, "/");
        assert_eq!((st, body.as_str()), (200, "bk"));
    }
    assert_eq!(bk.hits(), 10);
}

#[test]
fn roundrobin_with_maxconn_spreads_over_the_servers_left_after_one_goes_down() {
    let (a, b) = (Origin::start("a"), Origin::start("b"));
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    balance roundrobin\n\
         \x20   server a {} maxconn 100 check inter 100ms\n\
         \x20   server b {} maxconn 100 check inter 100ms\n\
         \x20   server c {dead} maxconn 100 check inter 100ms fall 1\n",
        a.addr, b.addr
    ));
    assert!(wait_until(Duration::from_secs(3), || r
        .saw_event("Server app/c is DOWN")));
    for _ in 0..20 {
        assert_eq!(get(r.addr("app"), "/").0, 200);
    }
    assert_eq!((a.hits(), b.hits()), (10, 10));
}

#[test]
fn disabled_servers_stay_in_maintenance_with_checks_running() {
    let (a, b) = (Origin::start("a"), Origin::start("b"));
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /st\n\
         \x20   server a {} check inter 100ms disabled\n    server b {} check inter 100ms\n",
        a.addr, b.addr
    ));
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..6 {
        assert_eq!(get(r.addr("app"), "/").2, "b");
    }
    let rows = parse_csv(&get(r.addr("app"), "/st;csv").2);
    assert_eq!(row(&rows, "app", "a")["status"], "MAINT");
    assert_eq!(a.hits(), 0);
}
