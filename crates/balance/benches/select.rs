//! One `Balancer::select` per algorithm with 2, 100 and 1000 servers.
//! `cargo bench -p fulcrum-balance --bench select`; numbers in
//! docs/performance-balance.md.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use fulcrum_balance::{
    BalanceAlgo, BalanceOptions, Balancer, HashMethod, HashType, RequestKey, ServerState, UriOpts,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

fn balancer(algo: BalanceAlgo, method: HashMethod, n: usize) -> Balancer {
    let servers = (0..n)
        .map(|i| Arc::new(ServerState::new(i as u32 + 1, 1 + (i as u32 % 3), false)))
        .collect();
    let opts = BalanceOptions {
        hash_type: HashType::from_config(method, None, false),
        ..BalanceOptions::default()
    };
    let b = Balancer::new(algo, opts, servers).expect("valid servers");
    // Some load, so leastconn and random compare real numbers.
    for i in 0..n {
        for _ in 0..(i % 5) {
            b.take_conn(i);
        }
    }
    b
}

fn bench(c: &mut Criterion) {
    let uris: Vec<String> = (0..1024)
        .map(|i| format!("/static/{i:x}/app.js?id=u{i}"))
        .collect();
    let hdrs: Vec<String> = (0..1024).map(|i| format!("session-{}", i * 7919)).collect();
    let cases: Vec<(&str, BalanceAlgo, HashMethod)> = vec![
        ("roundrobin", BalanceAlgo::RoundRobin, HashMethod::MapBased),
        ("static-rr", BalanceAlgo::StaticRr, HashMethod::MapBased),
        ("leastconn", BalanceAlgo::LeastConn, HashMethod::MapBased),
        ("first", BalanceAlgo::First, HashMethod::MapBased),
        (
            "random",
            BalanceAlgo::random_default(),
            HashMethod::MapBased,
        ),
        ("source/map", BalanceAlgo::Source, HashMethod::MapBased),
        (
            "source/consistent",
            BalanceAlgo::Source,
            HashMethod::Consistent,
        ),
        (
            "uri/map",
            BalanceAlgo::Uri(UriOpts::default()),
            HashMethod::MapBased,
        ),
        (
            "uri/consistent",
            BalanceAlgo::Uri(UriOpts::default()),
            HashMethod::Consistent,
        ),
        (
            "url_param/consistent",
            BalanceAlgo::UrlParam {
                name: "id".into(),
                check_post: None,
            },
            HashMethod::Consistent,
        ),
        (
            "hdr/map",
            BalanceAlgo::Hdr {
                name: "X-Session".into(),
                use_domain_only: false,
            },
            HashMethod::MapBased,
        ),
    ];
    let mut g = c.benchmark_group("select");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (name, algo, method) in cases {
        for n in [2usize, 100, 1000] {
            let b = balancer(algo.clone(), method, n);
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(name, n), |bench| {
                bench.iter(|| {
                    i = (i + 1) & 1023;
                    let h = [("X-Session", hdrs[i].as_bytes())];
                    let k = RequestKey {
                        source: Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32 * 2654))),
                        uri: Some(uris[i].as_bytes()),
                        headers: &h,
                        ..RequestKey::default()
                    };
                    black_box(b.select(&k))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
