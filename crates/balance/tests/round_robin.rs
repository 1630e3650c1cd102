//! roundrobin, static-rr, leastconn, first: shares, order, states.

mod common;
use common::*;
use fulcrum_balance::{AdminState, BalanceAlgo, BalanceOptions, Balancer, RequestKey, ServerState};
use proptest::prelude::*;
use std::sync::Arc;

proptest! {
    #[test]
    fn roundrobin_gives_each_server_its_weight_per_cycle(
        weights in prop::collection::vec(1u32..=20, 1..8), cycles in 1usize..3
    ) {
        let b = balancer(BalanceAlgo::RoundRobin, &weights);
        let tot: u32 = weights.iter().sum();
        let seq = picks(&b, tot as usize * cycles);
        let want: Vec<u32> = weights.iter().map(|w| w * cycles as u32).collect();
        prop_assert_eq!(counts(&seq, weights.len()), want);
    }

    #[test]
    fn static_rr_gives_each_server_its_weight_per_cycle(
        weights in prop::collection::vec(1u32..=20, 1..8)
    ) {
        let b = balancer(BalanceAlgo::StaticRr, &weights);
        let tot: u32 = weights.iter().sum();
        let seq = picks(&b, tot as usize);
        prop_assert_eq!(counts(&seq, weights.len()), weights);
    }

    #[test]
    fn roundrobin_stays_close_to_the_ideal_share(
        weights in prop::collection::vec(1u32..=10, 2..6)
    ) {
        let b = balancer(BalanceAlgo::RoundRobin, &weights);
        let tot: f64 = weights.iter().sum::<u32>() as f64;
        let seq = picks(&b, tot as usize * 2);
        let mut c = vec![0f64; weights.len()];
        for (k, &i) in seq.iter().enumerate() {
            c[i] += 1.0;
            for (j, &w) in weights.iter().enumerate() {
                let ideal = (k + 1) as f64 * w as f64 / tot;
                prop_assert!((c[j] - ideal).abs() < 2.0, "server {} at pick {}: {} vs {}", j, k, c[j], ideal);
            }
        }
    }

    #[test]
    fn leastconn_picks_a_minimum(
        loads in prop::collection::vec((0u32..6, 1u32..5), 1..8)
    ) {
        let weights: Vec<u32> = loads.iter().map(|l| l.1).collect();
        let b = balancer(BalanceAlgo::LeastConn, &weights);
        for (i, &(c, _)) in loads.iter().enumerate() {
            for _ in 0..c { b.take_conn(i); }
        }
        let got = b.select(&RequestKey::default()).unwrap();
        // HAProxy's order: idle servers first, then the fewest connections per
        // unit of weight once this one is added ((c + 1) / w), compared exactly.
        let load = |c: u32, w: u32| if c == 0 { (0, 1) } else { (c as u64 + 1, w as u64) };
        let (gn, gd) = load(loads[got].0, loads[got].1);
        for &(c, w) in &loads {
            let (n, d) = load(c, w);
            prop_assert!(gn * d <= n * gd, "picked {:?} of {:?}", loads[got], loads);
        }
    }
}

#[test]
fn roundrobin_order_is_smooth() {
    let b = balancer(BalanceAlgo::RoundRobin, &[1, 2]);
    assert_eq!(picks(&b, 6), vec![0, 1, 1, 0, 1, 1]);
    let b = balancer(BalanceAlgo::RoundRobin, &[5, 1, 1]);
    assert_eq!(
        picks(&b, 14),
        vec![0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 1, 0, 0, 2]
    );
    let b = balancer(BalanceAlgo::StaticRr, &[5, 1, 1]);
    assert_eq!(picks(&b, 7), vec![0, 0, 0, 1, 0, 0, 2]);
}

#[test]
fn roundrobin_weight_change_takes_effect_at_once() {
    let b = balancer(BalanceAlgo::RoundRobin, &[1, 1]);
    picks(&b, 3);
    b.servers()[1].set_weight(3);
    b.on_server_change(1);
    let c = counts(&picks(&b, 40), 2);
    assert!((9..=11).contains(&c[0]), "{c:?}");
    b.servers()[0].set_weight(0);
    b.on_server_change(0);
    assert_eq!(counts(&picks(&b, 10), 2), vec![0, 10]);
}

#[test]
fn slowstart_ramp_lowers_the_share() {
    let b = balancer(BalanceAlgo::RoundRobin, &[1, 1]);
    b.servers()[1].set_ramp(4); // a quarter of its weight
    b.on_server_change(1);
    let c = counts(&picks(&b, 100), 2);
    assert!((78..=82).contains(&c[0]), "{c:?}");
}

