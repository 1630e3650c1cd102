mod common;

use common::http::{ok, origin};
use common::*;
use fulcrum_config::reader::MapEnv;
use fulcrum_engine::runtime::{ConnMode, Mode};
use fulcrum_engine::{compile, Engine, EngineOptions};
use std::time::Duration;

fn load(text: &str) -> fulcrum_config::model::Config {
    let l = fulcrum_config::load_str("test.cfg", text, &MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    l.config.unwrap()
}

#[test]
fn haproxy_config_compiles_and_serves() {
    let o = origin(|r| {
        ok(&format!(
            "via {}",
            r.header("x-forwarded-for").unwrap_or_default()
        ))
    });
    let cfg = load(&format!(
        "global\n    maxconn 100\n    nbthread 2\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    option forwardfor\n    default_backend app\n\
         backend app\n    option http-server-close\n    retries 2\n    option redispatch\n    server s1 {} maxconn 10 weight 5\n",
        o.addr
    ));
    let rt = compile(&cfg).unwrap();
    assert_eq!(rt.nbthread, 2);
    assert_eq!(rt.maxconn, Some(100));
    let fe = &rt.frontends[0];
    assert_eq!((fe.mode, fe.default_backend), (Mode::Http, Some(0)));
    let be = &rt.backends[0];
    assert_eq!(be.http.conn_mode, ConnMode::ServerClose);
    assert_eq!(be.retries, 2);
    assert_eq!(be.servers[0].maxconn, Some(10));
    assert_eq!(be.servers[0].weight, 5);
    assert_eq!(be.timeouts.connect, Some(Duration::from_secs(1)));
    let h = Engine::start(rt, EngineOptions::default()).unwrap();
    let addr = h.local_addr("web").unwrap();
    let mut c = client(addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = read_response(&mut c);
    assert_eq!(status(&head), 200);
    assert_eq!(body, b"via 127.0.0.1");
    h.stop_now();
    h.wait();
}

#[test]
fn listen_section_is_its_own_backend_in_tcp_mode() {
    let srv = backend(|mut s| {
        use std::io::Write;
        s.write_all(b"banner\n").unwrap();
    });
    let cfg = load(&format!(
        "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen ssh\n    bind 127.0.0.1:0\n    mode tcp\n    server s1 {srv}\n"
    ));
    let rt = compile(&cfg).unwrap();
    assert_eq!(rt.frontends[0].default_backend, Some(0));
    let h = Engine::start(rt, EngineOptions::default()).unwrap();
    let mut c = client(h.local_addr("ssh").unwrap());
    assert_eq!(read_all(&mut c), b"banner\n");
    h.stop_now();
    h.wait();
}

/// A graceful stop, as HAProxy's soft stop: the listener goes, a request in
/// flight is answered (its response closes the connection), an idle
/// keep-alive connection is closed at once, and the engine exits when the
/// last connection is gone.
#[test]
fn graceful_stop_waits_for_open_connections() {
    let o = origin(|r| {
        if r.path == "/slow" {
            std::thread::sleep(Duration::from_millis(400));
        }
        ok("x")
    });
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen web\n    bind 127.0.0.1:0\n    server s1 {}\n",
        o.addr
    );
    let mut run = start_cfg(&text, "web");
    let (h, addr) = (run.handle.take().unwrap(), run.addr);
    let mut idle = client(addr);
    write(&mut idle, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&read_response(&mut idle).0), 200);
    let mut busy = client(addr);
    write(&mut busy, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(Duration::from_millis(100));
    h.graceful_stop();
    std::thread::sleep(Duration::from_millis(100));
    // The listener is gone; the idle connection is closed, not reset.
    assert!(std::net::TcpStream::connect(addr).is_err());
    assert_eq!(read_all(&mut idle), b"");
    // The request in flight is answered, and its connection ends with it.
    let all = String::from_utf8(read_all(&mut busy)).unwrap();
    assert!(all.starts_with("HTTP/1.1 200"), "{all}");
    assert!(all.contains("Connection: close\r\n"), "{all}");
    assert!(
        exits_within(h, Duration::from_secs(5)),
        "engine exits after the last connection"
    );
}

#[test]
fn balance_algorithms_come_from_the_config() {
    let a = origin(|_| ok("a"));
    let b = origin(|_| ok("b"));
    let cfg = |algo: &str| {
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             listen web\n    bind 127.0.0.1:0\n    balance {algo}\n    server a {}\n    server b {}\n",
            a.addr, b.addr
        )
    };
    let hits = |algo: &str, paths: &[&str]| -> Vec<String> {
        let run = start_cfg(&cfg(algo), "web");
        let addr = run.addr;
        paths
            .iter()
            .map(|p| {
                let mut c = client(addr);
                write(
                    &mut c,
                    format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
                );
                String::from_utf8(read_response(&mut c).1).unwrap()
            })
            .collect()
    };
    assert_eq!(
        hits("roundrobin", &["/", "/", "/", "/"]),
        ["a", "b", "a", "b"]
    );
    let same = hits("uri", &["/x", "/x", "/x", "/y", "/y"]);
    assert!(
        same[0] == same[1] && same[1] == same[2] && same[3] == same[4],
        "{same:?}"
    );
    let src = hits("source", &["/1", "/2", "/3"]);
    assert!(src.iter().all(|s| *s == src[0]), "{src:?}");
}

