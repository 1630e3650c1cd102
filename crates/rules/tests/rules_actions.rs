//! HTTP actions, maps, regexes and auth through the public API.

mod common;

use base64::Engine as _;
use common::{compile, compile_with, Fake};
use fulcrum_rules::{
    run_http_request, run_http_response, Answer, CompileEnv, Password, Response, Userlist, Verdict,
};

fn run(cfg: &str, raw: &str) -> (Verdict, Fake) {
    let p = compile(cfg);
    let mut v = Fake::request(raw);
    let verdict = run_http_request(&p.http_request, &mut v);
    (verdict, v)
}

#[test]
fn header_actions_edit_in_order() {
    let cfg = r#"
http-request set-header X-Client %[src]
http-request add-header X-Tag a
http-request add-header X-Tag b
http-request del-header X-Remove
http-request del-header X-Pre -m beg
http-request replace-header User-Agent ^Mozilla/([0-9]+).* moz\1
http-request replace-value X-List ^x(.*)$ y\1
"#;
    let raw = "GET / HTTP/1.1\nX-Client: spoofed\nX-Remove: 1\nX-Prefixed: 1\nUser-Agent: Mozilla/5.0 (X11)\nX-List: xa, b, xc\n";
    let (verdict, v) = run(cfg, raw);
    assert_eq!(verdict, Verdict::Continue);
    assert_eq!(v.hdr("X-Client"), ["192.0.2.10"]);
    assert_eq!(v.hdr("X-Tag"), ["a", "b"]);
    assert!(v.hdr("X-Remove").is_empty() && v.hdr("X-Prefixed").is_empty());
    assert_eq!(v.hdr("User-Agent"), ["moz5"]);
    // HAProxy 2.6 replaces a matching element with the spaces around it and
    // keeps the others byte for byte.
    assert_eq!(v.hdr("X-List"), ["ya, b,yc"]);
    let raw = "GET / HTTP/1.1\nX-A: a ,  b,c\nX-B: \"q,r\", s\nX-B: d,,e ,\n";
    let (_, v) = run(
        "http-request replace-value X-A ^b$ [B]\nhttp-request replace-value X-B ^(.*)$ [\\1]",
        raw,
    );
    assert_eq!(v.hdr("X-A"), ["a ,[B],c"]);
    assert_eq!(v.hdr("X-B"), ["[\"q,r\"],[s]", "[d],[],[e],[]"]);
    // Spaces in action arguments are kept as written (unlike in log-format).
    let (_, v) = run(
        r#"http-request set-header X-Sp "a  b %[str(c)]""#,
        "GET / HTTP/1.1\n",
    );
    assert_eq!(v.hdr("X-Sp"), ["a  b c"]);
}

#[test]
fn uri_actions_and_conditions_on_path() {
    let cfg = r#"
acl api path_beg /api/
http-request set-method POST if { method GET } { url_param(m) post }
http-request set-query lang=en if { query -m found } !api
http-request set-path /v2%[path,regsub(^/api,)] if api
"#;
    let (_, v) = run(cfg, "GET /api/users?id=3 HTTP/1.1\n");
    assert_eq!(v.uri, b"/v2/users?id=3");
    let (_, v) = run(cfg, "GET /x?a=1&m=post HTTP/1.1\n");
    assert_eq!(v.uri, b"/x?lang=en");
    assert_eq!(v.method, b"POST");
}

#[test]
fn regsub_uses_back_references_and_flags() {
    let cfg = r#"
http-request set-header X-Out %[hdr(x-in),regsub('([a-z]+)-([0-9]+)','\2_\1',g)]
http-request set-header X-Ci %[hdr(x-in),regsub(A,Z,ig)]
"#;
    let (_, v) = run(cfg, "GET / HTTP/1.1\nX-In: ab-12 cd-34\n");
    assert_eq!(v.hdr("X-Out"), ["12_ab 34_cd"]);
    assert_eq!(v.hdr("X-Ci"), ["Zb-12 cd-34"]);
}

