//! A small `maxconn` shared by several accept loops (threads x binds): a client on
//! any of them is served once a slot is free. The permit used to be taken before
//! `accept`, so a loop idle on an empty socket held the only slot and a client on
//! another bind waited forever.

mod common;

use fulcrum_engine::EngineOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn echo_origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(256) {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
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

fn echoes(addr: SocketAddr, msg: &[u8]) -> bool {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if c.write_all(msg).is_err() {
        return false;
    }
    let mut b = vec![0u8; msg.len()];
    c.read_exact(&mut b).is_ok() && b == msg
}

fn one_slot_over_two_binds_and_two_threads(limit_line: &str, global: &str) {
    let (p1, p2) = (free_port(), free_port());
    let text = format!(
        "global\n{global}defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend ft\n{limit_line}    bind 127.0.0.1:{p1}\n    bind 127.0.0.1:{p2}\n    default_backend bk\n\
         backend bk\n    server o1 {}\n",
        echo_origin()
    );
    let _running = common::start_cfg_with(
        &text,
        "ft",
        EngineOptions {
            nbthread: Some(2),
            ..Default::default()
        },
    );
    let binds: [SocketAddr; 2] = [
        format!("127.0.0.1:{p1}").parse().unwrap(),
        format!("127.0.0.1:{p2}").parse().unwrap(),
    ];
    for i in 0..12 {
        let addr = binds[i % 2];
        assert!(
            echoes(addr, format!("hello {i}").as_bytes()),
            "client {i} on {addr} was not served with one free slot"
        );
    }
}

#[test]
fn frontend_maxconn_one_serves_clients_on_every_bind() {
    one_slot_over_two_binds_and_two_threads("    maxconn 1\n", "");
}

#[test]
fn global_maxconn_one_serves_clients_on_every_bind() {
    one_slot_over_two_binds_and_two_threads("", "    maxconn 1\n");
}
