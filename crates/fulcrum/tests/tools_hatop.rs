//! Debian's `hatop` against the real binary's unix stats socket: it starts
//! headless under a pseudo-terminal (`script`) and draws the servers; and the
//! exchange it relies on (`prompt`, `set timeout cli`, `show info`, `show
//! stat`) answers as it parses. Skipped without hatop / script.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const HATOP: &str = "/usr/bin/hatop";

const CONFIG: &str = "global\n    stats socket /run/haproxy/admin.sock mode 600 level admin\n\
defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
frontend web\n    bind 127.0.0.1:8080\n    default_backend app\n\
backend app\n    server alpha 10.0.0.1:80\n    server beta 10.0.0.2:80\n";

fn tools_present() -> bool {
    for tool in [HATOP, "/usr/bin/script", "/usr/bin/timeout"] {
        if !Path::new(tool).exists() {
            println!(
                "skipped: {tool} is not installed (Debian packages hatop, util-linux, coreutils)"
            );
            return false;
        }
    }
    true
}

fn socket_of(run: &Runnable) -> PathBuf {
    run.dir.path().join("haproxy").join("admin.sock")
}

/// Drops terminal escape sequences, keeping the text hatop drew.
fn screen_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // CSI: parameters then one final letter.
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '@' || c == '~' {
                        break;
                    }
                }
            }
            Some('(') | Some(')') => {
                chars.next();
            }
            _ => {}
        }
        out.push(' ');
    }
    out
}

#[test]
fn hatop_starts_headless_and_shows_the_servers() {
    if !tools_present() {
        return;
    }
    let run = Runnable::new(CONFIG, CopyOptions::default());
    let _f = Fulcrum::start(&run);
    let sock = socket_of(&run);
    assert!(wait_until(Duration::from_secs(3), || sock.exists()));
    let out = Command::new("timeout")
        .args(["-k", "1", "3", "script", "-qc"])
        .arg(format!(
            "stty cols 120 rows 40; {HATOP} -s {}",
            sock.display()
        ))
        .arg("/dev/null")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = screen_text(&out.stdout);
    assert!(!screen.contains("error"), "{screen}");
    for seen in [
        "Fulcrum",
        "released: 2026/11/21",
        ">>> web",
        "FRONTEND",
        ">>> app",
        "alpha",
        "beta",
        "BACKEND",
    ] {
        assert!(
            screen.contains(seen),
            "hatop did not draw {seen:?}:\n{screen}"
        );
    }
}

/// Reads until the interactive prompt `> ` ends the answer.
fn until_prompt(s: &mut UnixStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(3);
    while !got.ends_with(b"> ") && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn the_exchange_hatop_relies_on_answers_as_it_parses() {
    if !tools_present() {
        return;
    }
    let run = Runnable::new(CONFIG, CopyOptions::default());
    let _f = Fulcrum::start(&run);
    let sock = socket_of(&run);
    assert!(wait_until(Duration::from_secs(3), || sock.exists()));
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s.write_all(b"prompt\n").unwrap();
    assert_eq!(until_prompt(&mut s), "\n> ");
    s.write_all(b"set timeout cli 60\n").unwrap();
    assert_eq!(until_prompt(&mut s), "\n> ", "accepted silently");

    // hatop's HAPROXY_INFO_RE: each key present with a value of its shape.
    s.write_all(b"show info\n").unwrap();
    let info = until_prompt(&mut s);
    let value = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key:?} in:\n{info}"))
            .to_string()
    };
    for key in ["Name:", "Version:", "Release_date:", "node:", "Uptime:"] {
        assert!(!value(key).is_empty(), "{key} empty:\n{info}");
    }
    for key in [
        "Nbproc:",
        "Process_num:",
        "Pid:",
        "Maxconn:",
        "CurrConns:",
        "Maxpipes:",
        "PipesUsed:",
        "Tasks:",
        "Run_queue:",
    ] {
        assert!(
            value(key).parse::<u64>().is_ok(),
            "{key} not a number:\n{info}"
        );
    }
    assert!(info.ends_with("\n\n> "), "{info:?}");

    // hatop splits `show stat` rows on commas and needs at least as many
    // fields as it knows (HAPROXY_STAT_NUMFIELDS: 51 in hatop 0.8).
    s.write_all(b"show stat\n").unwrap();
    let stat = until_prompt(&mut s);
    let rows: Vec<&str> = stat
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != "> ")
        .collect();
    assert_eq!(rows.len(), 4, "{stat}");
    for r in &rows {
        assert!(r.matches(',').count() >= 51, "{r}");
        let f: Vec<&str> = r.split(',').collect();
        // iid (27) and sid (28) are integers: hatop keys its tables on them.
        assert!(
            f[27].parse::<u32>().is_ok() && f[28].parse::<u32>().is_ok(),
            "{r}"
        );
    }

    // A filtered `show stat <iid> <type> <sid>`, as hatop's --filter sends.
    let iid: Vec<&str> = rows[1].split(',').collect();
    s.write_all(format!("show stat {} 4 -1\n", iid[27]).as_bytes())
        .unwrap();
    let one = until_prompt(&mut s);
    assert!(one.lines().any(|l| l.starts_with("app,alpha,")), "{one}");
    assert!(!one.lines().any(|l| l.starts_with("web,")), "{one}");
    s.write_all(b"quit\n").unwrap();
}
