//! `option log-health-checks` agent lines and the engine's requeue count.

mod common;

use common::*;
use fulcrum_balance::AdminState;
use fulcrum_config::model::check::{CheckSettings, InitState};
use fulcrum_health::Force;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn count(h: &Harness, needle: &str) -> usize {
    h.messages().iter().filter(|m| m.contains(needle)).count()
}

#[test]
fn agent_results_are_logged_in_haproxy_words_when_the_counter_moves() {
    let reply = Arc::new(Mutex::new(String::from("75%\n")));
    let r = reply.clone();
    let agent = fake(Arc::new(move |s| {
        let _ = s.write_all(r.lock().unwrap().as_bytes());
    }));
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mut c = check(1000, 2, 2, InitState::FullyUp);
    c.enabled = Some(false);
    c.agent.enabled = Some(true);
    c.agent.port = Some(agent.addr.port());
    c.agent.addr = Some("127.0.0.1".into());
    c.agent.inter = Some(Duration::from_millis(20));
    let mut t = target("bk", "s1", 0, srv.addr, c, CheckSettings::default(), false);
    t.log_health_checks = true;
    let st = t.state.clone();
    let h = start(vec![t]);
    // A weight alone changes no health: no line.
    assert!(h.wait_line("is DOWN", 0).is_none());
    std::thread::sleep(Duration::from_millis(120));
    assert!(st.weight() < 10 && st.weight() > 0, "{}", st.weight());
    assert_eq!(count(&h, "Agent check"), 0, "{:?}", h.messages());

    *reply.lock().unwrap() = "down # disk full\n".into();
    let line = h.wait_line("Agent check", 2).expect("no agent line");
    assert_eq!(
        norm(&line),
        "Agent check for server bk/s1 failed, reason: Layer7 wrong status, code: 0, info: \"via agent : down (disk full)\", check duration: Nms, status: 0/1 DOWN."
    );
    // The agent line comes before the server's DOWN line, as in HAProxy.
    h.wait_line("is DOWN", 2).expect("no DOWN line");
    let msgs = h.messages();
    let a = msgs.iter().position(|m| m.contains("Agent check")).unwrap();
    let d = msgs.iter().position(|m| m.contains("is DOWN")).unwrap();
    assert!(a < d, "{msgs:?}");
    // Repeated `down` replies leave the counter at 0: one line only.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(count(&h, "Agent check"), 1, "{:?}", h.messages());

    *reply.lock().unwrap() = "up\n".into();
    let line = h
        .wait_line("Agent check for server bk/s1 succeeded", 2)
        .unwrap();
    assert_eq!(
        norm(&line),
        "Agent check for server bk/s1 succeeded, reason: Layer7 check passed, code: 0, info: \"via agent : up\", check duration: Nms, status: 1/1 UP."
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(count(&h, "succeeded"), 1, "{:?}", h.messages());
}

#[test]
fn agent_lines_need_log_health_checks() {
    let agent = fake(Arc::new(|s| {
        let _ = s.write_all(b"down\n");
    }));
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mut c = check(1000, 2, 2, InitState::FullyUp);
    c.enabled = Some(false);
    c.agent.enabled = Some(true);
    c.agent.port = Some(agent.addr.port());
    c.agent.addr = Some("127.0.0.1".into());
    c.agent.inter = Some(Duration::from_millis(20));
    let t = target("bk", "s1", 0, srv.addr, c, CheckSettings::default(), false);
    let h = start(vec![t]);
    assert!(h.wait_line("is DOWN", 2).is_some());
    assert_eq!(count(&h, "Agent check"), 0);
}

#[test]
fn the_engine_supplies_the_requeued_count() {
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let t = target(
        "bk",
        "s1",
        0,
        srv.addr,
        check(5000, 2, 2, InitState::FullyUp),
        CheckSettings::default(),
        false,
    );
    let h = start(vec![t]);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let n = Arc::new(AtomicU32::new(7));
    let (c, n2) = (calls.clone(), n.clone());
    h.handle.set_requeue(move |b, s, up| {
        c.lock().unwrap().push((b, s, up));
        n2.load(Ordering::Relaxed)
    });
    assert!(h.handle.set_health(0, 0, Force::Down));
    assert_eq!(
        h.wait_line("is DOWN", 1).unwrap(),
        "Server bk/s1 is DOWN, changed from CLI. 0 active and 0 backup servers left. 0 sessions active, 7 requeued, 0 remaining in queue."
    );
    n.store(3, Ordering::Relaxed);
    assert!(h.handle.set_health(0, 0, Force::Up));
    assert_eq!(
        h.wait_line("is UP", 1).unwrap(),
        "Server bk/s1 is UP, changed from CLI. 1 active and 0 backup servers online. 3 sessions requeued, 0 total in queue."
    );
    n.store(2, Ordering::Relaxed);
    assert!(h.handle.set_admin(0, 0, AdminState::Maint));
    assert_eq!(
        h.wait_line("maintenance", 1).unwrap(),
        "Server bk/s1 is going DOWN for maintenance. 0 active and 0 backup servers left. 0 sessions active, 2 requeued, 0 remaining in queue."
    );
    assert_eq!(
        *calls.lock().unwrap(),
        vec![(0, 0, false), (0, 0, true), (0, 0, false)]
    );
}
