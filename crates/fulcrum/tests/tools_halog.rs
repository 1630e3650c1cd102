//! Debian's `halog` reads the `option httplog` lines the real binary sends to
//! syslog, and its statistics (`-st` status counts, `-srv` per-server counts,
//! `-tc` termination codes) equal the traffic sent. Skipped without halog.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const HALOG: &str = "/usr/bin/halog";

const CONFIG: &str = "global\n    log 127.0.0.1:514 local0\n\
defaults\n    mode http\n    log global\n    option httplog\n\
\x20   timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
frontend web\n    bind 127.0.0.1:8080\n\
\x20   http-request deny if { path /deny }\n    default_backend app\n\
backend app\n    balance roundrobin\n\
\x20   server s1 10.0.0.1:80\n    server s2 10.0.0.2:80\n";

/// Receives syslog datagrams until `n` request lines came (bounded by `limit`).
fn receive(sock: &UdpSocket, n: usize, limit: Duration) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 8192];
    let mut lines = Vec::new();
    while lines.len() < n && Instant::now() < deadline {
        if let Ok(k) = sock.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..k]).trim_end().to_string();
            if line.contains("\"GET ") {
                lines.push(line);
            }
        }
    }
    lines
}

/// A datagram `<PRI>Mmm dd hh:mm:ss host tag[pid]: msg` as a syslog daemon
/// writes it to a file: without the priority.
fn as_file_line(datagram: &str) -> String {
    datagram
        .split_once('>')
        .map_or(datagram, |(_, rest)| rest)
        .to_string()
}

fn halog(args: &[&str], input: &str) -> (String, String) {
    let mut child = Command::new(HALOG)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn halog_statistics_equal_the_traffic_sent() {
    if !std::path::Path::new(HALOG).exists() {
        println!("skipped: {HALOG} is not installed (Debian package haproxy)");
        return;
    }
    let run = Runnable::new(CONFIG, CopyOptions::default());
    let log = UdpSocket::bind(run.ports.log("global", 0)).expect("bind log port");
    let s1 = HttpBackend::start("s1", run.server("app", "s1"));
    let s2 = HttpBackend::start("s2", run.server("app", "s2"));
    for b in [&s1, &s2] {
        b.behave(|b| {
            b.status.insert("/missing".into(), 404);
        });
    }
    let _f = Fulcrum::start(&run);

    // What the clients saw: status counts, and per server its class counts.
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut per_server: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let paths = [
        "/ok", "/ok", "/missing", "/ok", "/deny", "/missing", "/ok", "/deny", "/ok",
    ];
    for p in paths {
        let r = get(run.bind("web"), p, &[]);
        *statuses.entry(r.status).or_default() += 1;
        if p != "/deny" {
            let name = format!("app/{}", r.server());
            per_server.entry(name).or_default()[usize::from(r.status >= 400)] += 1;
        }
    }
    assert_eq!(statuses.get(&403), Some(&2));

    let lines = receive(&log, paths.len(), Duration::from_secs(5));
    assert_eq!(lines.len(), paths.len(), "{lines:#?}");
    let file: String = lines.iter().map(|l| as_file_line(l) + "\n").collect();

    let (st, err) = halog(&["-st"], &file);
    assert!(err.contains(", 0 parsing errors"), "{err}\n{file}");
    let expected: String = statuses.iter().map(|(s, n)| format!("{s} {n}\n")).collect();
    assert_eq!(st, expected, "{file}");

    let (srv, _) = halog(&["-srv"], &file);
    let mut rows = srv.lines();
    assert_eq!(
        rows.next(),
        Some("#srv_name 1xx 2xx 3xx 4xx 5xx other tot_req req_ok pct_ok avg_ct avg_rt")
    );
    let got: BTreeMap<&str, Vec<&str>> = rows
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            (w[0], w[1..8].to_vec())
        })
        .collect();
    for (name, [ok, notfound]) in &per_server {
        let tot = (ok + notfound).to_string();
        let (ok, nf) = (ok.to_string(), notfound.to_string());
        assert_eq!(
            got.get(name.as_str()),
            Some(&vec![
                "0",
                ok.as_str(),
                "0",
                nf.as_str(),
                "0",
                "0",
                tot.as_str()
            ]),
            "{srv}"
        );
    }
    assert_eq!(
        got.get("web/<NOSRV>"),
        Some(&vec!["0", "0", "0", "2", "0", "0", "2"]),
        "denied requests have no server: {srv}"
    );

    // Termination codes (first two letters): denials end at the proxy (PR),
    // the rest normally.
    let (tc, _) = halog(&["-tc"], &file);
    assert!(tc.lines().any(|l| l == "PR 2"), "{tc}");
    assert!(tc.lines().any(|l| l == "-- 7"), "{tc}");
}
