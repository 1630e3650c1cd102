//! Variable scopes over real connections: `sess.` variables live as long as the
//! client connection (set by `tcp-request` rules or by an earlier request, read
//! by later requests and their responses), `txn.` ones for one request, `proc.`
//! ones for the whole process. Also what `tcp-request content` fetches see in
//! `mode http` (`req.len`, `req.payload`) and `tcp-response content` rules in an
//! HTTP backend.

mod common;

use common::http::{ok, origin, Req};
use common::*;
use std::net::SocketAddr;

fn serve(frontend_rules: &str, backend_rules: &str, app: SocketAddr) -> Running {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n{frontend_rules}    default_backend app\n\
         backend app\n{backend_rules}    server s {app}\n"
    );
    start_cfg(&text, "web")
}

/// Sends one keep-alive GET on `c` and reads its response.
fn get(c: &mut std::net::TcpStream, path: &str) -> (String, Vec<u8>) {
    write(
        c,
        format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes(),
    );
    read_response(c)
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// What the backend saw of the `n`th request.
fn seen(app: &common::http::Origin, n: usize) -> Req {
    app.seen.lock().unwrap()[n].clone()
}

#[test]
fn session_variables_outlive_the_request_on_a_keep_alive_connection() {
    let app = origin(|_| ok("app"));
    let run = serve(
        "    tcp-request connection set-var(sess.conn) str(c1)\n\
         \x20   tcp-request session set-var(sess.ses) str(s1)\n\
         \x20   tcp-request content set-var(sess.cont) str(t1)\n\
         \x20   http-request set-var(sess.first) path if { path /first }\n\
         \x20   http-request set-var(txn.t) path if { path /first }\n\
         \x20   http-request set-header X-Conn %[var(sess.conn)]\n\
         \x20   http-request set-header X-Ses %[var(sess.ses)]\n\
         \x20   http-request set-header X-Cont %[var(sess.cont)]\n\
         \x20   http-request set-header X-First %[var(sess.first)] if { var(sess.first) -m found }\n\
         \x20   http-request set-header X-Txn %[var(txn.t)] if { var(txn.t) -m found }\n\
         \x20   http-request unset-var(sess.ses) if { path /drop }\n\
         \x20   http-response set-header X-Resp-First %[var(sess.first)] if { var(sess.first) -m found }\n",
        "",
        app.addr,
    );
    let mut c = client(run.addr);
    let (h1, _) = get(&mut c, "/first");
    assert_eq!(status(&h1), 200, "{h1}");
    let (h2, _) = get(&mut c, "/second");
    assert_eq!(status(&h2), 200, "{h2}");
    let (h3, _) = get(&mut c, "/drop");
    let (h4, _) = get(&mut c, "/fourth");
    assert_eq!(status(&h4), 200, "{h3}{h4}");

    let (r1, r2, r4) = (seen(&app, 0), seen(&app, 1), seen(&app, 3));
    // `tcp-request connection|session|content` variables reach the HTTP rules.
    assert_eq!(r1.header("x-conn").as_deref(), Some("c1"));
    assert_eq!(r1.header("x-ses").as_deref(), Some("s1"));
    assert_eq!(r1.header("x-cont").as_deref(), Some("t1"));
    assert_eq!(r1.header("x-txn").as_deref(), Some("/first"));
    // The second request on the connection still has them, and what the first
    // request's rules set; not its `txn.` variable.
    assert_eq!(r2.header("x-conn").as_deref(), Some("c1"));
    assert_eq!(r2.header("x-ses").as_deref(), Some("s1"));
    assert_eq!(r2.header("x-first").as_deref(), Some("/first"));
    assert_eq!(
        r2.header("x-txn"),
        None,
        "txn. variable leaked into the next request"
    );
    assert_eq!(header(&h2, "x-resp-first").as_deref(), Some("/first"));
    // `unset-var` on the third request removes it for the rest of the connection.
    assert_ne!(
        r4.header("x-ses").as_deref(),
        Some("s1"),
        "unset-var had no effect"
    );
    assert_eq!(r4.header("x-conn").as_deref(), Some("c1"));

    // A new connection starts without the first one's `sess.` variables.
    let mut other = client(run.addr);
    let (h5, _) = get(&mut other, "/other");
    assert_eq!(status(&h5), 200);
    let r5 = seen(&app, 4);
    assert_eq!(
        r5.header("x-first"),
        None,
        "sess. variable leaked to another connection"
    );
    assert_eq!(r5.header("x-conn").as_deref(), Some("c1"));
}

#[test]
fn process_variables_are_shared_by_every_connection() {
    let app = origin(|_| ok("app"));
    let run = serve(
        "    http-request set-var(proc.var_scopes_last) path if { path_beg /set }\n\
         \x20   http-request set-header X-Last %[var(proc.var_scopes_last)] if { var(proc.var_scopes_last) -m found }\n",
        "",
        app.addr,
    );
    let mut a = client(run.addr);
    let (h, _) = get(&mut a, "/set/1");
    assert_eq!(status(&h), 200);
    // Another client, on its own connection, reads what the first one set.
    let mut b = client(run.addr);
    let (h, _) = get(&mut b, "/read");
    assert_eq!(status(&h), 200);
    assert_eq!(seen(&app, 1).header("x-last").as_deref(), Some("/set/1"));
}

#[test]
fn tcp_request_content_reads_the_buffered_http_request() {
    let app = origin(|_| ok("app"));
    let run = serve(
        "    tcp-request inspect-delay 2s\n\
         \x20   tcp-request content reject if { req.payload(0,4) -m bin 504f5354 }\n\
         \x20   tcp-request content set-var(txn.len) req.len\n\
         \x20   http-request set-header X-Len %[var(txn.len)]\n",
        "",
        app.addr,
    );
    let req = "GET /len HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut c = client(run.addr);
    write(&mut c, req.as_bytes());
    let (h, _) = read_response(&mut c);
    assert_eq!(status(&h), 200, "{h}");
    let want = req.len().to_string();
    assert_eq!(seen(&app, 0).header("x-len"), Some(want));
    // `req.payload` sees the request line: a POST is refused before any rule.
    let mut p = client(run.addr);
    write(
        &mut p,
        b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
    );
    let got = read_all(&mut p);
    assert!(
        got.is_empty(),
        "rejected request got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        app.seen.lock().unwrap().len(),
        1,
        "the POST reached the server"
    );
}

#[test]
fn tcp_response_content_runs_in_http_backends_before_http_response() {
    let app = origin(|r: &Req| {
        let body = "app";
        let extra = match r.path.as_str() {
            "/secret" => "X-Secret: 1\r\n",
            _ => "X-Srv: s1\r\n",
        };
        format!(
            "HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    let run = serve(
        "",
        "    tcp-response content reject if { res.hdr(x-secret) -m found }\n\
         \x20   tcp-response content set-var(txn.srv) res.hdr(x-srv)\n\
         \x20   tcp-response content set-var(txn.rlen) res.len\n\
         \x20   http-response set-header X-Seen %[var(txn.srv)]\n\
         \x20   http-response set-header X-Res-Len %[var(txn.rlen)]\n",
        app.addr,
    );
    let mut c = client(run.addr);
    let (h, body) = get(&mut c, "/ok");
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(body, b"app");
    assert_eq!(header(&h, "x-seen").as_deref(), Some("s1"), "{h}");
    let rlen: usize = header(&h, "x-res-len")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(rlen > 0, "res.len read nothing: {h}");
    // A rejected response: the client gets no answer at all, and the connection ends.
    let mut r = client(run.addr);
    write(&mut r, b"GET /secret HTTP/1.1\r\nHost: h\r\n\r\n");
    let got = read_all(&mut r);
    assert!(
        got.is_empty(),
        "rejected response reached the client: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn tcp_response_close_ends_the_server_connection_after_the_response() {
    let app = origin(|_| ok("app"));
    let run = serve("", "    tcp-response content close\n", app.addr);
    let mut c = client(run.addr);
    for _ in 0..3 {
        let (h, body) = get(&mut c, "/");
        assert_eq!(status(&h), 200, "{h}");
        assert_eq!(body, b"app");
    }
    // Each response closed its server connection: no reuse.
    assert_eq!(app.conns.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<fulcrum_observe::log::LogRecord>>);

impl fulcrum_engine::LogSink for Collect {
    fn emit(&self, _fe: &fulcrum_engine::runtime::Frontend, rec: fulcrum_observe::log::LogRecord) {
        self.0.lock().unwrap().push(rec);
    }
}

/// The `%[…]` values of the first `n` log lines (waits up to 5 s for them).
fn logged(sink: &Collect, n: usize) -> Vec<Vec<Option<String>>> {
    let t0 = std::time::Instant::now();
    while sink.0.lock().unwrap().len() < n && t0.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let recs = sink.0.lock().unwrap();
    recs.iter().map(|r| r.samples.format.clone()).collect()
}

#[test]
fn log_lines_of_later_requests_read_session_variables() {
    let app = origin(|_| ok("app"));
    let text = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n\
         \x20   log-format \"%[var(sess.user)] %[var(txn.path)]\"\n\
         \x20   tcp-request connection set-var(sess.user) str(alice)\n\
         \x20   http-request set-var(txn.path) path\n\
         \x20   http-request deny if {{ path /deny }}\n\
         \x20   http-after-response set-header X-After %[var(txn.path)]\n\
         \x20   use_backend app if {{ path /app }}\n\
         backend app\n    server s {}\n",
        app.addr
    );
    let l = fulcrum_config::load_str("test.cfg", &text, &fulcrum_config::reader::MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    let rt = fulcrum_engine::compile(&l.config.unwrap()).unwrap();
    let sink = std::sync::Arc::new(Collect::default());
    let opts = fulcrum_engine::EngineOptions {
        nbthread: Some(1),
        log: Some(sink.clone()),
        ..Default::default()
    };
    let h = fulcrum_engine::Engine::start(rt, opts).unwrap();
    let mut c = client(h.local_addr("web").unwrap());
    let (h1, _) = get(&mut c, "/app");
    assert_eq!(status(&h1), 200, "{h1}");
    // No backend matches: a 503 the proxy gives itself, on the same connection.
    let (h2, _) = get(&mut c, "/none");
    assert_eq!(status(&h2), 503, "{h2}");
    let lines = logged(&sink, 2);
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        lines.first(),
        Some(&vec![s("alice"), s("/app")]),
        "{lines:?}"
    );
    assert_eq!(
        lines.get(1),
        Some(&vec![s("alice"), s("/none")]),
        "{lines:?}"
    );
    // `http-after-response` on the proxy's own answer reads the request rules' variables.
    let mut d = client(h.local_addr("web").unwrap());
    let (h3, _) = get(&mut d, "/deny");
    assert_eq!(status(&h3), 403, "{h3}");
    assert_eq!(header(&h3, "x-after").as_deref(), Some("/deny"), "{h3}");
    drop(h);
}

#[test]
fn request_variables_end_with_the_request_and_response_ones_start_with_the_response() {
    let app = origin(|_| ok("app"));
    let run = serve(
        "    http-request set-var(req.r) str(in-request)\n\
         \x20   http-request set-var(txn.t) str(in-txn)\n\
         \x20   http-request set-header X-Req %[var(req.r)]\n\
         \x20   http-response set-var(res.s) status\n\
         \x20   http-response set-header X-Req-Seen yes if { var(req.r) -m found }\n\
         \x20   http-response set-header X-Txn %[var(txn.t)]\n\
         \x20   http-response set-header X-Res %[var(res.s)]\n",
        "",
        app.addr,
    );
    let mut c = client(run.addr);
    let (h, _) = get(&mut c, "/");
    assert_eq!(status(&h), 200, "{h}");
    assert_eq!(seen(&app, 0).header("x-req").as_deref(), Some("in-request"));
    assert_eq!(
        header(&h, "x-req-seen"),
        None,
        "req. variable outlived the request: {h}"
    );
    assert_eq!(header(&h, "x-txn").as_deref(), Some("in-txn"), "{h}");
    assert_eq!(header(&h, "x-res").as_deref(), Some("200"), "{h}");
}

#[test]
fn global_set_var_fills_process_variables_at_load() {
    let app = origin(|_| ok("app"));
    let text = format!(
        "global\n    set-var proc.var_scopes_role str(primary)\n\
         \x20   set-var-fmt proc.var_scopes_who \"node-%[var(proc.var_scopes_role)]\"\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n\
         \x20   http-request set-header X-Role %[var(proc.var_scopes_role)]\n\
         \x20   http-request set-header X-Who %[var(proc.var_scopes_who)]\n\
         \x20   default_backend app\n\
         backend app\n    server s {}\n",
        app.addr
    );
    let run = start_cfg(&text, "web");
    let mut c = client(run.addr);
    let (h, _) = get(&mut c, "/");
    assert_eq!(status(&h), 200, "{h}");
    let r = seen(&app, 0);
    assert_eq!(r.header("x-role").as_deref(), Some("primary"));
    assert_eq!(r.header("x-who").as_deref(), Some("node-primary"));
    // Only `proc.` variables exist before any traffic: anything else is refused at its line.
    let bad = "global\n    set-var txn.x str(a)\n";
    let l = fulcrum_config::load_str("bad.cfg", bad, &fulcrum_config::reader::MapEnv::new());
    assert!(!l.is_valid());
    let msg = format!("{:?}", l.diagnostics);
    assert!(msg.contains("only 'proc.' variables"), "{msg}");
    assert!(msg.contains("bad.cfg") || msg.contains("line: 2"), "{msg}");
}
