//! `disable-on-404` (NOLB), `http-check send-state` on the wire, `init-state`.

mod common;

use common::*;
use fulcrum_config::model::check::{CheckKind, CheckSettings, HttpCheckSend, InitState};
use fulcrum_health::runner::{HealthMonitor, MonitorOptions};
use fulcrum_health::status::CheckStatus;
use fulcrum_health::Force;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
fn a_404_takes_an_up_server_out_of_balancing_until_it_answers_200() {
    let resp = Arc::new(Mutex::new(response("200 OK", "")));
    let srv = http(resp.clone());
    let mut set = httpchk();
    set.disable_on_404 = Some(true);
    let t = target(
        "bk",
        "s1",
        0,
        srv.addr,
        check(30, 2, 3, InitState::FullyUp),
        set,
        false,
    );
    let st = t.state.clone();
    let h = start(vec![t]);
    h.handle.set_requeue(|_, _, _| 4);
    assert!(wait(
        || h.handle.snapshot(0, 0).unwrap().check_code == Some(200),
        2000
    ));
    *resp.lock().unwrap() = response("404 Not Found", "");
    let line = h.wait_line("is stopping", 2).expect("no NOLB line");
    assert_eq!(
        norm(&line),
        "Server bk/s1 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: Nms. 0 active and 0 backup servers online. 4 sessions requeued, 0 total in queue."
    );
    // Still UP (existing sessions go on), but no new traffic.
    assert!(st.is_up() && st.weight() == 0 && !st.is_usable());
    assert_eq!(h.handle.snapshot(0, 0).unwrap().status_text, "NOLB");
    assert_eq!(h.handle.srv_is_up(0, 0), Some(true));
    // Repeated 404s neither take it down nor log again.
    std::thread::sleep(Duration::from_millis(200));
    assert!(st.is_up());
    assert_eq!(
        h.messages()
            .iter()
            .filter(|m| m.contains("stopping"))
            .count(),
        1
    );
    *resp.lock().unwrap() = response("200 OK", "");
    assert!(wait(|| st.weight() == 10 && st.is_usable(), 2000));
    assert_eq!(h.handle.snapshot(0, 0).unwrap().status_text, "UP");
}

#[test]
fn send_state_reaches_the_server_in_haproxys_format() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s2 = seen.clone();
    let srv = fake(Arc::new(move |s| {
        let head = String::from_utf8_lossy(&read_head(s)).into_owned();
        s2.lock().unwrap().push(head);
        let _ = s.write_all(response("200 OK", "").as_bytes());
    }));
    let mut set = httpchk();
    set.send_state = Some(true);
    let a = target(
        "bck",
        "srv2",
        0,
        srv.addr,
        check(40, 2, 3, InitState::FullyUp),
        set.clone(),
        false,
    );
    // A second, unchecked server of the same backend counts in the totals.
    let mut b_check = check(40, 2, 3, InitState::FullyUp);
    b_check.enabled = Some(false);
    let b = target("bck", "srv1", 1, refused_addr(), b_check, set, false);
    let opts = MonitorOptions {
        spread_checks: 0,
        node: "lb1".into(),
    };
    let h = HealthMonitor::start(vec![a, b], opts, |_, _| {}, |_| {}).unwrap();
    assert!(wait(|| !seen.lock().unwrap().is_empty(), 2000));
    let head = seen.lock().unwrap()[0].clone();
    let want = format!(
        "\r\nx-haproxy-server-state: UP; address=127.0.0.1; port={}; name=bck/srv2; node=lb1; weight=10/20; scur=0/0; qcur=0\r\n",
        srv.addr.port()
    );
    assert!(head.contains(&want), "{head:?}");
    h.stop();
}

#[test]
fn init_state_decides_where_a_server_starts() {
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let refused = refused_addr();
    let mk = |name: &str, idx: usize, addr, init| {
        target(
            "bk",
            name,
            idx,
            addr,
            check(300, 3, 2, init),
            CheckSettings::default(),
            false,
        )
    };
    let down = mk("down", 0, srv.addr, InitState::Down);
    let fully_down = mk("fully_down", 1, srv.addr, InitState::FullyDown);
    let up = mk("up", 2, refused, InitState::Up);
    let (sd, sfd, su) = (
        down.state.clone(),
        fully_down.state.clone(),
        up.state.clone(),
    );
    let h = start(vec![down, fully_down, up]);
    // Before any check: only `up` takes traffic.
    assert!(!sd.is_up() && !sfd.is_up() && su.is_up());
    // `down`: the first good check brings it up; `up`: the first failure
    // takes it down (rise 3, fall 2 notwithstanding).
    assert!(wait(|| sd.is_up() && !su.is_up(), 2000));
    let snap = h.handle.snapshot(0, 1).unwrap();
    // `fully-down` needs `rise` (3) good checks, one `inter` apart.
    assert!(!sfd.is_up() && snap.health < 3, "{snap:?}");
    assert!(wait(|| sfd.is_up(), 3000));
    assert!(h.started.elapsed() >= Duration::from_millis(600));
}

