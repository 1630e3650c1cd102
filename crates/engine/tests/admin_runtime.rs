//! Runtime API commands compared with HAProxy 2.6's answers, over the real
//! stats socket: `set server … agent|health`, the check columns of `show
//! servers state`, `set rate-limit` and the accept-rate limits
//! (`maxconnrate`, `maxsessrate`, `rate-limit sessions`) clients feel.

mod health_support;

use health_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// The server line of `show servers state` for `srv`, split in columns.
fn state_of(sock: &Path, srv: &str) -> Vec<String> {
    let out = cmd(sock, "show servers state be");
    out.lines()
        .find(|l| l.split(' ').nth(3) == Some(srv))
        .unwrap_or_else(|| panic!("no {srv} in {out}"))
        .split(' ')
        .map(str::to_string)
        .collect()
}

/// Columns by name (format version 1).
fn col(line: &[String], name: &str) -> String {
    let header = fulcrum_observe::api::SERVERS_STATE_HEADER;
    let i = header
        .trim_start_matches("# ")
        .split(' ')
        .position(|h| h == name)
        .unwrap();
    line[i].clone()
}

/// A port with nothing listening (kept bound, not listening, for the test).
fn refused() -> (TcpListener, SocketAddr) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    (s.into(), addr)
}

#[test]
fn set_server_agent_and_health_answer_and_show_as_haproxy() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let web = Origin::start("web");
    let (_hold, dead) = refused();
    let run = Running::start(&format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    server s1 {} check inter 60s\n    server s2 {}\n\
         \x20   server s3 {} check inter 300ms agent-check agent-port {} agent-inter 60s\n\
         \x20   server s4 {} track be/s1\n",
        sock.display(),
        web.addr,
        web.addr,
        dead,
        dead.port(),
        web.addr
    ));
    let fe = run.addr("fe");
    // s1's first check passed, s3's failed.
    let ready = wait_until(Duration::from_secs(10), || {
        col(&state_of(&sock, "s1"), "srv_check_status") == "6"
            && col(&state_of(&sock, "s3"), "srv_check_status") == "8"
    });
    assert!(
        ready,
        "{}{:?}",
        cmd(&sock, "show servers state"),
        run.events.lock().unwrap()
    );
    // As HAProxy 2.6 prints them: L4OK passed at full health, enabled check;
    // no check: INI, unknown result, health at `rise`; L4CON failed, agent 0x16.
    let s1 = state_of(&sock, "s1");
    let cols = |l: &[String]| {
        [
            "srv_op_state",
            "srv_check_status",
            "srv_check_result",
            "srv_check_health",
            "srv_check_state",
            "srv_agent_state",
            "srv_agent_port",
        ]
        .map(|c| col(l, c))
        .join(" ")
    };
    assert_eq!(cols(&s1), "2 6 3 4 6 0 0");
    assert_eq!(cols(&state_of(&sock, "s2")), "2 1 0 2 0 0 0");
    assert_eq!(
        cols(&state_of(&sock, "s3")),
        format!("0 8 2 0 6 22 {}", dead.port())
    );

    // `agent`: only on a server with an enabled agent, only up or down.
    assert_eq!(
        cmd(&sock, "set server be/s2 agent up"),
        "agent checks are not enabled on this server.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set server be/s3 agent stopping"),
        "'set server <srv> agent' expects 'up' or 'down'.\n\n"
    );
    assert_eq!(cmd(&sock, "set server be/s3 agent up"), "\n");
    assert_eq!(col(&state_of(&sock, "s3"), "srv_op_state"), "2");
    assert_eq!(cmd(&sock, "set server be/s3 agent down"), "\n");
    assert_eq!(col(&state_of(&sock, "s3"), "srv_op_state"), "0");
    assert_eq!(cmd(&sock, "disable agent be/s3"), "\n");
    assert_eq!(col(&state_of(&sock, "s3"), "srv_agent_state"), "18");
    assert_eq!(
        cmd(&sock, "set server be/s3 agent up"),
        "agent checks are not enabled on this server.\n\n"
    );

    // `health stopping`: up but out of load balancing (NOLB, op state 3);
    // traffic goes to s2 only, until `health up`.
    assert_eq!(cmd(&sock, "set server be/s1 health stopping"), "\n");
    assert_eq!(col(&state_of(&sock, "s1"), "srv_op_state"), "3");
    let csv = cmd(&sock, "show stat");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("be,s1,") && l.contains(",NOLB,")),
        "{csv}"
    );
    let before = web.hits();
    for _ in 0..4 {
        assert_eq!(get(fe, "/").0, 200);
    }
    assert_eq!(web.hits() - before, 4, "s2 (same origin) took them all");
    assert_eq!(cmd(&sock, "set server be/s1 health down"), "\n");
    let s1 = state_of(&sock, "s1");
    assert_eq!(
        (col(&s1, "srv_op_state"), col(&s1, "srv_check_health")),
        ("0".into(), "0".into())
    );
    assert_eq!(cmd(&sock, "set server be/s1 health up"), "\n");
    assert_eq!(
        cmd(&sock, "show servers state be")
            .lines()
            .nth(2)
            .map(|l| l.split(' ').nth(5)),
        Some(Some("2"))
    );
    assert_eq!(
        cmd(&sock, "set server be/s1 health sick"),
        "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set server be/s4 health down"),
        "cannot change health on a tracking server.\n\n"
    );
    // A bad value is judged after the server, as HAProxy does.
    assert_eq!(
        cmd(&sock, "set server be/s2 agent foo"),
        "agent checks are not enabled on this server.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set server be/s4 health foo"),
        "cannot change health on a tracking server.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set server be/zz state foo"),
        "No such server.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set server zz/s1 weight x"),
        "No such backend.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set server be/zz health up"),
        "No such server.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set server zz/s1 agent up"),
        "No such backend.\n\n"
    );

    // Maintenance pauses the check (0x08) and stops the server.
    assert_eq!(cmd(&sock, "set server be/s1 state maint"), "\n");
    let s1 = state_of(&sock, "s1");
    assert_eq!(
        (
            col(&s1, "srv_op_state"),
            col(&s1, "srv_admin_state"),
            col(&s1, "srv_check_state")
        ),
        ("0".into(), "1".into(), "14".into())
    );
    assert_eq!(cmd(&sock, "set server be/s1 state ready"), "\n");
    assert_eq!(cmd(&sock, "disable health be/s1"), "\n");
    assert_eq!(col(&state_of(&sock, "s1"), "srv_check_state"), "2");
}

