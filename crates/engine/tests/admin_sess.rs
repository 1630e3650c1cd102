//! `show sess`, `show sess <id>`, `show sess all` over the stats socket, in
//! HAProxy 2.6's layouts, with the real values of a live TCP session and of
//! an HTTP connection still reading its request.

mod health_support;

use health_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// An origin echoing what it reads, one thread per connection (10 s at most).
fn echo_origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(4).flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut b = [0u8; 256];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The value after `key=` in a `show sess` line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn show_sess_prints_haproxy_s_layouts_with_real_values() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let origin = echo_origin();
    let run = Running::start(&format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         listen tcpl\n    mode tcp\n    bind 127.0.0.1:0\n    server t1 {origin}\n\
         frontend web\n    mode http\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    mode http\n    server a1 {origin}\n",
        sock.display()
    ));
    let tcpl = run.addr("tcpl");
    let mut c = TcpStream::connect(tcpl).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    // An HTTP client that has not finished its request: no backend yet.
    let mut h = TcpStream::connect(run.addr("web")).unwrap();
    h.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let hsrc = h.local_addr().unwrap().to_string();
    let listed = wait_until(Duration::from_secs(3), || {
        cmd(&sock, "show sess").contains(&format!("src={hsrc} "))
    });
    assert!(listed);

    let out = cmd(&sock, "show sess");
    assert!(out.ends_with("\n\n"), "{out:?}");
    let src = c.local_addr().unwrap().to_string();
    let line = out
        .lines()
        .find(|l| l.contains(&format!("src={src} ")))
        .unwrap_or_else(|| panic!("no {src} in {out}"));
    let id = line.split(':').next().unwrap();
    assert!(id.starts_with("0x"), "{line}");
    // HAProxy 2.6.12 writes, for a TCP session:
    // 0x55ac38439630: proto=tcpv4 src=127.0.0.1:33382 fe=tcpl be=tcpl srv=t1 ts=00 epoch=0
    //   age=2s calls=3 rate=1 cpu=0 lat=0 rq[f=848000h,i=0,an=00h,rx=28s,wx=,ax=]
    //   rp[f=80008000h,…] scf=[8,0h,fd=14] scb=[8,1h,fd=15] exp=28s rc=0 c_exp=
    assert!(
        line.starts_with(&format!(
            "{id}: proto=tcpv4 src={src} fe=tcpl be=tcpl srv=t1 ts=00 epoch=0 age="
        )),
        "{line}"
    );
    assert!(field(line, "age").ends_with('s'), "{line}");
    let scf = field(line, "scf");
    let fd: i32 = scf
        .trim_start_matches("[8,0h,fd=")
        .trim_end_matches(']')
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    assert!(fd > 2, "a real descriptor: {line}");
    // The server side too: its own descriptor.
    let scb = field(line, "scb");
    let sfd: i32 = scb
        .trim_start_matches("[8,1h,fd=")
        .trim_end_matches(']')
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    assert!(sfd > 2 && sfd != fd, "{line}");
    assert!(
        line.contains(" rq[f=") && line.ends_with(" exp= rc=0 c_exp="),
        "{line}"
    );
    // The HTTP connection: its stream's backend is still its frontend.
    let hline = out
        .lines()
        .find(|l| l.contains(&format!("src={hsrc} ")))
        .unwrap();
    assert!(hline.contains(" fe=web be=web srv=<none> "), "{hline}");
    assert!(hline.contains(" scb=[0,1h,fd=-1] "), "{hline}");

    // The detailed form of one session.
    let d = cmd(&sock, &format!("show sess {id}"));
    let lines: Vec<&str> = d.lines().collect();
    assert!(lines[0].starts_with(&format!("{id}: [")), "{d}");
    assert!(
        lines[0].ends_with(&format!(" proto=tcpv4 source={src}")),
        "{d}"
    );
    let year = lines[0].split('/').nth(2).unwrap_or("");
    assert!(year.starts_with("20"), "accept date: {d}");
    assert!(
        lines.contains(
            &format!("  frontend=tcpl (id=2 mode=tcp), listener=? (id=1) addr={tcpl}").as_str()
        ),
        "{d}"
    );
    // The backend line ends with the server connection's local address.
    let be_line = lines
        .iter()
        .find(|l| l.starts_with("  backend=tcpl (id=2 mode=tcp) addr=127.0.0.1:"))
        .unwrap_or_else(|| panic!("{d}"));
    assert!(be_line.len() > "  backend=tcpl (id=2 mode=tcp) addr=127.0.0.1:".len());
    assert!(
        lines.contains(&format!("  server=t1 (id=1) addr={origin}").as_str()),
        "{d}"
    );
    assert!(d.contains(&format!(" fd={fd} ")), "{d}");
    assert!(d.contains(&format!(" fd={sfd} ")), "{d}");
    assert!(d.ends_with("\n\n"), "{d:?}");

    // `all`: every session in the detailed form; HTTP before its backend.
    let all = cmd(&sock, "show sess all");
    assert!(all.contains(&format!("{id}: [")), "{all}");
    assert!(
        all.contains("  backend=<NONE> (id=-1 mode=-)\n  server=<NONE> (id=-1)\n"),
        "{all}"
    );
    assert!(all.contains("  frontend=web (id=3 mode=http)"), "{all}");

    // Unknown ids, as HAProxy answers them.
    assert_eq!(cmd(&sock, "show sess 0x10"), "Session not found.\n\n");
    // HAProxy reads a bad id as 0: the list.
    assert!(cmd(&sock, "show sess zz").contains(&format!(" src={src} fe=tcpl ")));
    drop(h);
}

/// The CLI's own connection is a session of HAProxy's `GLOBAL` frontend, as
/// HAProxy 2.6.12 lists it:
/// `0x…: proto=unix_stream src=unix:1 fe=GLOBAL be=<NONE> srv=<none> … scb=[8,1h,fd=-1] …`
/// (over TCP: `proto=tcpv4 src=127.0.0.1:PORT fe=GLOBAL …`).
#[test]
fn show_sess_lists_the_cli_connection_itself() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let _run = Running::start(&format!(
        "global\n    stats socket {} level admin\n    stats socket ipv4@127.0.0.1:0 level admin\n\
         defaults\n    timeout client 10s\n\
         listen tcpl\n    mode tcp\n    bind 127.0.0.1:0\n    server t1 127.0.0.1:9\n",
        sock.display()
    ));
    let out = cmd(&sock, "show sess");
    let line = out
        .lines()
        .find(|l| l.contains(" fe=GLOBAL "))
        .unwrap_or_else(|| panic!("no CLI session in {out:?}"));
    assert_eq!(field(line, "proto"), "unix_stream", "{line}");
    assert_eq!(field(line, "src"), "unix:1", "{line}");
    assert_eq!(
        (field(line, "be"), field(line, "srv")),
        ("<NONE>", "<none>")
    );
    let id = line.split(':').next().unwrap();
    let all = cmd(&sock, "show sess all");
    assert!(
        all.contains("  frontend=GLOBAL (id=0 mode=tcp), listener=? (id=1)"),
        "{all}"
    );
    assert!(all.contains("  backend=<NONE> (id=-1 mode=-)"), "{all}");
    assert!(all.contains("applet=<CLI>"), "{all}");
    // Another connection's session is gone once it closed.
    assert!(!cmd(&sock, "show sess").contains(&format!("{id}:")));
}
