//! `monitor-net` (HAProxy 1.x, seed 07): monitoring clients get a bare answer before
//! anything is read, other clients are proxied as usual.

mod common;

use common::http::{ok, origin};
use common::*;
use std::io::Read;
use std::net::SocketAddr;

fn serve(mode: &str, backend: SocketAddr) -> Running {
    let text = format!(
        "defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    monitor-net 127.0.0.2/32\n    default_backend app\n\
         backend app\n    server s {backend}\n"
    );
    start_cfg(&text, "web")
}

#[test]
fn http_monitor_clients_get_a_bare_200_and_others_are_proxied() {
    let app = origin(|_| ok("from the server"));
    let run = serve("http", app.addr);

    // The monitoring host: answered at once, without sending anything.
    let mut mon = client_from("127.0.0.2", run.addr);
    let mut got = Vec::new();
    mon.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"HTTP/1.0 200 OK\r\n\r\n");

    // Everyone else reaches the server.
    let mut c = client_from("127.0.0.1", run.addr);
    write(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = read_response(&mut c);
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(body, b"from the server");
}

#[test]
fn tcp_monitor_clients_are_closed_without_data() {
    let echo = backend(|mut s| {
        use std::io::Write;
        let _ = s.write_all(b"banner\r\n");
    });
    let run = serve("tcp", echo);
    let mut mon = client_from("127.0.0.2", run.addr);
    let mut got = Vec::new();
    mon.read_to_end(&mut got).unwrap();
    assert!(got.is_empty(), "{got:?}");
    let mut c = client_from("127.0.0.1", run.addr);
    let mut b = [0u8; 8];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"banner\r\n");
}
