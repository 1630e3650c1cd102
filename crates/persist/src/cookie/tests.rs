use super::*;
use crate::dyncookie;
use fulcrum_config::diag::Span;
use fulcrum_config::reader::Env;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// The backend `be` of a small configuration whose backend body is `lines`.
fn backend(lines: &str) -> CookiePersist {
    let text = format!(
        "defaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind :8080\n  default_backend be\nbackend be\n{lines}"
    );
    let loaded = fulcrum_config::load_str("t.cfg", &text, &NoEnv);
    let cfg = loaded
        .config
        .unwrap_or_else(|| panic!("invalid: {:?}", loaded.diagnostics));
    let be = cfg.proxies.iter().find(|p| p.name == "be").unwrap();
    CookiePersist::from_proxy(be).unwrap()
}

fn settings(mode: CookieMode) -> CookieSettings {
    let mut s = CookieSettings::new("SERVERID", Span::new("t.cfg", 1));
    s.mode = mode;
    s
}

fn two_servers(s: &CookieSettings) -> CookiePersist {
    CookiePersist::new(s, vec![Some("web1".into()), Some("web2".into())])
}

fn all_up(_: usize) -> bool {
    true
}

fn req(
    p: &CookiePersist,
    headers: &[&str],
    alive: &dyn Fn(usize) -> bool,
    o: RequestOpts,
    now: u64,
) -> (RequestCookie, Vec<HeaderEdit>) {
    let mut st = RequestCookie::default();
    let edits = headers
        .iter()
        .map(|h| p.request_header(&mut st, h.as_bytes(), alive, &o, now))
        .collect();
    (st, edits)
}

fn replaced(e: &HeaderEdit) -> &str {
    match e {
        HeaderEdit::Replace(v) => std::str::from_utf8(v).unwrap(),
        other => panic!("expected a replacement, got {other:?}"),
    }
}

const NOW: u64 = 1_700_000_000;

#[test]
fn insert_mode_first_response_sets_the_cookie() {
    // Seed 03: `cookie SERVERID insert`.
    let p = backend("  cookie SERVERID insert\n  server web1 127.0.0.1:8001 cookie web1\n  server web2 127.0.0.1:8002 cookie web2\n");
    let (st, edits) = req(&p, &["lang=en"], &all_up, RequestOpts::default(), NOW);
    assert_eq!(st.decision(), PersistDecision::Balance);
    assert_eq!(st.status, ClientCookie::None);
    assert_eq!(edits, vec![HeaderEdit::Keep]);
    let mut rs = ResponseCookie::None;
    let add = p.response_insert(&st, &mut rs, Some(0), false, true, false, NOW);
    assert_eq!(
        add.pairs(),
        vec![("Set-Cookie", "SERVERID=web1; path=/".to_string())]
    );
    assert_eq!(rs.log_char(), 'I');
    // The next request comes back with it: straight to web1, nothing inserted.
    let (st, _) = req(&p, &["SERVERID=web1"], &all_up, RequestOpts::default(), NOW);
    assert_eq!(st.decision(), PersistDecision::Direct(0));
    assert_eq!(st.status.log_char(), 'V');
    let mut rs = ResponseCookie::None;
    assert_eq!(
        p.response_insert(&st, &mut rs, Some(0), false, true, false, NOW),
        AddHeaders::default()
    );
}

#[test]
fn indirect_strips_our_cookie_and_keeps_the_others() {
    let mut s = settings(CookieMode::Insert);
    s.indirect = true;
    let p = two_servers(&s);
    let cases = [
        ("SERVERID=web2", None),
        ("a=1; SERVERID=web2; b=2", Some("a=1; b=2")),
        ("SERVERID=web2; a=1", Some("a=1")),
        ("a=1 ; SERVERID=web2", Some("a=1 ")),
        ("a=1; SERVERID=web2; $Path=/; b=2", Some("a=1; b=2")),
        ("$Version=1; SERVERID=web2", None),
        ("x; SERVERID=web2", Some("x")),
    ];
    for (h, want) in cases {
        let (st, e) = req(&p, &[h], &all_up, RequestOpts::default(), NOW);
        assert_eq!(st.decision(), PersistDecision::Direct(1), "{h}");
        match want {
            None => assert_eq!(e[0], HeaderEdit::Remove, "{h}"),
            Some(w) => assert_eq!(replaced(&e[0]), w, "{h}"),
        }
    }
    // Without indirect the server sees the cookie.
    let p = two_servers(&settings(CookieMode::Insert));
    let (_, e) = req(
        &p,
        &["a=1; SERVERID=web2"],
        &all_up,
        RequestOpts::default(),
        NOW,
    );
    assert_eq!(e[0], HeaderEdit::Keep);
}

