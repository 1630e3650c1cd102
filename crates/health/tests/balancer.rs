//! With the balancer wired to `on_change`, traffic follows health: a down
//! server gets no new picks, backups take over and hand back.

mod common;

use common::*;
use fulcrum_balance::{BalanceAlgo, BalanceOptions, Balancer, RequestKey};
use fulcrum_config::model::check::{CheckKind, CheckSettings, InitState};
use fulcrum_health::runner::{HealthMonitor, MonitorOptions};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn picks(b: &Balancer, n: usize) -> HashSet<usize> {
    (0..n)
        .filter_map(|_| b.select(&RequestKey::default()))
        .collect()
}

fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn picks_follow_health_and_backups_take_over_then_hand_back() {
    let settings = CheckSettings {
        kind: Some(CheckKind::Http(Default::default())),
        ..Default::default()
    };
    let r1 = Arc::new(Mutex::new(response("200 OK", "")));
    let r2 = Arc::new(Mutex::new(response("200 OK", "")));
    let (s1, s2) = (http(r1.clone()), http(r2.clone()));
    let s3 = http(Arc::new(Mutex::new(response("200 OK", ""))));
    let c = || check(30, 1, 2, InitState::FullyUp);
    let targets = vec![
        target("bk", "a1", 0, s1.addr, c(), settings.clone(), false),
        target("bk", "a2", 1, s2.addr, c(), settings.clone(), false),
        target("bk", "b1", 2, s3.addr, c(), settings, true),
    ];
    let states = targets.iter().map(|t| t.state.clone()).collect();
    let lb = Arc::new(
        Balancer::new(BalanceAlgo::RoundRobin, BalanceOptions::default(), states).unwrap(),
    );
    let lb2 = lb.clone();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let handle = HealthMonitor::start(
        targets,
        MonitorOptions::default(),
        move |_, s| lb2.on_server_change(s),
        move |e| ev.lock().unwrap().push(e.message),
    )
    .unwrap();
    assert_eq!(picks(&lb, 20), HashSet::from([0, 1]));

    *r1.lock().unwrap() = response("503 Busy", "");
    assert!(wait_for(|| picks(&lb, 20) == HashSet::from([1])));
    *r2.lock().unwrap() = response("503 Busy", "");
    assert!(
        wait_for(|| picks(&lb, 20) == HashSet::from([2])),
        "backup takes over"
    );
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.contains("Running on backup.")));
    *r1.lock().unwrap() = response("200 OK", "");
    assert!(
        wait_for(|| picks(&lb, 20) == HashSet::from([0])),
        "backup hands back"
    );
    assert_eq!(handle.nbsrv(0), 1);
    handle.stop();
}
