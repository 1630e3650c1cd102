use super::*;
use crate::data::Schema;
use crate::key::KeyType;
use crate::table::TableConfig;
use crate::track::TrackFrom;
use fulcrum_config::model::persist::StoreData;
use std::net::Ipv4Addr;
use std::time::Duration;

fn tables(store: &[StoreData]) -> (Tables, Arc<StickTable>) {
    let t = Arc::new(StickTable::new(TableConfig {
        name: "fe".into(),
        key: KeyType::Ip,
        size: 100_000,
        expire: Some(30_000),
        nopurge: false,
        schema: Schema::new(store),
    }));
    let mut ts = Tables::new();
    ts.insert(Arc::clone(&t));
    (ts, t)
}

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

fn ctx<'a>(tables: &'a Tables, stream: Option<&'a Trackers>) -> FetchCtx<'a> {
    FetchCtx {
        tables,
        proxy: "fe",
        stream,
        session: None,
        src: Some(CLIENT),
    }
}

fn parse(s: &str) -> CounterFetch {
    let (name, args) = match s.split_once('(') {
        Some((n, a)) => (
            n,
            a.trim_end_matches(')')
                .split(',')
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>(),
        ),
        None => (s, vec![]),
    };
    CounterFetch::parse(name, &args).unwrap().unwrap()
}

/// `stick-table type ip size 100k expire 30s store http_req_rate(10s)`,
/// `http-request track-sc0 src`,
/// `http-request deny deny_status 429 if { sc_http_req_rate(0) gt 20 }`.
#[test]
fn rate_limit_denies_the_21st_request_in_10s_and_recovers() {
    let (ts, t) = tables(&[StoreData::HttpReqRate(Duration::from_secs(10))]);
    let rate = parse("sc_http_req_rate(0)");
    let over = |now: u64| {
        // One stream per request, as HTTP/1 keep-alive runs them.
        let mut tr = Trackers::new();
        let key = Key::from_ip(t.key_type(), CLIENT).unwrap();
        tr.track(0, &t, key, now, TrackFrom::HttpRequest).unwrap();
        let r = rate.eval(&ctx(&ts, Some(&tr)), now);
        tr.end(now);
        matches!(r, Some(Sample::Int(v)) if v > 20)
    };
    for i in 0..20u64 {
        assert!(!over(i * 400), "request {} must pass", i + 1);
    }
    assert!(over(8_000), "the 21st request in 10 s is over the limit");
    assert!(over(9_000));
    // Two periods later everything is forgotten.
    assert!(!over(29_000));
}

#[test]
fn sc_fetch_on_an_untracked_counter_gives_no_sample() {
    let (ts, _) = tables(&[StoreData::HttpReqRate(Duration::from_secs(10))]);
    let tr = Trackers::new();
    assert_eq!(
        parse("sc_http_req_rate(0)").eval(&ctx(&ts, Some(&tr)), 0),
        None
    );
    assert_eq!(
        parse("sc0_tracked").eval(&ctx(&ts, Some(&tr)), 0),
        Some(Sample::Bool(false))
    );
}

#[test]
fn src_fetches_read_the_client_entry_and_zero_when_absent() {
    let (ts, t) = tables(&[StoreData::ConnCur, StoreData::Gpc0]);
    let c = ctx(&ts, None);
    assert_eq!(parse("src_conn_cur").eval(&c, 0), Some(Sample::Int(0)));
    // Not stored: no sample.
    assert_eq!(parse("src_http_req_rate").eval(&c, 0), None);
    let mut tr = Trackers::new();
    tr.track(
        1,
        &t,
        Key::from_ip(t.key_type(), CLIENT).unwrap(),
        0,
        TrackFrom::Tcp,
    )
    .unwrap();
    assert_eq!(parse("src_conn_cur(fe)").eval(&c, 0), Some(Sample::Int(1)));
    assert_eq!(
        parse("sc1_conn_cur").eval(&ctx(&ts, Some(&tr)), 0),
        Some(Sample::Int(1))
    );
    assert_eq!(
        parse("sc_trackers(1)").eval(&ctx(&ts, Some(&tr)), 0),
        Some(Sample::Int(1))
    );
    assert_eq!(parse("src_inc_gpc0").eval(&c, 0), Some(Sample::Int(1)));
    assert_eq!(
        parse("sc_inc_gpc0(1)").eval(&ctx(&ts, Some(&tr)), 0),
        Some(Sample::Int(2))
    );
    assert_eq!(
        parse("sc1_get_gpc0").eval(&ctx(&ts, Some(&tr)), 0),
        Some(Sample::Int(2))
    );
    assert_eq!(parse("src_clr_gpc0").eval(&c, 0), Some(Sample::Int(2)));
    assert_eq!(parse("src_get_gpc0").eval(&c, 0), Some(Sample::Int(0)));
}

#[test]
fn table_cnt_and_avl_follow_the_table() {
    let (ts, t) = tables(&[StoreData::Gpc0]);
    for n in 0..5u32 {
        t.update(&Key::Ip(Ipv4Addr::from(n)), 0, |_, _| ()).unwrap();
    }
    let c = ctx(&ts, None);
    assert_eq!(parse("table_cnt").eval(&c, 0), Some(Sample::Int(5)));
    assert_eq!(
        parse("table_avl(fe)").eval(&c, 0),
        Some(Sample::Int(99_995))
    );
    assert_eq!(parse("table_cnt(nosuch)").eval(&c, 0), None);
}

#[test]
fn parse_knows_the_name_forms() {
    assert_eq!(CounterFetch::parse("path", &[]), Ok(None));
    assert_eq!(
        CounterFetch::parse("sc3_conn_cur", &[]),
        Err(PersistError::NoSuchCounter(3))
    );
    assert!(CounterFetch::parse("sc_http_req_rate", &[]).is_err());
    assert_eq!(
        parse("sc_get_gpc(1,2,other)"),
        CounterFetch::Entry {
            subject: Subject::Sc(2),
            what: What::GetGpc(GpcRef::Idx(1)),
            table: Some("other".into())
        }
    );
    assert_eq!(
        parse("sc2_http_err_rate(t2)"),
        CounterFetch::Entry {
            subject: Subject::Sc(2),
            what: What::Rate(Rt::HttpErrRate),
            table: Some("t2".into())
        }
    );
    assert!(parse("sc_tracked(0)").is_bool());
}
