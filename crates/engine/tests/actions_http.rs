//! One check per `http-request` / `http-response` action, as a client or the
//! backend sees it, through a real configuration.

mod common;

use common::http::{ok, origin, Origin};
use common::*;

fn serve(lines: &str, o: &Origin) -> Running {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout tarpit 100ms\n\
         userlist users\n    user admin insecure-password secret\n\
         frontend web\n    bind 127.0.0.1:0\n{lines}    default_backend app\n\
         backend app\n    server s1 {}\n",
        o.addr
    );
    start_cfg(&text, "web")
}

fn get(run: &Running, req: &str) -> (String, Vec<u8>) {
    let mut c = client(run.addr);
    write(&mut c, req.as_bytes());
    read_response(&mut c)
}

/// An origin that echoes what it received: method, path and the request head.
fn echo() -> Origin {
    origin(|r| ok(&format!("{} {}\n{}", r.method, r.path, r.head)))
}

fn body(run: &Running, req: &str) -> String {
    let (h, b) = get(run, req);
    assert_eq!(status(&h), 200, "{h}");
    String::from_utf8_lossy(&b).into_owned()
}

const GET: &str = "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Old: v1, v2\r\nX-Del: d\r\n\r\n";

#[test]
fn request_header_and_uri_rewrites_reach_the_backend() {
    let o = echo();
    let run = serve(
        "    http-request add-header X-Add a1\n\
         \x20   http-request set-header X-Set s1\n\
         \x20   http-request del-header X-Del\n\
         \x20   http-request replace-header X-Old v(.*) w\\1\n\
         \x20   http-request set-var(txn.who) str(bob)\n\
         \x20   http-request set-header X-Var %[var(txn.who)]\n\
         \x20   http-request set-path /p%[path]\n\
         \x20   http-request set-query y=2\n\
         \x20   http-request set-method POST\n",
        &o,
    );
    let b = body(&run, GET);
    assert!(b.starts_with("POST /p/a/b?y=2\n"), "{b}");
    for want in ["X-Add: a1", "X-Set: s1", "X-Var: bob"] {
        assert!(b.contains(want), "{want}: {b}");
    }
    assert!(!b.contains("X-Del"), "{b}");
    assert!(b.contains("X-Old: w1, v2"), "{b}");
}

#[test]
fn replace_value_and_set_uri() {
    let o = echo();
    let run = serve(
        "    http-request replace-value X-Old ^v(.*) z\\1\n\
         \x20   http-request set-uri /u?q=%[req.hdr(host)]\n",
        &o,
    );
    let b = body(&run, GET);
    assert!(b.starts_with("GET /u?q=h\n"), "{b}");
    assert!(b.contains("X-Old: z1,z2"), "{b}");
}