/// HTTP origin on its own thread, answering each request at once.
fn origin() -> Origin {
    Origin::start("o")
}

/// Opens `n` connections at once, each sending one request; returns, per
/// connection, the time its answer came (all must be answered, none refused).
fn burst(addr: SocketAddr, n: usize) -> Vec<Duration> {
    let start = Instant::now();
    let conns: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connection refused");
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    let handles: Vec<_> = conns
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out);
                assert!(
                    out.starts_with(b"HTTP/1.1 200"),
                    "{}",
                    String::from_utf8_lossy(&out)
                );
                start.elapsed()
            })
        })
        .collect();
    let mut t: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    t.sort();
    t
}

fn rate_config(sock: &Path, global: &str, fe: &str, o: SocketAddr) -> String {
    format!(
        "global\n    stats socket {} level admin\n{global}\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 20s\n    timeout server 20s\n\
         frontend fe\n    bind 127.0.0.1:0\n{fe}    default_backend be\n\
         backend be\n    server s1 {o}\n",
        sock.display()
    )
}

fn info_field(sock: &Path, name: &str) -> String {
    let out = cmd(sock, "show info");
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .to_string()
}

#[test]
fn maxconnrate_makes_a_burst_wait_in_the_backlog_and_set_rate_limit_lifts_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let o = origin();
    let run = Running::start(&rate_config(&sock, "    maxconnrate 4\n", "", o.addr));
    let fe = run.addr("fe");
    assert_eq!(info_field(&sock, "ConnRateLimit"), "4");
    // 12 connections at 4 per second: every one answered, the last after ~2 s
    // (without the limit they all are within milliseconds).
    let t = burst(fe, 12);
    assert!(t[11] >= Duration::from_millis(1500), "{t:?}");
    assert!(t[0] < Duration::from_secs(2), "{t:?}");
    assert!(info_field(&sock, "MaxConnRate").parse::<u32>().unwrap() >= 3);
    // Lifted at run time: the next burst goes through at once.
    assert_eq!(cmd(&sock, "set rate-limit connections global 0"), "\n");
    assert_eq!(info_field(&sock, "ConnRateLimit"), "0");
    let t = burst(fe, 12);
    assert!(t[11] < Duration::from_millis(1500), "{t:?}");
    // And set again: it applies to the next connections.
    assert_eq!(cmd(&sock, "set rate-limit connections global 2"), "\n");
    assert_eq!(info_field(&sock, "ConnRateLimit"), "2");
    let t = burst(fe, 6);
    assert!(t[5] >= Duration::from_millis(1500), "{t:?}");
}

#[test]
fn session_rate_limits_global_and_per_frontend() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let o = origin();
    let run = Running::start(&rate_config(
        &sock,
        "    maxsessrate 100\n",
        "    rate-limit sessions 4\n",
        o.addr,
    ));
    let fe = run.addr("fe");
    assert_eq!(info_field(&sock, "SessRateLimit"), "100");
    let t = burst(fe, 12);
    assert!(t[11] >= Duration::from_millis(1500), "{t:?}");
    // The frontend's limit and its rate are in `show stat` (rate, rate_lim, rate_max).
    let csv = cmd(&sock, "show stat");
    let head: Vec<&str> = csv
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.starts_with("fe,FRONTEND,"))
        .unwrap()
        .split(',')
        .collect();
    let f = |n: &str| row[head.iter().position(|h| *h == n).unwrap()];
    assert_eq!(f("rate_lim"), "4");
    assert!(f("rate_max").parse::<u32>().unwrap() >= 3, "{csv}");
    // The global session limit, changed at run time, now binds harder.
    assert_eq!(cmd(&sock, "set rate-limit sessions global 1"), "\n");
    assert_eq!(info_field(&sock, "SessRateLimit"), "1");
    let t = burst(fe, 3);
    assert!(t[2] >= Duration::from_millis(1500), "{t:?}");
}

