//! Socket-level proxy options, read back from the engine's own sockets (it runs
//! in this process) or seen on the wire by real clients and servers:
//! `option clitcpka/srvtcpka/tcpka` with their timers, `option nolinger`,
//! `option tcp-smart-accept`, `option tcp-smart-connect`, `bind defer-accept`,
//! `mss` and `tfo`.

mod common;

use common::sockets::{self, accepted, get_int, linger, listeners, segs_out};
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A TCP proxy to a server that accepts and holds its connections.
fn tcp_proxy(fe_lines: &str, be_lines: &str) -> (Running, TcpListener) {
    let srv = TcpListener::bind(lo()).unwrap();
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         frontend f\n  bind 127.0.0.1:0\n{fe_lines}  default_backend b\n\
         backend b\n{be_lines}  server s1 {}\n",
        srv.local_addr().unwrap()
    );
    (start_cfg(&text, "f"), srv)
}

/// Connects through the proxy and moves one byte, so the proxy has set up
/// both sockets; returns the client and the server's side.
fn through(run: &Running, srv: &TcpListener) -> (TcpStream, TcpStream) {
    let mut c = client(run.addr);
    c.write_all(b"x").unwrap();
    let (mut s, _) = srv.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    (c, s)
}

/// The proxy's socket connected to the server `srv`.
fn server_side(srv: &TcpListener) -> sockets::Sock {
    let a = srv.local_addr().unwrap();
    sockets::wait_for(|s| s.peer == Some(a))
}

