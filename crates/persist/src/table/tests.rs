use super::*;
use crate::data::{Cnt, Event, Rt};
use fulcrum_config::model::persist::StoreData;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

fn table(size: u64, expire: Option<u64>, nopurge: bool, store: &[StoreData]) -> StickTable {
    StickTable::new(TableConfig {
        name: "t".into(),
        key: KeyType::Ip,
        size,
        expire,
        nopurge,
        schema: Schema::new(store),
    })
}

fn ip(n: u32) -> Key {
    Key::Ip(Ipv4Addr::from(n))
}

fn req_rate() -> Vec<StoreData> {
    vec![
        StoreData::HttpReqRate(Duration::from_secs(10)),
        StoreData::HttpReqCnt,
    ]
}

#[test]
fn size_bounds_memory_under_a_flood() {
    let t = table(1000, Some(30_000), false, &req_rate());
    for n in 0..100_000u32 {
        t.update(&ip(n), u64::from(n), |d, s| {
            d.apply(s, Event::HttpReq, u64::from(n))
        })
        .unwrap();
        assert!(t.len() <= 1000);
    }
    assert!(
        t.len() > 900,
        "the table should stay nearly full, has {}",
        t.len()
    );
    // The most recent keys survived, the oldest were purged.
    assert!(t.contains(&ip(99_999), 100_000));
    assert!(!t.contains(&ip(0), 100_000));
}

#[test]
fn least_recently_touched_entries_go_first() {
    let t = table(SHARDS as u64 * 2, None, false, &[]);
    // Fill the table, then touch the first key again: it must survive eviction.
    let keys: Vec<Key> = (0..SHARDS as u32 * 2).map(ip).collect();
    for (i, k) in keys.iter().enumerate() {
        t.update(k, i as u64, |_, _| ()).unwrap();
    }
    t.update(&keys[0], 1_000, |_, _| ()).unwrap();
    for n in 0..SHARDS as u32 * 2 {
        t.update(&ip(1_000_000 + n), 2_000 + u64::from(n), |_, _| ())
            .unwrap();
    }
    assert!(t.len() <= SHARDS as u64 * 2);
    let survivors = keys.iter().filter(|k| t.contains(k, 5_000)).count();
    assert!(survivors < keys.len());
    assert!(t.contains(&keys[0], 5_000) || survivors == 0);
}

#[test]
fn entries_expire_after_idle_time_and_touch_refreshes() {
    let t = table(100, Some(30_000), false, &req_rate());
    let k = ip(1);
    t.update(&k, 0, |_, _| ()).unwrap();
    t.update(&k, 20_000, |_, _| ()).unwrap();
    assert!(t.contains(&k, 49_999));
    assert!(!t.contains(&k, 50_000));
    assert_eq!(t.len(), 0);
}

#[test]
fn tracked_entries_neither_expire_nor_get_purged() {
    let t = table(1, Some(1_000), false, &[]);
    let k = ip(7);
    t.acquire(&k, 0).unwrap();
    assert!(t.contains(&k, 60_000));
    // Full with a tracked entry: a new key cannot get in.
    assert_eq!(
        t.update(&ip(8), 60_000, |_, _| ()),
        Err(PersistError::TableFull { size: 1 })
    );
    t.release(&k, 60_000);
    assert!(t.contains(&k, 60_999));
    assert!(!t.contains(&k, 61_000));
    assert!(t.update(&ip(8), 61_000, |_, _| ()).is_ok());
}

#[test]
fn nopurge_refuses_new_entries_until_old_ones_expire() {
    let t = table(2, Some(10_000), true, &[]);
    t.update(&ip(1), 0, |_, _| ()).unwrap();
    t.update(&ip(2), 0, |_, _| ()).unwrap();
    assert!(t.update(&ip(3), 5_000, |_, _| ()).is_err());
    assert!(t.contains(&ip(1), 5_000));
    assert!(t.update(&ip(3), 10_000, |_, _| ()).is_ok());
}

#[test]
fn purge_expired_and_clear_count_what_they_remove() {
    let t = table(100, Some(1_000), false, &[]);
    for n in 0..10 {
        t.update(&ip(n), u64::from(n) * 100, |_, _| ()).unwrap();
    }
    assert_eq!(t.purge_expired(1_450), 5);
    assert_eq!(t.len(), 5);
    t.acquire(&ip(9), 1_500).unwrap();
    assert_eq!(t.clear(), 4);
    assert_eq!(t.len(), 1);
    assert!(!t.remove(&ip(9)));
}

#[test]
fn wrong_key_type_is_refused() {
    let t = table(10, None, false, &[]);
    let r = t.update(&Key::Integer(3), 0, |_, _| ());
    assert!(matches!(r, Err(PersistError::BadKey { .. })));
}

