//! Whole-configuration checks: references, names, files, timeouts — all in one run.

use fulcrum_config::reader::ProcessEnv;
use fulcrum_config::{load_str, Level, Loaded};

fn load(text: &str) -> Loaded {
    load_str("v.cfg", text, &ProcessEnv)
}

fn errors(l: &Loaded) -> Vec<(u32, String)> {
    l.diagnostics
        .errors()
        .map(|d| (d.span.as_ref().map_or(0, |s| s.line), d.to_string()))
        .collect()
}

const DEF: &str = "defaults\nmode http\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\n";

#[test]
fn unknown_backends_are_errors_with_suggestions() {
    let l = load(&format!(
        "{DEF}frontend f\nbind :80\nuse_backend bk_aip if {{ path_beg /api }}\ndefault_backend nowhere\n\
         backend bk_api\nserver s 127.0.0.1:1\n"
    ));
    let e = errors(&l);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(e[0].0, 8);
    assert!(
        e[0].1.contains("unable to find required backend 'bk_aip'")
            && e[0].1.contains("did you mean 'bk_api'?")
    );
    assert_eq!(e[1].0, 9);
    assert!(e[1].1.contains("declare 'backend nowhere'"));
    assert!(l.config.is_none());
}

#[test]
fn http_frontend_cannot_use_tcp_backend() {
    let l = load(&format!(
        "{DEF}frontend f\nbind :80\ndefault_backend t\nbackend t\nmode tcp\nserver s 127.0.0.1:1\n"
    ));
    let e = errors(&l);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].1
            .contains("(mode http) cannot use backend 't' (mode tcp)"),
        "{}",
        e[0].1
    );
}

#[test]
fn tcp_frontend_may_use_http_backend() {
    let l = load(&format!(
        "{DEF}frontend f\nmode tcp\nbind :80\ndefault_backend h\nbackend h\nserver s 127.0.0.1:1\n"
    ));
    assert!(l.is_valid(), "{:?}", l.diagnostics);
}

#[test]
fn duplicate_proxy_names() {
    let l = load(&format!(
        "{DEF}frontend app\nbind :80\ndefault_backend app\nbackend app\nserver s 127.0.0.1:1\n\
         backend app\nserver s 127.0.0.1:2\n"
    ));
    let e = errors(&l);
    assert_eq!(
        e.len(),
        1,
        "a frontend and a backend may share a name: {e:#?}"
    );
    assert_eq!(e[0].0, 11);
    assert!(e[0]
        .1
        .contains("backend 'app' has the same name as backend 'app' declared at v.cfg:9"));
}

#[test]
fn missing_timeouts_warn() {
    let l = load("defaults\nmode http\nfrontend f\nbind :80\ndefault_backend b\nbackend b\nserver s 127.0.0.1:1\n");
    let w: Vec<_> = l.diagnostics.warnings().map(|d| d.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(
        w[0].contains("missing timeouts for frontend 'f'") && w[0].contains("'timeout client'")
    );
    assert!(
        w[1].contains("missing timeouts for backend 'b'")
            && w[1].contains("'timeout connect' and 'timeout server'")
    );
    assert!(l.is_valid());
}

#[test]
fn unreadable_files_are_errors_at_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let present = dir.path().join("ok.lst");
    std::fs::write(&present, "10.0.0.0/8\n").unwrap();
    let l = load(&format!(
        "{DEF}frontend f\nbind :80\nacl ok src -f {}\nacl gone src -f /nonexistent/bad.lst\n\
         http-request set-header X %[req.hdr(host),map(/nonexistent/h.map,x)]\nerrorfile 503 /nonexistent/503.http\n\
         http-request deny if {{ src -f /nonexistent/deny.lst }}\n\
         default_backend b\nbackend b\nserver s 127.0.0.1:1\n",
        present.display()
    ));
    let e = errors(&l);
    assert_eq!(
        e.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![9, 10, 11, 12],
        "{e:#?}"
    );
    assert!(e[3]
        .1
        .contains("cannot read ACL file '/nonexistent/deny.lst'"));
    assert!(e[0]
        .1
        .contains("cannot read ACL file '/nonexistent/bad.lst': no such file"));
    assert!(e[1].1.contains("cannot read map file '/nonexistent/h.map'"));
    assert!(e[2]
        .1
        .contains("'errorfile 503': cannot read '/nonexistent/503.http'"));
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let l = load(&format!(
        "{DEF}frontend f\nbind 1.2.3.4\nbind :99999\ndefault_backend b\nbackend b\nbalance nope\n\
         server a 127.0.0.1:1\nserver a 127.0.0.1:2\nserver c not_an_address!:80\n"
    ));
    let lines: Vec<u32> = errors(&l).iter().map(|e| e.0).collect();
    assert_eq!(lines, vec![7, 8, 11, 12, 13, 14], "{:#?}", errors(&l));
    assert!(l.diagnostics.items.iter().all(|d| d.level != Level::Diag));
}

