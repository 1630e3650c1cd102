//! Acceptance: real checks against servers on 127.0.0.1.

mod common;

use common::*;
use fulcrum_config::model::check::{
    CheckKind, CheckRule, CheckSettings, Expect, ExpectMatch, HttpCheckSend, InitState,
};
use fulcrum_health::status::CheckStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn httpchk() -> CheckSettings {
    CheckSettings {
        kind: Some(CheckKind::Http(HttpCheckSend {
            method: Some("GET".into()),
            uri: Some("/health".into()),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn expect(m: ExpectMatch) -> CheckRule {
    CheckRule::Expect(Expect {
        negate: false,
        matcher: m,
        min_recv: None,
        comment: None,
        ok_status: None,
        error_status: None,
        tout_status: None,
        on_success: None,
        on_error: None,
        status_code: None,
    })
}

#[test]
fn refused_server_goes_down_after_exactly_fall_checks_with_haproxy_lines() {
    let mut t = target(
        "bk_web",
        "websrv1",
        0,
        refused_addr(),
        check(100, 2, 3, InitState::FullyUp),
        CheckSettings::default(),
        false,
    );
    t.log_health_checks = true;
    let h = start(vec![t]);
    let down = h.wait_line("is DOWN", 5).expect("server never went down");
    let took = h.started.elapsed();
    assert_eq!(
        norm(&down),
        "Server bk_web/websrv1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    // Checks at 0, 100 and 200 ms: down after the third, within one inter.
    assert!(
        took >= Duration::from_millis(180) && took < Duration::from_millis(450),
        "{took:?}"
    );
    let msgs: Vec<String> = h.messages().iter().map(|m| norm(m)).collect();
    let fails: Vec<&String> = msgs
        .iter()
        .filter(|m| m.starts_with("Health check"))
        .collect();
    assert_eq!(fails.len(), 3, "{msgs:#?}");
    assert!(fails[0].ends_with("status: 2/3 UP."), "{}", fails[0]);
    assert!(fails[1].ends_with("status: 1/3 UP."), "{}", fails[1]);
    assert_eq!(
        fails[2].as_str(),
        "Health check for server bk_web/websrv1 failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms, status: 0/2 DOWN."
    );
    assert!(h
        .wait_line("backend bk_web has no server available!", 1)
        .is_some());
    let snap = h.handle.snapshot(0, 0).unwrap();
    assert_eq!(
        (snap.check_status, snap.chkfail, snap.chkdown),
        (CheckStatus::L4Con, 3, 1)
    );
    assert_eq!(snap.status_text, "DOWN");
    assert_eq!(h.handle.srv_is_up(0, 0), Some(false));
    assert_eq!(h.handle.nbsrv(0), 0);
}

#[test]
fn http_500_takes_the_server_down_and_200_brings_it_back_after_rise() {
    let resp = Arc::new(Mutex::new(response("500 Internal Server Error", "")));
    let srv = http(resp.clone());
    let t = target(
        "bk",
        "s1",
        0,
        srv.addr,
        check(60, 2, 2, InitState::FullyUp),
        httpchk(),
        false,
    );
    let h = start(vec![t]);
    let down = h.wait_line("is DOWN", 5).expect("no DOWN");
    assert_eq!(
        norm(&down),
        "Server bk/s1 is DOWN, reason: Layer7 wrong status, code: 500, info: \"Internal Server Error\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    *resp.lock().unwrap() = response("200 OK", "fine");
    let up = h.wait_line("is UP", 5).expect("no UP");
    assert_eq!(
        norm(&up),
        "Server bk/s1 is UP, reason: Layer7 check passed, code: 200, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
    );
    assert!(h.changes.lock().unwrap().contains(&(0, 0)));
}

#[test]
fn wrong_body_fails_a_string_expectation() {
    let resp = Arc::new(Mutex::new(response("200 OK", "i am sick")));
    let srv = http(resp);
    let mut s = httpchk();
    s.http_rules = vec![expect(ExpectMatch::String("healthy".into()))];
    let t = target(
        "bk",
        "s1",
        0,
        srv.addr,
        check(50, 2, 2, InitState::FullyUp),
        s,
        false,
    );
    let h = start(vec![t]);
    let down = h.wait_line("is DOWN", 5).expect("no DOWN");
    assert!(down.contains("reason: Layer7 invalid response"), "{down}");
    assert_eq!(
        h.handle.snapshot(0, 0).unwrap().check_status,
        CheckStatus::L7Rsp
    );
}

fn websocket_check() -> CheckSettings {
    CheckSettings {
        kind: Some(CheckKind::Http(HttpCheckSend {
            method: Some("GET".into()),
            uri: Some("/ws".into()),
            version: Some("HTTP/1.1".into()),
            headers: vec![
                ("Host".into(), "www".into()),
                ("Connection".into(), "Upgrade".into()),
                ("Upgrade".into(), "websocket".into()),
                (
                    "Sec-WebSocket-Key".into(),
                    "dGhlIHNhbXBsZSBub25jZQ==".into(),
                ),
                ("Sec-WebSocket-Version".into(), "13".into()),
            ],
            ..Default::default()
        })),
        http_rules: vec![expect(ExpectMatch::Status(vec![(101, 101)]))],
        ..Default::default()
    }
}

#[test]
fn websocket_check_wants_101_and_downs_a_200() {
    let ok = fake(Arc::new(|s| {
        let head = read_head(s);
        let h = String::from_utf8_lossy(&head).to_string();
        if h.contains("upgrade: websocket") && h.starts_with("GET /ws HTTP/1.1\r\n") {
            use std::io::Write;
            // 101 and the connection stays open: the check must not wait for a body.
            let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
            std::thread::sleep(Duration::from_millis(30));
        }
    }));
    let bad = http(Arc::new(Mutex::new(response("200 OK", "no upgrade here"))));
    let t1 = target(
        "ws",
        "good",
        0,
        ok.addr,
        check(50, 2, 2, InitState::FullyUp),
        websocket_check(),
        false,
    );
    let t2 = target(
        "ws",
        "bad",
        1,
        bad.addr,
        check(50, 2, 2, InitState::FullyUp),
        websocket_check(),
        false,
    );
    let h = start(vec![t1, t2]);
    let down = h.wait_line("is DOWN", 5).expect("no DOWN");
    assert!(
        down.starts_with("Server ws/bad is DOWN, reason: Layer7 wrong status, code: 200"),
        "{down}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let good = h.handle.snapshot(0, 0).unwrap();
    assert_eq!(
        (
            good.check_status,
            good.check_code,
            good.status_text.as_str()
        ),
        (CheckStatus::L7Ok, Some(101), "UP")
    );
    assert!(!h.messages().iter().any(|m| m.contains("ws/good")));
}

#[test]
fn a_silent_server_times_out() {
    let silent = fake(Arc::new(|s| {
        read_head(s);
        std::thread::sleep(Duration::from_millis(300));
    }));
    let mut t = target(
        "bk",
        "s1",
        0,
        silent.addr,
        check(100, 1, 1, InitState::FullyUp),
        httpchk(),
        false,
    );
    t.timeout_check = Some(Duration::from_millis(80));
    let h = start(vec![t]);
    let down = h.wait_line("is DOWN", 5).expect("no DOWN");
    assert!(down.contains("reason: Layer7 timeout"), "{down}");
}

#[test]
fn backup_takes_over_and_hands_back() {
    let active_resp = Arc::new(Mutex::new(response("503 Service Unavailable", "")));
    let active = http(active_resp.clone());
    let backup = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let a = target(
        "bk",
        "a1",
        0,
        active.addr,
        check(50, 1, 2, InitState::FullyUp),
        httpchk(),
        false,
    );
    let b = target(
        "bk",
        "b1",
        1,
        backup.addr,
        check(50, 1, 2, InitState::FullyUp),
        httpchk(),
        true,
    );
    let (sa, sb) = (a.state.clone(), b.state.clone());
    let h = start(vec![a, b]);
    let down = h.wait_line("bk/a1 is DOWN", 5).expect("no DOWN");
    assert!(
        norm(&down).ends_with("0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."),
        "{down}"
    );
    assert!(!sa.is_usable() && sb.is_usable());
    assert!(!h
        .messages()
        .iter()
        .any(|m| m.contains("no server available")));
    *active_resp.lock().unwrap() = response("200 OK", "");
    let up = h.wait_line("bk/a1 is UP", 5).expect("no UP");
    assert!(
        norm(&up).ends_with(
            "1 active and 1 backup servers online. 0 sessions requeued, 0 total in queue."
        ),
        "{up}"
    );
    assert!(sa.is_usable());
}

#[test]
fn tracking_servers_follow_their_target() {
    let resp = Arc::new(Mutex::new(response("500 Oops", "")));
    let srv = http(resp);
    let a = target(
        "bk",
        "a1",
        0,
        srv.addr,
        check(50, 1, 1, InitState::FullyUp),
        httpchk(),
        false,
    );
    let mut c = check(50, 1, 1, InitState::FullyUp);
    c.track = Some(fulcrum_config::model::check::TrackTarget {
        backend: None,
        server: "a1".into(),
    });
    let b = target("bk", "t1", 1, refused_addr(), c, httpchk(), false);
    let st = b.state.clone();
    let h = start(vec![a, b]);
    let via = h
        .wait_line("bk/t1 is DOWN", 5)
        .expect("tracker did not follow");
    assert_eq!(
        via,
        "Server bk/t1 is DOWN via bk/a1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    assert!(!st.is_up());
}

#[test]
fn intervals_follow_the_state_fastinter_going_down_downinter_when_down() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let hits = Arc::new(AtomicU32::new(0));
    let h2 = hits.clone();
    // Accepts and closes: every HTTP check fails with an empty response.
    let srv = fake(Arc::new(move |s| {
        read_head(s);
        h2.fetch_add(1, Ordering::Relaxed);
    }));
    let mut c = check(400, 1, 3, InitState::FullyUp);
    c.fastinter = Some(Duration::from_millis(40));
    c.downinter = Some(Duration::from_millis(1000));
    let t = target("bk", "s1", 0, srv.addr, c, httpchk(), false);
    let h = start(vec![t]);
    // First check at 0, then fastinter (40 ms) twice: down well before one `inter`.
    let down = h.wait_line("is DOWN", 3).expect("no DOWN");
    assert!(
        h.started.elapsed() < Duration::from_millis(350),
        "{:?}",
        h.started.elapsed()
    );
    assert!(
        down.contains("info: \"TCPCHK got an empty response at step"),
        "{down}"
    );
    let at_down = hits.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(600));
    // Down: the next check waits for `downinter`.
    assert_eq!(hits.load(Ordering::Relaxed), at_down);
}

/// Every failure kind takes an UP server down at exactly the `fall`-th failed
/// check, and `rise` good ones bring it back.
#[test]
fn every_failure_kind_needs_exactly_fall_checks() {
    let silent = fake(Arc::new(|s| {
        read_head(s);
        std::thread::sleep(Duration::from_millis(200));
    }));
    let bad_body = http(Arc::new(Mutex::new(response("200 OK", "sick"))));
    let err500 = http(Arc::new(Mutex::new(response(
        "500 Internal Server Error",
        "",
    ))));
    let ws200 = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mut body_check = httpchk();
    body_check.http_rules = vec![expect(ExpectMatch::String("healthy".into()))];
    let cases: Vec<(&str, std::net::SocketAddr, CheckSettings, &str)> = vec![
        (
            "refused",
            refused_addr(),
            CheckSettings::default(),
            "Layer4 connection problem",
        ),
        ("timeout", silent.addr, httpchk(), "Layer7 timeout"),
        ("500", err500.addr, httpchk(), "Layer7 wrong status"),
        ("body", bad_body.addr, body_check, "Layer7 invalid response"),
        ("ws", ws200.addr, websocket_check(), "Layer7 wrong status"),
    ];
    for (name, addr, settings, reason) in cases {
        let mut t = target(
            "bk",
            name,
            0,
            addr,
            check(40, 2, 3, InitState::FullyUp),
            settings,
            false,
        );
        t.log_health_checks = true;
        t.timeout_check = Some(Duration::from_millis(60));
        let h = start(vec![t]);
        let down = h
            .wait_line("is DOWN", 5)
            .unwrap_or_else(|| panic!("{name}: no DOWN"));
        assert!(
            down.contains(&format!("reason: {reason}")),
            "{name}: {down}"
        );
        let msgs = h.messages();
        let pos = msgs.iter().position(|m| m.contains("is DOWN")).unwrap_or(0);
        let failed = msgs[..pos]
            .iter()
            .filter(|m| m.contains(" failed, reason: "))
            .count();
        assert_eq!(failed, 3, "{name}: {msgs:#?}");
    }
}