#[test]
fn leastconn_rotates_among_equals() {
    let b = balancer(BalanceAlgo::LeastConn, &[1, 1, 1]);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let i = b.select(&RequestKey::default()).unwrap();
        b.take_conn(i);
        seen.push(i);
    }
    assert_eq!(seen, vec![0, 1, 2]);
    b.drop_conn(1);
    assert_eq!(b.select(&RequestKey::default()), Some(1));
}

#[test]
fn first_fills_servers_in_id_order() {
    let ids = [7u32, 3, 5];
    let servers: Vec<_> = ids
        .iter()
        .map(|&id| Arc::new(ServerState::new(id, 1, false).with_maxconn(2)))
        .collect();
    let b = Balancer::new(BalanceAlgo::First, BalanceOptions::default(), servers).unwrap();
    let mut order = Vec::new();
    for _ in 0..6 {
        let i = b.select(&RequestKey::default()).unwrap();
        b.take_conn(i);
        order.push(ids[i]);
    }
    assert_eq!(order, vec![3, 3, 5, 5, 7, 7]);
    assert_eq!(b.select(&RequestKey::default()), None, "all full: queue");
    assert!(b.has_usable());
    b.drop_conn(2);
    assert_eq!(b.select(&RequestKey::default()).map(|i| ids[i]), Some(5));
}

#[test]
fn backups_serve_only_when_no_active_is_usable() {
    let mk = |all_backups| {
        let s = vec![
            Arc::new(ServerState::new(1, 1, false)),
            Arc::new(ServerState::new(2, 1, true)),
            Arc::new(ServerState::new(3, 1, true)),
        ];
        let o = BalanceOptions {
            all_backups,
            ..BalanceOptions::default()
        };
        Balancer::new(BalanceAlgo::RoundRobin, o, s).unwrap()
    };
    for all in [false, true] {
        let b = mk(all);
        assert_eq!(counts(&picks(&b, 4), 3), vec![4, 0, 0]);
        b.servers()[0].set_up(false);
        b.on_server_change(0);
        let want = if all { vec![0, 2, 2] } else { vec![0, 4, 0] };
        assert_eq!(counts(&picks(&b, 4), 3), want, "allbackups {all}");
        b.servers()[0].set_up(true);
        b.on_server_change(0);
        assert_eq!(counts(&picks(&b, 4), 3), vec![4, 0, 0]);
    }
}

#[test]
fn drain_maint_and_weight_zero_get_no_new_traffic() {
    for algo in [
        BalanceAlgo::RoundRobin,
        BalanceAlgo::StaticRr,
        BalanceAlgo::LeastConn,
        BalanceAlgo::First,
    ] {
        let b = balancer(algo.clone(), &[1, 1, 1, 1]);
        b.servers()[0].set_admin(AdminState::Drain);
        b.servers()[1].set_admin(AdminState::Maint);
        b.servers()[2].set_weight(0);
        for i in 0..3 {
            b.on_server_change(i);
        }
        assert_eq!(counts(&picks(&b, 8), 4), vec![0, 0, 0, 8], "{algo:?}");
        b.servers()[3].set_up(false);
        b.on_server_change(3);
        assert_eq!(b.select(&RequestKey::default()), None);
        assert!(!b.has_usable());
    }
}

#[test]
fn excluded_server_gives_the_next_choice_and_full_ones_are_skipped() {
    for algo in [
        BalanceAlgo::RoundRobin,
        BalanceAlgo::StaticRr,
        BalanceAlgo::LeastConn,
        BalanceAlgo::First,
    ] {
        let b = balancer(algo.clone(), &[1, 1]);
        let k = RequestKey {
            exclude: &[0],
            ..RequestKey::default()
        };
        for _ in 0..4 {
            assert_eq!(b.select(&k), Some(1), "{algo:?}");
        }
        let k = RequestKey {
            exclude: &[0, 1],
            ..RequestKey::default()
        };
        assert!(b.select(&k).is_some(), "last resort: an excluded server");
        b.servers()[1].set_maxconn(1);
        b.take_conn(1);
        let k = RequestKey {
            exclude: &[0],
            ..RequestKey::default()
        };
        assert_eq!(
            b.select(&k),
            Some(0),
            "{algo:?}: only the excluded one is free"
        );
    }
}

