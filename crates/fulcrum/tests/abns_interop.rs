//! `abns@` names shared with HAProxy: a HAProxy 2.6 (Debian's) frontend bound
//! on `abns@NAME` is reached by a Fulcrum `server … abns@NAME`, and the other
//! way round, since both pad the name to the whole `sun_path`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};
use support::proc::{free_port, start, start_program, Proc};

const HAPROXY: &str = "/usr/sbin/haproxy";

/// Writes a config file of `body` under the usual timeouts.
fn write_cfg(dir: &Path, file: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(file);
    std::fs::write(
        &p,
        format!(
            "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n{body}"
        ),
    )
    .unwrap();
    p
}

fn back(name: &str, who: &str) -> String {
    format!(
        "listen back\n    mode http\n    bind abns@{name}\n\
         \x20   http-request return status 200 content-type text/plain string {who}\n"
    )
}

fn front(port: u16, name: &str) -> String {
    format!("listen front\n    mode tcp\n    bind 127.0.0.1:{port}\n    server b abns@{name}\n")
}

fn through(front_port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", front_port)) {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = c.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") || Instant::now() > deadline {
                return out;
            }
        }
        assert!(Instant::now() < deadline, "no answer through {front_port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn haproxy_and_fulcrum_reach_each_other_over_abns() {
    if !Path::new(HAPROXY).exists() {
        eprintln!("skipped: {HAPROXY} is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let id = std::process::id();

    // HAProxy binds the name, Fulcrum connects to it.
    let n1 = format!("fulcrum-interop-a-{id}");
    let p1 = free_port();
    let hcfg = write_cfg(dir.path(), "h1.cfg", &back(&n1, "haproxy"));
    let _h: Proc = start_program(HAPROXY, &hcfg, &[]);
    let fcfg = write_cfg(dir.path(), "f1.cfg", &front(p1, &n1));
    let _f = start(&fcfg, &[]);
    let out = through(p1);
    assert!(out.ends_with("haproxy"), "{out}");

    // Fulcrum binds the name, HAProxy connects to it.
    let n2 = format!("fulcrum-interop-b-{id}");
    let p2 = free_port();
    let fcfg = write_cfg(dir.path(), "f2.cfg", &back(&n2, "fulcrum"));
    let _f2 = start(&fcfg, &[]);
    let hcfg = write_cfg(dir.path(), "h2.cfg", &front(p2, &n2));
    let _h2: Proc = start_program(HAPROXY, &hcfg, &[]);
    let out = through(p2);
    assert!(out.ends_with("fulcrum"), "{out}");
}