#[test]
fn deny_return_redirect_and_auth_verdicts() {
    let (verdict, _) = run(
        "http-request deny deny_status 429 if { path /slow }",
        "GET /slow HTTP/1.1\n",
    );
    assert_eq!(verdict, Verdict::Deny(Answer::Errorfile(429)));

    let cfg = r#"http-request return status 200 content-type text/plain lf-string "hi %[hdr(x-n)]" hdr X-A b"#;
    let (verdict, _) = run(cfg, "GET / HTTP/1.1\nX-N: bob\n");
    let want = Response {
        status: 200,
        headers: vec![
            (b"x-a".to_vec(), b"b".to_vec()),
            (b"content-length".to_vec(), b"6".to_vec()),
            (b"content-type".to_vec(), b"text/plain".to_vec()),
        ],
        body: b"hi bob".to_vec(),
    };
    assert_eq!(verdict, Verdict::Return(Answer::Built(want.clone())));
    // Byte for byte what HAProxy 2.6.12 (Debian) sends for this rule.
    let bytes = String::from_utf8(want.to_bytes()).unwrap();
    assert_eq!(
        bytes,
        "HTTP/1.1 200 OK\r\nx-a: b\r\ncontent-length: 6\r\ncontent-type: text/plain\r\n\r\nhi bob"
    );

    let (verdict, _) = run(
        "http-request redirect scheme https code 301 if !{ ssl_fc }",
        "GET /a?b=1 HTTP/1.1\nHost: ex.com\n",
    );
    let Verdict::Redirect(r) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(r.status, 301);
    assert_eq!(
        r.headers[0],
        (b"location".to_vec(), b"https://ex.com/a?b=1".to_vec())
    );

    let (verdict, _) = run(
        "http-request redirect prefix /new drop-query set-cookie SEEN=1",
        "GET /a?b=1 HTTP/1.1\n",
    );
    let Verdict::Redirect(r) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!((r.status, &r.headers[0].1[..]), (302, &b"/new/a"[..]));
    // Byte for byte what HAProxy 2.6.12 (Debian) sends: a temporary redirect
    // is not to be cached, its cookie ends with `;`.
    assert_eq!(
        String::from_utf8(r.to_bytes()).unwrap(),
        "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /new/a\r\n\
         cache-control: no-cache\r\nset-cookie: SEEN=1; path=/;\r\n\r\n"
    );

    let (verdict, _) = run("http-request auth realm Private", "GET / HTTP/1.1\n");
    assert_eq!(
        verdict,
        Verdict::Auth {
            realm: "Private".into()
        }
    );
    let challenge = String::from_utf8(Response::auth_challenge("Private").to_bytes()).unwrap();
    assert!(
        challenge.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{challenge}"
    );
    assert!(
        challenge.contains("www-authenticate: Basic realm=\"Private\"\r\n"),
        "{challenge}"
    );

    let (verdict, _) = run("http-request allow\nhttp-request deny", "GET / HTTP/1.1\n");
    assert_eq!(verdict, Verdict::Allow);
    // `allow` ends the http-request rules, not the 1.x req* rules after them.
    let (verdict, _) = run(
        "http-request allow\nreqdeny ^X-Bad:",
        "GET / HTTP/1.1\nX-Bad: 1\n",
    );
    assert_eq!(verdict, Verdict::Deny(Answer::Errorfile(403)));
}