#[test]
fn prefix_mode_round_trips() {
    let p = two_servers(&settings(CookieMode::Prefix));
    let mut rs = ResponseCookie::None;
    let st = RequestCookie::default();
    // The server sets its session cookie; the client gets it prefixed.
    let e = p.response_set_cookie(&st, &mut rs, Some(0), b"SERVERID=abc123; path=/", false);
    assert_eq!(replaced(&e), "SERVERID=web1~abc123; path=/");
    assert_eq!(rs.log_char(), 'R');
    // The client sends it back: web1, and the server sees its own value.
    let (st, e) = req(
        &p,
        &["x=1; SERVERID=web1~abc123"],
        &all_up,
        RequestOpts::default(),
        NOW,
    );
    assert_eq!(st.decision(), PersistDecision::Direct(0));
    assert_eq!(replaced(&e[0]), "x=1; SERVERID=abc123");
}

#[test]
fn rewrite_mode_round_trips() {
    let p = two_servers(&settings(CookieMode::Rewrite));
    let mut rs = ResponseCookie::None;
    let e = p.response_set_cookie(
        &RequestCookie::default(),
        &mut rs,
        Some(1),
        b"SERVERID=placeholder; Path=/app",
        false,
    );
    assert_eq!(replaced(&e), "SERVERID=web2; Path=/app");
    let (st, e) = req(&p, &["SERVERID=web2"], &all_up, RequestOpts::default(), NOW);
    assert_eq!(st.decision(), PersistDecision::Direct(1));
    assert_eq!(e[0], HeaderEdit::Keep);
    // Another cookie of the server is left alone.
    let mut rs = ResponseCookie::None;
    assert_eq!(
        p.response_set_cookie(&st, &mut rs, Some(1), b"other=1", false),
        HeaderEdit::Keep
    );
    assert_eq!(rs, ResponseCookie::None);
}

#[test]
fn bare_cookie_is_passive_as_in_seed_07() {
    let p = backend("  cookie SERVERID\n  server web1 127.0.0.1:8001 cookie web1\n  server web2 127.0.0.1:8002 cookie web2\n");
    let (st, e) = req(&p, &["SERVERID=web2"], &all_up, RequestOpts::default(), NOW);
    assert_eq!(st.decision(), PersistDecision::Direct(1));
    assert_eq!(e[0], HeaderEdit::Keep);
    let mut rs = ResponseCookie::None;
    assert_eq!(
        p.response_set_cookie(&st, &mut rs, Some(1), b"SERVERID=web2", false),
        HeaderEdit::Keep
    );
    assert_eq!(rs.log_char(), 'P');
    assert_eq!(
        p.response_insert(&st, &mut rs, Some(1), false, true, false, NOW),
        AddHeaders::default()
    );
}

#[test]
fn dead_server_cookie_goes_elsewhere_with_a_corrected_cookie() {
    let p = two_servers(&settings(CookieMode::Insert));
    let web1_down = |i: usize| i != 0;
    // Marked down by its checks: the balancer picks, the response fixes the cookie.
    let (st, _) = req(
        &p,
        &["SERVERID=web1"],
        &web1_down,
        RequestOpts::default(),
        NOW,
    );
    assert_eq!(st.status.log_char(), 'D');
    assert_eq!(st.decision(), PersistDecision::Balance);
    let mut rs = ResponseCookie::None;
    let add = p.response_insert(&st, &mut rs, Some(1), false, false, false, NOW);
    assert_eq!(add.set_cookie.as_deref(), Some("SERVERID=web2; path=/"));
}

