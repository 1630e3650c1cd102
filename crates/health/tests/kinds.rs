//! Protocol checks against tiny fake servers speaking just enough of each protocol.

mod common;

use common::*;
use fulcrum_config::model::check::{
    CheckData, CheckKind, CheckRule, CheckSettings, Expect, ExpectMatch, InitState,
};
use fulcrum_health::status::CheckStatus;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn kind(k: CheckKind) -> CheckSettings {
    CheckSettings {
        kind: Some(k),
        ..Default::default()
    }
}

/// Runs one server with `settings` until its first check result; returns
/// (status, code, info).
fn first_result(
    addr: std::net::SocketAddr,
    settings: CheckSettings,
) -> (CheckStatus, Option<u32>, String) {
    let t = target(
        "bk",
        "s1",
        0,
        addr,
        check(1000, 1, 1, InitState::FullyUp),
        settings,
        false,
    );
    let h = start(vec![t]);
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let s = h.handle.snapshot(0, 0).unwrap();
        if s.check_status != CheckStatus::Init {
            return (s.check_status, s.check_code, s.check_info);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no check result");
}

fn read_some(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = [0u8; 512];
    while buf.len() < want {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    buf
}

#[test]
fn redis_pong_passes_and_an_error_fails() {
    let good = fake(Arc::new(|s| {
        if read_some(s, 14) == b"*1\r\n$4\r\nPING\r\n" {
            let _ = s.write_all(b"+PONG\r\n");
        }
    }));
    assert_eq!(
        first_result(good.addr, kind(CheckKind::Redis)),
        (CheckStatus::L7Ok, None, "Redis server is ok".into())
    );
    let loading = fake(Arc::new(|s| {
        read_some(s, 14);
        let _ = s.write_all(b"-LOADING Redis is loading the dataset\r\n");
    }));
    assert_eq!(
        first_result(loading.addr, kind(CheckKind::Redis)),
        (
            CheckStatus::L7Sts,
            None,
            "-LOADING Redis is loading the dataset".into()
        )
    );
}

#[test]
fn smtp_greeting_then_helo() {
    let smtp = |greeting: &'static [u8]| {
        fake(Arc::new(move |s: &mut TcpStream| {
            let _ = s.write_all(greeting);
            let helo = read_some(s, 16);
            if helo == b"HELO localhost\r\n" {
                let _ = s.write_all(b"250 mx.test Hello localhost\r\n");
            }
        }))
    };
    let ok = smtp(b"220 mx.test ESMTP\r\n");
    let settings = kind(CheckKind::Smtp {
        hello: "HELO".into(),
        domain: "localhost".into(),
    });
    assert_eq!(
        first_result(ok.addr, settings.clone()),
        (
            CheckStatus::L7Ok,
            Some(250),
            "mx.test Hello localhost".into()
        )
    );
    let busy = smtp(b"421 too busy\r\n");
    assert_eq!(
        first_result(busy.addr, settings),
        (CheckStatus::L7Sts, Some(421), "too busy".into())
    );
}

fn mysql_greeting() -> Vec<u8> {
    let payload = b"\x0a8.0.36-fake\0\x01\x00\x00\x00abcdefgh\0\xff\xf7";
    let mut p = vec![payload.len() as u8, 0, 0, 0];
    p.extend_from_slice(payload);
    p
}

#[test]
fn mysql_handshake_and_authentication() {
    let plain = fake(Arc::new(|s| {
        let _ = s.write_all(&mysql_greeting());
        std::thread::sleep(Duration::from_millis(20));
    }));
    assert_eq!(
        first_result(
            plain.addr,
            kind(CheckKind::Mysql {
                user: None,
                post41: true
            })
        ),
        (CheckStatus::L7Ok, None, "8.0.36-fake".into())
    );
    let auth = fake(Arc::new(|s| {
        let _ = s.write_all(&mysql_greeting());
        let pkt = read_some(s, 4 + 34 + 7 + 5);
        // The user name sits after the 32 fixed bytes of a 4.1 auth packet.
        if pkt.get(4 + 32..4 + 32 + 7) == Some(b"haproxy") {
            let _ = s.write_all(&[7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]);
        } else {
            let err = b"\xff\x15\x04#28000Access denied";
            let mut p = vec![err.len() as u8, 0, 0, 2];
            p.extend_from_slice(err);
            let _ = s.write_all(&p);
        }
    }));
    let user = |u: &str| {
        kind(CheckKind::Mysql {
            user: Some(u.into()),
            post41: true,
        })
    };
    assert_eq!(
        first_result(auth.addr, user("haproxy")).0,
        CheckStatus::L7Ok
    );
    assert_eq!(
        first_result(auth.addr, user("nobody")),
        (CheckStatus::L7Sts, Some(1045), "Access denied".into())
    );
}

#[test]
fn tcp_check_rules_send_and_expect() {
    let srv = fake(Arc::new(|s| {
        let _ = s.write_all(b"+OK ready\r\n");
        if read_some(s, 6) == b"STATS\n" {
            let _ = s.write_all(b"role:master\r\n");
        }
    }));
    let exp = |m: ExpectMatch| {
        CheckRule::Expect(Expect {
            negate: false,
            matcher: m,
            min_recv: None,
            comment: None,
            ok_status: None,
            error_status: None,
            tout_status: None,
            on_success: None,
            on_error: None,
            status_code: None,
        })
    };
    let mut s = kind(CheckKind::TcpCheck);
    s.tcp_rules = vec![
        exp(ExpectMatch::String("+OK".into())),
        CheckRule::TcpSend {
            data: CheckData::Bytes(b"STATS\n".to_vec()),
            comment: None,
        },
        exp(ExpectMatch::Rstring("role:(master|slave)".into())),
    ];
    assert_eq!(
        first_result(srv.addr, s.clone()),
        (CheckStatus::L7Ok, None, "(tcp-check)".into())
    );
    s.tcp_rules[2] = exp(ExpectMatch::String("role:slave".into()));
    let (st, _, info) = first_result(srv.addr, s);
    assert_eq!(
        (st, info.as_str()),
        (
            CheckStatus::L7Rsp,
            "TCPCHK did not match content 'role:slave' at step 3"
        )
    );
}

#[test]
fn tcp_check_connection_errors_say_which_step() {
    let dead = refused_addr();
    assert_eq!(
        first_result(dead, kind(CheckKind::TcpCheck)),
        (
            CheckStatus::L4Con,
            None,
            "Connection refused at initial connection step of tcp-check".into()
        )
    );
    let mut s = kind(CheckKind::TcpCheck);
    s.tcp_rules = vec![CheckRule::Connect(
        fulcrum_config::model::check::CheckConnect {
            port: Some(dead.port().to_string()),
            ..Default::default()
        },
    )];
    let live = fake(Arc::new(|_| {}));
    assert_eq!(
        first_result(live.addr, s).2,
        format!(
            "Connection refused at step 1 of tcp-check (connect port {})",
            dead.port()
        )
    );
    // Protocol checks report the bare error.
    assert_eq!(
        first_result(dead, kind(CheckKind::Redis)).2,
        "Connection refused"
    );
}

#[test]
fn pgsql_and_ssl_hello_and_plain_connect() {
    let pg = fake(Arc::new(|s| {
        let m = read_some(s, 19);
        if m.ends_with(b"user\0pgc\0\0") {
            let _ = s.write_all(b"R\x00\x00\x00\x08\x00\x00\x00\x00");
        }
    }));
    assert_eq!(
        first_result(pg.addr, kind(CheckKind::Pgsql { user: "pgc".into() })).0,
        CheckStatus::L7Ok
    );
    let tls = fake(Arc::new(|s| {
        if read_some(s, 5).first() == Some(&0x16) {
            let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
        }
    }));
    assert_eq!(
        first_result(tls.addr, kind(CheckKind::SslHello)).0,
        CheckStatus::L6Ok
    );
    let plain = fake(Arc::new(|_| {}));
    assert_eq!(
        first_result(plain.addr, CheckSettings::default()).0,
        CheckStatus::L4Ok
    );
    assert_eq!(
        first_result(refused_addr(), CheckSettings::default()),
        (CheckStatus::L4Con, None, "Connection refused".into())
    );
}

#[test]
fn check_send_proxy_sends_a_proxy_line_first() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let rec = seen.clone();
    let srv = fake(Arc::new(move |s| {
        let head = read_head(s);
        rec.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&head).into_owned());
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
    }));
    let mut t = target(
        "bk",
        "s1",
        0,
        srv.addr,
        check(1000, 1, 1, InitState::FullyUp),
        kind(CheckKind::Http(Default::default())),
        false,
    );
    t.send_proxy = true;
    let h = start(vec![t]);
    let end = Instant::now() + Duration::from_secs(5);
    while seen.lock().unwrap().is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = seen.lock().unwrap()[0].clone();
    assert!(
        got.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 "),
        "{got:?}"
    );
    assert!(
        got.ends_with(&format!(
            " {}\r\nOPTIONS / HTTP/1.0\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            srv.addr.port()
        )),
        "{got:?}"
    );
    drop(h);
}