#[test]
fn deny_return_redirect_auth_and_tarpit_answer_the_client() {
    let o = echo();
    let run = serve(
        "    http-request deny deny_status 429 hdr X-Why slow if { path /deny }\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"hi %[req.hdr(host)]\" hdr X-R 1 if { path /ret }\n\
         \x20   http-request redirect prefix https://e.com code 301 drop-query if { path_beg /pre }\n\
         \x20   http-request redirect scheme https if { path /sch }\n\
         \x20   http-request auth realm Zone if { path /auth } !{ http_auth(users) }\n\
         \x20   http-request tarpit deny_status 403 if { path /tar }\n\
         \x20   http-request tarpit if { path /tar500 }\n",
        &o,
    );
    let (h, _) = get(&run, "GET /deny HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 429, "{h}");
    assert!(h.contains("x-why: slow"), "{h}");
    let (h, b) = get(&run, "GET /ret HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"hi h"[..]), "{h}");
    assert!(h.contains("x-r: 1") && h.contains("text/plain"), "{h}");
    let (h, _) = get(&run, "GET /pre/x?a=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 301, "{h}");
    assert!(
        h.to_ascii_lowercase()
            .contains("location: https://e.com/pre/x\r\n"),
        "{h}"
    );
    let (h, _) = get(&run, "GET /sch HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 302, "{h}");
    assert!(
        h.to_ascii_lowercase().contains("location: https://h/sch"),
        "{h}"
    );
    let (h, _) = get(&run, "GET /auth HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 401, "{h}");
    assert!(h.contains("WWW-Authenticate: Basic realm=\"Zone\""), "{h}");
    // admin:secret
    let b = body(
        &run,
        "GET /auth HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n\r\n",
    );
    assert!(b.starts_with("GET /auth"), "{b}");
    let t0 = std::time::Instant::now();
    let (h, _) = get(&run, "GET /tar HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 403, "{h}");
    assert!(t0.elapsed() >= std::time::Duration::from_millis(90));
    // Without deny_status, HAProxy's tarpit answers 500 once `timeout tarpit` is over.
    let t0 = std::time::Instant::now();
    let (h, _) = get(&run, "GET /tar500 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 500, "{h}");
    assert!(t0.elapsed() >= std::time::Duration::from_millis(90));
}

#[test]
fn response_rules_edit_what_the_client_gets() {
    let o = origin(|_| {
        b"HTTP/1.1 200 OK\r\nServer: origin\r\nX-Leak: 1\r\nContent-Length: 2\r\n\r\nok".to_vec()
    });
    let run = serve(
        "    http-response set-header Server fulcrum\n\
         \x20   http-response del-header X-Leak\n\
         \x20   http-response add-header X-Added 1\n\
         \x20   http-response set-status 202 reason Fine if { path /st }\n\
         \x20   http-response deny if { path /deny }\n",
        &o,
    );
    let (h, b) = get(&run, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"ok"[..]));
    assert!(
        h.contains("Server: fulcrum") && h.contains("X-Added: 1"),
        "{h}"
    );
    assert!(!h.contains("X-Leak"), "{h}");
    let (h, _) = get(&run, "GET /st HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(h.starts_with("HTTP/1.1 202 Fine\r\n"), "{h}");
    let (h, _) = get(&run, "GET /deny HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 502, "{h}");
}

#[test]
fn response_return_and_redirect_replace_the_server_answer() {
    let o = origin(|_| ok("server"));
    let run = serve(
        "    http-response return status 200 content-type text/plain string replaced if { path /ret }\n\
         \x20   http-response redirect location /else code 302 if { path /red }\n",
        &o,
    );
    let (h, b) = get(&run, "GET /ret HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status(&h), b.as_slice()), (200, &b"replaced"[..]), "{h}");
    let (h, _) = get(&run, "GET /red HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status(&h), 302, "{h}");
    assert!(h.to_ascii_lowercase().contains("location: /else"), "{h}");
}

#[test]
fn wait_for_body_lets_rules_see_the_body() {
    let o = echo();
    let run = serve(
        "    http-request wait-for-body time 2s\n\
         \x20   http-request deny deny_status 400 if { req.body -m sub evil }\n",
        &o,
    );
    // Head first, body a moment later: the rule must still see it.
    let mut c = client(run.addr);
    write(
        &mut c,
        b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n",
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    write(&mut c, b"an evil!");
    let (h, _) = read_response(&mut c);
    assert_eq!(status(&h), 400, "{h}");
    let b = body(
        &run,
        "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nnice",
    );
    assert!(b.starts_with("POST /f"), "{b}");
}

#[test]
fn normalize_uri_set_pathq_and_unset_var() {
    let o = echo();
    let run = serve(
        "    http-request normalize-uri path-merge-slashes\n\
         \x20   http-request normalize-uri path-strip-dotdot\n\
         \x20   http-request set-var(txn.gone) str(x)\n\
         \x20   http-request unset-var(txn.gone)\n\
         \x20   http-request set-header X-Gone %[var(txn.gone)]\n\
         \x20   http-request set-pathq /pq%[pathq] if { path_beg /keep }\n",
        &o,
    );
    let b = body(&run, "GET //a//b/../c HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(b.starts_with("GET /a/c\n"), "{b}");
    // unset-var removed it: the header renders the empty sample.
    assert!(!b.contains("X-Gone: x"), "{b}");
    let b = body(&run, "GET /keep?z=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(b.starts_with("GET /pq/keep?z=1\n"), "{b}");
}

#[test]
fn response_sees_request_vars_and_replaces_values() {
    let o =
        origin(|_| b"HTTP/1.1 200 OK\r\nX-List: a1, b1\r\nContent-Length: 2\r\n\r\nok".to_vec());
    let run = serve(
        "    http-request set-var(txn.path) path\n\
         \x20   http-response set-header X-Path %[var(txn.path)]\n\
         \x20   http-response replace-value X-List ^(.)1$ \\12\n\
         \x20   http-response set-var(txn.st) status\n\
         \x20   http-response add-header X-St %[var(txn.st)]\n",
        &o,
    );
    let (h, _) = get(&run, "GET /v/w HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(h.contains("X-Path: /v/w"), "{h}");
    assert!(h.contains("X-List: a2,b2"), "{h}");
    assert!(h.contains("X-St: 200"), "{h}");
}
