//! README's first command, as a user runs it: `fulcrum -f examples/quickstart.cfg`.
//! The test runs a copy of the file with its four ports moved to free ones (and nothing
//! else changed), then does what README says: open the site, reload, open the stats page.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn quickstart_balances_two_demo_apps_and_serves_stats() {
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/quickstart.cfg");
    let mut text = std::fs::read_to_string(cfg).unwrap();
    let (www, app1, app2, stats) = (free_port(), free_port(), free_port(), free_port());
    for (old, new) in [(8080, www), (8081, app1), (8082, app2), (8404, stats)] {
        text = text.replace(&format!("127.0.0.1:{old}"), &format!("127.0.0.1:{new}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("quickstart.cfg");
    std::fs::write(&copy, text).unwrap();

    let check = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["-c", "-f"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&check.stderr).contains("[WARNING]"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let child = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .arg("-f")
        .arg(&copy)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Running(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        if let Some(r) = get(www, "/hello") {
            break r;
        }
        assert!(Instant::now() < deadline, "fulcrum did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("you asked for /hello"), "{first}");

    // Reloading alternates between the two applications.
    let answers: Vec<String> = (0..4).map(|_| get(www, "/").unwrap_or_default()).collect();
    let app1_count = answers
        .iter()
        .filter(|a| a.contains("Hello from app1"))
        .count();
    let app2_count = answers
        .iter()
        .filter(|a| a.contains("Hello from app2"))
        .count();
    assert_eq!((app1_count, app2_count), (2, 2), "{answers:?}");

    let page = get(stats, "/stats").unwrap_or_default();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("apps") && page.contains("app1"),
        "the page lists the backend and its servers"
    );
    let csv = get(stats, "/stats;csv").unwrap_or_default();
    assert!(csv.contains("# pxname,svname,"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with("apps,app1,")), "{csv}");

    // `log stdout` with `option httplog`: one line per request, HAProxy's layout.
    std::thread::sleep(Duration::from_millis(300));
    let _ = guard.0.kill();
    let mut logs = String::new();
    if let Some(mut out) = guard.0.stdout.take() {
        let _ = out.read_to_string(&mut logs);
    }
    let proxied = logs
        .lines()
        .find(|l| l.contains(" www apps/app"))
        .unwrap_or_default();
    assert!(
        proxied.contains(" 200 ")
            && proxied.contains(" ---- ")
            && proxied.ends_with("\"GET /hello HTTP/1.1\""),
        "{logs}"
    );
    // Answers Fulcrum gives itself (the stats page) are 'L'ocal, as in HAProxy's
    // termination states.
    let local = logs
        .lines()
        .find(|l| l.contains(" stats stats/<NOSRV> "))
        .unwrap_or_default();
    assert!(
        local.contains(" 200 ") && local.contains(" LR-- "),
        "{logs}"
    );
}
