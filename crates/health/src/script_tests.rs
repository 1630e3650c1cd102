//! The interpreter over in-memory pipes: no sockets.

use super::*;
use fulcrum_config::model::check::{CheckKind, Expect, ExpectMatch};
use proptest::prelude::*;
use std::time::Duration;
use tokio::io::{duplex, DuplexStream};

/// Runs `script` against a peer that reads the request, answers `reply`
/// and closes.
async fn against(script: &Script, ctx: &RunCtx, reply: Vec<u8>) -> (Outcome, Vec<u8>) {
    let (client, mut server) = duplex(1 << 17);
    let peer = tokio::spawn(async move {
        let mut got = vec![0u8; 4096];
        let n = server.read(&mut got).await.unwrap_or(0);
        let _ = server.write_all(&reply).await;
        got.truncate(n);
        got
    });
    let mut conn = Some(client);
    let now = Instant::now();
    let dl = Deadlines {
        connect: now + Duration::from_secs(1),
        total: now + Duration::from_secs(1),
    };
    let out = run(script, ctx, dl, |_| {
        let c: io::Result<DuplexStream> = conn
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused"));
        async move { c }
    })
    .await;
    (out, peer.await.unwrap_or_default())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn http_settings(rules: Vec<CheckRule>) -> CheckSettings {
    CheckSettings {
        kind: Some(CheckKind::Http(HttpCheckSend::default())),
        http_rules: rules,
        ..Default::default()
    }
}

fn expect(m: ExpectMatch) -> CheckRule {
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
}

#[test]
fn default_http_check_sends_options_and_accepts_3xx() {
    let s = Script::from_http(&http_settings(vec![])).unwrap();
    let (o, req) = rt().block_on(against(
        &s,
        &RunCtx::default(),
        b"HTTP/1.0 302 Found\r\n\r\n".to_vec(),
    ));
    assert_eq!(
        req,
        b"OPTIONS / HTTP/1.0\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".to_vec()
    );
    assert_eq!((o.status, o.code), (CheckStatus::L7Ok, Some(302)));
}

#[test]
fn disable_on_404_only_while_up() {
    let mut set = http_settings(vec![]);
    set.disable_on_404 = Some(true);
    let s = Script::from_http(&set).unwrap();
    let r = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec();
    let up = RunCtx {
        server_up: true,
        ..Default::default()
    };
    assert_eq!(
        rt().block_on(against(&s, &up, r.clone())).0.status,
        CheckStatus::L7OkC
    );
    assert_eq!(
        rt().block_on(against(&s, &RunCtx::default(), r)).0.status,
        CheckStatus::L7Sts
    );
}

#[test]
fn chunked_body_is_decoded_before_matching() {
    let s = Script::from_http(&http_settings(vec![expect(ExpectMatch::String(
        "alive".into(),
    ))]))
    .unwrap();
    let r =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nali\r\n2\r\nve\r\n0\r\n\r\n"
            .to_vec();
    assert_eq!(
        rt().block_on(against(&s, &RunCtx::default(), r)).0.status,
        CheckStatus::L7Ok
    );
}

#[test]
fn send_state_header_is_added() {
    let mut set = http_settings(vec![]);
    set.send_state = Some(true);
    let s = Script::from_http(&set).unwrap();
    let ctx = RunCtx {
        extra_headers: vec![("X-Haproxy-Server-State".into(), "UP 3/3".into())],
        ..Default::default()
    };
    let (_, req) = rt().block_on(against(&s, &ctx, b"HTTP/1.0 200 OK\r\n\r\n".to_vec()));
    assert!(String::from_utf8_lossy(&req).contains("\r\nx-haproxy-server-state: UP 3/3\r\n"));
}

#[test]
fn refused_and_garbage() {
    let s = Script::connect_only();
    let mut used = false;
    let o = rt().block_on(async {
        let now = Instant::now();
        let dl = Deadlines {
            connect: now + Duration::from_secs(1),
            total: now + Duration::from_secs(1),
        };
        run(&s, &RunCtx::default(), dl, |_| {
            used = true;
            async { Err::<DuplexStream, _>(io::Error::from_raw_os_error(111)) }
        })
        .await
    });
    assert!(used);
    assert_eq!(
        o,
        Outcome::with_info(CheckStatus::L4Con, "Connection refused")
    );
    let h = Script::from_http(&http_settings(vec![])).unwrap();
    let o = rt()
        .block_on(against(
            &h,
            &RunCtx::default(),
            b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(),
        ))
        .0;
    assert_eq!(o.status, CheckStatus::L7Rsp);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    // Whatever a server answers, an HTTP check ends with a verdict.
    #[test]
    fn any_reply_gets_a_verdict(reply in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = Script::from_http(&http_settings(vec![expect(ExpectMatch::String("x".into()))])).unwrap();
        let o = rt().block_on(against(&s, &RunCtx::default(), reply)).0;
        prop_assert!(o.status != CheckStatus::Init);
    }

    #[test]
    fn protocol_judges_accept_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..64), eof in any::<bool>()) {
        for s in [crate::proto::mysql::script(Some("u"), true), crate::proto::ldap::script(),
                  crate::proto::pgsql::script("u"), crate::proto::smtp::script("HELO", "x"),
                  crate::proto::redis::script(), crate::proto::ssl_hello::script()] {
            for step in &s.steps {
                if let Step::Expect(e) = step {
                    let _ = e.match_tcp(&b, eof);
                }
            }
        }
    }
}
