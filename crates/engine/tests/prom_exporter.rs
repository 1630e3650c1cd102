//! `http-request use-service prometheus-exporter`: HAProxy's metric names
//! from the engine's counters; histogram counts equal the requests served.

mod health_support;

use health_support::*;
use std::collections::HashMap;

/// `name{labels} value` lines → map; comments checked for shape.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let kind = rest.split_whitespace().next().unwrap_or_default();
            assert!(kind == "HELP" || kind == "TYPE", "bad comment: {line}");
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        assert!(out.insert(key.to_string(), v).is_none(), "duplicate {key}");
    }
    out
}

#[test]
fn metrics_count_the_requests_served() {
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n\
         \x20   http-request use-service prometheus-exporter if {{ path /metrics }}\n\
         \x20   default_backend app\n\
         backend app\n    balance roundrobin\n    server s1 {}\n    server s2 {}\n",
        s1.addr, s2.addr
    ));
    let web = r.addr("web");
    for _ in 0..6 {
        assert_eq!(get(web, "/").0, 200);
    }
    let (st, head, body) = get(web, "/metrics");
    assert_eq!(st, 200);
    assert!(head.contains("text/plain"), "{head}");
    let m = parse(&body);
    let v = |k: &str| *m.get(k).unwrap_or_else(|| panic!("missing {k}"));
    assert_eq!(v("haproxy_backend_http_requests_total{proxy=\"app\"}"), 6.0);
    assert_eq!(
        v("haproxy_backend_http_responses_total{proxy=\"app\",code=\"2xx\"}"),
        6.0
    );
    assert_eq!(
        v("haproxy_backend_total_time_seconds_count{proxy=\"app\"}"),
        6.0
    );
    assert_eq!(
        v("haproxy_backend_total_time_seconds_bucket{proxy=\"app\",le=\"+Inf\"}"),
        6.0
    );
    for s in ["s1", "s2"] {
        let key =
            format!("haproxy_server_response_time_seconds_count{{proxy=\"app\",server=\"{s}\"}}");
        assert_eq!(v(&key), 3.0, "{key}");
    }
    // Buckets are cumulative.
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, val)| {
            let le = k
                .strip_prefix("haproxy_backend_total_time_seconds_bucket{proxy=\"app\",le=\"")?
                .strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, *val))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 2);
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    // The frontend saw 6 proxied requests and 7 sessions (the scrape included).
    assert_eq!(
        v("haproxy_frontend_http_requests_total{proxy=\"web\"}"),
        6.0
    );
    assert_eq!(v("haproxy_frontend_sessions_total{proxy=\"web\"}"), 7.0);
    assert_eq!(v("haproxy_process_nbthread"), 1.0);
}
