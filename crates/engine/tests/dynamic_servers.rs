//! Dynamic servers over the real `stats socket`: `set server addr` moves new
//! connections (open ones stay), `add server` → `enable server` → traffic,
//! `disable server` → `del server` → gone, health checks of an added server
//! after `enable health`, and HAProxy's refusals.

mod health_support;

use health_support::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A line echo server answering `<name>:<line>` on each line, any number of
/// connections; its threads end with the test process.
fn echo(name: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut w = match s.try_clone() {
                    Ok(w) => w,
                    Err(_) => return,
                };
                for line in BufReader::new(s).lines() {
                    let Ok(line) = line else { return };
                    if w.write_all(format!("{name}:{line}\n").as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn say(r: &mut BufReader<TcpStream>, line: &str) -> String {
    r.get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    r.read_line(&mut out).unwrap();
    out.trim_end().to_string()
}

fn tcp_client(addr: SocketAddr) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    BufReader::new(s)
}

fn server_line<'a>(state: &'a str, name: &str) -> Option<Vec<&'a str>> {
    state
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.get(3) == Some(&name))
}

const HEAD: &str =
    "defaults\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n";

#[test]
fn set_server_addr_moves_new_connections_and_keeps_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (a, b) = (Origin::start("a"), Origin::start("b"));
    let (e1, e2) = (echo("e1"), echo("e2"));
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    mode http\n    server s1 {}\n\
         listen raw\n    mode tcp\n    bind 127.0.0.1:0\n    server e {e1}\n",
        sock.display(),
        a.addr
    ));
    let web = r.addr("web");
    assert_eq!(get(web, "/").2, "a");

    let out = cmd(
        &sock,
        &format!("set server app/s1 addr 127.0.0.1 port {}", b.addr.port()),
    );
    assert_eq!(
        out,
        format!(
            "no need to change the addr, port changed from '{}' to '{}' by 'stats socket \
             command'\n\n",
            a.addr.port(),
            b.addr.port()
        )
    );
    let before = a.hits();
    for _ in 0..4 {
        assert_eq!(get(web, "/").2, "b");
    }
    assert_eq!(a.hits(), before, "the old address still got requests");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "app", "s1")["addr"], b.addr.to_string());
    let state = cmd(&sock, "show servers state app");
    let s1 = server_line(&state, "s1").unwrap();
    assert_eq!(s1[18], b.addr.port().to_string());

    // TCP: the open tunnel stays on e1, the next connection goes to e2.
    let mut open = tcp_client(r.addr("raw"));
    assert_eq!(say(&mut open, "x"), "e1:x");
    let out = cmd(
        &sock,
        &format!("set server raw/e addr 127.0.0.1 port {}", e2.port()),
    );
    assert!(out.contains("port changed from"), "{out}");
    assert_eq!(say(&mut open, "y"), "e1:y");
    let mut fresh = tcp_client(r.addr("raw"));
    assert_eq!(say(&mut fresh, "z"), "e2:z");

    assert_eq!(
        cmd(&sock, "set server app/nope addr 127.0.0.1"),
        "No such server.\n\n"
    );
}

#[test]
fn add_enable_serve_then_disable_delete() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    mode http\n    balance roundrobin\n    server s1 {}\n\
         backend fixed\n    mode http\n    balance static-rr\n    server f1 {}\n",
        sock.display(),
        s1.addr,
        s1.addr
    ));
    let web = r.addr("web");

    assert_eq!(
        cmd(&sock, &format!("add server app/s2 {} weight 2", s2.addr)),
        "New server registered.\n\n"
    );
    // It starts in maintenance: listed, but no traffic.
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "app", "s2")["status"], "MAINT");
    assert_eq!(row(&rows, "app", "s2")["addr"], s2.addr.to_string());
    let state = cmd(&sock, "show servers state app");
    let line = server_line(&state, "s2").expect("s2 in show servers state");
    assert_eq!(line[6], "1", "{state}");
    for _ in 0..4 {
        assert_eq!(get(web, "/").2, "s1");
    }
    assert_eq!(s2.hits(), 0);

    assert_eq!(cmd(&sock, "enable server app/s2"), "\n");
    let bodies: Vec<String> = (0..6).map(|_| get(web, "/").2).collect();
    assert_eq!(
        bodies.iter().filter(|b| *b == "s2").count(),
        4,
        "{bodies:?}"
    );
    assert_eq!(cmd(&sock, "get weight app/s2"), "2 (initial 2)\n\n");

    assert_eq!(
        cmd(&sock, &format!("add server app/s2 {}", s2.addr)),
        "Already exists a server with the same name in backend.\n\n"
    );
    assert_eq!(
        cmd(&sock, "del server app/s2"),
        "Only servers in maintenance mode can be deleted.\n\n"
    );
    assert_eq!(cmd(&sock, "disable server app/s2"), "\n");
    assert_eq!(cmd(&sock, "del server app/s2"), "Server deleted.\n\n");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert!(
        rows.iter().all(|r| r["svname"] != "s2"),
        "a deleted server is still listed"
    );
    assert!(server_line(&cmd(&sock, "show servers state"), "s2").is_none());
    let before = s2.hits();
    for _ in 0..4 {
        assert_eq!(get(web, "/").2, "s1");
    }
    assert_eq!(s2.hits(), before);
    assert_eq!(cmd(&sock, "del server app/s2"), "No such server.\n\n");

    // The name is free again, and HAProxy's refusals.
    assert_eq!(
        cmd(&sock, &format!("add server app/s2 {}", s2.addr)),
        "New server registered.\n\n"
    );
    assert_eq!(
        cmd(&sock, &format!("add server fixed/f2 {}", s2.addr)),
        "Backend must use a dynamic load balancing to support dynamic servers.\n\n"
    );
    assert_eq!(
        cmd(&sock, &format!("add server app/s3 {} cookie c3", s2.addr)),
        "'cookie' option is not accepted for dynamic server\n\n"
    );
    assert_eq!(
        cmd(&sock, &format!("add server nope/s3 {}", s2.addr)),
        "No such backend.\n\n"
    );
}