#[test]
fn check_port_and_addr_override_the_servers() {
    let live = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mk = |name: &str, idx: usize, c| {
        target(
            "bk",
            name,
            idx,
            refused_addr(),
            c,
            CheckSettings::default(),
            false,
        )
    };
    // `port`: the server's own port refuses, the check port answers.
    let mut c = check(30, 1, 1, InitState::Up);
    c.port = Some(live.addr.port());
    let with_port = mk("p", 0, c);
    // `addr` + `port` together.
    let mut c = check(30, 1, 1, InitState::Up);
    c.addr = Some("127.0.0.1".into());
    c.port = Some(live.addr.port());
    let with_addr = mk("a", 1, c);
    // Neither: checks hit the refusing address.
    let plain = mk("n", 2, check(30, 1, 1, InitState::Up));
    let (sp, sa, sn) = (
        with_port.state.clone(),
        with_addr.state.clone(),
        plain.state.clone(),
    );
    let h = start(vec![with_port, with_addr, plain]);
    assert!(wait(|| !sn.is_up(), 2000));
    std::thread::sleep(Duration::from_millis(100));
    assert!(sp.is_up() && sa.is_up());
    assert_eq!(
        h.handle.snapshot(0, 0).unwrap().check_status,
        fulcrum_health::status::CheckStatus::L4Ok
    );
}

#[test]
fn an_active_coming_up_asks_to_close_backup_sessions() {
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let mut c = check(5000, 1, 1, InitState::FullyUp);
    c.shutdown_backup_sessions_on_up = Some(true);
    let active = target(
        "bk",
        "a",
        0,
        srv.addr,
        c.clone(),
        CheckSettings::default(),
        false,
    );
    let backup = target("bk", "b", 1, srv.addr, c, CheckSettings::default(), true);
    let h = start(vec![active, backup]);
    assert!(h.handle.set_health(0, 1, Force::Down));
    assert!(h.handle.set_health(0, 1, Force::Up));
    assert!(h.handle.set_health(0, 0, Force::Down));
    assert!(h.handle.set_health(0, 0, Force::Up));
    let ev = h.events.lock().unwrap().clone();
    let ups: Vec<_> = ev.iter().filter(|e| e.message.contains("is UP")).collect();
    assert_eq!(ups.len(), 2, "{ev:?}");
    // The backup's own return closes nothing; the active's does.
    assert!(
        ups[0].message.starts_with("Backup Server bk/b is UP") && !ups[0].shutdown_backup_sessions
    );
    assert!(ups[1].message.starts_with("Server bk/a is UP") && ups[1].shutdown_backup_sessions);
}

#[test]
fn health_stopping_takes_the_server_out_until_a_normal_pass() {
    let srv = http(Arc::new(Mutex::new(response("200 OK", ""))));
    // A long interval: no check runs during the test.
    let c = check(60_000, 2, 3, InitState::FullyUp);
    let t = target("bk", "a", 0, srv.addr, c, CheckSettings::default(), false);
    let st = t.state.clone();
    let h = start(vec![t]);
    // After the first check (a pass would end NOLB).
    let checked = || h.handle.snapshot(0, 0).unwrap().check_status != CheckStatus::Init;
    assert!(wait(checked, 5000));
    assert!(h.handle.set_health(0, 0, Force::Stopping));
    let s = h.handle.snapshot(0, 0).unwrap();
    assert!(s.stopping && st.is_up() && st.weight() == 0, "{s:?}");
    assert_eq!(s.status_text, "NOLB");
    let ev = h.events.lock().unwrap().clone();
    assert!(
        ev.iter().any(|e| e
            .message
            .starts_with("Server bk/a is stopping, changed from CLI")),
        "{ev:?}"
    );
    assert!(h.handle.set_health(0, 0, Force::Up));
    let s = h.handle.snapshot(0, 0).unwrap();
    assert!(
        !s.stopping && st.weight() == st.initial_weight() && s.status_text == "UP",
        "{s:?}"
    );
    // No agent here: `set server … agent` is refused.
    assert!(!h.handle.set_agent(0, 0, false));
    assert!(st.is_up());
}