#[test]
fn set_rate_limit_answers_as_haproxy_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let o = origin();
    let _run = Running::start(&rate_config(&sock, "", "", o.addr));
    assert_eq!(
        cmd(&sock, "set rate-limit http-compression global 10"),
        "\n"
    );
    assert_eq!(info_field(&sock, "CompressBpsRateLim"), "10240");
    let usage = cmd(&sock, "set rate-limit ssl-sessions global 10");
    assert_eq!(
        usage,
        "'set rate-limit' only supports :\n\
         \x20  - 'connections global' to set the per-process maximum connection rate\n\
         \x20  - 'sessions global' to set the per-process maximum session rate\n\
         \x20  - 'http-compression global' to set the per-process maximum compression speed in kB/s\n\n"
    );
    assert_eq!(cmd(&sock, "set rate-limit connections"), usage);
    assert_eq!(
        cmd(&sock, "set rate-limit connections global"),
        "Expects an integer value.\n\n"
    );
    assert_eq!(
        cmd(&sock, "set rate-limit connections global -2"),
        "Value out of range.\n\n"
    );
    assert_eq!(cmd(&sock, "set rate-limit connections global 5x"), "\n");
    assert_eq!(info_field(&sock, "ConnRateLimit"), "5");
}

#[test]
fn stats_page_and_show_stat_list_every_proxy_as_haproxy() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let o = origin();
    let run = Running::start(&format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend be\n\
         backend be\n    server s1 {a}\n    server s2 {a}\n    server s3 {a}\n\
         listen st\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /stats\n    server x {a}\n\
         listen tcpl\n    mode tcp\n    bind 127.0.0.1:0\n    server t1 {a}\n",
        sock.display(),
        a = o.addr
    ));
    // HAProxy 2.6.12's `show stat | cut -d, -f1,2` and page anchors for this configuration.
    let rows = "fe,FRONTEND be,s1 be,s2 be,s3 be,BACKEND st,FRONTEND st,x st,BACKEND \
                tcpl,FRONTEND tcpl,t1 tcpl,BACKEND";
    let csv = cmd(&sock, "show stat");
    let got: Vec<String> = csv
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(got.join(" "), rows);
    let (st, _, page) = get(run.addr("st"), "/stats");
    assert_eq!(st, 200);
    let anchors: Vec<&str> = page
        .split("<a name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(
        anchors.join(" "),
        "fe fe/Frontend be be/s1 be/s2 be/s3 be/Backend st st/Frontend st/x st/Backend \
         tcpl tcpl/Frontend tcpl/t1 tcpl/Backend"
    );
}

#[test]
fn show_servers_state_admin_and_op_states_follow_haproxy() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let web = Origin::start("web");
    let _run = Running::start(&format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         backend be\n    server d1 {a} disabled check inter 60s\n\
         \x20   server w1 {a} check inter 60s slowstart 60s\n    server n1 {a}\n",
        sock.display(),
        a = web.addr
    ));
    let cols = |srv: &str| {
        let l = state_of(&sock, srv);
        [
            "srv_op_state",
            "srv_admin_state",
            "srv_check_health",
            "srv_check_state",
        ]
        .map(|c| col(&l, c))
        .join(" ")
    };
    // HAProxy 2.6.12: a `disabled` server is FMAINT|CMAINT, its check paused
    // and its counter at 0; `state ready` keeps CMAINT (4) and runs it.
    assert_eq!(cols("d1"), "0 5 0 14");
    assert_eq!(cmd(&sock, "set server be/d1 state ready"), "\n");
    let d1 = cols("d1");
    assert!(d1.starts_with("2 4 ") && d1.ends_with(" 6"), "{d1}");
    // Maintenance pauses checks of an unchecked server too (8); drain is 8 in
    // the admin state.
    assert_eq!(cmd(&sock, "set server be/n1 state maint"), "\n");
    assert_eq!(cols("n1"), "0 1 0 8");
    assert_eq!(cmd(&sock, "set server be/n1 state drain"), "\n");
    assert_eq!(cols("n1"), "2 8 2 0");
    // Coming back up with `slowstart`: STARTING (1) while the weight ramps.
    assert_eq!(cmd(&sock, "set server be/w1 health down"), "\n");
    assert_eq!(cmd(&sock, "set server be/w1 health up"), "\n");
    assert_eq!(col(&state_of(&sock, "w1"), "srv_op_state"), "1");
}