#[test]
fn persist_to_a_dead_server_then_redispatch_or_503() {
    let p = two_servers(&settings(CookieMode::Insert));
    let web1_down = |i: usize| i != 0;
    let o = RequestOpts {
        option_persist: true,
        ..Default::default()
    };
    // With `option redispatch`: another server, and a corrected cookie.
    let (mut st, _) = req(&p, &["SERVERID=web1"], &web1_down, o, NOW);
    assert_eq!(st.decision(), PersistDecision::DirectDown(0));
    assert_eq!(st.connect_failed(true), AfterFailure::Redispatch);
    assert_eq!(st.decision(), PersistDecision::Balance);
    let mut rs = ResponseCookie::None;
    let add = p.response_insert(&st, &mut rs, Some(1), false, false, false, NOW);
    assert_eq!(add.set_cookie.as_deref(), Some("SERVERID=web2; path=/"));
    assert_eq!(rs.log_char(), 'I');
    // Without it: 503.
    let (mut st, _) = req(&p, &["SERVERID=web1"], &web1_down, o, NOW);
    assert_eq!(st.connect_failed(false), AfterFailure::ServiceUnavailable);
    // The same for a server not marked down whose connection fails (no checks).
    let (mut st, _) = req(&p, &["SERVERID=web1"], &all_up, RequestOpts::default(), NOW);
    assert_eq!(st.decision(), PersistDecision::Direct(0));
    assert_eq!(st.connect_failed(false), AfterFailure::ServiceUnavailable);
}

#[test]
fn unknown_empty_and_ignored_cookies() {
    let p = two_servers(&settings(CookieMode::Insert));
    let (st, _) = req(&p, &["SERVERID=nope"], &all_up, RequestOpts::default(), NOW);
    assert_eq!(
        (st.status.log_char(), st.decision()),
        ('I', PersistDecision::Balance)
    );
    let (st, _) = req(&p, &["SERVERID="], &all_up, RequestOpts::default(), NOW);
    assert_eq!(st.status, ClientCookie::Invalid);
    let o = RequestOpts {
        ignore_persist: true,
        ..Default::default()
    };
    let (st, _) = req(&p, &["SERVERID=web1"], &all_up, o, NOW);
    assert_eq!(
        (st.status.log_char(), st.decision()),
        ('U', PersistDecision::Balance)
    );
    // A second occurrence once the server is chosen is unused.
    let (st, _) = req(
        &p,
        &["SERVERID=web1", "SERVERID=web2"],
        &all_up,
        RequestOpts::default(),
        NOW,
    );
    assert_eq!(
        (st.status, st.decision()),
        (ClientCookie::Unused, PersistDecision::Direct(0))
    );
}

#[test]
fn set_cookie_text_has_haproxys_attribute_order() {
    let mut s = settings(CookieMode::Insert);
    s.domains = vec![".example.com".into(), ".example.org".into()];
    s.httponly = true;
    s.secure = true;
    s.attrs = vec!["SameSite=Lax".into(), "Priority=High".into()];
    s.nocache = true;
    let p = CookiePersist::new(&s, vec![Some("web1".into()), None]);
    let mut rs = ResponseCookie::None;
    let add = p.response_insert(
        &RequestCookie::default(),
        &mut rs,
        Some(0),
        false,
        true,
        false,
        NOW,
    );
    assert_eq!(
        add.pairs(),
        vec![
            (
                "Set-Cookie",
                "SERVERID=web1; path=/; domain=.example.com; domain=.example.org; HttpOnly; Secure; SameSite=Lax; Priority=High".to_string()
            ),
            ("Cache-control", "private".to_string()),
        ]
    );
    // A server without a cookie value clears the client's cookie.
    let add = p.response_insert(
        &RequestCookie::default(),
        &mut rs,
        Some(1),
        false,
        false,
        false,
        NOW,
    );
    assert!(add
        .set_cookie
        .unwrap()
        .starts_with("SERVERID=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/; domain="));
    assert!(!add.cache_control_private);
}

#[test]
fn postonly_inserts_only_on_post_and_insert_deletes_the_servers_cookie() {
    let mut s = settings(CookieMode::Insert);
    s.postonly = true;
    let p = two_servers(&s);
    let st = RequestCookie::default();
    let mut rs = ResponseCookie::None;
    assert_eq!(
        p.response_set_cookie(&st, &mut rs, Some(0), b"SERVERID=x; path=/", false),
        HeaderEdit::Remove
    );
    assert_eq!(rs.log_char(), 'D');
    assert!(p
        .response_insert(&st, &mut rs, Some(0), false, true, false, NOW)
        .set_cookie
        .is_none());
    assert!(p
        .response_insert(&st, &mut rs, Some(0), true, true, false, NOW)
        .set_cookie
        .is_some());
    // `preserve`: the server's own cookie stays and nothing is inserted.
    s.preserve = true;
    let p = two_servers(&s);
    let mut rs = ResponseCookie::None;
    assert_eq!(
        p.response_set_cookie(&st, &mut rs, Some(0), b"SERVERID=; Max-Age=0", false),
        HeaderEdit::Keep
    );
    assert!(p
        .response_insert(&st, &mut rs, Some(0), true, true, false, NOW)
        .set_cookie
        .is_none());
}

