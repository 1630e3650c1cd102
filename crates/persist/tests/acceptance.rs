//! Issue 7's acceptance, from configuration text to persistence decisions.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use fulcrum_persist::cookie::{PersistDecision, RequestCookie, RequestOpts, ResponseCookie};
use fulcrum_persist::fetch::{CounterFetch, FetchCtx, Sample};
use fulcrum_persist::track::{TrackFrom, Trackers};
use fulcrum_persist::{BackendPersist, Key, Tables};

struct NoEnv;
impl fulcrum_config::reader::Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fn load(text: &str) -> fulcrum_config::model::Config {
    let l = fulcrum_config::load_str("t.cfg", text, &NoEnv);
    l.config
        .unwrap_or_else(|| panic!("invalid: {:?}", l.diagnostics))
}

const RATE_LIMIT: &str = "\
defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind :8080
  stick-table type ip size 100k expire 30s store http_req_rate(10s)
  http-request track-sc0 src
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 20 }
  default_backend be
backend be
  server s1 127.0.0.1:8001
";

#[test]
fn rate_limit_as_users_write_it() {
    let cfg = load(RATE_LIMIT);
    let tables = Tables::from_config(&cfg);
    let fe = tables.resolve(None, "fe").unwrap();
    let rate = CounterFetch::parse("sc_http_req_rate", &["0"])
        .unwrap()
        .unwrap();
    let abuser = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    let request_from = |client: IpAddr, now: u64| -> bool {
        let mut stream = Trackers::new();
        let key = Key::from_text(fe.key_type(), client.to_string().as_bytes()).unwrap();
        stream
            .track(0, fe, key, now, TrackFrom::HttpRequest)
            .unwrap();
        let ctx = FetchCtx {
            tables: &tables,
            proxy: "fe",
            stream: Some(&stream),
            session: None,
            src: Some(client),
        };
        let denied = matches!(rate.eval(&ctx, now), Some(Sample::Int(r)) if r > 20);
        stream.end(now);
        denied
    };
    let request = |now: u64| request_from(abuser, now);
    let denied: Vec<bool> = (0..25u64).map(|i| request(1_000 + i * 300)).collect();
    assert!(denied[..20].iter().all(|d| !d));
    assert!(denied[20..].iter().all(|d| *d), "{denied:?}");
    // Another client is not affected.
    assert!(!request_from(
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)),
        8_500
    ));
    assert_eq!(fe.len(), 2);
    // 20 s without requests: allowed again.
    assert!(!request(40_000));
}

#[test]
fn a_size_1000_table_stays_bounded_under_a_100k_key_flood() {
    let cfg = load(&RATE_LIMIT.replace("size 100k", "size 1000"));
    let tables = Tables::from_config(&cfg);
    let fe = tables.get("fe").unwrap();
    for n in 0..100_000u32 {
        let mut tr = Trackers::new();
        tr.track(
            0,
            fe,
            Key::Ip(Ipv4Addr::from(n)),
            u64::from(n),
            TrackFrom::HttpRequest,
        )
        .unwrap();
        tr.end(u64::from(n));
        assert!(fe.len() <= 1000);
    }
    assert!(fe.len() >= 900);
}

#[test]
fn seed_03_cookie_insert_and_appsession() {
    let path = std::env::var_os("FULCRUM_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/fixtures/seed-configs"))
        .join("03-cometd-websocket-longpoll.cfg");
    if !path.exists() {
        eprintln!("skipped: {} not found", path.display());
        return;
    }
    let l = fulcrum_config::load(&[path], &NoEnv);
    let cfg = l.config.expect("seed 03 is valid for Fulcrum");
    let be = cfg
        .proxies
        .iter()
        .find(|p| p.persist.cookie.is_some())
        .expect("a backend with a cookie");
    let bp = BackendPersist::from_proxy(be);
    let cookie = bp.cookie.as_ref().unwrap();
    let app = bp.appsession.as_ref().expect("appsession kept");
    let all_up = |_: usize| true;
    let mut st = RequestCookie::default();
    cookie.request_header(
        &mut st,
        b"foo=bar",
        &all_up,
        &RequestOpts::default(),
        1_700_000_000,
    );
    let mut rs = ResponseCookie::None;
    let add = cookie.response_insert(&st, &mut rs, Some(1), false, false, false, 1_700_000_000);
    assert_eq!(
        add.set_cookie.as_deref(),
        Some("SERVERID=bayeux-srv2; path=/")
    );
    // appsession on SERVERID: a value the server sets is learnt and routes back.
    assert!(app.learn_response([&b"SERVERID=abc; path=/"[..]], 2, 0));
    let r = app.request(
        [&b"SERVERID=abc"[..]],
        b"/cometd",
        &all_up,
        &RequestOpts::default(),
        1_000,
    );
    assert_eq!(r.decision, PersistDecision::Direct(2));
}