#[test]
fn references_to_sections_and_servers_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("503.http");
    std::fs::write(&page, "HTTP/1.0 503 Service Unavailable\r\n\r\n").unwrap();
    let l = load(&format!(
        "{DEF}http-errors site\nerrorfile 503 {}\nresolvers dns\nnameserver n 127.0.0.1:53\n\
         backend b\nerrorfiles sit\nerrorfiles site\nserver a 127.0.0.1:1 resolvers dnss\n\
         server c 127.0.0.1:2 track b/z\nserver e 127.0.0.1:3 track nob/a\nuse-server aa if TRUE\n",
        page.display()
    ));
    let e = errors(&l);
    assert_eq!(
        e.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![11, 13, 14, 15, 16],
        "{e:#?}"
    );
    assert!(
        e[0].1.contains("no 'http-errors' section named 'sit'")
            && e[0].1.contains("did you mean 'site'?")
    );
    assert!(e[1].1.contains("no 'resolvers' section named 'dnss'"));
    assert!(e[2].1.contains("'track' names server 'b/z'"));
    assert!(e[3].1.contains("'track' names backend 'nob'"));
    assert!(
        e[4].1.contains("'use-server' names server 'aa'") && e[4].1.contains("did you mean 'a'?")
    );
}

#[test]
fn a_missing_errorfile_in_defaults_is_reported_once() {
    let l = load(&format!(
        "{DEF}errorfile 503 /nonexistent/503.http\nbackend a\nserver s 127.0.0.1:1\nbackend b\nserver s 127.0.0.1:2\n"
    ));
    let e = errors(&l);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].0, 6);
}

#[test]
fn duplicate_ids_are_errors() {
    let l = load(&format!(
        "{DEF}backend a\nid 3\nserver s1 127.0.0.1:1 id 1\nserver s2 127.0.0.1:2 id 1\nbackend b\nid 3\nserver s 127.0.0.1:1 id 1\n"
    ));
    let e = errors(&l);
    assert_eq!(
        e.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![9, 10],
        "{e:#?}"
    );
    assert!(e[0]
        .1
        .contains("server 's2' has the same id 1 as server 's1'"));
    assert!(e[1]
        .1
        .contains("proxy 'b' has the same id 3 as proxy 'a' declared at v.cfg:6"));
}

#[test]
fn acls_must_be_declared_before_use() {
    let l = load(&format!(
        "{DEF}frontend f\nbind :80\nacl is_api path_beg /api\n\
         use_backend b if is_apii\nhttp-request deny if late\nacl late src 10.0.0.1\n\
         http-request allow if METH_GET is_api late\ndefault_backend b\nbackend b\nserver s 127.0.0.1:1\n"
    ));
    let e = errors(&l);
    assert_eq!(
        e.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![9, 10],
        "{e:#?}"
    );
    assert!(e[0].1.contains("no such ACL: 'is_apii'") && e[0].1.contains("did you mean 'is_api'?"));
    assert!(e[1]
        .1
        .contains("ACL 'late' is used before its declaration at v.cfg:11"));
}
