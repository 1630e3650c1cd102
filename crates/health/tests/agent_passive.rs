//! Agent checks, passive observation, slowstart and the operator's states.

mod common;

use common::*;
use fulcrum_balance::{AdminState, WEIGHT_SCALE};
use fulcrum_config::model::check::{CheckSettings, InitState, Observe, OnError};
use fulcrum_health::passive::PassiveOutcome;
use fulcrum_health::Force;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn wait(mut f: impl FnMut() -> bool, ms: u64) -> bool {
    let end = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn agent_replies_change_weight_admin_and_state() {
    let reply = Arc::new(Mutex::new(String::from("50%\n")));
    let r = reply.clone();
    let agent = fake(Arc::new(move |s| {
        // `agent-send` arrives first; a wrong greeting gets a `down`.
        let mut hello = [0u8; 6];
        let ok = std::io::Read::read_exact(s, &mut hello).is_ok() && &hello == b"hello\n";
        let reply = if ok {
            r.lock().unwrap().clone()
        } else {
            "down\n".into()
        };
        let _ = s.write_all(reply.as_bytes());
    }));
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mut c = check(1000, 2, 2, InitState::FullyUp);
    c.enabled = Some(false);
    c.agent.enabled = Some(true);
    c.agent.port = Some(agent.addr.port());
    c.agent.addr = Some("127.0.0.1".into());
    c.agent.inter = Some(Duration::from_millis(30));
    c.agent.send = Some("hello\n".into());
    let t = target("bk", "s1", 0, srv.addr, c, CheckSettings::default(), false);
    let st = t.state.clone();
    let h = start(vec![t]);
    assert!(wait(|| st.weight() == 5, 2000), "weight {}", st.weight());
    *reply.lock().unwrap() = "drain\n".into();
    assert!(wait(|| st.admin() == AdminState::Drain, 2000));
    assert!(h.wait_line("Server bk/s1 enters drain state", 1).is_some());
    *reply.lock().unwrap() = "ready down # disk full\n".into();
    let down = h.wait_line("is DOWN", 2).expect("agent down ignored");
    assert_eq!(
        norm(&down),
        "Server bk/s1 is DOWN, reason: Layer7 wrong status, code: 0, info: \"via agent : down (disk full)\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    assert_eq!(st.admin(), AdminState::Ready);
    *reply.lock().unwrap() = "up 100%\n".into();
    assert!(h.wait_line("is UP", 2).is_some());
    assert!(wait(|| st.is_usable() && st.weight() == 10, 2000));
}

#[test]
fn observe_layer7_marks_down_on_a_5xx_burst() {
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mut c = check(2000, 2, 3, InitState::FullyUp);
    c.fastinter = Some(Duration::from_millis(100));
    c.observe = Some(Observe::Layer7);
    c.error_limit = Some(3);
    c.on_error = Some(OnError::MarkDown);
    let t = target("bk", "s1", 0, srv.addr, c, CheckSettings::default(), false);
    let st = t.state.clone();
    let h = start(vec![t]);
    // Wait for the first (spread) check so only passive errors count.
    assert!(wait(
        || h.handle.snapshot(0, 0).unwrap().check_status
            == fulcrum_health::status::CheckStatus::L4Ok,
        2000
    ));
    for s in [503, 200, 502, 500] {
        h.handle.report_passive(0, 0, PassiveOutcome::HttpStatus(s));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(st.is_up(), "a 200 in between resets the count");
    h.handle
        .report_passive(0, 0, PassiveOutcome::HttpStatus(504));
    let down = h.wait_line("is DOWN", 2).expect("no DOWN");
    assert_eq!(
        norm(&down),
        "Server bk/s1 is DOWN, reason: Health analyze, info: \"Detected 3 consecutive errors, last one was: Wrong http response\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    assert_eq!(h.handle.snapshot(0, 0).unwrap().hanafail, 1);
    // fastinter: the next check comes soon and, passing, starts the way up.
    assert!(wait(
        || h.handle.snapshot(0, 0).unwrap().status_text == "DOWN 1/2",
        1500
    ));
}

#[test]
fn slowstart_ramps_the_weight_after_recovery() {
    let resp = Arc::new(Mutex::new(response("500 Bad", "")));
    let srv = http(resp.clone());
    let mut c = check(40, 1, 1, InitState::FullyUp);
    c.slowstart = Some(Duration::from_millis(400));
    let settings = CheckSettings {
        kind: Some(fulcrum_config::model::check::CheckKind::Http(
            Default::default(),
        )),
        ..Default::default()
    };
    let t = target("bk", "s1", 0, srv.addr, c, settings, false);
    let st = t.state.clone();
    let h = start(vec![t]);
    assert!(h.wait_line("is DOWN", 3).is_some());
    *resp.lock().unwrap() = response("200 OK", "");
    assert!(h.wait_line("is UP", 3).is_some());
    let early = st.ramp();
    assert!(early < WEIGHT_SCALE, "ramp {early}");
    assert!(wait(|| st.ramp() > early && st.ramp() < WEIGHT_SCALE, 1000));
    assert!(wait(|| st.ramp() == WEIGHT_SCALE, 2000));
}

#[test]
fn maintenance_from_the_operator_is_logged_and_counted() {
    let resp = Arc::new(Mutex::new(response("200 OK", "")));
    let srv = http(resp.clone());
    let a = target(
        "bk",
        "s1",
        0,
        srv.addr,
        check(30, 1, 1, InitState::FullyUp),
        CheckSettings {
            kind: Some(fulcrum_config::model::check::CheckKind::Http(
                Default::default(),
            )),
            ..Default::default()
        },
        false,
    );
    let h = start(vec![a]);
    assert!(h.handle.set_admin(0, 0, AdminState::Maint));
    assert_eq!(
        h.wait_line("maintenance", 1).unwrap(),
        "Server bk/s1 is going DOWN for maintenance. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    assert!(h
        .wait_line("backend bk has no server available!", 1)
        .is_some());
    assert_eq!(h.handle.snapshot(0, 0).unwrap().status_text, "MAINT");
    // Checks go on in maintenance, silently.
    *resp.lock().unwrap() = response("500 Oops", "");
    assert!(wait(|| h.handle.srv_is_up(0, 0) == Some(false), 2000));
    assert!(!h.messages().iter().any(|m| m.contains("is DOWN")));
    assert!(h.handle.set_admin(0, 0, AdminState::Ready));
    assert_eq!(
        h.wait_line("leaving", 1).unwrap(),
        "Server bk/s1 is DOWN (leaving forced maintenance). 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    *resp.lock().unwrap() = response("200 OK", "");
    assert!(h.wait_line("is UP", 2).is_some());
    assert!(!h.handle.set_admin(0, 9, AdminState::Maint));
    assert!(
        !h.handle.set_agent_enabled(0, 0, false),
        "no agent configured"
    );
    // `disable health`: checks stop, the state stays.
    assert!(h.handle.set_check_enabled(0, 0, false));
    let before = h.handle.snapshot(0, 0).unwrap();
    *resp.lock().unwrap() = response("500 Oops", "");
    std::thread::sleep(Duration::from_millis(150));
    let after = h.handle.snapshot(0, 0).unwrap();
    assert_eq!(
        (after.status_text.as_str(), after.chkfail),
        ("no check", before.chkfail)
    );
    assert_eq!(h.handle.srv_is_up(0, 0), Some(true));
}

#[test]
fn forced_health_and_shutdown_sessions_flag() {
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mut c = check(5000, 2, 2, InitState::FullyUp);
    c.shutdown_sessions_on_down = Some(true);
    let a = target("bk", "s1", 0, srv.addr, c, CheckSettings::default(), false);
    let h = start(vec![a]);
    assert!(h.handle.set_health(0, 0, Force::Down));
    assert_eq!(
        h.wait_line("is DOWN", 1).unwrap(),
        "Server bk/s1 is DOWN, changed from CLI. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    let ev = h
        .events
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.message.contains("is DOWN"))
        .cloned()
        .unwrap();
    assert!(ev.shutdown_sessions);
    assert_eq!(ev.severity, fulcrum_health::message::Severity::Alert);
    assert!(h.handle.set_health(0, 0, Force::Up));
    assert!(h.wait_line("is UP", 1).is_some());
    assert_eq!(h.handle.snapshot(0, 0).unwrap().status_text, "UP");
}

#[test]
fn tls_servers_get_a_connect_check_instead_of_a_request() {
    // A TLS port would answer an HTTP request with garbage; a connect check keeps it up.
    let tls_port = fake(Arc::new(|s| {
        let _ = s.write_all(b"\x15\x03\x01\x00\x02\x02\x46");
    }));
    let mut t = target(
        "bk",
        "s1",
        0,
        tls_port.addr,
        check(30, 1, 1, InitState::FullyUp),
        CheckSettings {
            kind: Some(fulcrum_config::model::check::CheckKind::Http(
                Default::default(),
            )),
            ..Default::default()
        },
        false,
    );
    t.ssl = true;
    let h = start(vec![t]);
    assert!(wait(
        || h.handle.snapshot(0, 0).unwrap().check_status
            == fulcrum_health::status::CheckStatus::L4Ok,
        2000
    ));
    std::thread::sleep(Duration::from_millis(100));
    assert!(h.handle.srv_is_up(0, 0).unwrap());
}

#[test]
fn starts_and_stops_from_inside_an_async_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
        let t = target(
            "bk",
            "s1",
            0,
            srv.addr,
            check(20, 1, 1, InitState::FullyUp),
            CheckSettings::default(),
            false,
        );
        let h = start(vec![t]);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            h.handle.snapshot(0, 0).unwrap().check_status,
            fulcrum_health::status::CheckStatus::L4Ok
        );
        h.handle.stop();
    });
}
