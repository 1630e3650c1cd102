//! Health-check keywords: typed values and the diagnostics users see.

use std::time::Duration;

use fulcrum_config::diag::{Diagnostics, Level, Span};
use fulcrum_config::model::check::*;
use fulcrum_config::parse::check::{finish_proxy, parse_time, proxy_keyword, server_option};
use proptest::prelude::*;

fn w(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn span() -> Span {
    Span::new("t.cfg", 12)
}

fn proxy(lines: &[&str]) -> (CheckSettings, Diagnostics) {
    let mut s = CheckSettings::default();
    let mut d = Diagnostics::default();
    for l in lines {
        assert!(
            proxy_keyword(&w(l), &span(), &mut s, &mut d),
            "not claimed: {l}"
        );
    }
    (s, d)
}

fn server(line: &str) -> (ServerCheck, Diagnostics) {
    let words = w(line);
    let mut s = ServerCheck::default();
    let mut d = Diagnostics::default();
    let mut i = 0;
    while i < words.len() {
        let n = server_option(&words[i..], &span(), &mut s, &mut d);
        assert!(n > 0, "not a check option: {}", words[i]);
        i += n;
    }
    (s, d)
}

fn only_error(d: &Diagnostics) -> String {
    let errs: Vec<_> = d.errors().collect();
    assert_eq!(errs.len(), 1, "{:?}", d.items);
    assert_eq!(errs[0].span.as_ref().map(|s| s.line), Some(12));
    errs[0].to_string()
}

#[test]
fn httpchk_forms() {
    let (s, d) = proxy(&["option httpchk"]);
    assert!(d.items.is_empty());
    let Some(CheckKind::Http(req)) = &s.kind else {
        panic!("{:?}", s.kind)
    };
    assert_eq!(
        (
            req.method_or_default(),
            req.uri_or_default(),
            req.version_or_default()
        ),
        ("OPTIONS", "/", "HTTP/1.0")
    );

    let (s, _) = proxy(&["option httpchk /health"]);
    let Some(CheckKind::Http(req)) = &s.kind else {
        panic!()
    };
    assert_eq!(
        (req.method_or_default(), req.uri.as_deref()),
        ("OPTIONS", Some("/health"))
    );

    // seed 05
    let (s, _) = proxy(&["option httpchk HEAD /check.html HTTP/1.0"]);
    let Some(CheckKind::Http(req)) = &s.kind else {
        panic!()
    };
    assert_eq!(req.method.as_deref(), Some("HEAD"));
    assert_eq!(req.uri.as_deref(), Some("/check.html"));
    assert_eq!(req.version.as_deref(), Some("HTTP/1.0"));
    assert!(req.headers.is_empty());
}

#[test]
fn httpchk_legacy_glued_headers_become_pairs() {
    // seed 03, after the reader resolved `\r\n` and `\ `.
    let words: Vec<String> = [
        "option",
        "httpchk",
        "GET",
        "/cometd",
        "HTTP/1.1\r\nHost: \r\nConnection: upgrade\r\nUpgrade: websocket",
    ]
    .map(String::from)
    .to_vec();
    let mut s = CheckSettings::default();
    let mut d = Diagnostics::default();
    assert!(proxy_keyword(&words, &span(), &mut s, &mut d));
    assert!(!d.has_errors(), "{:?}", d.items);
    let warn = d
        .warnings()
        .next()
        .expect("deprecation warning")
        .to_string();
    assert!(
        warn.contains("(t.cfg:12)") && warn.contains("deprecated"),
        "{warn}"
    );
    assert!(
        warn.contains("'option httpchk GET /cometd HTTP/1.1' and 'http-check send hdr Connection upgrade hdr Upgrade websocket'"),
        "{warn}"
    );
    let Some(CheckKind::Http(req)) = &s.kind else {
        panic!()
    };
    assert_eq!(req.version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(
        req.headers,
        vec![
            ("Host".to_string(), String::new()),
            ("Connection".to_string(), "upgrade".to_string()),
            ("Upgrade".to_string(), "websocket".to_string()),
        ]
    );
}

#[test]
fn httpchk_errors() {
    let (_, d) = proxy(&["option httpchk GET / HTTP/1.1 extra"]);
    assert!(only_error(&d).contains("at most 3 arguments"));
    let bad: Vec<String> = ["option", "httpchk", "GET", "/", "HTTP/1.1\r\nNoColonHere"]
        .map(String::from)
        .to_vec();
    let mut s = CheckSettings::default();
    let mut d = Diagnostics::default();
    proxy_keyword(&bad, &span(), &mut s, &mut d);
    assert!(only_error(&d).contains("has no ':'"));
    assert_eq!(s.kind, None, "a rejected line records nothing");
}

#[test]
fn http_check_expect_status_101_and_friends() {
    let (s, d) = proxy(&[
        "option httpchk",
        "http-check expect status 101",
        "http-check expect ! string maintenance",
        "http-check expect status 200,300-399",
        "http-check expect rstatus ^2",
        "http-check expect comment ok min-recv 10 hdr name -m beg X-Up value yes",
        "http-check disable-on-404",
        "http-check send-state",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    assert_eq!(s.disable_on_404, Some(true));
    assert_eq!(s.send_state, Some(true));
    let exp: Vec<&Expect> = s
        .http_rules
        .iter()
        .map(|r| match r {
            CheckRule::Expect(e) => e,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(exp[0].matcher, ExpectMatch::Status(vec![(101, 101)]));
    assert!(!exp[0].negate);
    assert!(exp[1].negate);
    assert_eq!(exp[1].matcher, ExpectMatch::String("maintenance".into()));
    let ExpectMatch::Status(r) = &exp[2].matcher else {
        panic!()
    };
    assert!(ExpectMatch::status_matches(r, 302));
    assert!(!ExpectMatch::status_matches(r, 404));
    assert_eq!(exp[3].matcher, ExpectMatch::Rstatus("^2".into()));
    assert_eq!(exp[4].min_recv, Some(10));
    assert_eq!(exp[4].comment.as_deref(), Some("ok"));
    assert_eq!(
        exp[4].matcher,
        ExpectMatch::Header {
            full: false,
            name: HeaderPattern {
                method: HeaderMatchMethod::Beg,
                pattern: "X-Up".into()
            },
            value: Some(HeaderPattern {
                method: HeaderMatchMethod::Str,
                pattern: "yes".into()
            }),
        }
    );
}

#[test]
fn http_check_expect_errors_name_the_fix() {
    let (_, d) = proxy(&["http-check expect stat 200"]);
    let e = only_error(&d);
    assert!(
        e.contains("unknown match 'stat'") && e.contains("'status'"),
        "{e}"
    );
    let (_, d) = proxy(&["http-check expect status 2xx"]);
    assert!(only_error(&d).contains("e.g. '200,300-399'"));
    let (_, d) = proxy(&["http-check expect binary 00ff"]);
    assert!(only_error(&d).contains("unknown match 'binary'"));
    let (_, d) = proxy(&["http-check expect string a b"]);
    assert!(only_error(&d).contains("unexpected word 'b'"));
    let (_, d) = proxy(&["http-check expext status 200"]);
    assert!(only_error(&d).contains("did you mean 'http-check expect'?"));
}

#[test]
fn http_check_send_and_connect() {
    let (s, d) = proxy(&[
        "http-check connect port 8080 ssl sni example.com alpn h2",
        "http-check send meth GET uri /health ver HTTP/1.1 hdr Host example.com hdr X-A b body ping",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    let CheckRule::Connect(c) = &s.http_rules[0] else {
        panic!()
    };
    assert_eq!(c.port.as_deref(), Some("8080"));
    assert!(c.ssl);
    assert_eq!(c.sni.as_deref(), Some("example.com"));
    let CheckRule::HttpSend(send) = &s.http_rules[1] else {
        panic!()
    };
    assert_eq!(send.method.as_deref(), Some("GET"));
    assert_eq!(send.uri.as_deref(), Some("/health"));
    assert_eq!(send.version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(send.headers.len(), 2);
    assert_eq!(send.headers[0], ("Host".into(), "example.com".into()));
    assert_eq!(send.body.as_deref(), Some("ping"));

    let (_, d) = proxy(&["http-check send method GET"]);
    assert!(only_error(&d).contains("unknown option 'method'"));
    let (_, d) = proxy(&["http-check send hdr Host"]);
    assert!(only_error(&d).contains("a name and a value"));
}

#[test]
fn tcp_check_rules() {
    let (s, d) = proxy(&[
        "option tcp-check",
        "tcp-check connect port 6379",
        "tcp-check send PING\r\n",
        "tcp-check send-binary 0a0B",
        "tcp-check expect string +PONG",
        "tcp-check expect ! rbinary ^ff",
        "tcp-check comment done",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    assert_eq!(s.kind, Some(CheckKind::TcpCheck));
    assert_eq!(s.tcp_rules.len(), 6);
    let CheckRule::TcpSend {
        data: CheckData::Bytes(b),
        ..
    } = &s.tcp_rules[2]
    else {
        panic!()
    };
    assert_eq!(b, &[0x0a, 0x0b]);
    let CheckRule::Expect(e) = &s.tcp_rules[4] else {
        panic!()
    };
    assert!(e.negate);
    assert_eq!(e.matcher, ExpectMatch::Rbinary("^ff".into()));

    let (_, d) = proxy(&["tcp-check send-binary 0g"]);
    assert!(only_error(&d).contains("not a hex string"));
    let (_, d) = proxy(&["tcp-check expect status 200"]);
    assert!(only_error(&d).contains("unknown match 'status'"));
    let (_, d) = proxy(&["tcp-check sen x"]);
    assert!(only_error(&d).contains("did you mean 'tcp-check send'?"));
}

#[test]
fn protocol_check_options() {
    let (s, _) = proxy(&["option mysql-check user haproxy post-41"]);
    assert_eq!(
        s.kind,
        Some(CheckKind::Mysql {
            user: Some("haproxy".into()),
            post41: true
        })
    );
    let (s, _) = proxy(&["option mysql-check"]);
    assert_eq!(
        s.kind,
        Some(CheckKind::Mysql {
            user: None,
            post41: false
        })
    );
    let (s, _) = proxy(&["option pgsql-check user pg"]);
    assert_eq!(s.kind, Some(CheckKind::Pgsql { user: "pg".into() }));
    let (s, _) = proxy(&["option smtpchk"]);
    assert_eq!(
        s.kind,
        Some(CheckKind::Smtp {
            hello: "HELO".into(),
            domain: "localhost".into()
        })
    );
    let (s, _) = proxy(&["option smtpchk EHLO mx.example.com"]);
    assert_eq!(
        s.kind,
        Some(CheckKind::Smtp {
            hello: "EHLO".into(),
            domain: "mx.example.com".into()
        })
    );
    // as HAProxy: anything but exactly HELO|EHLO DOMAIN sends the default, with a warning here
    let (s, d) = proxy(&["option smtpchk ehlo mx.example.com"]);
    assert_eq!(
        s.kind,
        Some(CheckKind::Smtp {
            hello: "HELO".into(),
            domain: "localhost".into()
        })
    );
    assert!(!d.has_errors());
    assert!(d
        .warnings()
        .next()
        .expect("warning")
        .to_string()
        .contains("send 'HELO localhost'"));
    for (line, kind) in [
        ("option redis-check", CheckKind::Redis),
        ("option ldap-check", CheckKind::Ldap),
        ("option ssl-hello-chk", CheckKind::SslHello),
    ] {
        assert_eq!(proxy(&[line]).0.kind, Some(kind));
    }
    let (_, d) = proxy(&["option pgsql-check"]);
    assert!(only_error(&d).contains("expects 'user NAME'"));
    let (_, d) = proxy(&["option redis-check now"]);
    assert!(only_error(&d).contains("takes no argument"));
    let (_, d) = proxy(&["option mysql-check user a post-42"]);
    assert!(only_error(&d).contains("post-41"));
}

#[test]
fn external_check_is_a_notice_and_others_are_not_claimed() {
    let (s, d) = proxy(&["option external-check", "external-check command /bin/true"]);
    assert_eq!(s.kind, Some(CheckKind::External));
    assert!(!d.has_errors());
    assert_eq!(
        d.items.iter().filter(|x| x.level == Level::Notice).count(),
        2
    );
    let mut s = CheckSettings::default();
    let mut d = Diagnostics::default();
    for l in [
        "option httplog",
        "option log-health-checks",
        "balance roundrobin",
        "no option httpclose",
    ] {
        assert!(!proxy_keyword(&w(l), &span(), &mut s, &mut d), "{l}");
    }
}

#[test]
fn server_options_seed_values_and_defaults() {
    // seed 06 / 07 / 08
    let (s, d) = server("check port 22 inter 5000 fall 5");
    assert!(d.items.is_empty());
    assert!(s.is_enabled());
    assert_eq!(s.port, Some(22));
    assert_eq!(s.inter(), Duration::from_secs(5));
    assert_eq!(s.fall(), 5);
    assert_eq!(s.rise(), DEFAULT_RISE);
    assert_eq!(
        s.fastinter(),
        Duration::from_secs(5),
        "fastinter follows inter"
    );
    let (s, _) = server("check inter 1s rise 2 fall 2");
    assert_eq!(
        (s.inter(), s.rise(), s.fall()),
        (Duration::from_secs(1), 2, 2)
    );
    let s = ServerCheck::default();
    assert_eq!(
        (s.inter(), s.rise(), s.fall()),
        (Duration::from_secs(2), 2, 3)
    );
    assert_eq!(s.error_limit(), 10);
    assert_eq!(s.on_error(), OnError::FailCheck);
    assert!(!s.is_enabled());
}

#[test]
fn server_options_all_keywords() {
    let (s, d) = server(
        "check fastinter 500ms downinter 10s addr 10.0.0.1 init-state down slowstart 30s \
         track be1/web1 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions \
         check-send-proxy agent-check agent-port 9999 agent-inter 3s agent-send hello \
         agent-addr 10.0.0.2 observe layer7 error-limit 4 on-error sudden-death",
    );
    assert!(d.items.is_empty(), "{:?}", d.items);
    assert_eq!(s.fastinter, Some(Duration::from_millis(500)));
    assert_eq!(s.downinter(), Duration::from_secs(10));
    assert_eq!(s.addr.as_deref(), Some("10.0.0.1"));
    assert_eq!(s.init_state(), InitState::Down);
    assert_eq!(s.slowstart, Some(Duration::from_secs(30)));
    assert_eq!(
        s.track,
        Some(TrackTarget {
            backend: Some("be1".into()),
            server: "web1".into()
        })
    );
    assert_eq!(s.shutdown_sessions_on_down, Some(true));
    assert_eq!(s.shutdown_backup_sessions_on_up, Some(true));
    assert_eq!(s.send_proxy, Some(true));
    assert_eq!(s.agent.enabled, Some(true));
    assert_eq!(s.agent.port, Some(9999));
    assert_eq!(s.agent_inter(), Duration::from_secs(3));
    assert_eq!(s.agent.send.as_deref(), Some("hello"));
    assert_eq!(s.observe, Some(Observe::Layer7));
    assert_eq!(s.error_limit(), 4);
    assert_eq!(s.on_error(), OnError::SuddenDeath);
    let (s, _) = server("track web1");
    assert_eq!(
        s.track,
        Some(TrackTarget {
            backend: None,
            server: "web1".into()
        })
    );
}

#[test]
fn server_option_errors_and_notices() {
    let (_, d) = server("inter 5x");
    let e = only_error(&d);
    assert!(
        e.contains("unknown time unit 'x'") && e.contains("'2s'"),
        "{e}"
    );
    let (_, d) = server("rise 0");
    assert!(only_error(&d).contains("positive integer"));
    let (_, d) = server("port 70000");
    assert!(only_error(&d).contains("between 1 and 65535"));
    let (_, d) = server("on-error explode");
    assert!(only_error(&d).contains("'on-error' does not accept 'explode' (write one of: fastinter, fail-check, sudden-death, mark-down)"));
    let (_, d) = server("observe layer5");
    assert!(only_error(&d).contains("write one of: layer4, layer7"));
    let (_, d) = server("inter 0");
    assert!(only_error(&d).contains("greater than zero"));
    let (s, d) = server("check-ssl check-sni example.com");
    assert!(!d.has_errors());
    assert_eq!(d.items.len(), 2);
    assert_eq!(s.sni.as_deref(), Some("example.com"));
    let mut sc = ServerCheck::default();
    let mut dd = Diagnostics::default();
    assert_eq!(server_option(&w("weight 10"), &span(), &mut sc, &mut dd), 0);
    assert_eq!(server_option(&w("inter"), &span(), &mut sc, &mut dd), 1);
    assert!(dd.has_errors());
}

#[test]
fn default_server_inheritance() {
    let (defaults, _) = server("inter 3s rise 2 fall 3");
    let (mut s, _) = server("check fall 5");
    s.inherit_from(&defaults);
    assert_eq!(
        (s.inter(), s.rise(), s.fall()),
        (Duration::from_secs(3), 2, 5)
    );
    assert!(s.is_enabled());
    let (mut off, _) = server("no-check");
    off.inherit_from(&server("check").0);
    assert!(!off.is_enabled(), "no-check overrides default-server check");

    let (dp, _) = proxy(&["option httpchk GET /", "http-check expect status 200"]);
    let mut p = CheckSettings::default();
    p.inherit_from(&dp);
    assert_eq!(p, dp);
    let (mut own, _) = proxy(&["option tcp-check"]);
    own.inherit_from(&dp);
    assert_eq!(own.kind, Some(CheckKind::TcpCheck));
}

#[test]
fn time_units() {
    assert_eq!(parse_time("1500"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_time("250us"), Ok(Duration::from_micros(250)));
    assert_eq!(parse_time("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_time("10m"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_time("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_time("1d"), Ok(Duration::from_secs(86400)));
    assert!(parse_time("s").is_err());
    assert!(parse_time("-1s").is_err());
    assert!(parse_time("25d").unwrap_err().contains("too large"));
    assert!(parse_time("99999999999999999999").is_err());
}

proptest! {
    #[test]
    fn time_roundtrip(n in 0u64..2_000_000, unit in prop::sample::select(vec!["us", "ms", "s", "m", "", "h"])) {
        let mult_us: u64 = match unit { "us" => 1, "" | "ms" => 1000, "s" => 1_000_000, "m" => 60_000_000, _ => 3_600_000_000 };
        let r = parse_time(&format!("{n}{unit}"));
        match n.checked_mul(mult_us) {
            Some(us) if us / 1000 <= i32::MAX as u64 => prop_assert_eq!(r, Ok(Duration::from_micros(us))),
            _ => prop_assert!(r.is_err()),
        }
    }

    #[test]
    fn expect_never_panics(words in prop::collection::vec("[!a-z0-9,-]{0,8}", 0..6)) {
        let mut line = vec!["http-check".to_string(), "expect".to_string()];
        line.extend(words.clone());
        let mut s = CheckSettings::default();
        let mut d = Diagnostics::default();
        prop_assert!(proxy_keyword(&line, &span(), &mut s, &mut d));
        // either a rule was recorded or exactly one error explains why
        prop_assert_eq!(s.http_rules.len() + d.errors().count(), 1);
        line[0] = "tcp-check".into();
        let mut s = ServerCheck::default();
        let _ = server_option(&words, &span(), &mut s, &mut d);
    }
}

#[test]
fn negated_check_options_are_one_alert() {
    let words: Vec<String> = ["no", "option", "httpchk", "GET", "/", "HTTP/1.1\r\nHost: x"]
        .map(String::from)
        .to_vec();
    let mut s = CheckSettings::default();
    let mut d = Diagnostics::default();
    assert!(proxy_keyword(&words, &span(), &mut s, &mut d));
    assert_eq!(d.items.len(), 1, "{:?}", d.items);
    assert!(only_error(&d).contains("'no option httpchk' is not supported"));
    assert_eq!(s.kind, None);
}

#[test]
fn rules_without_their_option_are_ignored_with_a_warning() {
    let (s, _) = proxy(&["http-check expect status 200", "tcp-check send x"]);
    let mut d = Diagnostics::default();
    finish_proxy(&s, "bk", &span(), &mut d);
    let w: Vec<String> = d.warnings().map(ToString::to_string).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("without 'option httpchk'") && w[1].contains("without 'option tcp-check'")
    );
    let (s, _) = proxy(&["option httpchk", "http-check expect status 200"]);
    let mut d = Diagnostics::default();
    finish_proxy(&s, "bk", &span(), &mut d);
    assert!(d.items.is_empty());
}

#[test]
fn keyword_enums_round_trip() {
    for k in InitState::KEYWORDS {
        assert_eq!(InitState::from_keyword(k).map(InitState::keyword), Some(*k));
    }
    for k in OnError::KEYWORDS {
        assert_eq!(OnError::from_keyword(k).map(OnError::keyword), Some(*k));
    }
    for k in Observe::KEYWORDS.iter().chain(HeaderMatchMethod::KEYWORDS) {
        let ok = Observe::from_keyword(k).map(Observe::keyword) == Some(*k)
            || HeaderMatchMethod::from_keyword(k).map(HeaderMatchMethod::keyword) == Some(*k);
        assert!(ok, "{k}");
    }
    assert_eq!(
        OnError::from_keyword("Fail-Check"),
        None,
        "keywords are case-sensitive"
    );
}

/// Behaviour observed on HAProxy 2.6 (the requests it actually sends).
#[test]
fn first_http_request_merges_like_haproxy() {
    let glued = |extra: &[&str]| {
        let mut s = CheckSettings::default();
        let mut d = Diagnostics::default();
        let words: Vec<String> = [
            "option",
            "httpchk",
            "GET",
            "/x",
            "HTTP/1.1\r\nHost: \r\nX-A: 1",
        ]
        .map(String::from)
        .to_vec();
        proxy_keyword(&words, &span(), &mut s, &mut d);
        for l in extra {
            proxy_keyword(&w(l), &span(), &mut s, &mut d);
        }
        assert!(!d.has_errors(), "{:?}", d.items);
        s.first_http_request().expect("http check")
    };
    // empty-valued glued headers are not sent
    let r = glued(&[]);
    assert_eq!(r.headers, vec![("X-A".to_string(), "1".to_string())]);
    // a send with headers replaces the option's headers
    let r = glued(&["http-check send hdr X-B 2"]);
    assert_eq!((r.method_or_default(), r.uri_or_default()), ("GET", "/x"));
    assert_eq!(r.headers, vec![("X-B".to_string(), "2".to_string())]);
    // method and version override, headers stay
    let r = glued(&["http-check send meth HEAD ver HTTP/1.0"]);
    assert_eq!(
        (r.method_or_default(), r.version_or_default()),
        ("HEAD", "HTTP/1.0")
    );
    assert_eq!(r.headers.len(), 1);
    assert_eq!(CheckSettings::default().first_http_request(), None);
}

#[test]
fn check_rule_order_follows_haproxy() {
    let (_, d) = proxy(&[
        "option httpchk",
        "http-check send uri /a",
        "http-check expect status 200",
        "http-check send uri /b",
    ]);
    assert!(only_error(&d).contains("unable to add a send rule at step 3 (missing connect rule)"));
    let (s, d) = proxy(&[
        "option httpchk",
        "http-check connect",
        "http-check send uri /a",
        "http-check expect status 200",
        "http-check connect",
        "http-check send uri /b",
    ]);
    assert!(d.items.is_empty(), "{:?}", d.items);
    assert_eq!(s.http_rules.len(), 5);
    let (_, d) = proxy(&["option tcp-check", "tcp-check send a", "tcp-check connect"]);
    assert!(only_error(&d).contains("the first step must also be a 'connect'"));
    let (s, d) = proxy(&[
        "option tcp-check",
        "tcp-check comment x",
        "tcp-check connect",
        "tcp-check send a",
        "tcp-check send b",
    ]);
    assert!(
        d.items.is_empty(),
        "tcp-check may send twice: {:?}",
        d.items
    );
    assert_eq!(s.tcp_rules.len(), 4);
}
