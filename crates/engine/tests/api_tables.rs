//! Runtime API: `show table` / `clear table` over live stick tables, and the
//! informational commands (`show errors`, `show activity`, `show env`).

mod health_support;

use health_support::*;
use std::path::Path;
use std::time::Duration;

fn config(sock: &Path, o: &Origin) -> String {
    format!(
        "global\n    stats socket {} level admin\n    stats timeout 2s\n\
         defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n\
         \x20   stick-table type ip size 1k expire 30s store http_req_cnt,conn_rate(10s)\n\
         \x20   http-request track-sc0 src\n    default_backend app\n\
         backend app\n    server s1 {}\n\
         backend other\n    stick-table type string len 32 size 10 expire 1m\n    server s2 {}\n",
        sock.display(),
        o.addr,
        o.addr
    )
}

#[test]
fn show_table_dumps_tracked_clients_and_clear_table_forgets_them() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Origin::start("s1");
    let r = Running::start(&config(&sock, &o));
    let web = r.addr("web");
    for _ in 0..3 {
        assert_eq!(get(web, "/").0, 200);
    }

    // Without a name: one header per table, in name order, no entries.
    assert_eq!(
        cmd(&sock, "show table"),
        "# table: other, type: string, size:10, used:0\n\
         # table: web, type: ip, size:1024, used:1\n\n"
    );
    let mut dump = String::new();
    assert!(wait_until(Duration::from_secs(3), || {
        dump = cmd(&sock, "show table web");
        dump.contains("http_req_cnt=3")
    }));
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines[0], "# table: web, type: ip, size:1024, used:1");
    let entry = lines[1];
    assert!(entry.starts_with("0x"), "{entry}");
    assert!(entry.contains(": key=127.0.0.1 use=0 exp="), "{entry}");
    assert!(
        entry.ends_with(" conn_rate(10000)=3 http_req_cnt=3"),
        "{entry}"
    );
    assert_eq!(lines.get(2), Some(&""));

    // Filters select entries.
    let none = cmd(&sock, "show table web data.http_req_cnt gt 5");
    assert_eq!(none, "# table: web, type: ip, size:1024, used:1\n\n");
    assert!(cmd(&sock, "show table web data.http_req_cnt ge 3").contains("key=127.0.0.1"));
    assert!(!cmd(&sock, "show table web key 10.9.9.9").contains("key="));
    assert_eq!(cmd(&sock, "show table nope"), "No such table\n\n");
    assert!(cmd(&sock, "show table web data.http_req_cnt zz 1").contains("operator"));

    // clear table … key removes that client; its next request starts anew.
    assert_eq!(cmd(&sock, "clear table web key 127.0.0.1"), "\n");
    assert!(!cmd(&sock, "show table web").contains("key="));
    assert_eq!(get(web, "/").0, 200);
    assert!(wait_until(Duration::from_secs(3), || cmd(
        &sock,
        "show table web"
    )
    .contains("http_req_cnt=1")));
    assert_eq!(cmd(&sock, "clear table web"), "\n");
    assert_eq!(
        cmd(&sock, "show table web"),
        "# table: web, type: ip, size:1024, used:0\n\n"
    );
    assert_eq!(cmd(&sock, "clear table nope"), "No such table\n\n");
}

#[test]
fn show_errors_activity_and_env_answer_in_haproxys_layout() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let o = Origin::start("s1");
    let _r = Running::start(&config(&sock, &o));
    let errors = cmd(&sock, "show errors");
    assert!(errors.starts_with("Total events captured on ["), "{errors}");
    assert!(errors.ends_with("] : 0\n\n"), "{errors}");
    let act = cmd(&sock, "show activity");
    assert!(act.starts_with("thread_id: 1 (1.."), "{act}");
    assert!(act.contains("\nuptime_now: "), "{act}");
    std::env::set_var("FULCRUM_API_TEST", "x1");
    assert_eq!(
        cmd(&sock, "show env FULCRUM_API_TEST"),
        "FULCRUM_API_TEST=x1\n\n"
    );
    assert!(cmd(&sock, "show env").contains("FULCRUM_API_TEST=x1\n"));
}
