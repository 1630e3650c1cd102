//! The rule-language syntax tree: what parses, into what, and the messages for what does not.

use fulcrum_config::diag::Span;
use fulcrum_config::rules::*;
use proptest::prelude::*;

fn sp() -> Span {
    Span::new("h.cfg", 12)
}

fn w(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[test]
fn acl_with_suffix_flags_and_patterns() {
    let a = parse_acl(&w("host_ws hdr_beg(Host) -i ws.example.com"), &sp()).unwrap();
    assert_eq!(a.name, "host_ws");
    assert_eq!(
        (a.expr.fetch.as_str(), a.expr.args.as_slice()),
        ("req.hdr", &["Host".to_string()][..])
    );
    assert_eq!(a.method, MatchMethod::Beg);
    assert!(a.icase);
    assert_eq!(a.patterns, ["ws.example.com"]);

    let a = parse_acl(&w("n hdr_cnt(X) eq 1"), &sp()).unwrap();
    assert_eq!(
        (a.method, a.patterns.as_slice()),
        (MatchMethod::Int, &["eq".to_string(), "1".to_string()][..])
    );

    let a = parse_acl(&w("f path,lower -m sub -f /etc/p.lst -M -n -- -x"), &sp()).unwrap();
    assert_eq!(a.method, MatchMethod::Sub);
    assert_eq!(a.expr.convs[0].name, "lower");
    assert_eq!(a.files, ["/etc/p.lst"]);
    assert!(a.map_files && a.no_dns);
    assert_eq!(a.patterns, ["-x"]);

    let a = parse_acl(&w("s src 10.0.0.0/8"), &sp()).unwrap();
    assert_eq!(a.method, MatchMethod::Ip);
}

#[test]
fn acl_errors_suggest_fixes() {
    let d = parse_acl(&w("x hdr_bg(host) foo"), &sp()).unwrap_err();
    assert_eq!(d.span, Some(sp()));
    assert_eq!(d.hint.as_deref(), Some("did you mean 'hdr_beg'?"));
    let d = parse_acl(&w("x path -m begg /a"), &sp()).unwrap_err();
    assert_eq!(d.hint.as_deref(), Some("did you mean 'beg'?"));
    let d = parse_acl(&w("x path -q /a"), &sp()).unwrap_err();
    assert!(d.message.contains("'-q' is not a valid ACL option"));
    assert!(parse_acl(&w("bad!name path /a"), &sp()).is_err());
    assert!(parse_acl(&w("x nbsrv(a,b) lt 2"), &sp()).is_err());
}

#[test]
fn conditions_group_by_or_and_negate() {
    let c = parse_condition(&w("unless a !b || ! c { path /x } or d"), &sp()).unwrap();
    assert!(c.unless);
    assert_eq!(c.groups.len(), 3);
    assert_eq!(c.groups[0].len(), 2);
    assert!(!c.groups[0][0].negated && c.groups[0][1].negated);
    assert!(c.groups[1][0].negated);
    assert!(matches!(&c.groups[1][1].acl, AclRef::Anonymous(a) if a.patterns == ["/x"]));
    assert_eq!(c.groups[2][0].acl, AclRef::Named("d".into()));
    for bad in [
        "if",
        "if a ||",
        "if || a",
        "if a !",
        "if { path /x",
        "if a }",
        "when a",
    ] {
        assert!(parse_condition(&w(bad), &sp()).is_err(), "{bad}");
    }
}

#[test]
fn http_actions_parse_to_typed_fields() {
    let r = parse_http_request(
        &w("deny deny_status 429 content-type text/plain string busy if a"),
        &sp(),
    )
    .unwrap();
    let HttpAction::Deny(reply) = &r.action else {
        panic!("{r:?}")
    };
    assert_eq!(reply.status, Some(429));
    assert_eq!(reply.body, ReplyBody::Text("busy".into()));
    assert!(r.cond.is_some());
    // HAProxy 2.2+ spelling.
    let r = parse_http_request(&w("deny status 403"), &sp()).unwrap();
    let HttpAction::Deny(reply) = &r.action else {
        panic!("{r:?}")
    };
    assert_eq!(reply.status, Some(403));

    let r = parse_http_request(
        &w("redirect scheme https code 308 drop-query unless { ssl_fc }"),
        &sp(),
    )
    .unwrap();
    let HttpAction::Redirect(rd) = &r.action else {
        panic!()
    };
    assert_eq!(
        (rd.kind, rd.code, rd.drop_query),
        (RedirectKind::Scheme, 308, true)
    );
    assert!(r.cond.as_ref().unwrap().unless);

    let r = parse_http_request(&w("set-var(txn.x) req.hdr(host),lower"), &sp()).unwrap();
    assert!(
        matches!(&r.action, HttpAction::SetVar { name, expr, conds } if conds.is_empty() && name == "txn.x" && expr.fetch == "req.hdr")
    );
    let r = parse_http_request(&w("set-var(txn.x,ifnotexists,ifnotempty) src"), &sp()).unwrap();
    assert!(
        matches!(&r.action, HttpAction::SetVar { conds, .. } if conds == &["ifnotexists", "ifnotempty"])
    );
    let d = parse_http_request(&w("set-var(txn.x,ifnotexist) src"), &sp()).unwrap_err();
    assert_eq!(d.hint.as_deref(), Some("did you mean 'ifnotexists'?"));
    let r = parse_http_request(&w("del-header X-A -m beg"), &sp()).unwrap();
    assert!(matches!(
        &r.action,
        HttpAction::DelHeader {
            method: MatchMethod::Beg,
            ..
        }
    ));
    let r = parse_http_request(&w("set-timeout server 5s"), &sp()).unwrap();
    assert_eq!(
        r.action,
        HttpAction::SetTimeout {
            kind: TimeoutKind::Server,
            ms: 5000
        }
    );
    let r = parse_http_request(&w("normalize-uri path-strip-dotdot full"), &sp()).unwrap();
    assert_eq!(
        r.action,
        HttpAction::NormalizeUri(Normalizer::PathStripDotdot { full: true })
    );
    let r = parse_http_response(&w("set-status 503 reason Down"), &sp()).unwrap();
    assert_eq!(
        r.action,
        HttpAction::SetStatus {
            status: 503,
            reason: Some("Down".into())
        }
    );
    for ok in [
        "allow",
        "tarpit",
        "auth realm x",
        "add-header X v",
        "set-header X %[src]",
        "replace-header Host ^(.*)$ \\1",
        "replace-value X a b",
        "set-path /x",
        "set-pathq /x?y",
        "set-query a=1",
        "set-uri /",
        "set-method GET",
        "unset-var(txn.x)",
        "return status 204",
        "capture req.hdr(host) len 10",
        "set-log-level silent",
        "set-src hdr(x-ip)",
        "set-dst dst",
        "early-hint Link </a>",
        "use-service prometheus-exporter",
        "wait-for-body time 1s at-least 1000",
        "track-sc0 src table t",
        "set-var-fmt(txn.y) %[src]",
    ] {
        assert!(parse_http_request(&w(ok), &sp()).is_ok(), "{ok}");
    }
}

#[test]
fn http_action_errors() {
    let d = parse_http_request(&w("denny if a"), &sp()).unwrap_err();
    assert_eq!(d.hint.as_deref(), Some("did you mean 'deny'?"));
    assert!(parse_http_response(&w("set-path /x"), &sp()).is_err());
    assert!(parse_http_request(&w("redirect location /x code 304"), &sp()).is_err());
    assert!(parse_http_request(&w("set-var(x) src"), &sp()).is_err());
    assert!(parse_http_request(&w("add-header X"), &sp()).is_err());
    assert!(parse_http_request(&w("allow extra"), &sp()).is_err());
}

#[test]
fn tcp_rules_and_use_targets() {
    let r = parse_tcp_request(&w("inspect-delay 5s"), &sp()).unwrap();
    assert_eq!(
        r.kind,
        TcpRuleKind::InspectDelay {
            response: false,
            ms: 5000
        }
    );
    let r = parse_tcp_request(
        &w("content accept if { req.ssl_sni -m end .ex.com }"),
        &sp(),
    )
    .unwrap();
    assert!(matches!(
        r.kind,
        TcpRuleKind::Rule {
            layer: TcpLayer::Content,
            action: TcpAction::Accept,
            cond: Some(_)
        }
    ));
    assert!(parse_tcp_request(&w("connection capture src len 5"), &sp()).is_err());
    let d = parse_tcp_request(&w("conection reject"), &sp()).unwrap_err();
    assert_eq!(d.hint.as_deref(), Some("did you mean 'connection'?"));
    assert!(parse_tcp_response(&w("content close"), &sp()).is_ok());

    let u = parse_use_target(&w("bk_ws if host_ws"), &sp()).unwrap();
    assert_eq!(u.target, TargetName::Static("bk_ws".into()));
    let u = parse_use_target(&w("bk_%[req.hdr(host),lower]"), &sp()).unwrap();
    assert!(matches!(u.target, TargetName::Dynamic(_)) && u.cond.is_none());
    assert!(parse_use_target(&w("a b"), &sp()).is_err());
}

#[test]
fn legacy_lines_warn_with_the_modern_form() {
    let (r, warn) = parse_legacy(
        "reqirep",
        &["^Host:\\ a".to_string(), "b".to_string()],
        &sp(),
    )
    .unwrap();
    assert_eq!(r.phase, HttpPhase::Request);
    assert!(matches!(&r.action, HttpAction::Legacy(l) if l.icase));
    assert!(warn
        .hint
        .as_deref()
        .unwrap()
        .contains("http-request replace-header"));
    let (r, warn) = parse_legacy("rspdel", &w("^Server:"), &sp()).unwrap();
    assert_eq!(r.phase, HttpPhase::Response);
    assert!(warn.to_string().starts_with("[WARNING]"));
    let (r, _) = parse_legacy("block", &w("if bad"), &sp()).unwrap();
    assert!(
        matches!(
            &r.action,
            HttpAction::Legacy(Legacy {
                op: LegacyOp::Block,
                ..
            })
        ) && r.cond.is_some()
    );
    assert!(parse_legacy("reqrep", &w("onlyone"), &sp()).is_err());
    assert!(parse_legacy("reqfoo", &w("x"), &sp()).is_err());
}

proptest! {
    /// Arguments without special characters survive `name(a,b),conv(c)` exactly.
    #[test]
    fn sample_expression_arguments_round_trip(
        a in "[a-zA-Z0-9_.-]{1,12}",
        occ in 1i64..20,
        conv in prop::sample::select(vec!["lower", "upper", "hex", "base64", "length"]),
        field in "[a-z0-9]{1,4}",
    ) {
        let text = format!("hdr({a},{occ}),{conv},field(1,{field})");
        let e = parse_sample_expr(&text, &sp()).unwrap();
        prop_assert_eq!(e.fetch, "hdr");
        prop_assert_eq!(e.args, vec![a, occ.to_string()]);
        prop_assert_eq!(e.convs.len(), 2);
        prop_assert_eq!(e.convs[0].name.as_str(), conv);
        prop_assert_eq!(e.convs[1].args.clone(), vec!["1".to_string(), field]);
    }

    /// Any text either parses or yields an error at the given line; it never panics.
    #[test]
    fn condition_parser_never_panics(words in prop::collection::vec("[!{}|a-z()]{1,4}|or|if|unless", 0..8)) {
        let mut all = vec!["if".to_string()];
        all.extend(words);
        if let Err(d) = parse_condition(&all, &sp()) {
            prop_assert_eq!(d.span, Some(sp()));
        }
    }
}

#[test]
fn every_legacy_rule_keyword_parses() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for kw in [
        "reqallow",
        "reqdel",
        "reqdeny",
        "reqiallow",
        "reqidel",
        "reqideny",
        "reqipass",
        "reqpass",
        "reqitarpit",
        "reqtarpit",
        "rspdel",
        "rspdeny",
        "rspidel",
        "rspideny",
    ] {
        let (r, w) = parse_legacy(kw, &s(&["^X-A:", "if", "TRUE"]), &sp()).unwrap();
        assert_eq!(
            r.phase == HttpPhase::Response,
            kw.starts_with("rsp"),
            "{kw}"
        );
        assert!(w.hint.is_some(), "{kw}");
    }
    for kw in [
        "reqrep",
        "reqirep",
        "rsprep",
        "rspirep",
        "reqsetbe",
        "reqisetbe",
    ] {
        assert!(
            parse_legacy(kw, &s(&["^X-A:(.*)", "X-B:\\1"]), &sp()).is_ok(),
            "{kw}"
        );
    }
    for kw in ["reqadd", "rspadd"] {
        assert!(parse_legacy(kw, &s(&["X-A: 1"]), &sp()).is_ok(), "{kw}");
    }
    let (_, note) = parse_legacy(
        "redirect",
        &s(&["prefix", "https://x", "code", "301"]),
        &sp(),
    )
    .unwrap();
    // `redirect` is a keyword of HAProxy 2.6, not a 1.x leftover: no warning.
    assert_eq!(note.level, fulcrum_config::Level::Diag);
    assert!(parse_legacy("rspsetbe", &s(&["a", "b"]), &sp()).is_err());
}

