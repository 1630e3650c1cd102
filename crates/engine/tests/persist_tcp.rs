//! `stick on src` in `mode tcp`: a client stays on one server across connections.

mod common;

use common::*;
use std::io::{Read, Write};

fn named(name: &'static [u8]) -> std::net::SocketAddr {
    backend(move |mut s| {
        let _ = s.write_all(name);
    })
}

fn first_byte(run: &Running) -> u8 {
    let mut c = client(run.addr);
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    b[0]
}

fn serve(stick: &str) -> Running {
    let (a, b) = (named(b"a"), named(b"b"));
    let text = format!(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen web\n    bind 127.0.0.1:0\n    balance roundrobin\n{stick}\
         \x20   server a {a}\n    server b {b}\n"
    );
    start_cfg(&text, "web")
}

#[test]
fn stick_on_src_in_tcp_mode_keeps_the_client_on_one_server() {
    let run = serve("    stick-table type ip size 1k expire 1m\n    stick on src\n");
    let first = first_byte(&run);
    for _ in 0..10 {
        assert_eq!(first_byte(&run), first);
    }
    // Without the rule the same client alternates.
    let plain = serve("");
    let seen: Vec<u8> = (0..4).map(|_| first_byte(&plain)).collect();
    assert!(seen.contains(&b'a') && seen.contains(&b'b'), "{seen:?}");
}

#[test]
fn tcp_request_connection_tracking_rejects_past_a_connection_count() {
    let a = named(b"a");
    let text = format!(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen web\n    bind 127.0.0.1:0\n\
         \x20   stick-table type ip size 1k expire 30s store conn_cnt,conn_cur,sess_cnt,bytes_out_cnt\n\
         \x20   tcp-request connection track-sc0 src\n\
         \x20   tcp-request connection reject if {{ sc_conn_cnt(0) gt 3 }}\n\
         \x20   server a {a}\n"
    );
    let run = start_cfg(&text, "web");
    for _ in 0..3 {
        assert_eq!(first_byte(&run), b'a');
    }
    let mut c = client(run.addr);
    let mut b = [0u8; 1];
    assert!(
        !matches!(c.read(&mut b), Ok(1)),
        "the 4th connection was served"
    );
    let table = run.handle.as_ref().unwrap().runtime().backends[0]
        .persist
        .tables()
        .and_then(|t| t.get("web"))
        .cloned()
        .unwrap();
    let key = fulcrum_persist::Key::from_ip(table.key_type(), run.addr.ip()).unwrap();
    use fulcrum_persist::data::Cnt;
    let read = |c| {
        table
            .get(&key, fulcrum_engine::persist::now_ms(), |d| {
                d.cnt(table.schema(), c)
            })
            .flatten()
    };
    assert_eq!(read(Cnt::ConnCnt), Some(4));
    // Sessions are counted once accepted: the rejected one is not.
    assert_eq!(read(Cnt::SessCnt), Some(3));
    // Each served connection moved one byte down; all of them ended.
    for _ in 0..200 {
        if read(Cnt::BytesOutCnt) == Some(3) && read(Cnt::ConnCur) == Some(0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(read(Cnt::BytesOutCnt), Some(3));
    assert_eq!(read(Cnt::ConnCur), Some(0));
}
