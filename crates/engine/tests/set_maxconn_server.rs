//! `set maxconn server` over the real `stats socket` changes how many
//! requests the server gets at once, as HAProxy's does: lowering holds the
//! next ones in the queue, raising lets queued ones through at once, `0`
//! removes the limit and a server without one gets one.

mod health_support;

use health_support::slow::{burst, statuses, Slow};
use health_support::*;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

fn all_ok(threads: Vec<std::thread::JoinHandle<u16>>) {
    let codes = statuses(threads);
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
}

fn start(sock: &Path, server: &str, origin: SocketAddr) -> Running {
    Running::start(&format!(
        "global\n  stats socket {} level admin\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  \
         timeout server 30s\n  timeout queue 30s\n\
         frontend f\n  bind 127.0.0.1:0\n  default_backend b\n\
         backend b\n  server s1 {origin}{server}\n",
        sock.display()
    ))
}

fn slim(sock: &Path) -> String {
    let rows = parse_csv(&cmd(sock, "show stat"));
    row(&rows, "b", "s1")["slim"].clone()
}

#[test]
fn lowering_and_raising_a_servers_maxconn_changes_its_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Slow::start("s1", Duration::from_millis(300));
    let r = start(&sock, " maxconn 10", o.addr);
    all_ok(burst(r.addr("f"), 12));
    let configured = o.take_peak();
    assert!(configured > 2, "peak {configured} at maxconn 10");

    assert_eq!(cmd(&sock, "set maxconn server b/s1 2"), "\n");
    assert_eq!(slim(&sock), "2");
    all_ok(burst(r.addr("f"), 8));
    let lowered = o.take_peak();
    assert!((1..=2).contains(&lowered), "peak {lowered} at maxconn 2");

    assert_eq!(cmd(&sock, "set maxconn server b/s1 6"), "\n");
    all_ok(burst(r.addr("f"), 12));
    let raised = o.take_peak();
    assert!((3..=6).contains(&raised), "peak {raised} at maxconn 6");
}

#[test]
fn raising_lets_queued_requests_through_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Slow::start("s1", Duration::from_millis(800));
    let r = start(&sock, " maxconn 1", o.addr);
    let t0 = Instant::now();
    let reqs = burst(r.addr("f"), 4);
    // All four are in: one served, three queued.
    assert!(wait_until(Duration::from_secs(5), || {
        let rows = parse_csv(&cmd(&sock, "show stat"));
        row(&rows, "b", "BACKEND")["qcur"] == "3"
    }));
    assert_eq!(cmd(&sock, "set maxconn server b/s1 4"), "\n");
    all_ok(reqs);
    // At maxconn 1 they would take 4 × 800 ms.
    assert!(
        t0.elapsed() < Duration::from_millis(2600),
        "{:?}",
        t0.elapsed()
    );
    assert!(o.take_peak() >= 3);
}

#[test]
fn zero_removes_the_limit_and_an_unlimited_server_gets_one() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Slow::start("s1", Duration::from_millis(300));
    let r = start(&sock, "", o.addr);
    all_ok(burst(r.addr("f"), 8));
    assert!(o.take_peak() > 2);

    assert_eq!(cmd(&sock, "set maxconn server b/s1 2"), "\n");
    assert_eq!(slim(&sock), "2");
    all_ok(burst(r.addr("f"), 8));
    let limited = o.take_peak();
    assert!((1..=2).contains(&limited), "peak {limited} at maxconn 2");

    assert_eq!(cmd(&sock, "set maxconn server b/s1 0"), "\n");
    assert_eq!(slim(&sock), "");
    all_ok(burst(r.addr("f"), 8));
    let free = o.take_peak();
    assert!(free > 2, "peak {free} without maxconn");
}

#[test]
fn a_ramp_keeps_its_minconn_and_ends_at_the_new_maxconn() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Slow::start("s1", Duration::from_millis(300));
    // fullconn 10: 12 requests put the ramp at its maxconn.
    let r = Running::start(&format!(
        "global\n  stats socket {} level admin\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  \
         timeout server 30s\n  timeout queue 30s\n\
         frontend f\n  bind 127.0.0.1:0\n  default_backend b\n\
         backend b\n  fullconn 10\n  server s1 {} minconn 1 maxconn 10\n",
        sock.display(),
        o.addr
    ));
    assert_eq!(cmd(&sock, "set maxconn server b/s1 3"), "\n");
    all_ok(burst(r.addr("f"), 12));
    let peak = o.take_peak();
    assert!(
        (2..=3).contains(&peak),
        "peak {peak} with the ramp ending at 3"
    );
}

#[test]
fn bad_values_get_haproxys_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Slow::start("s1", Duration::from_millis(1));
    let _r = start(&sock, " maxconn 10", o.addr);
    // Texts checked on Debian's HAProxy 2.6.12; the server is looked up
    // before the value is read. (HAProxy ends the two garbage messages
    // without the empty line; Fulcrum always ends with one.)
    for (line, answer) in [
        ("set maxconn server b/nope 3", "No such server.\n\n"),
        ("set maxconn server b/nope x", "No such server.\n\n"),
        ("set maxconn server b/s1", "Require <maxconn>.\n\n"),
        (
            "set maxconn server b/s1 abc",
            "maxconn string empty or preceded by garbage\n\n",
        ),
        (
            "set maxconn server b/s1 5x",
            "Trailing garbage in maxconn string\n\n",
        ),
    ] {
        assert_eq!(cmd(&sock, line), answer, "{line}");
    }
    assert_eq!(slim(&sock), "10");
}

#[test]
fn an_added_server_ramps_from_minconn_with_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Slow::start("s1", Duration::from_millis(300));
    let r = start(&sock, " maxconn 10 disabled\n  fullconn 100", o.addr);
    let added = cmd(
        &sock,
        &format!("add server b/r {} minconn 1 maxconn 10", o.addr),
    );
    assert_eq!(added, "New server registered.\n\n");
    assert_eq!(cmd(&sock, "enable server b/r"), "\n");
    // 20 requests against fullconn 100: max(1, 20 × 10 / 100) = 2 at a time.
    all_ok(burst(r.addr("f"), 20));
    let peak = o.take_peak();
    assert!((1..=2).contains(&peak), "peak {peak}");
}