#[test]
fn a_loaded_redirect_does_not_warn_but_block_and_req_do() {
    struct NoEnv;
    impl fulcrum_config::reader::Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }
    let text = "frontend fe\n  mode http\n  bind :80\n  acl bad src 10.0.0.1\n\
                redirect scheme https code 301 if !{ ssl_fc }\n  redirect location /x if bad\n\
                block if bad\n  reqadd X-A:\\ 1\n  rspdel ^Server:\n";
    let l = fulcrum_config::load_str("r.cfg", text, &NoEnv);
    let warned: Vec<u32> = l
        .diagnostics
        .items
        .iter()
        .filter(|d| d.level == fulcrum_config::Level::Warning && d.message.contains("1.x"))
        .filter_map(|d| d.span.as_ref().map(|s| s.line))
        .collect();
    assert_eq!(warned, [7, 8, 9], "{:?}", l.diagnostics);
    let fe = &l.config.unwrap().proxies[0];
    assert_eq!(fe.http_request.len(), 4, "two redirects, block, reqadd");
}

#[test]
fn stick_counter_fetches() {
    assert_eq!(
        stick_fetch("sc_http_req_rate"),
        Some((StickSource::TrackedArg, "http_req_rate"))
    );
    assert_eq!(
        stick_fetch("sc1_conn_cur"),
        Some((StickSource::Tracked(1), "conn_cur"))
    );
    assert_eq!(
        stick_fetch("src_get_gpc0"),
        Some((StickSource::Src, "get_gpc0"))
    );
    assert_eq!(stick_fetch("src_tracked"), None);
    assert_eq!(stick_fetch("sc3_conn_cur"), None);
    assert_eq!(stick_fetch("src_port"), None);
    let a = parse_acl(&w("abuse sc_http_req_rate(0,st) gt 10"), &sp()).unwrap();
    assert_eq!(
        (a.expr.fetch.as_str(), a.method),
        ("sc_http_req_rate", MatchMethod::Int)
    );
    assert!(parse_acl(&w("abuse sc_http_req_rate gt 10"), &sp()).is_err());
    assert!(parse_sample_expr("sc0_bogus_rate", &sp()).is_err());
    assert!(parse_sample_expr("sc0_tracked", &sp()).is_ok());
}
