//! Hash-based algorithms and random: stability, movement, fallbacks.

mod common;
use common::*;
use fulcrum_balance::{
    BalanceAlgo, BalanceOptions, Balancer, HashFunction, HashMethod, HashType, RequestKey,
    ServerState, UriOpts,
};
use proptest::prelude::*;
use std::sync::Arc;

/// Consistent hashing with `avalanche`: sdbm alone keeps similar keys close,
/// hence on the same arc of the ring (as in HAProxy).
fn consistent() -> BalanceOptions {
    BalanceOptions {
        hash_type: HashType {
            method: HashMethod::Consistent,
            avalanche: true,
            ..HashType::default()
        },
        ..BalanceOptions::default()
    }
}

fn hdr_algo() -> BalanceAlgo {
    BalanceAlgo::Hdr {
        name: "X-Key".into(),
        use_domain_only: false,
    }
}

fn pick_hdr(b: &Balancer, key: &str) -> usize {
    let h = [("x-key", key.as_bytes())];
    b.select(&RequestKey {
        headers: &h,
        ..RequestKey::default()
    })
    .unwrap()
}

fn mapping(b: &Balancer, n: usize) -> Vec<usize> {
    (0..n)
        .map(|k| pick_hdr(b, &format!("client-{k}")))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn consistent_hashing_moves_only_the_leaving_servers_keys(
        weights in prop::collection::vec(1u32..=4, 3..10), leave in any::<prop::sample::Index>()
    ) {
        let n = weights.len();
        let b = Balancer::new(hdr_algo(), consistent(), servers(&weights)).unwrap();
        let before = mapping(&b, 2000);
        let gone = leave.index(n);
        b.servers()[gone].set_up(false);
        b.on_server_change(gone);
        let after = mapping(&b, 2000);
        let mut moved = 0;
        for (x, y) in before.iter().zip(&after) {
            if x != y {
                prop_assert_eq!(*x, gone, "a key moved away from a server that stayed");
                moved += 1;
            }
        }
        let tot: u32 = weights.iter().sum();
        let share = weights[gone] as f64 / tot as f64;
        prop_assert!((moved as f64) <= 2000.0 * share * 1.6 + 40.0, "moved {} share {}", moved, share);
        // Back up: every key returns home.
        b.servers()[gone].set_up(true);
        b.on_server_change(gone);
        prop_assert_eq!(mapping(&b, 2000), before);
    }

    #[test]
    fn map_based_hashing_spreads_by_weight(weights in prop::collection::vec(1u32..=4, 2..6)) {
        let b = balancer(hdr_algo(), &weights);
        let c = counts(&mapping(&b, 4000), weights.len());
        let tot: u32 = weights.iter().sum();
        for (i, &w) in weights.iter().enumerate() {
            let ideal = 4000.0 * w as f64 / tot as f64;
            prop_assert!((c[i] as f64 - ideal).abs() < ideal * 0.25 + 30.0, "{:?} vs {:?}", c, weights);
        }
    }
}

#[test]
fn unchanged_weights_move_no_key_and_a_weight_change_moves_only_that_servers_keys() {
    let b = Balancer::new(hdr_algo(), consistent(), servers(&[2, 2, 2, 2])).unwrap();
    let before = mapping(&b, 3000);
    b.servers()[2].set_weight(2);
    b.on_server_change(2);
    b.on_server_change(3);
    assert_eq!(mapping(&b, 3000), before);
    b.servers()[1].set_weight(1);
    b.on_server_change(1);
    let after = mapping(&b, 3000);
    let moved: Vec<_> = before.iter().zip(&after).filter(|(x, y)| x != y).collect();
    assert!(!moved.is_empty());
    assert!(
        moved.iter().all(|(&x, _)| x == 1),
        "keys only move away from the lighter server"
    );
    // Back to its weight: every key returns; above it, keys only come to it.
    b.servers()[1].set_weight(2);
    b.on_server_change(1);
    assert_eq!(mapping(&b, 3000), before);
    b.servers()[1].set_weight(5);
    b.on_server_change(1);
    let after = mapping(&b, 3000);
    let moved: Vec<_> = before.iter().zip(&after).filter(|(x, y)| x != y).collect();
    assert!(!moved.is_empty());
    assert!(
        moved.iter().all(|(_, &y)| y == 1),
        "keys only move to the heavier server"
    );
}

