//! Stick tables through the rule language, end to end: configuration text →
//! `compile_config` → `run_*` with a view lending real `Tables` and `Trackers`.

use std::net::SocketAddr;
use std::path::Path;

use fulcrum_config::reader::Env;
use fulcrum_config::rules::TcpLayer;
use fulcrum_persist::track::Trackers;
use fulcrum_persist::Tables;
use fulcrum_rules::view::NoStats;
use fulcrum_rules::{
    compile_config, run_http_request, run_tcp, Answer, CompiledProxy, RequestView, SessionView,
    Stats, TcpVerdict, TrackScope, Vars, Verdict,
};

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// One request of one client: the stream's trackers are new, the session's are lent.
struct View<'a> {
    tables: &'a Tables,
    session: &'a mut Trackers,
    stream: Trackers,
    src: SocketAddr,
    now: u64,
    vars: Vars,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<'a> View<'a> {
    fn new(tables: &'a Tables, session: &'a mut Trackers, src: &str, now: u64) -> Self {
        View {
            tables,
            session,
            stream: Trackers::new(),
            src: src.parse().unwrap(),
            now,
            vars: Vars::default(),
            headers: Vec::new(),
        }
    }
    fn hdr(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

impl Drop for View<'_> {
    fn drop(&mut self) {
        self.stream.end(self.now);
    }
}

impl SessionView for View<'_> {
    fn src(&self) -> Option<SocketAddr> {
        Some(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        "127.0.0.1:80".parse().ok()
    }
    fn frontend(&self) -> (&str, i64) {
        ("fe", 1)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        None
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn Stats {
        &NoStats
    }
    fn vars(&self) -> &Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.vars
    }
    fn tables(&self) -> Option<&Tables> {
        Some(self.tables)
    }
    fn session_trackers(&self) -> Option<&Trackers> {
        Some(self.session)
    }
    fn stream_trackers(&self) -> Option<&Trackers> {
        Some(&self.stream)
    }
    fn trackers_mut(&mut self, scope: TrackScope) -> Option<&mut Trackers> {
        Some(match scope {
            TrackScope::Session => self.session,
            TrackScope::Stream => &mut self.stream,
        })
    }
    fn now_ms(&self) -> u64 {
        self.now
    }
}

impl RequestView for View<'_> {
    fn method(&self) -> &[u8] {
        b"GET"
    }
    fn uri(&self) -> &[u8] {
        b"/"
    }
    fn version(&self) -> &[u8] {
        b"HTTP/1.1"
    }
    fn header_count(&self) -> usize {
        self.headers.len()
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.headers.get(i).map(|(n, v)| (&n[..], &v[..]))
    }
    fn set_method(&mut self, _: &[u8]) {}
    fn set_uri(&mut self, _: &[u8]) {}
    fn add_header(&mut self, name: &[u8], value: &[u8]) {
        self.headers.push((name.to_vec(), value.to_vec()));
    }
    fn set_header_value(&mut self, i: usize, value: &[u8]) {
        if let Some(h) = self.headers.get_mut(i) {
            h.1 = value.to_vec();
        }
    }
    fn remove_header(&mut self, i: usize) {
        if i < self.headers.len() {
            self.headers.remove(i);
        }
    }
}

fn load(frontend: &str) -> (Vec<CompiledProxy>, Tables) {
    let text = format!(
        "frontend fe\n  mode http\n  bind :80\n{frontend}  default_backend be\n\
         backend be\n  mode http\n  server s1 127.0.0.1:8080\n"
    );
    let loaded = fulcrum_config::load_str("t.cfg", &text, &NoEnv);
    let cfg = loaded
        .config
        .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let compiled = compile_config(&cfg, Path::new(".")).unwrap();
    (compiled, Tables::from_config(&cfg))
}