#[test]
fn variables_and_converters() {
    let cfg = r#"
http-request set-var(txn.host) hdr(host),lower,field(1,:)
http-request set-var(txn.n) str(7),add(3),mul(2)
http-request set-header X-H %[var(txn.host)]-%[var(txn.n)]
http-request set-header X-Hash %[str(abc),crc32]
http-request set-header X-Hex %[str(AB),hex]-%[str(aGk=),b64dec]
http-request set-header X-Env %[env(FULCRUM_TEST_ENV)]
http-request set-header X-Date %[int(1465868445),http_date(3600)]|%[int(0),utime(%Y-%m-%d)]
http-request deny if { var(txn.n) gt 100 }
"#;
    let (verdict, v) = run(cfg, "GET / HTTP/1.1\nHost: WWW.Ex.com:8080\n");
    assert_eq!(verdict, Verdict::Continue);
    assert_eq!(v.hdr("X-H"), ["www.ex.com-20"]);
    // CRC-32 (IEEE) of "abc", as zlib gives it.
    assert_eq!(v.hdr("X-Hash"), ["891568578"]);
    assert_eq!(v.hdr("X-Hex"), ["4142-hi"]);
    assert_eq!(v.hdr("X-Env"), ["from-env"]);
    assert_eq!(
        v.hdr("X-Date"),
        ["Tue, 14 Jun 2016 02:40:45 GMT|1970-01-01"]
    );
    // Integer comparison on a variable.
    let (verdict, _) = run(
        "http-request set-var(txn.n) str(150)\nhttp-request deny if { var(txn.n) gt 100 }",
        "GET / HTTP/1.1\n",
    );
    assert_eq!(verdict, Verdict::Deny(Answer::Errorfile(403)));
}

#[test]
fn reply_bodies_are_read_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body.txt"), "maintenance").unwrap();
    std::fs::write(dir.path().join("page.tpl"), "hello %[hdr(x-who)]").unwrap();
    std::fs::write(dir.path().join("503.http"), "HTTP/1.0 503 Busy\r\n\r\nbusy").unwrap();
    let env = CompileEnv::new(dir.path());
    let cfg = "
http-request return status 503 content-type text/plain file body.txt if { path /a }
http-request return content-type text/html lf-file page.tpl if { path /b }
http-request deny errorfile 503.http if { path /c }
";
    let p = compile_with(cfg, &env).unwrap();
    let answer = |raw: &str| {
        let mut v = Fake::request(raw);
        run_http_request(&p.http_request, &mut v)
    };
    let Verdict::Return(Answer::Built(r)) = answer("GET /a HTTP/1.1\n") else {
        panic!()
    };
    assert_eq!((r.status, r.body.as_slice()), (503, &b"maintenance"[..]));
    let Verdict::Return(Answer::Built(r)) = answer("GET /b HTTP/1.1\nX-Who: ann\n") else {
        panic!()
    };
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello ann"[..]));
    let Verdict::Deny(Answer::Raw(raw)) = answer("GET /c HTTP/1.1\n") else {
        panic!()
    };
    assert!(raw.starts_with(b"HTTP/1.0 503 Busy"));
    let e = compile_with(
        "http-request return content-type a/b file missing.txt",
        &env,
    )
    .unwrap_err();
    assert!(e[0].message.contains("missing.txt"));
}

#[test]
fn map_files_and_acl_pattern_files_are_read_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hosts.map"),
        "# host -> backend\nwww.ex.com bk_www\napi.ex.com bk_api\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("paths.map"),
        "/static/ bk_static\n/ bk_default\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.lst"),
        "10.0.0.0/8\n# comment\n\n192.0.2.0/24\n",
    )
    .unwrap();
    let cfg = "