#[test]
fn an_added_server_with_check_is_checked_after_enable_health() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, mut s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    mode http\n    server s1 {}\n",
        sock.display(),
        s1.addr
    ));
    let web = r.addr("web");
    assert_eq!(
        cmd(
            &sock,
            &format!(
                "add server app/s2 {} check inter 100ms rise 1 fall 1",
                s2.addr
            )
        ),
        "New server registered.\n\n"
    );
    assert_eq!(cmd(&sock, "enable server app/s2"), "\n");
    assert_eq!(cmd(&sock, "enable health app/s2"), "\n");
    let mut rows = Vec::new();
    assert!(wait_until(Duration::from_secs(5), || {
        rows = parse_csv(&cmd(&sock, "show stat"));
        row(&rows, "app", "s2")["check_status"] == "L4OK"
    }));
    assert_eq!(row(&rows, "app", "s2")["status"], "UP");

    // The origin goes away: the check takes the server out of traffic.
    s2.kill();
    assert!(wait_until(Duration::from_secs(5), || {
        rows = parse_csv(&cmd(&sock, "show stat"));
        row(&rows, "app", "s2")["status"] == "DOWN"
    }));
    for _ in 0..4 {
        assert_eq!(get(web, "/").2, "s1");
    }
    let state = cmd(&sock, "show servers state app");
    let line = server_line(&state, "s2").unwrap();
    assert_eq!(line[13], "6", "check configured and enabled: {state}");

    assert_eq!(cmd(&sock, "disable server app/s2"), "\n");
    assert_eq!(cmd(&sock, "del server app/s2"), "Server deleted.\n\n");
}

#[test]
fn del_server_waits_for_connections_and_spares_referenced_servers() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let e1 = echo("e1");
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         listen raw\n    mode tcp\n    bind 127.0.0.1:0\n    server e {e1}\n\
         backend pinned\n    mode tcp\n    use-server p1 if {{ always_true }}\n    server p1 {e1}\n",
        sock.display()
    ));
    let mut open = tcp_client(r.addr("raw"));
    assert_eq!(say(&mut open, "x"), "e1:x");
    assert_eq!(cmd(&sock, "disable server raw/e"), "\n");
    assert_eq!(
        cmd(&sock, "del server raw/e"),
        "Server still has connections attached to it, cannot remove it.\n\n"
    );
    drop(open);
    let mut last = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            last = cmd(&sock, "del server raw/e");
            last == "Server deleted.\n\n"
        }),
        "{last}"
    );
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert!(rows.iter().all(|r| r["svname"] != "e"));

    assert_eq!(cmd(&sock, "disable server pinned/p1"), "\n");
    assert_eq!(
        cmd(&sock, "del server pinned/p1"),
        "This server cannot be removed at runtime due to other configuration elements \
         pointing to it.\n\n"
    );
}

#[test]
fn a_server_started_without_address_serves_once_set_server_addr_gives_one() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let a = Origin::start("a");
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend late\n\
         backend late\n    mode http\n    server l1 app.invalid:80 init-addr none\n",
        sock.display()
    ));
    let web = r.addr("web");
    assert_eq!(get(web, "/").0, 503);
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "late", "l1")["status"], "MAINT");
    let out = cmd(
        &sock,
        &format!("set server late/l1 addr 127.0.0.1 port {}", a.addr.port()),
    );
    assert!(
        out.starts_with("IP changed from '0.0.0.0' to '127.0.0.1'"),
        "{out}"
    );
    assert_eq!(get(web, "/").2, "a");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "late", "l1")["status"], "no check");
}

/// `add server` with a host name: resolved by the system resolver (here
/// `localhost` from /etc/hosts), so the server takes traffic once enabled.
#[test]
fn an_added_server_named_by_host_name_is_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (s1, s2) = (Origin::start("s1"), Origin::start("s2"));
    let r = Running::start(&format!(
        "global\n    stats socket {} level admin\n{HEAD}\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    mode http\n    balance roundrobin\n    server s1 {} disabled\n",
        sock.display(),
        s1.addr,
    ));
    let added = cmd(
        &sock,
        &format!("add server app/n localhost:{}", s2.addr.port()),
    );
    assert_eq!(added, "New server registered.\n\n");
    let rows = parse_csv(&cmd(&sock, "show stat"));
    assert_eq!(row(&rows, "app", "n")["addr"], s2.addr.to_string());
    assert_eq!(cmd(&sock, "enable server app/n"), "\n");
    assert_eq!(get(r.addr("web"), "/").2, "s2");
}
