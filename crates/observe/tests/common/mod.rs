//! Snapshots shared by the stats tests.
#![allow(dead_code)]

use fulcrum_observe::stats::{
    BackendStats, CheckStats, FrontendStats, ProxyMode, ProxyStats, ServerStats, ServerStatus,
    Traffic,
};

pub fn sample_proxies() -> Vec<ProxyStats> {
    let fe = ProxyStats {
        name: "www".into(),
        iid: 2,
        mode: ProxyMode::Http,
        frontend: Some(FrontendStats {
            slim: 2000,
            traffic: Traffic {
                scur: 3,
                smax: 7,
                stot: 100,
                bin: 5000,
                bout: 90000,
                hrsp: [0, 95, 1, 3, 1, 0],
                req_tot: 100,
                ..Traffic::default()
            },
            ..FrontendStats::default()
        }),
        ..ProxyStats::default()
    };
    let server = |name: &str, sid, status| ServerStats {
        name: name.into(),
        sid,
        status,
        weight: 1,
        uweight: 1,
        addr: format!("127.0.0.1:80{sid:02}"),
        lastchg: 120,
        check: Some(CheckStats {
            status: "L7OK".into(),
            code: Some(200),
            duration_ms: Some(1),
            desc: "Layer7 check passed".into(),
            last: "OK".into(),
            rise: 2,
            fall: 3,
            health: 4,
            ..CheckStats::default()
        }),
        traffic: Traffic {
            stot: 50,
            lastsess: Some(3),
            ..Traffic::default()
        },
        ..ServerStats::default()
    };
    let be = ProxyStats {
        name: "app, \"main\"".into(),
        iid: 3,
        mode: ProxyMode::Http,
        servers: vec![
            server("s1", 1, ServerStatus::Up),
            server("s2", 2, ServerStatus::Maint),
        ],
        backend: Some(BackendStats {
            up: true,
            slim: 200,
            weight: 1,
            uweight: 2,
            act: 1,
            algo: "roundrobin".into(),
            ..BackendStats::default()
        }),
        ..ProxyStats::default()
    };
    vec![fe, be]
}