#[test]
fn errorloc_and_pretend_keepalive_from_the_config() {
    let o = origin(|_| ok("x"));
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n    default_backend app\n\
         backend app\n    option http-server-close\n    option http-pretend-keepalive\n    server a {}\n\
         backend empty\n    errorloc 503 https://status.example.com/\n\
         frontend down\n    bind 127.0.0.1:0\n    default_backend empty\n",
        o.addr
    );
    let run = start_cfg(&text, "web");
    let h = run.handle.as_ref().unwrap();
    // pretend-keepalive: the server is not told to close.
    let mut c = client(run.addr);
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&read_response(&mut c).0), 200);
    assert_eq!(o.seen.lock().unwrap()[0].header("connection"), None);
    // errorloc: a 503 becomes a redirect.
    let mut c = client(h.local_addr("down").unwrap());
    write(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, _) = read_response(&mut c);
    assert_eq!(status(&head), 302);
    assert!(
        head.contains("Location: https://status.example.com/"),
        "{head}"
    );
}

#[test]
fn tcp_content_rules_route_on_the_first_bytes() {
    let echo_as = |name: &'static str| {
        backend(move |mut s| {
            use std::io::{Read, Write};
            let mut b = [0u8; 64];
            let n = s.read(&mut b).unwrap_or(0);
            let _ = s.write_all(format!("{name}:{}", String::from_utf8_lossy(&b[..n])).as_bytes());
        })
    };
    let (a, b) = (echo_as("a"), echo_as("b"));
    let text = format!(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n\
         \x20   tcp-request inspect-delay 2s\n\
         \x20   tcp-request content accept if {{ req.len ge 4 }}\n\
         \x20   use_backend pings if {{ req.payload(0,4) -m str PING }}\n\
         \x20   default_backend others\n\
         backend pings\n    server b {b}\n\
         backend others\n    server a {a}\n"
    );
    let run = start_cfg(&text, "web");
    let addr = run.addr;
    let talk = |parts: &[&[u8]]| {
        use std::io::Write;
        let mut c = client(addr);
        for p in parts {
            c.write_all(p).unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
        c.shutdown(std::net::Shutdown::Write).unwrap();
        String::from_utf8(read_all(&mut c)).unwrap()
    };
    // The rules wait for 4 bytes even when they come in two packets.
    assert_eq!(talk(&[b"PI", b"NG!"]), "b:PING!");
    assert_eq!(talk(&[b"HELLO"]), "a:HELLO");
}

#[test]
fn engine_control_stops_from_another_thread() {
    let cfg = load(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen web\n    bind 127.0.0.1:0\n",
    );
    let h = Engine::start(
        compile(&cfg).unwrap(),
        EngineOptions {
            nbthread: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let ctl = h.control();
    let addr = h.local_addr("web").unwrap();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        ctl.stop_now();
    });
    assert!(
        exits_within(h, Duration::from_secs(5)),
        "wait() returns after stop_now() from another thread"
    );
    stopper.join().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
