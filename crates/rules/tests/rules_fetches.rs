//! Fetch semantics users notice: header occurrences, cookies, URL parts, TCP rules.

mod common;

use common::{compile, Fake};
use fulcrum_config::rules::TcpLayer;
use fulcrum_rules::{run_http_request, run_tcp, run_tcp_http, TcpVerdict, Verdict};

fn headers_after(cfg: &str, raw: &str) -> Fake {
    let p = compile(cfg);
    let mut v = Fake::request(raw);
    assert_eq!(run_http_request(&p.http_request, &mut v), Verdict::Continue);
    v
}

#[test]
fn header_occurrences_in_sample_context() {
    let cfg = "
http-request set-header A %[hdr(x)]
http-request set-header B %[hdr(x,1)]
http-request set-header C %[hdr(x,-2)]
http-request set-header D %[req.fhdr(x)]
http-request set-header E %[hdr_cnt(x)]-%[req.fhdr_cnt(x)]
http-request set-header F %[hdr(x,9)]
";
    let v = headers_after(cfg, "GET / HTTP/1.1\nX: a, b\nX: c\n");
    assert_eq!(v.hdr("A"), ["c"]);
    assert_eq!(v.hdr("B"), ["a"]);
    assert_eq!(v.hdr("C"), ["b"]);
    assert_eq!(v.hdr("D"), ["c"]);
    assert_eq!(v.hdr("E"), ["3-2"]);
    // A missing sample renders as '-' (as in logs).
    assert_eq!(v.hdr("F"), ["-"]);
}

#[test]
fn acls_match_any_occurrence_and_cookies() {
    let cfg = "
acl has_b hdr(x) b
acl sid cook(SID) -m beg s
http-request set-header R %[cook(SID)]/%[cook_cnt(SID)]
http-request set-header M 1 if has_b sid
";
    let v = headers_after(
        cfg,
        "GET / HTTP/1.1\nX: a, b\nCookie: SID=s1; lang=en\nCookie: SID=t2\n",
    );
    assert_eq!(v.hdr("R"), ["t2/2"]);
    assert_eq!(v.hdr("M"), ["1"]);
}

#[test]
fn url_parts_and_params() {
    let cfg = "
http-request set-header P %[path]|%[query]|%[url_param(id)]|%[base]|%[urlp(q,;)]
http-request set-header Q %[url_ip]:%[url_port]
";
    let v = headers_after(
        cfg,
        "GET http://10.1.2.3:81/a/b?id=7&q=x;q=y HTTP/1.1\nHost: ex.com\n",
    );
    assert_eq!(v.hdr("P"), ["/a/b|id=7&q=x;q=y|7|ex.com/a/b|x"]);
    assert_eq!(v.hdr("Q"), ["10.1.2.3:81"]);
}

#[test]
fn tcp_rules_reject_accept_and_capture() {
    let cfg = "
tcp-request inspect-delay 5s
tcp-request connection reject if { src 192.0.2.0/24 } !{ src 192.0.2.10 }
tcp-request content capture req.payload(0,3) len 3
tcp-request content accept if { req.len gt 0 }
tcp-request content reject
";
    let p = compile(cfg);
    assert_eq!(p.tcp.inspect_delay_ms, Some(5000));
    let mut v = Fake::request("GET / HTTP/1.1\n");
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Connection, &mut v),
        TcpVerdict::Continue
    );
    v.src = "192.0.2.11:9".parse().unwrap();
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Connection, &mut v),
        TcpVerdict::Reject
    );
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Accept
    );
    assert!(
        v.effects[0].contains("Capture") && v.effects[0].contains("[71, 69, 84]"),
        "{:?}",
        v.effects
    );
    v.payload.clear();
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Reject
    );
}

#[test]
fn rdp_cookie_from_the_payload() {
    let p = compile("tcp-request content reject unless { rdp_cookie(mstshash) -m str alice }");
    let mut v = Fake::request("GET / HTTP/1.1\n");
    v.payload = b"\x03\x00\x00\x2aCookie: mstshash=alice\r\n".to_vec();
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Continue
    );
    v.payload = b"\x03\x00\x00\x2aCookie: mstshash=bob\r\n".to_vec();
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Reject
    );
}

#[test]
fn tcp_content_rules_see_http_fetches_in_http_mode() {
    let p = compile("tcp-request content reject if { req.hdr(host) -m end .internal }");
    let mut v = Fake::request("GET / HTTP/1.1\nHost: db.internal\n");
    // Without the parsed request, the header cannot match.
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Continue
    );
    assert_eq!(
        run_tcp_http(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Reject
    );
}