#[derive(Debug, Clone)]
enum Event {
    Weight(usize, u32),
    Up(usize, bool),
    Admin(usize, u8),
    Take(usize),
    Drop(usize),
    Select(Vec<usize>),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0usize..6, 0u32..=8).prop_map(|(i, w)| Event::Weight(i, w)),
        (0usize..6, any::<bool>()).prop_map(|(i, u)| Event::Up(i, u)),
        (0usize..6, 0u8..3).prop_map(|(i, a)| Event::Admin(i, a)),
        (0usize..6).prop_map(Event::Take),
        (0usize..6).prop_map(Event::Drop),
        prop::collection::vec(0usize..6, 0..3).prop_map(Event::Select),
    ]
}

fn all_algos() -> Vec<BalanceAlgo> {
    vec![
        BalanceAlgo::RoundRobin,
        BalanceAlgo::StaticRr,
        BalanceAlgo::LeastConn,
        BalanceAlgo::First,
        BalanceAlgo::random_default(),
        BalanceAlgo::Source,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever happens at run time, a selection is a server that may take
    /// load-balanced traffic (active before backup), or none when none may.
    #[test]
    fn runtime_changes_keep_selections_valid(
        events in prop::collection::vec(event(), 1..60), backups in 0usize..3
    ) {
        for algo in all_algos() {
            let servers: Vec<_> = (0..6)
                .map(|i| Arc::new(ServerState::new(i as u32 + 1, 1 + i as u32 % 3, i >= 6 - backups).with_maxconn(3)))
                .collect();
            let b = Balancer::new(algo.clone(), BalanceOptions::default(), servers).unwrap();
            for e in &events {
                match e {
                    Event::Weight(i, w) => { b.servers()[*i].set_weight(*w); b.on_server_change(*i) }
                    Event::Up(i, u) => { b.servers()[*i].set_up(*u); b.on_server_change(*i) }
                    Event::Admin(i, a) => {
                        let s = [AdminState::Ready, AdminState::Drain, AdminState::Maint][*a as usize];
                        b.servers()[*i].set_admin(s);
                        b.on_server_change(*i)
                    }
                    Event::Take(i) => b.take_conn(*i),
                    Event::Drop(i) => b.drop_conn(*i),
                    Event::Select(ex) => {
                        let k = RequestKey { exclude: ex, source: Some([10, 0, 0, ex.len() as u8].into()), ..RequestKey::default() };
                        let usable: Vec<bool> = b.servers().iter().map(|s| s.is_usable()).collect();
                        let any_active = b.servers().iter().any(|s| s.is_usable() && !s.is_backup());
                        match b.select(&k) {
                            Some(i) => {
                                prop_assert!(usable[i], "{:?} picked unusable {}", algo, i);
                                prop_assert!(!any_active || !b.servers()[i].is_backup(), "{:?}: backup while an active is up", algo);
                            }
                            None => prop_assert!(
                                !usable.iter().any(|&u| u) || b.has_usable(),
                                "{:?}: nothing picked though servers are usable", algo
                            ),
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn selects_from_many_threads_while_servers_change() {
    for algo in all_algos() {
        let b = Arc::new(balancer(algo.clone(), &[1, 2, 3, 4]));
        let workers: Vec<_> = (0..3)
            .map(|t| {
                let b = Arc::clone(&b);
                std::thread::spawn(move || {
                    let mut n = 0;
                    for k in 0..3000u32 {
                        let src = Some(std::net::IpAddr::from((k * 7 + t).to_be_bytes()));
                        if let Some(i) = b.select(&RequestKey {
                            source: src,
                            ..RequestKey::default()
                        }) {
                            b.take_conn(i);
                            b.drop_conn(i);
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        for k in 0..200u32 {
            let i = (k % 4) as usize;
            b.servers()[i].set_weight(1 + k % 5);
            b.on_server_change(i);
        }
        let total: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(total, 9000, "{algo:?}: every request found a server");
        assert!(b.servers().iter().all(|s| s.cur_conns() == 0));
    }
}

#[test]
fn an_empty_backend_selects_nothing() {
    for algo in all_algos() {
        let b = Balancer::new(algo.clone(), BalanceOptions::default(), Vec::new()).unwrap();
        assert_eq!(b.select(&RequestKey::default()), None, "{algo:?}");
        assert!(!b.has_usable());
    }
}

#[test]
fn leastconn_counts_queued_requests() {
    let b = balancer(BalanceAlgo::LeastConn, &[1, 1]);
    b.servers()[0].set_queue_len(3);
    b.on_load_change(0);
    for _ in 0..3 {
        assert_eq!(b.select(&RequestKey::default()), Some(1));
    }
    b.servers()[0].set_queue_len(0);
    b.on_load_change(0);
    b.take_conn(1);
    assert_eq!(b.select(&RequestKey::default()), Some(0));
}