#[test]
fn tcpka_options_and_timers_reach_both_sides() {
    let (run, srv) = tcp_proxy(
        "  option clitcpka\n  clitcpka-idle 7\n  clitcpka-intvl 3\n  clitcpka-cnt 4\n",
        "  option srvtcpka\n  srvtcpka-idle 11s\n",
    );
    let (c, _s) = through(&run, &srv);
    let cli = accepted(c.local_addr().unwrap());
    assert_eq!(get_int(cli.fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
    assert_eq!(get_int(cli.fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 7);
    assert_eq!(get_int(cli.fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 3);
    assert_eq!(get_int(cli.fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 4);
    let out = server_side(&srv);
    assert_eq!(get_int(out.fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
    assert_eq!(get_int(out.fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 11);
}

#[test]
fn without_tcpka_no_keepalive_and_tcpka_sets_both_sides() {
    let (run, srv) = tcp_proxy("", "");
    let (c, _s) = through(&run, &srv);
    let cli = accepted(c.local_addr().unwrap());
    assert_eq!(get_int(cli.fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    assert_eq!(
        get_int(server_side(&srv).fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0
    );
    drop((c, run));

    let srv2 = TcpListener::bind(lo()).unwrap();
    let text = format!(
        "defaults\n  mode tcp\n  option tcpka\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         listen f\n  bind 127.0.0.1:0\n  server s1 {}\n",
        srv2.local_addr().unwrap()
    );
    let run = start_cfg(&text, "f");
    let (c, _s) = through(&run, &srv2);
    let cli = accepted(c.local_addr().unwrap());
    assert_eq!(get_int(cli.fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
    assert_eq!(
        get_int(server_side(&srv2).fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        1
    );
}

#[test]
fn nolinger_in_a_frontend_resets_the_client_and_in_a_backend_the_server() {
    let (run, srv) = tcp_proxy("  option nolinger\n", "");
    let (c, _s) = through(&run, &srv);
    assert_eq!(linger(accepted(c.local_addr().unwrap()).fd), Some(0));
    assert_eq!(linger(server_side(&srv).fd), None);
    drop((c, run));
    let (run, srv) = tcp_proxy("", "  option nolinger\n");
    let (c, _s) = through(&run, &srv);
    assert_eq!(linger(accepted(c.local_addr().unwrap()).fd), None);
    assert_eq!(linger(server_side(&srv).fd), Some(0));
}

/// Reads until the connection ends: `true` for a reset, `false` for a FIN.
fn ends_with_reset(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }
}

fn http_nolinger(fe: &str, be: &str) -> (bool, bool) {
    // The origin answers one request, then waits for the proxy to close.
    let (tx, rx) = std::sync::mpsc::channel();
    let srv = backend(move |mut s| {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
            head.push(b[0]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let _ = tx.send(ends_with_reset(&mut s));
    });
    let text = format!(
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         frontend f\n  bind 127.0.0.1:0\n{fe}  default_backend b\n\
         backend b\n  option http-server-close\n{be}  server s1 {srv}\n"
    );
    let run = start_cfg(&text, "f");
    let mut c = client(run.addr);
    write(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let client_reset = ends_with_reset(&mut c);
    let server_reset = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    (client_reset, server_reset)
}

#[test]
fn http_nolinger_closes_with_rst_on_the_side_it_is_set_for() {
    assert_eq!(http_nolinger("", ""), (false, false));
    assert_eq!(http_nolinger("  option nolinger\n", ""), (true, false));
    assert_eq!(http_nolinger("", "  option nolinger\n"), (false, true));
}

#[test]
fn smart_connect_sends_the_first_data_with_the_handshake_ack() {
    // In HTTP mode the request is ready when the proxy connects: with
    // tcp-smart-connect its connection to the server sends SYN then the request
    // (the handshake's last ACK rides on it); without it, SYN, a bare ACK, then
    // the request.
    let count = |be: &str| {
        let srv = TcpListener::bind(lo()).unwrap();
        let text = format!(
            "defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
             frontend f\n  bind 127.0.0.1:0\n  default_backend b\n\
             backend b\n{be}  server s1 {}\n",
            srv.local_addr().unwrap()
        );
        let run = start_cfg(&text, "f");
        let mut c = client(run.addr);
        c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let (mut s, _) = srv.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let n = segs_out(server_side(&srv).fd);
        drop((c, s, run));
        n
    };
    assert_eq!(count(""), 3);
    assert_eq!(count("  option tcp-smart-connect\n"), 2);
}

#[test]
fn smart_accept_is_on_in_http_mode_unless_disabled() {
    let quickack = |mode: &str, fe: &str| {
        let text = format!(
            "defaults\n  mode {mode}\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
             frontend f\n  bind 127.0.0.1:0\n{fe}  default_backend b\n\
             backend b\n  server s1 127.0.0.1:9\n"
        );
        let run = start_cfg(&text, "f");
        let l = listeners(run.addr);
        assert!(!l.is_empty());
        let on_listener = get_int(l[0].fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK);
        // Accepted connections inherit it: the request's ACK waits for the response.
        let c = client(run.addr);
        let cli = accepted(c.local_addr().unwrap());
        let on_conn = get_int(cli.fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK);
        assert_eq!(on_listener, on_conn);
        on_listener
    };
    assert_eq!(quickack("http", ""), 0);
    assert_eq!(quickack("http", "  no option tcp-smart-accept\n"), 1);
    assert_eq!(quickack("tcp", ""), 1);
    assert_eq!(quickack("tcp", "  option tcp-smart-accept\n"), 0);
}

#[test]
fn bind_defer_accept_mss_and_tfo_reach_the_listener() {
    let text =
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         frontend f\n  bind 127.0.0.1:0 defer-accept mss 1000 tfo backlog 77\n  default_backend b\n\
         backend b\n  server s1 127.0.0.1:9\n";
    let run = start_cfg(text, "f");
    let l = listeners(run.addr);
    assert!(!l.is_empty());
    let fd = l[0].fd;
    assert!(get_int(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT) >= 1);
    assert_eq!(get_int(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN), 77);
    // What a client sees: the MSS the proxy advertised caps its segments.
    let c = TcpStream::connect(run.addr).unwrap();
    let seg = get_int(
        std::os::fd::AsRawFd::as_raw_fd(&c),
        libc::IPPROTO_TCP,
        libc::TCP_MAXSEG,
    );
    assert!(seg <= 1000, "client MSS {seg}");
    let _: SocketAddr = run.addr;
}

#[test]
fn http_no_delay_is_how_every_socket_already_runs() {
    // Nothing is held back for coalescing: TCP_NODELAY on both sides, with or
    // without `option http-no-delay`.
    for opt in ["", "  option http-no-delay\n"] {
        let srv = TcpListener::bind(lo()).unwrap();
        let text = format!(
            "defaults\n  mode http\n{opt}  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
             listen f\n  bind 127.0.0.1:0\n  server s1 {}\n",
            srv.local_addr().unwrap()
        );
        let run = start_cfg(&text, "f");
        let mut c = client(run.addr);
        c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let (mut s, _) = srv.accept().unwrap();
        // The request arrived: the proxy is done setting up its side.
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        let cli = accepted(c.local_addr().unwrap());
        assert_eq!(get_int(cli.fd, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
        let out = server_side(&srv);
        assert_eq!(get_int(out.fd, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
    }
}