fn compile_errors(frontend: &str) -> Vec<String> {
    let text = format!(
        "frontend fe\n  mode http\n  bind :80\n{frontend}  default_backend be\n\
         backend be\n  mode http\n  stick-table type ip size 1k\n  server s1 127.0.0.1:8080\n"
    );
    let loaded = fulcrum_config::load_str("t.cfg", &text, &NoEnv);
    let cfg = loaded
        .config
        .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    match compile_config(&cfg, Path::new(".")) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

const RATE_LIMIT: &str = "  stick-table type ip size 100k expire 30s store http_req_rate(10s)\n\
  http-request track-sc0 src\n\
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 20 }\n";

#[test]
fn the_21st_request_in_10s_is_denied_with_429_then_the_client_recovers() {
    let (px, tables) = load(RATE_LIMIT);
    let fe = &px[0];
    let mut session = Trackers::new();
    let mut request = |src: &str, now: u64| {
        let mut v = View::new(&tables, &mut session, src, now);
        run_http_request(&fe.http_request, &mut v)
    };
    for i in 0..20 {
        assert_eq!(
            request("192.0.2.1:4000", i * 100),
            Verdict::Continue,
            "#{i}"
        );
    }
    let denied = Verdict::Deny(Answer::Errorfile(429));
    assert_eq!(request("192.0.2.1:4000", 2_000), denied);
    assert_eq!(request("192.0.2.1:4001", 9_000), denied);
    // Another client is not limited.
    assert_eq!(request("192.0.2.2:4000", 9_000), Verdict::Continue);
    // Two periods later the rate is back to this one request.
    assert_eq!(request("192.0.2.1:4000", 30_000), Verdict::Continue);
    assert_eq!(tables.get("fe").map(|t| t.len()), Some(2));
}

#[test]
fn session_tracking_fetches_converters_and_gpc_actions() {
    let fe = "  stick-table type ip size 10 expire 30s store conn_cur,gpc0,gpt0,http_req_cnt\n\
  tcp-request connection track-sc1 src\n\
  http-request sc-inc-gpc0(1)\n\
  http-request sc-set-gpt0(1) 7\n\
  http-request set-header X-Cur %[sc1_conn_cur]\n\
  http-request set-header X-Gpc %[sc_get_gpc0(1)]\n\
  http-request set-header X-Gpt %[src_get_gpt0]\n\
  http-request set-header X-Cnt %[table_cnt]/%[table_avl(fe)]\n\
  http-request set-header X-Conv %[src,table_gpc0(fe)]/%[src,in_table(fe)]/%[str(10.9.9.9),in_table(fe)]\n\
  http-request set-header X-Tracked %[sc0_tracked]/%[sc1_tracked]\n\
  http-request deny if { sc1_get_gpc0 ge 3 }\n";
    let (px, tables) = load(fe);
    let fe = &px[0];
    let mut session = Trackers::new();
    {
        let mut v = View::new(&tables, &mut session, "192.0.2.7:5000", 0);
        assert_eq!(
            run_tcp(&fe.tcp, TcpLayer::Connection, &mut v),
            TcpVerdict::Continue
        );
    }
    assert!(session.is_tracking(1));
    let mut v = View::new(&tables, &mut session, "192.0.2.7:5000", 10);
    assert_eq!(
        run_http_request(&fe.http_request, &mut v),
        Verdict::Continue
    );
    assert_eq!(v.hdr("X-Cur").as_deref(), Some("1"));
    assert_eq!(v.hdr("X-Gpc").as_deref(), Some("1"));
    assert_eq!(v.hdr("X-Gpt").as_deref(), Some("7"));
    assert_eq!(v.hdr("X-Cnt").as_deref(), Some("1/9"));
    assert_eq!(v.hdr("X-Conv").as_deref(), Some("1/1/0"));
    assert_eq!(v.hdr("X-Tracked").as_deref(), Some("0/1"));
    drop(v);
    let mut v = View::new(&tables, &mut session, "192.0.2.7:5000", 20);
    assert_eq!(
        run_http_request(&fe.http_request, &mut v),
        Verdict::Continue
    );
    drop(v);
    // The third increment reaches the limit.
    let mut v = View::new(&tables, &mut session, "192.0.2.7:5000", 30);
    assert_eq!(
        run_http_request(&fe.http_request, &mut v),
        Verdict::Deny(Answer::Errorfile(403))
    );
    drop(v);
    session.end(40);
    let mut other = Trackers::new();
    let v = View::new(&tables, &mut other, "192.0.2.7:5000", 50);
    let cur = fulcrum_rules::compile_expr(
        &fulcrum_config::rules::parse_sample_expr("src_conn_cur(fe)", &span()).unwrap(),
        &span(),
        &fulcrum_rules::CompileEnv::new("."),
    )
    .unwrap();
    assert_eq!(
        cur.eval_session(&v).and_then(|s| s.to_int()),
        Some(0),
        "the session ended"
    );
}

fn span() -> fulcrum_config::Span {
    fulcrum_config::Span::new("t.cfg", 1)
}

#[test]
fn unknown_tables_and_missing_own_tables_are_load_errors() {
    let e = compile_errors("  http-request track-sc0 src table bee\n");
    assert!(
        e.iter()
            .any(|m| m.contains("no stick-table named 'bee'") && m.contains("did you mean 'be'")),
        "{e:?}"
    );
    let e = compile_errors("  http-request deny if { src_conn_rate gt 5 }\n");
    assert!(
        e.iter()
            .any(|m| m.contains("proxy 'fe' has no stick-table")),
        "{e:?}"
    );
    assert!(compile_errors("  http-request deny if { src_conn_rate(be) gt 5 }\n").is_empty());
    let e = compile_errors("  http-request set-header X %[src,table_http_req_rate(nope)]\n");
    assert!(
        e.iter().any(|m| m.contains("no stick-table named 'nope'")),
        "{e:?}"
    );
}

#[test]
fn force_and_ignore_persist_reach_the_compiled_proxy() {
    let (px, tables) = load(
        "  acl local src 192.0.2.0/24\n  force-persist if local\n  ignore-persist unless local\n",
    );
    let fe = &px[0];
    assert_eq!((fe.force_persist.len(), fe.ignore_persist.len()), (1, 1));
    let mut s = Trackers::new();
    let inside = View::new(&tables, &mut s, "192.0.2.9:1", 0);
    assert!(fulcrum_rules::eval(&fe.force_persist[0], &inside));
    assert!(!fulcrum_rules::eval(&fe.ignore_persist[0], &inside));
    drop(inside);
    let outside = View::new(&tables, &mut s, "198.51.100.1:1", 0);
    assert!(!fulcrum_rules::eval(&fe.force_persist[0], &outside));
    assert!(fulcrum_rules::eval(&fe.ignore_persist[0], &outside));
}

#[test]
fn tcp_rules_count_connections_in_gpc0_and_reject_abusers() {
    let (px, tables) = load(
        "  stick-table type ip size 10 expire 1m store gpc0,gpt0\n\
  tcp-request connection track-sc0 src\n\
  tcp-request connection sc-inc-gpc0(0)\n\
  tcp-request connection sc-set-gpt0(0) src_port\n\
  tcp-request connection reject if { sc0_get_gpc0 gt 2 }\n",
    );
    let fe = &px[0];
    let connect = |port: u16, now: u64| {
        let mut s = Trackers::new();
        let mut v = View::new(&tables, &mut s, &format!("192.0.2.3:{port}"), now);
        let verdict = run_tcp(&fe.tcp, TcpLayer::Connection, &mut v);
        drop(v);
        s.end(now);
        verdict
    };
    assert_eq!(connect(1001, 0), TcpVerdict::Continue);
    assert_eq!(connect(1002, 10), TcpVerdict::Continue);
    assert_eq!(connect(1003, 20), TcpVerdict::Reject);
    let t = tables.get("fe").unwrap();
    let key = fulcrum_persist::Key::from_text(t.key_type(), b"192.0.2.3").unwrap();
    let gpt = t.get(&key, 30, |d| {
        d.cnt(t.schema(), fulcrum_persist::data::Cnt::Gpt0)
    });
    assert_eq!(gpt, Some(Some(1003)));
}

#[test]
fn keys_that_do_not_fit_and_full_tables_skip_tracking_without_failing_the_request() {
    let (px, tables) = load(
        "  stick-table type ip size 1 expire 1m nopurge store http_req_cnt\n\
  http-request track-sc0 src\n\
  http-request set-header X-Tracked %[sc0_tracked]\n",
    );
    let fe = &px[0];
    let mut s = Trackers::new();
    let mut request = |src: &str| {
        let mut v = View::new(&tables, &mut s, src, 0);
        let verdict = run_http_request(&fe.http_request, &mut v);
        (verdict, v.hdr("X-Tracked"))
    };
    // An IPv6 client has no key in an `ip` table.
    assert_eq!(
        request("[2001:db8::1]:1000"),
        (Verdict::Continue, Some("0".into()))
    );
    assert_eq!(
        request("192.0.2.1:1000"),
        (Verdict::Continue, Some("1".into()))
    );
    // `nopurge` and one slot: the next client finds the table full.
    assert_eq!(
        request("192.0.2.2:1000"),
        (Verdict::Continue, Some("0".into()))
    );
}

#[test]
fn string_tables_track_what_the_key_expression_gives() {
    let (px, tables) = load(
        "  stick-table type string len 8 size 10 store http_req_cnt\n\
  http-request track-sc2 req.hdr(host),lower\n\
  http-request set-header X-N %[sc2_http_req_cnt]\n",
    );
    let fe = &px[0];
    let mut s = Trackers::new();
    let mut count = |host: &str| {
        let mut v = View::new(&tables, &mut s, "192.0.2.1:1", 0);
        v.headers.push((b"Host".to_vec(), host.as_bytes().to_vec()));
        run_http_request(&fe.http_request, &mut v);
        v.hdr("X-N")
    };
    assert_eq!(count("A.example").as_deref(), Some("1"));
    assert_eq!(count("a.EXAMPLE").as_deref(), Some("2"));
    // Keys are cut to `len 8`: both hosts share "b.exampl".
    assert_eq!(count("b.example.org").as_deref(), Some("1"));
    assert_eq!(count("b.example.net").as_deref(), Some("2"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

    /// Any stick-table fetch a user may write, with any arguments, compiles or is
    /// refused, and evaluates without panicking whatever is tracked.
    #[test]
    fn stick_fetches_never_panic(
        prefix in proptest::sample::select(vec!["sc_", "sc0_", "sc2_", "src_", "table_"]),
        what in proptest::sample::select(vec![
            "conn_cur", "http_req_rate", "get_gpc", "gpc_rate", "inc_gpc0", "clr_gpc1",
            "get_gpt", "get_gpt0", "tracked", "trackers", "updt_conn_cnt", "kbytes_in",
            "cnt", "avl", "bytes_out_rate",
        ]),
        args in proptest::collection::vec(
            proptest::sample::select(vec!["0", "1", "2", "3", "99999", "-1", "fe", "be", "x"]),
            0..4,
        ),
        track in proptest::prelude::any::<bool>(),
    ) {
        let (px, tables) = load(
            "  stick-table type ip size 10 store conn_cur,gpc0,gpc(2),gpt(2),http_req_rate(1s)\n\
  tcp-request connection track-sc0 src\n",
        );
        let text = if args.is_empty() {
            format!("{prefix}{what}")
        } else {
            format!("{prefix}{what}({})", args.join(","))
        };
        let sp = span();
        let Ok(parsed) = fulcrum_config::rules::parse_sample_expr(&text, &sp) else {
            return Ok(());
        };
        let env = fulcrum_rules::CompileEnv::new(".").with_tables(["fe".to_string()]);
        let Ok(expr) = fulcrum_rules::compile_expr(&parsed, &sp, &env) else {
            return Ok(());
        };
        let mut s = Trackers::new();
        let mut v = View::new(&tables, &mut s, "192.0.2.1:1", 5);
        if track {
            run_tcp(&px[0].tcp, TcpLayer::Connection, &mut v);
        }
        let _ = expr.eval_session(&v);
    }
}

/// The names the configuration accepts are exactly those `fulcrum_persist` runs.
#[test]
fn config_names_and_persist_names_agree() {
    use fulcrum_config::rules::{
        stick_fetch, StickSource, CONVERTERS, STICK_COUNTERS, STICK_INDEXED,
    };
    use fulcrum_persist::convert::TableConverter;
    use fulcrum_persist::fetch::CounterFetch;
    let mut seen = 0;
    for c in STICK_COUNTERS.iter().chain(STICK_INDEXED) {
        for prefix in ["sc_", "sc1_", "src_"] {
            let name = format!("{prefix}{c}");
            let Some((source, _)) = stick_fetch(&name) else {
                continue;
            };
            let mut args = Vec::new();
            if STICK_INDEXED.contains(c) {
                args.push("1");
            }
            if source == StickSource::TrackedArg {
                args.push("0");
            }
            assert!(
                matches!(CounterFetch::parse(&name, &args), Ok(Some(_))),
                "{name}{args:?}"
            );
            args.push("t");
            assert!(
                matches!(CounterFetch::parse(&name, &args), Ok(Some(_))),
                "{name}{args:?}"
            );
            seen += 1;
        }
    }
    assert!(seen > 70, "{seen}");
    for d in CONVERTERS
        .iter()
        .filter(|d| d.name == "in_table" || d.name.starts_with("table_"))
    {
        let args: &[&str] = if d.min_args == 2 { &["1", "t"] } else { &["t"] };
        assert!(
            matches!(TableConverter::parse(d.name, args), Ok(Some(_))),
            "{}",
            d.name
        );
    }
    for name in ["table_cnt", "table_avl"] {
        assert!(fulcrum_config::rules::fetch_def(name).is_some());
        assert!(matches!(CounterFetch::parse(name, &[]), Ok(Some(_))));
    }
}
