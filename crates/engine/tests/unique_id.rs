//! `unique-id-format` as in the manual's example: addresses, ports, the accept
//! timestamp, the request counter and the pid in upper-case hex (`%{+X}o`),
//! the same in the header the server receives and in the logged `%ID`.

mod common;

use common::http::{ok, origin};
use common::*;
use fulcrum_config::logformat::LogFormat;
use fulcrum_config::reader::MapEnv;
use fulcrum_engine::runtime::Frontend;
use fulcrum_engine::{compile, Engine, EngineOptions, LogSink};
use fulcrum_observe::log::{render_line, LogRecord};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Collect(Mutex<Vec<LogRecord>>);

impl LogSink for Collect {
    fn emit(&self, _fe: &Frontend, rec: LogRecord) {
        self.0.lock().unwrap().push(rec);
    }
}

fn serve(frontend_lines: &str, server: std::net::SocketAddr) -> (Running, Arc<Collect>) {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:0\n{frontend_lines}    default_backend app\n\
         backend app\n    server s1 {server}\n"
    );
    let l = fulcrum_config::load_str("uid.cfg", &text, &MapEnv::new());
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    let rt = compile(&l.config.unwrap()).unwrap();
    let sink = Arc::new(Collect::default());
    let h = Engine::start(
        rt,
        EngineOptions {
            nbthread: Some(1),
            log: Some(sink.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let addr = h.local_addr("web").unwrap();
    let run = Running {
        handle: Some(h),
        addr,
    };
    (run, sink)
}

fn wait_for(sink: &Collect, n: usize) -> Vec<LogRecord> {
    let t0 = Instant::now();
    while sink.0.lock().unwrap().len() < n && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    sink.0.lock().unwrap().clone()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

#[test]
fn manual_example_is_hex_and_matches_the_logged_id() {
    let o = origin(|r| ok(&r.header("x-unique-id").unwrap_or_default()));
    let (run, sink) = serve(
        "    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid\n\
         \x20   unique-id-header X-Unique-ID\n",
        o.addr,
    );
    let mut c = client(run.addr);
    let mut ids = Vec::new();
    for _ in 0..2 {
        write(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let (h, b) = read_response(&mut c);
        assert_eq!(status(&h), 200, "{h}");
        ids.push(String::from_utf8_lossy(&b).into_owned());
    }
    let recs = wait_for(&sink, 2);
    assert_eq!(recs.len(), 2);
    let rt_fmt = LogFormat::parse("%{+X}rt").unwrap();
    let local = c.local_addr().unwrap();
    for (id, rec) in ids.iter().zip(&recs) {
        // 7F000001:C0DE_7F000001:1F90_655C8A1B_0003:1A2B
        assert_eq!(rec.unique_id.as_deref(), Some(id.as_str()));
        let parts: Vec<&str> = id.split(['_', ':']).collect();
        assert_eq!(parts.len(), 7, "{id}");
        assert_eq!(parts[0], "7F000001", "{id}");
        assert_eq!(parts[1], format!("{:04X}", local.port()), "{id}");
        assert_eq!(parts[2], "7F000001", "{id}");
        assert_eq!(parts[3], format!("{:04X}", run.addr.port()), "{id}");
        assert!(is_hex(parts[4], 8), "{id}");
        assert!(
            parts[5].len() >= 4 && is_hex(parts[5], parts[5].len()),
            "{id}"
        );
        assert_eq!(parts[6], format!("{:04X}", std::process::id()), "{id}");
        // The request counter is the one the log line prints for this request.
        assert_eq!(parts[5], render_line(&rt_fmt, rec), "{id}");
    }
    assert_ne!(recs[0].request_counter, recs[1].request_counter);
}