#[test]
fn maxidle_and_maxlife_dates() {
    let mut s = settings(CookieMode::Insert);
    s.maxidle = Some(Duration::from_secs(1800));
    s.maxlife = Some(Duration::from_secs(8 * 3600));
    let p = two_servers(&s);
    let mut rs = ResponseCookie::None;
    let add = p.response_insert(
        &RequestCookie::default(),
        &mut rs,
        Some(0),
        false,
        false,
        false,
        NOW,
    );
    let c = add.set_cookie.unwrap();
    let stamp = String::from_utf8(s30_to_b64(((NOW + 3) >> 2) as u32).to_vec()).unwrap();
    assert_eq!(c, format!("SERVERID=web1|{stamp}|{stamp}; path=/"));
    let value = c.trim_end_matches("; path=/");
    // Within maxidle: valid, and the refresh keeps the first date.
    let (st, _) = req(&p, &[value], &all_up, RequestOpts::default(), NOW + 600);
    assert_eq!(st.decision(), PersistDecision::Direct(0));
    let add = p.response_insert(&st, &mut rs, Some(0), false, false, false, NOW + 600);
    let refreshed = add.set_cookie.unwrap();
    assert!(
        refreshed.ends_with(&format!("|{stamp}; path=/")),
        "{refreshed}"
    );
    assert_eq!(rs.log_char(), 'U');
    // Idle too long: expired, balanced again.
    let (st, _) = req(&p, &[value], &all_up, RequestOpts::default(), NOW + 1900);
    assert_eq!(
        (st.status.log_char(), st.decision()),
        ('E', PersistDecision::Balance)
    );
    // Too old whatever the activity.
    let (st, _) = req(
        &p,
        &[value],
        &all_up,
        RequestOpts::default(),
        NOW + 9 * 3600,
    );
    assert_eq!(st.status.log_char(), 'O');
    // A date far in the future is not trusted.
    let (st, _) = req(
        &p,
        &[value],
        &all_up,
        RequestOpts::default(),
        NOW - 2 * 86_400,
    );
    assert_ne!(st.status, ClientCookie::Valid);
    // No date at all: accepted, and the response adds the dates.
    let (st, _) = req(&p, &["SERVERID=web1"], &all_up, RequestOpts::default(), NOW);
    assert_eq!(st.decision(), PersistDecision::Direct(0));
    assert!(p
        .response_insert(&st, &mut rs, Some(0), false, false, false, NOW)
        .set_cookie
        .is_some());
}

#[test]
fn dynamic_cookies_come_from_key_and_address() {
    let p = backend("  cookie SRV insert dynamic\n  dynamic-cookie-key s3cr3t\n  server a 127.0.0.1:8001\n  server b 127.0.0.1:8002 cookie fixed\n");
    let want = dyncookie::server_cookie("s3cr3t", IpAddr::V4(Ipv4Addr::LOCALHOST), 8001);
    assert_eq!(p.server_cookie(0), Some(want.as_bytes()));
    assert_eq!(p.server_cookie(1), Some(&b"fixed"[..]));
}

proptest! {
    #[test]
    fn s30_base64_round_trips(v in 0u32..(1 << 30)) {
        prop_assert_eq!(b64_to_s30(&s30_to_b64(v)), Some(v));
    }

    /// Stripping our cookie never touches the other cookies' names and values.
    #[test]
    fn indirect_keeps_every_other_cookie(others in proptest::collection::vec(("[a-z]{1,6}", "[a-zA-Z0-9]{0,6}"), 0..5), pos in 0usize..5) {
        let mut s = settings(CookieMode::Insert);
        s.indirect = true;
        let p = two_servers(&s);
        let mut parts: Vec<String> = others.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let pos = pos.min(parts.len());
        parts.insert(pos, "SERVERID=web1".into());
        let h = parts.join("; ");
        let (_, e) = req(&p, &[&h], &all_up, RequestOpts::default(), NOW);
        let expected = others.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
        match &e[0] {
            HeaderEdit::Remove => prop_assert!(others.is_empty()),
            HeaderEdit::Replace(v) => prop_assert_eq!(std::str::from_utf8(v).unwrap(), expected),
            HeaderEdit::Keep => prop_assert!(false, "our cookie must go"),
        }
    }
}
