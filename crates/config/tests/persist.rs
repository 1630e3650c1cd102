//! Persistence keywords: cookie, appsession, stick-table, stick rules, server cookie values.

use std::time::Duration;

use fulcrum_config::diag::{Diagnostics, Level, Span};
use fulcrum_config::model::persist::*;
use fulcrum_config::parse::persist::{
    appsession_as_stick, parse_size, proxy_keyword, server_option,
};
use proptest::prelude::*;

fn w(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn span() -> Span {
    Span::new("p.cfg", 40)
}

fn proxy(lines: &[&str]) -> (PersistSettings, Diagnostics) {
    let mut s = PersistSettings::default();
    let mut d = Diagnostics::default();
    for l in lines {
        assert!(
            proxy_keyword(&w(l), &span(), &mut s, &mut d),
            "not claimed: {l}"
        );
    }
    (s, d)
}

fn only_error(d: &Diagnostics) -> String {
    let errs: Vec<_> = d.errors().collect();
    assert_eq!(errs.len(), 1, "{:?}", d.items);
    assert_eq!(errs[0].span.as_ref().map(|s| s.line), Some(40));
    errs[0].to_string()
}

#[test]
fn cookie_insert_and_passive() {
    // seed 03 / seed 07
    let (s, d) = proxy(&["cookie SERVERID insert"]);
    assert!(d.items.is_empty());
    let c = s.cookie.expect("cookie");
    assert_eq!(c.name, "SERVERID");
    assert_eq!(c.mode, CookieMode::Insert);
    let (s, _) = proxy(&["cookie SERVERID"]);
    assert_eq!(s.cookie.expect("cookie").mode, CookieMode::Passive);
}

#[test]
fn cookie_all_options() {
    let (s, d) = proxy(&[
        "cookie SRV insert indirect nocache postonly preserve httponly secure domain .a.com domain .b.com maxidle 30m maxlife 8h dynamic attr SameSite=Lax",
        "dynamic-cookie-key s3cr3t",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let c = s.cookie.expect("cookie");
    assert!(
        c.indirect && c.nocache && c.postonly && c.preserve && c.httponly && c.secure && c.dynamic
    );
    assert_eq!(c.domains, vec![".a.com", ".b.com"]);
    assert_eq!(c.maxidle, Some(Duration::from_secs(1800)));
    assert_eq!(c.maxlife, Some(Duration::from_secs(8 * 3600)));
    assert_eq!(c.attrs, vec!["SameSite=Lax"]);
    assert_eq!(s.dynamic_cookie_key.as_deref(), Some("s3cr3t"));
}

#[test]
fn cookie_errors() {
    let (s, d) = proxy(&["cookie SRV insert rewrite"]);
    assert!(only_error(&d).contains("mutually exclusive"));
    assert!(s.cookie.is_none());
    let (s, d) = proxy(&["cookie SRV prefix indirect"]);
    assert!(d.items.is_empty(), "HAProxy accepts it: {:?}", d.items);
    assert_eq!(s.cookie.expect("cookie").mode, CookieMode::Prefix);
    let (_, d) = proxy(&["cookie SRV preserve"]);
    assert!(only_error(&d).contains("requires 'insert' or 'indirect'"));
    let (_, d) = proxy(&["cookie SRV insrt"]);
    assert!(only_error(&d).contains("did you mean 'insert'?"));
    let (_, d) = proxy(&["cookie"]);
    assert!(only_error(&d).contains("expects a cookie name"));
    let (_, d) = proxy(&["cookie SRV insert maxidle 5x"]);
    assert!(only_error(&d).contains("unknown time unit"));
    let (_, d) = proxy(&["cookie SRV insert domain localhost"]);
    assert!(!d.has_errors());
    assert_eq!(d.warnings().count(), 1);
    let (_, d) = proxy(&["cookie SRV maxidle 1h"]);
    assert!(d
        .warnings()
        .next()
        .expect("warning")
        .to_string()
        .contains("add 'insert'"));
}

#[test]
fn server_cookie_value_and_stickiness() {
    let words = w("cookie bayuex-srv1 check non-stick");
    let mut s = ServerPersist::default();
    let mut d = Diagnostics::default();
    assert_eq!(server_option(&words, &span(), &mut s, &mut d), 2);
    assert_eq!(server_option(&words[2..], &span(), &mut s, &mut d), 0);
    assert_eq!(server_option(&words[3..], &span(), &mut s, &mut d), 1);
    assert_eq!(s.cookie.as_deref(), Some("bayuex-srv1"));
    assert_eq!(s.non_stick, Some(true));
    assert_eq!(server_option(&w("cookie"), &span(), &mut s, &mut d), 1);
    assert!(only_error(&d).contains("'cookie' expects a value"));
}

#[test]
fn appsession_is_kept_with_a_warning_naming_the_modern_form() {
    // seed 03
    let (s, d) = proxy(&["appsession SERVERID len 25 timeout 15m"]);
    assert!(!d.has_errors());
    let warn = d
        .items
        .iter()
        .find(|x| x.level == Level::Warning)
        .expect("warning");
    let text = warn.to_string();
    assert!(text.contains("(p.cfg:40)"), "{text}");
    assert!(
        text.contains("stick-table type string len 25 size 1m expire 15m"),
        "{text}"
    );
    assert!(text.contains("stick on req.cook(SERVERID)"), "{text}");
    assert!(
        text.contains("stick store-response res.cook(SERVERID)"),
        "{text}"
    );
    let a = s.appsession.expect("appsession");
    assert_eq!(a.len, 25);
    assert_eq!(a.timeout, Duration::from_secs(900));
    assert_eq!(a.mode, AppSessionMode::PathParameters);
    assert!(!a.request_learn && !a.prefix);

    let (table, rules) = appsession_as_stick(&a);
    let table = table.expect("table");
    assert_eq!(table.key, TableKeyType::String { len: 25 });
    assert_eq!(table.expire, Some(Duration::from_secs(900)));
    let kinds: Vec<StickKind> = rules.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![StickKind::StoreResponse, StickKind::On, StickKind::On]
    );
}

#[test]
fn appsession_options_and_errors() {
    let (s, d) =
        proxy(&["appsession JSESSIONID len 52 timeout 3h request-learn prefix mode query-string"]);
    assert!(!d.has_errors());
    let a = s.appsession.expect("appsession");
    assert!(a.request_learn && a.prefix);
    assert_eq!(a.mode, AppSessionMode::QueryString);
    assert!(a
        .modern_lines()
        .contains(&"stick on urlp(JSESSIONID)".to_string()));
    assert!(d
        .warnings()
        .next()
        .expect("w")
        .to_string()
        .contains("'prefix' has no modern equivalent"));

    let (_, d) = proxy(&["appsession JSESSIONID len 52"]);
    assert!(only_error(&d).contains("needs both 'len' and 'timeout'"));
    let (_, d) = proxy(&["appsession JSESSIONID len x timeout 1h"]);
    assert!(only_error(&d).contains("positive integer"));
    let (_, d) = proxy(&["appsession JSESSIONID len 5 timeout 1h mode cookie"]);
    assert!(only_error(&d).contains("unexpected 'mode'"));
}

#[test]
fn stick_table_values() {
    let (s, d) = proxy(&[
        "stick-table type string len 48 size 200k expire 30m nopurge peers mypeers store server_id,gpc0,gpc0_rate(10s),conn_cnt,conn_rate(3s),http_req_rate(1m) store bytes_out_rate(1s),gpc_rate(2,10s)",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let t = s.stick_table.expect("table");
    assert_eq!(t.key, TableKeyType::String { len: 48 });
    assert_eq!(t.size, 200 * 1024);
    assert_eq!(t.expire, Some(Duration::from_secs(1800)));
    assert!(t.nopurge);
    assert_eq!(t.peers.as_deref(), Some("mypeers"));
    assert_eq!(
        t.store,
        vec![
            StoreData::ServerId,
            StoreData::Gpc0,
            StoreData::Gpc0Rate(Duration::from_secs(10)),
            StoreData::ConnCnt,
            StoreData::ConnRate(Duration::from_secs(3)),
            StoreData::HttpReqRate(Duration::from_secs(60)),
            StoreData::BytesOutRate(Duration::from_secs(1)),
            StoreData::GpcRate(2, Duration::from_secs(10)),
        ]
    );
    let (s, _) = proxy(&["stick-table type ip size 1m"]);
    let t = s.stick_table.expect("t");
    assert_eq!((t.key, t.size, t.expire), (TableKeyType::Ip, 1 << 20, None));
    let (s, _) = proxy(&["stick-table type binary size 1g"]);
    assert_eq!(
        s.stick_table.expect("t").key,
        TableKeyType::Binary { len: 32 }
    );
}

#[test]
fn stick_table_errors() {
    let cases = [
        ("stick-table type ip", "missing 'size'"),
        ("stick-table size 10k", "missing 'type'"),
        ("stick-table type ipv4 size 1k", "unknown type 'ipv4'"),
        (
            "stick-table type ip len 4 size 1k",
            "only applies to 'string' and 'binary'",
        ),
        ("stick-table type ip size 1x", "unknown size unit"),
        (
            "stick-table type ip size 1k store conn_rate",
            "needs a period",
        ),
        (
            "stick-table type ip size 1k store conn_rat(10s)",
            "did you mean 'conn_rate'?",
        ),
        (
            "stick-table type ip size 1k store gpc0(1)",
            "takes no argument",
        ),
        (
            "stick-table type ip size 1k expire 10q",
            "unknown time unit",
        ),
        (
            "stick-table type ip size 1k frobnicate",
            "unknown option 'frobnicate'",
        ),
    ];
    for (line, want) in cases {
        let (s, d) = proxy(&[line]);
        let e = only_error(&d);
        assert!(e.contains(want), "{line}: {e}");
        assert!(s.stick_table.is_none());
    }
}

#[test]
fn stick_rules() {
    let (s, d) = proxy(&[
        "stick on src",
        "stick match req.cook(SRV) table other if is_app",
        "stick store-request src unless local",
        "stick store-response res.cook(SRV)",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let r = &s.stick_rules;
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].kind, StickKind::On);
    assert_eq!(r[0].expr.text, "src");
    assert!(r[0].cond.is_none() && r[0].table.is_none());
    assert_eq!(r[1].kind, StickKind::Match);
    assert_eq!(r[1].table.as_deref(), Some("other"));
    assert!(r[1].cond.is_some());
    assert_eq!(r[2].kind, StickKind::StoreRequest);
    assert!(r[2].cond.is_some());
    assert_eq!(r[3].kind, StickKind::StoreResponse);

    let (_, d) = proxy(&["stick onn src"]);
    assert!(only_error(&d).contains("did you mean 'stick on'?"));
    let (_, d) = proxy(&["stick on"]);
    assert!(only_error(&d).contains("a sample expression"));
    let (_, d) = proxy(&["stick on src when x"]);
    assert!(only_error(&d).contains("unexpected 'when'"));
}

#[test]
fn inheritance_and_foreign_keywords() {
    let (dp, _) = proxy(&["cookie SRV insert", "stick-table type ip size 1k"]);
    let mut p = PersistSettings::default();
    p.inherit_from(&dp);
    assert_eq!(p.cookie, dp.cookie);
    assert!(p.stick_table.is_none(), "stick tables are not inherited");
    let mut s = PersistSettings::default();
    let mut d = Diagnostics::default();
    for l in [
        "balance roundrobin",
        "option httpchk",
        "server a 1.2.3.4:80",
    ] {
        assert!(!proxy_keyword(&w(l), &span(), &mut s, &mut d));
    }
}

proptest! {
    #[test]
    fn size_suffixes(n in 0u64..1_000_000, suffix in prop::sample::select(vec!["", "k", "m", "g", "K"])) {
        let mul = match suffix { "" => 1, "k" | "K" => 1024, "m" => 1 << 20, _ => 1 << 30 };
        prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n * mul));
    }

    #[test]
    fn stick_table_never_panics(words in prop::collection::vec("[a-z0-9_(),]{0,10}", 0..8)) {
        let mut line = vec!["stick-table".to_string()];
        line.extend(words);
        let mut s = PersistSettings::default();
        let mut d = Diagnostics::default();
        prop_assert!(proxy_keyword(&line, &span(), &mut s, &mut d));
        prop_assert_eq!(usize::from(s.stick_table.is_some()) + d.errors().count(), 1);
    }
}