acl blocked src -f bad.lst
http-request deny if blocked
use_backend %[req.hdr(host),lower,map(hosts.map)] if { req.hdr(host),lower,map(hosts.map) -m found }
use_backend %[path,map_beg(paths.map,bk_none)]
";
    let env = CompileEnv::new(dir.path());
    let p = compile_with(cfg, &env).unwrap();
    let mut v = Fake::request("GET / HTTP/1.1\nHost: API.ex.com\n");
    assert_eq!(
        run_http_request(&p.http_request, &mut v),
        Verdict::Deny(Answer::Errorfile(403))
    );
    v.src = "198.51.100.1:1".parse().unwrap();
    assert_eq!(run_http_request(&p.http_request, &mut v), Verdict::Continue);
    let all = |_: &str| true;
    assert_eq!(p.routing.backend(&v, &all).as_deref(), Some("bk_api"));
    let v2 = Fake::request("GET /static/a.css HTTP/1.1\nHost: other\n");
    assert_eq!(p.routing.backend(&v2, &all).as_deref(), Some("bk_static"));
    // A rendered name that is no backend lets later rules decide.
    assert_eq!(
        p.routing.backend(&v2, &|b| b != "bk_static").as_deref(),
        None
    );

    let missing = compile_with("use_backend %[path,map(nope.map)]", &env).unwrap_err();
    assert!(missing[0].message.contains("nope.map"), "{missing:?}");
    assert_eq!(missing[0].span.line, 1);
}

fn basic(user: &str, pass: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
}

#[test]
#[allow(deprecated)] // MD5/SHA-256 crypt: what old userlists hold
fn http_auth_checks_each_hash_kind_and_groups() {
    let mut ul = Userlist::new("admins");
    ul.add_user(
        "s512",
        Password::Crypt(pwhash::sha512_crypt::hash("p1").unwrap()),
        vec!["ops".into()],
    );
    ul.add_user(
        "s256",
        Password::Crypt(pwhash::sha256_crypt::hash("p2").unwrap()),
        vec![],
    );
    ul.add_user(
        "md5",
        Password::Crypt(pwhash::md5_crypt::hash("p3").unwrap()),
        vec![],
    );
    ul.add_user("plain", Password::Insecure("p4".into()), vec![]);
    let mut lists = fulcrum_rules::Userlists::new();
    lists.insert("admins".into(), std::sync::Arc::new(ul));
    let env = CompileEnv::new(".").with_userlists(lists);
    let cfg = "
acl ok http_auth(admins)
acl ops http_auth_group(admins) ops
http-request auth realm Admin if !ok
http-request set-header X-Ops 1 if ops
";
    let p = compile_with(cfg, &env).unwrap();
    for (u, pw) in [
        ("s512", "p1"),
        ("s256", "p2"),
        ("md5", "p3"),
        ("plain", "p4"),
    ] {
        let mut v = Fake::request(&format!(
            "GET / HTTP/1.1\nAuthorization: Basic {}\n",
            basic(u, pw)
        ));
        assert_eq!(
            run_http_request(&p.http_request, &mut v),
            Verdict::Continue,
            "{u}"
        );
        assert_eq!(v.hdr("X-Ops").len(), usize::from(u == "s512"), "{u}");
        let mut v = Fake::request(&format!(
            "GET / HTTP/1.1\nAuthorization: Basic {}\n",
            basic(u, "wrong")
        ));
        assert_eq!(
            run_http_request(&p.http_request, &mut v),
            Verdict::Auth {
                realm: "Admin".into()
            },
            "{u}"
        );
    }
    let mut v = Fake::request("GET / HTTP/1.1\n");
    assert_eq!(
        run_http_request(&p.http_request, &mut v),
        Verdict::Auth {
            realm: "Admin".into()
        }
    );
    assert!(compile_with("acl a http_auth(nobody)", &CompileEnv::new(".")).is_err());
}

#[test]
fn response_rules_see_status_and_edit_response_headers() {
    let cfg = "
http-response set-header X-Status %[status]
http-response del-header Server
http-response replace-header Set-Cookie ^(SID=[^;]*)(.*)$ \\1;\\ Secure\\2
http-response deny if { status 500 }
";
    let p = compile(cfg);
    let mut v = Fake::request("GET / HTTP/1.1\n")
        .with_response(200, &[("Server", "x"), ("Set-Cookie", "SID=1; path=/")]);
    assert_eq!(
        run_http_response(&p.http_response, &mut v),
        Verdict::Continue
    );
    assert_eq!(v.res_hdr("X-Status"), ["200"]);
    assert!(v.res_hdr("Server").is_empty());
    assert_eq!(v.res_hdr("Set-Cookie"), ["SID=1; Secure; path=/"]);
    let mut v = Fake::request("GET / HTTP/1.1\n").with_response(500, &[]);
    assert_eq!(
        run_http_response(&p.http_response, &mut v),
        Verdict::Deny(Answer::Errorfile(502))
    );
}

