//! 1.x `mode health`: accepted with a warning naming the modern form, and every
//! connection answered as HAProxy 1.x did (`OK\n`, or `HTTP/1.0 200 OK` with
//! `option httpchk`), then closed.

mod common;

use common::*;
use fulcrum_config::reader::MapEnv;

/// The running proxy and the warnings (message and hint) its configuration got.
fn serve(text: &str) -> (Running, Vec<String>) {
    let l = fulcrum_config::load_str("health.cfg", text, &MapEnv::new());
    let warnings = l
        .diagnostics
        .warnings()
        .map(|d| format!("{} {}", d.message, d.hint.clone().unwrap_or_default()))
        .collect();
    (start_cfg(text, "hc"), warnings)
}

const BASE: &str =
    "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n";

#[test]
fn mode_health_answers_ok_and_closes() {
    let (run, warnings) = serve(&format!(
        "{BASE}listen hc\n    bind 127.0.0.1:0\n    mode health\n"
    ));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("'mode health'") && w.contains("monitor-uri")),
        "{warnings:?}"
    );
    // Whatever the client sends, the answer is the same, then the close.
    for sent in [&b""[..], b"GET / HTTP/1.0\r\n\r\n"] {
        let mut c = client(run.addr);
        write(&mut c, sent);
        assert_eq!(read_all(&mut c), b"OK\n");
    }
}

#[test]
fn mode_health_with_httpchk_answers_http_200() {
    let (run, _) = serve(&format!(
        "{BASE}listen hc\n    bind 127.0.0.1:0\n    mode health\n    option httpchk\n"
    ));
    let mut c = client(run.addr);
    write(&mut c, b"GET /anything HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(read_all(&mut c), b"HTTP/1.0 200 OK\r\n\r\n");
}
