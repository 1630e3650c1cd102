//! Health lines reach the `global log` servers as syslog datagrams.

mod health_support;

use health_support::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

#[test]
fn server_down_is_sent_to_the_global_log_server() {
    let syslog = UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut s1 = Origin::start("s1");
    let r = Running::start(&format!(
        "global\n    log {} local0\n\
         defaults\n    mode http\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s\n\
         listen app\n    bind 127.0.0.1:0\n    server s1 {} check inter 100ms fall 1 rise 1\n",
        syslog.local_addr().unwrap(),
        s1.addr
    ));
    s1.kill();
    let end = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok(n) = syslog.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            if got.iter().any(|l| l.contains("has no server available")) {
                break;
            }
        }
    }
    let down = got
        .iter()
        .find(|l| l.contains("Server app/s1 is DOWN"))
        .unwrap_or_else(|| panic!("{got:?}"));
    // local0 (16) * 8 + alert (1)
    assert!(down.starts_with("<129>"), "{down}");
    let none = got
        .iter()
        .find(|l| l.contains("proxy app has no server available!"))
        .unwrap_or_else(|| panic!("{got:?}"));
    // emerg (0)
    assert!(none.starts_with("<128>"), "{none}");
    drop(r);
}