#[test]
fn legacy_directives_keep_their_1x_meaning_and_order() {
    let cfg = r"
http-request set-header X-Order modern
reqadd X-Proto:\ https
reqrep ^Host:\ old\.(.*) Host:\ new.\1
reqirep ^GET\ /old/(.*)\ (HTTP/.*) GET\ /new/\1\ \2
reqdel ^X-Secret:
reqideny ^user-agent:\ .*curl
block if { hdr(x-block) 1 }
";
    let p = common::parse(cfg).unwrap();
    assert!(
        p.warnings
            .iter()
            .all(|w| w.contains("[WARNING]") && w.contains("instead")),
        "{:?}",
        p.warnings
    );
    let compiled = compile(cfg);
    let mut v = Fake::request("GET /old/x HTTP/1.1\nHost: old.ex.com\nX-Secret: s\n");
    assert_eq!(
        run_http_request(&compiled.http_request, &mut v),
        Verdict::Continue
    );
    assert_eq!(v.hdr("X-Proto"), ["https"]);
    // reqadd applies after every other header rule, wherever it is written.
    assert_eq!(
        v.headers.last().map(|h| h.0.as_slice()),
        Some(&b"X-Proto"[..])
    );
    assert_eq!(v.hdr("Host"), ["new.ex.com"]);
    assert!(v.hdr("X-Secret").is_empty());
    assert_eq!(v.uri, b"/new/x");
    let mut v = Fake::request("GET / HTTP/1.1\nUser-Agent: CURL/8\n");
    assert_eq!(
        run_http_request(&compiled.http_request, &mut v),
        Verdict::Deny(Answer::Errorfile(403))
    );
    // `block` runs before the http-request rules, as in 1.x.
    let mut v = Fake::request("GET / HTTP/1.1\nX-Block: 1\n");
    assert_eq!(
        run_http_request(&compiled.http_request, &mut v),
        Verdict::Deny(Answer::Errorfile(403))
    );
    assert!(v.hdr("X-Order").is_empty());
}

#[test]
fn compile_errors_name_the_line() {
    let env = CompileEnv::new(".");
    let e = compile_with("acl a path /x\nhttp-request deny if a b_typo", &env).unwrap_err();
    assert_eq!(e[0].span.line, 2);
    assert!(e[0].message.contains("b_typo"));
    let e = compile_with("acl look path -m reg ^(?=x)", &env).unwrap_err();
    assert!(e[0].message.contains("look-ahead"), "{e:?}");
    let e = compile_with("acl a src not-an-ip", &env).unwrap_err();
    assert!(e[0].message.contains("not-an-ip"));
    let e = compile_with("http-request deny if late\nacl late path /x", &env).unwrap_err();
    assert_eq!(e[0].span.line, 1);
    assert!(e[0].message.contains("declared later, at line 2"), "{e:?}");
    let e = compile_with("http-request deny if TRUEE", &env).unwrap_err();
    assert_eq!(e[0].hint.as_deref(), Some("did you mean 'TRUE'?"));
}

#[test]
fn predefined_acls() {
    let p = compile("http-request deny if METH_POST HTTP_1.1 !LOCALHOST HTTP_URL_SLASH");
    let mut v = Fake::request("POST /x HTTP/1.1\n");
    assert_eq!(
        run_http_request(&p.http_request, &mut v),
        Verdict::Deny(Answer::Errorfile(403))
    );
    v.src = "127.0.0.1:5".parse().unwrap();
    assert_eq!(run_http_request(&p.http_request, &mut v), Verdict::Continue);
    let p = compile("http-request deny if HTTP_CONTENT");
    let mut v = Fake::request("POST / HTTP/1.1\nContent-Length: 3\n\nabc");
    assert_eq!(
        run_http_request(&p.http_request, &mut v),
        Verdict::Deny(Answer::Errorfile(403))
    );
}