#[test]
fn expressions_and_userlists_from_the_model_are_usable_outside_rules() {
    use fulcrum_config::diag::Span;
    let span = Span::new("t.cfg", 3);
    let env = fulcrum_rules::CompileEnv::new(".");
    let ast =
        fulcrum_config::rules::parse_sample_expr("req.hdr(host),lower,word(1,:)", &span).unwrap();
    let e = fulcrum_rules::compile_expr(&ast, &span, &env).unwrap();
    let v = Fake::request("GET / HTTP/1.1\nHost: WWW.Ex.com:80\n");
    assert_eq!(
        e.eval_request(&v).map(|s| s.to_bytes().into_owned()),
        Some(b"www.ex.com".to_vec())
    );
    assert_eq!(e.eval_session(&v), None);
}

const MANY: &str = r"
acl a hdr(x) -m sub -i ab
acl b hdr_dom(x) -i a.b
acl c hdr_ip(x) 10.0.0.0/8
acl d hdr_val(x) gt 3
acl e hdr(x),length lt 5
acl f hdr(x) -m reg ^(a|b)+$
acl g url_param(k) -m dir x
http-request set-header O1 %[hdr(x),word(2,.)]|%[hdr(x),field(-2,:,2)]|%[hdr(x),bytes(2,3)]
http-request set-header O2 %[hdr(x),url_dec]|%[hdr(x),json]|%[hdr(x),hex]|%[hdr(x),base64,b64dec]
http-request set-header O3 %[hdr(x),regsub(a+,<\0>,g)]|%[hdr(x),ipmask(24)]|%[hdr(x),upper,lower]
http-request set-header O4 %[hdr(x),djb2]|%[hdr(x),sdbm(1)]|%[hdr(x),wt6]|%[hdr(x),xxh3(5)]|%[hdr(x),add(7),div(0),mod(0),neg]
http-request set-header O5 %[hdr(x),ltrim(a),rtrim(b)]|%[url_param(k)]|%[query]|%[path]|%[cook(x)]
http-request set-path %[path,regsub(//+,/,g)] if a || b || c || d || e || f || g
";

proptest::proptest! {
    /// Header values and targets are peer data: no fetch, converter or match panics on them.
    #[test]
    fn arbitrary_requests_never_panic(x in "[ -~]{0,20}", path in "[/a-z.?=&%:;]{0,16}") {
        let p = compile(MANY);
        let mut v = Fake::request("GET / HTTP/1.1\n");
        v.uri = format!("/{path}").into_bytes();
        v.headers.push((b"x".to_vec(), x.clone().into_bytes()));
        v.headers.push((b"cookie".to_vec(), x.into_bytes()));
        let verdict = run_http_request(&p.http_request, &mut v);
        proptest::prop_assert_eq!(verdict, Verdict::Continue);
        proptest::prop_assert_eq!(v.hdr("O1").len(), 1);
    }
}

#[test]
fn hdr_follows_the_direction_and_methods_ignore_case() {
    let cfg = "
acl m method get
http-request set-header X-M 1 if m
http-response set-header X-Res %[hdr(server)]-%[req.hdr(host)]
http-response set-header X-Beg 1 if { hdr_beg(host) ex }
http-request set-header X-C %[cook]|%[cook(a)]
";
    let p = compile(cfg);
    let mut v =
        Fake::request("GET / HTTP/1.1\nHost: ex.com\nServer: not-this\nCookie: z=0; a=1; a=2\n")
            .with_response(200, &[("Server", "httpd")]);
    assert_eq!(run_http_request(&p.http_request, &mut v), Verdict::Continue);
    assert_eq!(v.hdr("X-M"), ["1"]);
    // No name: the first cookie; a name: its last occurrence.
    assert_eq!(v.hdr("X-C"), ["0|2"]);
    assert_eq!(
        fulcrum_rules::run_http_response(&p.http_response, &mut v),
        Verdict::Continue
    );
    assert_eq!(v.res_hdr("X-Res"), ["httpd-ex.com"]);
    assert_eq!(v.res_hdr("X-Beg"), ["1"]);
}

#[test]
fn compiled_rules_can_be_shared_by_worker_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<fulcrum_rules::CompiledProxy>();
    shared::<fulcrum_rules::Cond>();
    shared::<fulcrum_rules::Expr>();
    let p = std::sync::Arc::new(compile("http-request deny if { path_beg /admin }"));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut v = Fake::request(if i == 0 {
                    "GET /admin/x HTTP/1.1\n"
                } else {
                    "GET / HTTP/1.1\n"
                });
                run_http_request(&p.http_request, &mut v)
            })
        })
        .collect();
    let out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(matches!(out[0], Verdict::Deny(_)) && out[1] == Verdict::Continue);
}

