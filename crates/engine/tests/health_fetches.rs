//! Rules see live health: `nbsrv(be)` and `srv_is_up(be/srv)` follow the
//! checks, so the usual "sorry backend" routing works.

mod health_support;

use health_support::*;
use std::time::Duration;

#[test]
fn nbsrv_and_srv_is_up_route_to_the_sorry_backend_once_down() {
    let mut s1 = Origin::start("s1");
    let z = Origin::start("sorry");
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    use_backend sorry if {{ nbsrv(app) lt 1 }}\n    default_backend app\n\
         frontend web2\n    bind 127.0.0.1:0\n    use_backend sorry unless {{ srv_is_up(app/s1) }}\n    default_backend app\n\
         backend app\n    server s1 {} check inter 100ms fall 1 rise 1\n\
         backend sorry\n    server z {}\n",
        s1.addr, z.addr
    ));
    let (web, web2) = (r.addr("web"), r.addr("web2"));
    assert_eq!(get(web, "/").2, "s1");
    assert_eq!(get(web2, "/").2, "s1");
    s1.kill();
    assert!(wait_until(Duration::from_secs(3), || r
        .saw_event("Server app/s1 is DOWN")));
    assert!(r.saw_event("backend app has no server available!"));
    for _ in 0..3 {
        assert_eq!(get(web, "/").2, "sorry");
        assert_eq!(get(web2, "/").2, "sorry");
    }
}

#[test]
fn monitor_uri_answers_200_then_503_once_monitor_fail_holds() {
    let a = Origin::start("a");
    let mut b = Origin::start("b");
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen site_status\n    bind 127.0.0.1:0\n    monitor-uri /site_status\n\
         \x20   acl site_dead nbsrv(app) lt 2\n    monitor fail if site_dead\n\
         backend app\n    server a {} check inter 100ms fall 1 rise 1\n    server b {} check inter 100ms fall 1 rise 1\n",
        a.addr, b.addr
    ));
    let addr = r.addr("site_status");
    let (st, _, body) = get(addr, "/site_status");
    assert_eq!(st, 200);
    assert!(body.contains("Service ready."), "{body}");
    assert_eq!(a.hits() + b.hits(), 0, "answered by the proxy itself");
    b.kill();
    assert!(wait_until(Duration::from_secs(3), || get(
        addr,
        "/site_status"
    )
    .0 == 503));
}