#[test]
fn export_then_import_keeps_data_and_relative_times() {
    let store = vec![
        StoreData::ServerId,
        StoreData::Gpc0,
        StoreData::ConnCur,
        StoreData::HttpReqRate(Duration::from_secs(10)),
    ];
    let a = table(100, Some(30_000), false, &store);
    let k = ip(42);
    a.update(&k, 1_000_000, |d, s| {
        d.server_id = Some(3);
        d.set_cnt(s, Cnt::Gpc0, 5);
        d.set_cnt(s, Cnt::ConnCur, 2);
        for _ in 0..7 {
            d.apply(s, Event::HttpReq, 1_000_000);
        }
    })
    .unwrap();
    let dump = a.export(1_005_000);
    assert_eq!(dump.len(), 1);
    // The new process has another clock origin.
    let b = table(100, Some(30_000), false, &store);
    assert_eq!(b.import(&dump, 5_000), 1);
    let got = b
        .get(&k, 5_000, |d| {
            (
                d.server_id,
                d.cnt(b.schema(), Cnt::Gpc0),
                d.cnt(b.schema(), Cnt::ConnCur),
                d.rate(b.schema(), Rt::HttpReqRate, 5_000),
            )
        })
        .unwrap();
    assert_eq!(got, (Some(3), Some(5), Some(0), Some(7)));
    // It keeps its remaining idle time: 25 s.
    assert!(b.contains(&k, 29_999));
    assert!(!b.contains(&k, 30_000));
}

#[test]
fn concurrent_floods_from_four_threads_respect_size() {
    let t = Arc::new(table(64, None, false, &req_rate()));
    let threads: Vec<_> = (0..4)
        .map(|th| {
            let t = Arc::clone(&t);
            std::thread::spawn(move || {
                for n in 0..2_000u32 {
                    let k = ip(n % 16);
                    t.update(&k, 1, |d, s| d.apply(s, Event::HttpReq, 1))
                        .unwrap();
                    t.update(&ip(100_000 * (th + 1) + n), 1, |_, _| ()).unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert!(t.len() <= 64);
}

#[derive(Clone, Debug)]
enum Op {
    Update(u32),
    Acquire(u32),
    Release(u32),
    Remove(u32),
    Advance(u64),
    Purge,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (0u32..40).prop_map(Op::Update),
        1 => (0u32..40).prop_map(Op::Acquire),
        1 => (0u32..40).prop_map(Op::Release),
        1 => (0u32..40).prop_map(Op::Remove),
        1 => (0u64..3_000).prop_map(Op::Advance),
        1 => Just(Op::Purge),
    ]
}

proptest::proptest! {
    /// Whatever happens: never more than `size` entries, pinned keys stay, a key
    /// just written is there, and after a purge the count matches what is visible.
    #[test]
    fn table_invariants(ops in proptest::collection::vec(op(), 1..200), size in 1u64..20) {
        let t = table(size, Some(5_000), false, &req_rate());
        let mut now = 0u64;
        let mut pinned: std::collections::HashMap<u32, u32> = Default::default();
        for o in ops {
            match o {
                Op::Update(k) => {
                    if t.update(&ip(k), now, |d, s| d.apply(s, Event::HttpReq, now)).is_ok() {
                        proptest::prop_assert!(t.contains(&ip(k), now));
                    } else {
                        // Only refused when every entry is pinned.
                        proptest::prop_assert!(pinned.values().filter(|n| **n > 0).count() as u64 >= size);
                    }
                }
                Op::Acquire(k) => {
                    if t.acquire(&ip(k), now).is_ok() {
                        *pinned.entry(k).or_default() += 1;
                    }
                }
                Op::Release(k) => {
                    if let Some(n) = pinned.get_mut(&k).filter(|n| **n > 0) {
                        *n -= 1;
                        t.release(&ip(k), now);
                    }
                }
                Op::Remove(k) => {
                    let was_pinned = pinned.get(&k).is_some_and(|n| *n > 0);
                    let removed = t.remove(&ip(k));
                    proptest::prop_assert!(!(removed && was_pinned));
                }
                Op::Advance(ms) => now += ms,
                Op::Purge => {
                    t.purge_expired(now);
                    let mut visible = 0;
                    t.for_each(now, |_, _, _, _| visible += 1);
                    proptest::prop_assert_eq!(visible as u64, t.len());
                }
            }
            proptest::prop_assert!(t.len() <= size);
            for (k, n) in &pinned {
                if *n > 0 {
                    proptest::prop_assert!(t.contains(&ip(*k), now));
                    proptest::prop_assert_eq!(t.refs(&ip(*k)), *n);
                }
            }
        }
    }
}
