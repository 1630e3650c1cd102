//! Properties of the whole loader: it never panics, every finding points at a real
//! line, and inheritance is "defaults, then the section's own lines".

use fulcrum_config::reader::ProcessEnv;
use fulcrum_config::{load_str, Level};
use proptest::prelude::*;
use std::time::Duration;

const LINES: &[&str] = &[
    "global",
    "defaults",
    "frontend f",
    "backend b",
    "listen l",
    "userlist u",
    "mode http",
    "mode tcp",
    "bind :80",
    "bind x.x.x.x:80",
    "server s 127.0.0.1:80 check",
    "server s ::1",
    "default-server inter 2s",
    "balance roundrobin",
    "balance hdr(Host)",
    "balance nope",
    "option httplog",
    "no option httplog",
    "option forwardfor except 10.0.0.0/8",
    "option bad",
    "timeout client 5s",
    "timeout clinet 5",
    "timeout server 1m",
    "contimeout 5000",
    "stats uri/x",
    "stats enable",
    "stats auth a:b",
    "default_backend b",
    "use_backend b",
    "acl a src 127.0.0.1",
    "http-request deny if a",
    "maxconn 10",
    "maxconn -1",
    "nbproc 2",
    "daemon",
    "log 127.0.0.1 local0",
    "log global",
    "errorfile 503 /nonexistent",
    "capture request header Host len 5",
    "monitor-uri /ok",
    "retries 3",
    "hash-type consistent",
    "cookie SRV insert",
    "foo bar",
    "user u insecure-password p",
    "",
    "no",
    "option",
    "timeout",
    "server",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn loading_never_panics_and_findings_point_at_lines(idx in prop::collection::vec(0..LINES.len(), 0..40)) {
        let text: String = idx.iter().map(|&i| format!("{}\n", LINES[i])).collect();
        let l = load_str("p.cfg", &text, &ProcessEnv);
        for d in &l.diagnostics.items {
            if let Some(s) = &d.span {
                prop_assert!(s.line >= 1 && s.line as usize <= idx.len(), "{d}");
            }
        }
        prop_assert_eq!(l.config.is_some(), !l.diagnostics.items.iter().any(|d| d.level == Level::Alert));
    }

    #[test]
    fn timeouts_keep_their_value(n in 0u64..2_000_000, unit in prop::sample::select(vec!["", "ms", "s"])) {
        let text = format!("defaults\ntimeout client {n}{unit}\nfrontend f\nbind :80\n");
        let l = load_str("p.cfg", &text, &ProcessEnv);
        let want = match unit { "s" => Duration::from_secs(n), _ => Duration::from_millis(n) };
        prop_assume!(want.as_millis() <= i32::MAX as u128);
        let c = l.config.unwrap();
        prop_assert_eq!(c.proxies[0].timeouts.client, Some(want));
    }

    #[test]
    fn options_are_defaults_minus_no_option(set in prop::collection::vec(any::<bool>(), 4), unset in prop::collection::vec(any::<bool>(), 4)) {
        let names = ["abortonclose", "allbackups", "persist", "log-health-checks"];
        let mut text = String::from("defaults\ntimeout connect 1s\ntimeout server 1s\n");
        for (n, s) in names.iter().zip(&set) {
            if *s { text += &format!("option {n}\n"); }
        }
        text += "backend b\n";
        for (n, u) in names.iter().zip(&unset) {
            if *u { text += &format!("no option {n}\n"); }
        }
        let l = load_str("p.cfg", &text, &ProcessEnv);
        let o = &l.config.unwrap().proxies[0].options;
        let got = [o.abortonclose, o.allbackups, o.persist, o.log_health_checks];
        for i in 0..4 {
            prop_assert_eq!(got[i], set[i] && !unset[i], "{}", names[i]);
        }
    }
}