#[test]
fn use_server_and_side_effects() {
    let cfg = "
use-server s2 if { hdr(x-srv) 2 }
use-server %[hdr(x-srv),concat(srv,,)] if { hdr(x-srv) -m found }
http-request set-timeout server 3s
http-request early-hint Link </app.css>
http-request capture hdr(host) len 3
http-request set-log-level debug
http-request track-sc1 src table st
";
    let p = compile(cfg);
    let all = |_: &str| true;
    let v = Fake::request("GET / HTTP/1.1\nX-Srv: 2\n");
    assert_eq!(p.routing.server(&v, &all).as_deref(), Some("s2"));
    let v = Fake::request("GET / HTTP/1.1\nX-Srv: 7\n");
    assert_eq!(p.routing.server(&v, &all).as_deref(), Some("7srv"));
    let mut v = Fake::request("GET / HTTP/1.1\nHost: example\n");
    assert_eq!(p.routing.server(&v, &all), None);
    assert_eq!(run_http_request(&p.http_request, &mut v), Verdict::Continue);
    let e = v.effects.join("\n");
    assert!(e.contains("SetTimeout { kind: Server, ms: 3000 }"), "{e}");
    assert!(e.contains("EarlyHint"), "{e}");
    assert!(
        e.contains("Capture { id: None, len: Some(3), value: [101, 120, 97] }"),
        "{e}"
    );
    assert!(e.contains("SetLogLevel(\"debug\")"), "{e}");
    assert!(e.contains("TrackSc { counter: 1, key: [49, 57, 50, 46, 48, 46, 50, 46, 49, 48], table: Some(\"st\") }"), "{e}");
}

#[test]
fn uri_regex_rewrites_drops_and_gpc_actions() {
    let cfg = r"
http-request replace-path /api/v1/(.*) /v2/\1
http-request replace-uri ^http://[^/]*(.*) \1
http-request sc-inc-gpc0(0) if { path_beg /v2/login }
http-request sc-set-gpt0(1) 7 if { path_end .php }
http-request silent-drop if { hdr(x-bot) 1 }
http-request reject if { hdr(x-bot) 2 }
";
    let (verdict, v) = run(cfg, "GET /api/v1/login?x=1 HTTP/1.1\n");
    assert_eq!(verdict, Verdict::Continue);
    assert_eq!(v.uri, b"/v2/login?x=1");
    assert!(
        v.effects
            .iter()
            .any(|e| e == "IncGpc { counter: 0, gpc: 0 }"),
        "{:?}",
        v.effects
    );
    let (_, v) = run(cfg, "GET http://h.example/a.php HTTP/1.1\n");
    assert_eq!(v.uri, b"/a.php");
    assert!(
        v.effects
            .iter()
            .any(|e| e == "SetGpt0 { counter: 1, value: 7 }"),
        "{:?}",
        v.effects
    );
    assert_eq!(
        run(cfg, "GET / HTTP/1.1\nX-Bot: 1\n").0,
        Verdict::SilentDrop
    );
    assert_eq!(run(cfg, "GET / HTTP/1.1\nX-Bot: 2\n").0, Verdict::Reject);
}

#[test]
fn set_var_conditions_apply() {
    let cfg = "
http-request set-var(txn.first) path
http-request set-var(txn.first,ifnotexists) str(ignored)
http-request set-var(txn.q,ifnotempty) query
http-request set-header X-V %[var(txn.first)]|%[var(txn.q)]
";
    let (_, v) = run(cfg, "GET /p? HTTP/1.1\n");
    assert_eq!(v.hdr("X-V"), ["/p|-"]);
}