/// A minimal TLS ClientHello record carrying `sni`.
fn client_hello(sni: &[u8]) -> Vec<u8> {
    let n = sni.len() as u16;
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(n + 5).to_be_bytes());
    ext.extend_from_slice(&(n + 3).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&n.to_be_bytes());
    ext.extend_from_slice(sni);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[test]
fn tls_passthrough_routes_on_the_client_hello_sni() {
    let cfg = "
tcp-request inspect-delay 5s
tcp-request content accept if { req_ssl_hello_type 1 }
use_backend bk_api if { req.ssl_sni -i api.example.com }
use_backend bk_www if { req_ssl_sni -m end .example.com }
default_backend bk_other
";
    let p = compile(cfg);
    let mut v = Fake::request("GET / HTTP/1.1\n");
    v.payload = client_hello(b"API.example.com");
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Accept
    );
    let all = |_: &str| true;
    assert_eq!(p.routing.backend_tcp(&v, &all).as_deref(), Some("bk_api"));
    v.payload = client_hello(b"www.example.com");
    assert_eq!(p.routing.backend_tcp(&v, &all).as_deref(), Some("bk_www"));
    v.payload = b"SSH-2.0-OpenSSH\r\n".to_vec();
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Continue
    );
    assert_eq!(p.routing.backend_tcp(&v, &all).as_deref(), Some("bk_other"));
}

#[test]
fn stick_counters_drive_rate_limits() {
    let cfg = "
http-request track-sc0 src table st
http-request deny deny_status 429 if { sc_http_req_rate(0) gt 10 }
http-request deny if { src_conn_rate(st) ge 100 }
http-request set-header X-T %[sc0_tracked]-%[sc0_get_gpc0]
";
    let p = compile(cfg);
    let mut v = Fake::request("GET / HTTP/1.1\n");
    assert_eq!(run_http_request(&p.http_request, &mut v), Verdict::Continue);
    assert_eq!(v.hdr("X-T"), ["0--"]);
    v.sticks.insert("sc0:http_req_rate".into(), 11);
    assert_eq!(
        run_http_request(&p.http_request, &mut v),
        Verdict::Deny(fulcrum_rules::Answer::Errorfile(429))
    );
    v.sticks.insert("sc0:http_req_rate".into(), 1);
    v.sticks.insert("src:conn_rate".into(), 100);
    assert_eq!(
        run_http_request(&p.http_request, &mut v),
        Verdict::Deny(fulcrum_rules::Answer::Errorfile(403))
    );
}

#[test]
fn unique_id_and_captures() {
    let cfg = "http-request set-header X-Request-ID %[unique-id]\nhttp-request set-header X-Cap %[capture.req.hdr(0)]|%[capture.req.method]|%[capture.req.ver]|%[capture.res.hdr(0)]";
    let v = headers_after(cfg, "PUT /x HTTP/1.0\n");
    assert_eq!(v.hdr("X-Request-ID"), ["uid-1"]);
    assert_eq!(v.hdr("X-Cap"), ["captured-host|PUT|HTTP/1.0|-"]);
}

#[test]
fn content_rules_wait_for_data_that_could_change_their_decision() {
    let cfg = "
tcp-request inspect-delay 5s
tcp-request content accept if { req_ssl_hello_type 1 }
tcp-request content reject
";
    let p = compile(cfg);
    let hello = client_hello(b"a.example");
    let mut v = Fake::request("GET / HTTP/1.1\n");
    v.wait_ended = false;
    v.payload = hello[..10].to_vec();
    assert_eq!(run_tcp(&p.tcp, TcpLayer::Content, &mut v), TcpVerdict::Wait);
    v.payload.clear();
    assert_eq!(run_tcp(&p.tcp, TcpLayer::Content, &mut v), TcpVerdict::Wait);
    v.payload = hello.clone();
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Accept
    );
    // Not TLS: decided at once, no wait.
    v.payload = b"SSH-2.0-x\r\n".to_vec();
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Reject
    );
    // The delay expired: decide with what is there.
    v.payload.clear();
    v.wait_ended = true;
    assert_eq!(
        run_tcp(&p.tcp, TcpLayer::Content, &mut v),
        TcpVerdict::Reject
    );
}
