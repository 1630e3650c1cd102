//! The same sample expressions through HAProxy (Debian's /usr/sbin/haproxy, on
//! 127.0.0.1) and through fulcrum-rules: values must be equal byte for byte.
//! Skipped, with a message, when haproxy is not installed.

mod common;

use common::*;
use fulcrum_rules::run_http_request;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HAPROXY: &str = "/usr/sbin/haproxy";

/// Expressions compared; each becomes header `x-N`.
const EXPRS: &[&str] = &[
    "base32",
    "req.hdr(x-in),url_enc",
    "req.hdr(x-hex),hex2i",
    "req.hdr(host),host_only",
    "req.hdr(host),port_only",
    "req.hdr(x-in),sha1,hex",
    "req.hdr(x-in),sha2(224),hex",
    "req.hdr(x-in),sha2(512),hex",
    "bin(0102030405060708090a),be2dec(.,8)",
    "bin(01020304050607),be2dec(-,2,1)",
    "req.hdr(x-in),cut_crlf",
    "req.hdr(x-in),sdbm(1)",
    "req.hdr(x-in),djb2(1)",
    "req.hdr(x-in),wt6(1)",
    "req.hdr(x-in),crc32(1)",
    "req.hdr(x-in),set-var(txn.v),length",
];

/// Requests as sent (CRLF line ends); every expression yields a value for each.
const REQUESTS: &[&str] = &[
    "GET /a/b?c=d HTTP/1.1\r\nHost: Example.COM:8080\r\nX-In: a b/é&=?%+~*.-_!\r\nX-Hex: 0A0b\r\n\r\n",
    "GET /%C3%A9/x HTTP/1.1\r\nHost: [::FFFF]:81\r\nX-In: ab\r\nX-Hex: ffffffffffffffffff\r\n\r\n",
    "GET /xyz HTTP/1.1\r\nHost: host\r\nX-In: été\r\nX-Hex: 123\r\n\r\n",
];

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts haproxy on `cfg` and waits (at most 10 s) until it accepts.
fn start(cfg: &str, port: u16, dir: &std::path::Path) -> Haproxy {
    let path = dir.join("h.cfg");
    std::fs::write(&path, cfg).expect("write cfg");
    let child = Command::new(HAPROXY)
        .arg("-f")
        .arg(&path)
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn haproxy");
    let h = Haproxy(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    h
}

/// The response head's header lines of one request.
fn ask(port: u16, raw: &str) -> Vec<(String, String)> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).expect("read within 10 s");
        assert!(n > 0, "haproxy closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect()
}

#[test]
fn converters_and_base32_equal_haproxys() {
    if !std::path::Path::new(HAPROXY).exists() {
        eprintln!("skipped: {HAPROXY} is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = format!(
        "defaults\n    mode http\n    timeout client 10s\n    timeout server 10s\n    timeout connect 10s\n\
         frontend f\n    bind 127.0.0.1:{port}\n    http-request return status 200"
    );
    let mut ours = String::new();
    for (i, e) in EXPRS.iter().enumerate() {
        cfg.push_str(&format!(" hdr x-{i} \"%[{e}]\""));
        ours.push_str(&format!("http-request set-header x-{i} %[{e}]\n"));
    }
    cfg.push('\n');
    let _h = start(&cfg, port, dir.path());
    let rules = compile(&ours);
    for raw in REQUESTS {
        let theirs = ask(port, raw);
        let mut v = Fake::request(raw);
        run_http_request(&rules.http_request, &mut v);
        for (i, e) in EXPRS.iter().enumerate() {
            let name = format!("x-{i}");
            let want: Vec<&str> = theirs
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            assert_eq!(v.hdr(&name), want, "{e} on {raw:?}");
        }
    }
}