#[test]
fn hash_is_stable_across_balancers_and_threads() {
    let weights = [1, 2, 3];
    let a = Arc::new(Balancer::new(hdr_algo(), consistent(), servers(&weights)).unwrap());
    let want = mapping(&a, 500);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let a = Arc::clone(&a);
            std::thread::spawn(move || mapping(&a, 500))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}

/// Distinct servers visited by consecutive selections: a round-robin visits all.
fn fallback_visits(b: &Balancer, k: &RequestKey) -> usize {
    let mut seen: Vec<usize> = (0..8).filter_map(|_| b.select(k)).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

#[test]
fn absent_keys_fall_back_to_round_robin() {
    let algos = [
        BalanceAlgo::Source,
        BalanceAlgo::Uri(UriOpts::default()),
        BalanceAlgo::UrlParam {
            name: "id".into(),
            check_post: None,
        },
        hdr_algo(),
        BalanceAlgo::rdp_cookie_default(),
        BalanceAlgo::Hash,
    ];
    for opts in [BalanceOptions::default(), consistent()] {
        for algo in &algos {
            let b = Balancer::new(algo.clone(), opts, servers(&[1, 1, 1, 1])).unwrap();
            let k = RequestKey {
                uri: Some(b"/no/param"),
                ..RequestKey::default()
            };
            let want = if matches!(algo, BalanceAlgo::Uri(_)) {
                1
            } else {
                4
            };
            assert_eq!(fallback_visits(&b, &k), want, "{algo:?} {opts:?}");
        }
    }
}

#[test]
fn url_param_reads_the_query_then_a_post_body() {
    let algo = BalanceAlgo::UrlParam {
        name: "id".into(),
        check_post: Some(0),
    };
    let b = balancer(algo, &[1, 1, 1, 1, 1]);
    let q = |uri: &'static [u8], body: Option<&'static [u8]>| {
        b.select(&RequestKey {
            uri: Some(uri),
            post_body: body,
            ..RequestKey::default()
        })
    };
    for k in 0..20 {
        let uri = format!("/x?a=1&id=user{k}");
        let body = format!("id=user{k}&z=2");
        let u = Box::leak(uri.into_boxed_str()).as_bytes();
        let bd = Box::leak(body.into_boxed_str()).as_bytes();
        assert_eq!(q(u, None), q(b"/post", Some(bd)));
        assert_eq!(q(u, None), q(u, None));
    }
}

#[test]
fn hashing_skips_an_excluded_server() {
    for opts in [BalanceOptions::default(), consistent()] {
        let b = Balancer::new(hdr_algo(), opts, servers(&[1, 1, 1])).unwrap();
        for k in 0..50 {
            let key = format!("k{k}");
            let home = pick_hdr(&b, &key);
            let h = [("X-Key", key.as_bytes())];
            let ex = [home];
            let other = b
                .select(&RequestKey {
                    headers: &h,
                    exclude: &ex,
                    ..RequestKey::default()
                })
                .unwrap();
            assert_ne!(other, home);
        }
    }
}

#[test]
fn hash_balance_factor_spills_over_from_a_loaded_server() {
    let opts = BalanceOptions {
        hash_balance_factor: Some(125),
        ..consistent()
    };
    let b = Balancer::new(hdr_algo(), opts, servers(&[1, 1, 1, 1])).unwrap();
    let home = pick_hdr(&b, "sticky");
    for _ in 0..20 {
        b.take_conn(home);
    }
    assert_ne!(pick_hdr(&b, "sticky"), home);
    let plain = Balancer::new(hdr_algo(), consistent(), servers(&[1, 1, 1, 1])).unwrap();
    for _ in 0..20 {
        plain.take_conn(home);
    }
    assert_eq!(pick_hdr(&plain, "sticky"), home);
}

#[test]
fn random_two_picks_the_less_loaded_of_two() {
    let s = vec![
        Arc::new(ServerState::new(1, 1, false)),
        Arc::new(ServerState::new(2, 1, false)),
    ];
    let b2 = Balancer::new(BalanceAlgo::random_default(), BalanceOptions::default(), s).unwrap();
    for _ in 0..10 {
        b2.take_conn(0);
    }
    let c2 = counts(&picks(&b2, 4000), 2);
    let b1 = balancer(BalanceAlgo::Random { draws: 1 }, &[1, 1]);
    for _ in 0..10 {
        b1.take_conn(0);
    }
    let c1 = counts(&picks(&b1, 4000), 2);
    // One draw ignores load: server 0 keeps its arc of the ring (p ≈ 0.4–0.6).
    assert!(c1[0] > 1300, "{c1:?}");
    // Two draws: server 0 wins only when both land on it (p²).
    let p = c1[0] as f64 / 4000.0;
    let want = 4000.0 * p * p;
    assert!((c2[0] as f64 - want).abs() < 200.0, "{c2:?} vs {want}");
    assert!(c2[0] * 10 < c1[0] * 7, "{c2:?} vs {c1:?}");
}

#[test]
fn random_honours_weights() {
    let b = balancer(BalanceAlgo::Random { draws: 1 }, &[1, 3]);
    let c = counts(&picks(&b, 8000), 2);
    assert!((1600..2400).contains(&c[0]), "{c:?}");
}

#[test]
fn hash_functions_change_the_mapping_but_stay_stable() {
    for f in [
        HashFunction::Sdbm,
        HashFunction::Djb2,
        HashFunction::Wt6,
        HashFunction::Crc32,
    ] {
        for avalanche in [false, true] {
            let opts = BalanceOptions {
                hash_type: HashType {
                    method: HashMethod::MapBased,
                    function: f,
                    avalanche,
                },
                ..BalanceOptions::default()
            };
            let b = Balancer::new(hdr_algo(), opts, servers(&[1, 1, 1])).unwrap();
            let m = mapping(&b, 300);
            assert_eq!(m, mapping(&b, 300));
            let c = counts(&m, 3);
            assert!(c.iter().all(|&x| x > 50), "{f:?} {avalanche}: {c:?}");
        }
    }
}

#[test]
fn invalid_settings_are_refused() {
    let dup = vec![
        Arc::new(ServerState::new(1, 1, false)),
        Arc::new(ServerState::new(1, 1, false)),
    ];
    assert!(Balancer::new(BalanceAlgo::RoundRobin, BalanceOptions::default(), dup).is_err());
    let o = BalanceOptions {
        hash_balance_factor: Some(50),
        ..consistent()
    };
    assert!(Balancer::new(hdr_algo(), o, servers(&[1])).is_err());
    assert!(Balancer::new(
        BalanceAlgo::Random { draws: 0 },
        BalanceOptions::default(),
        servers(&[1])
    )
    .is_err());
}

#[test]
fn consistent_without_a_function_implies_avalanche() {
    let h = HashType::from_config(HashMethod::Consistent, None, false);
    assert!(h.avalanche);
    assert_eq!(h.function, HashFunction::Sdbm);
    let h = HashType::from_config(HashMethod::Consistent, Some(HashFunction::Sdbm), false);
    assert!(!h.avalanche);
    assert!(!HashType::from_config(HashMethod::MapBased, None, false).avalanche);
}

#[test]
fn rdp_cookie_without_a_name_reads_mstshash() {
    let algo = BalanceAlgo::RdpCookie {
        name: String::new(),
    };
    let b = balancer(algo, &[1, 1, 1, 1]);
    assert_eq!(b.algo(), &BalanceAlgo::rdp_cookie_default());
    let packet = |cookie: &str| {
        let mut p = vec![3u8, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
        p.extend_from_slice(format!("Cookie: {cookie}\r\n").as_bytes());
        p
    };
    let pick = |p: &[u8]| {
        b.select(&RequestKey {
            payload: Some(p),
            ..RequestKey::default()
        })
    };
    let alice = packet("mstshash=alice");
    let first = pick(&alice);
    for _ in 0..5 {
        assert_eq!(pick(&alice), first, "the same user stays on its server");
    }
    // Another cookie name is not a key: round-robin visits every server.
    let other = packet("msts=alice");
    let mut seen: Vec<_> = (0..8).filter_map(|_| pick(&other)).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 4);
}
