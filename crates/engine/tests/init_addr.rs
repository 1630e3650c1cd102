//! `init-addr`: how a server written as a name gets its first address
//! (`last` from the server-state file, `libc`, `none`, or a fixed IP), tried
//! in order; nothing left → the configuration is refused.

mod common;

use common::http::{ok, origin};
use common::*;
use fulcrum_config::reader::MapEnv;
use fulcrum_engine::compile;

/// A name no resolver knows (RFC 6761).
const NOWHERE: &str = "no-such-host.invalid";

fn compiled(text: &str) -> Result<fulcrum_engine::Runtime, String> {
    let l = fulcrum_config::load_str("init.cfg", text, &MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    compile(&l.config.unwrap()).map_err(|e| e.to_string())
}

fn serve(text: &str) -> Running {
    start_cfg(text, "f")
}

fn cfg(global: &str, be: &str, server: &str) -> String {
    format!(
        "global\n{global}defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:0\n  default_backend b\n\
         backend b\n{be}  server s1 {server}\n"
    )
}

fn get_status(run: &Running) -> (u16, Vec<u8>) {
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = read_response(&mut c);
    (status(&head), body)
}

#[test]
fn an_unresolvable_name_without_init_addr_is_refused() {
    let e = compiled(&cfg("", "", &format!("{NOWHERE}:80"))).unwrap_err();
    assert!(e.contains("could not resolve"), "{e}");
}

#[test]
fn init_addr_none_starts_without_an_address_and_answers_503() {
    let run = serve(&cfg("", "", &format!("{NOWHERE}:80 init-addr none")));
    assert_eq!(get_status(&run).0, 503);
}

#[test]
fn init_addr_ip_is_the_fallback_after_libc() {
    let o = origin(|_| ok("here"));
    let port = o.addr.port();
    let run = serve(&cfg(
        "",
        "",
        &format!("{NOWHERE}:{port} init-addr libc,127.0.0.1"),
    ));
    assert_eq!(get_status(&run), (200, b"here".to_vec()));
}

#[test]
fn init_addr_last_reads_the_server_state_file_when_the_backend_loads_it() {
    let o = origin(|_| ok("from-state"));
    let port = o.addr.port();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::write(
        &state,
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state\n3 b 1 s1 127.0.0.1 2\n",
    )
    .unwrap();
    let global = format!("  server-state-file {}\n", state.display());
    let run = serve(&cfg(
        &global,
        "  load-server-state-from-file global\n",
        &format!("{NOWHERE}:{port} init-addr last,none"),
    ));
    assert_eq!(get_status(&run), (200, b"from-state".to_vec()));
    // Without `load-server-state-from-file`, `last` finds nothing: `none` applies.
    let run = serve(&cfg(
        &global,
        "",
        &format!("{NOWHERE}:{port} init-addr last,none"),
    ));
    assert_eq!(get_status(&run).0, 503);
}
