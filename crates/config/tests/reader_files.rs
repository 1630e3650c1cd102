//! `-f` files and directories, as `read_paths` reads them.

use std::fs;
use std::path::{Path, PathBuf};

use fulcrum_config::reader::{read_paths, MapEnv, ReadResult};
use fulcrum_config::Level;

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

fn names(r: &ReadResult) -> Vec<String> {
    r.files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn first_words(r: &ReadResult) -> Vec<&str> {
    r.lines.iter().map(|l| l.words[0].as_str()).collect()
}

#[test]
fn a_directory_reads_its_cfg_files_in_lexical_order() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "20-b.cfg", "backend b\n");
    write(d.path(), "10-a.cfg", "frontend a\n");
    write(d.path(), "B-upper.cfg", "listen upper\n");
    write(d.path(), "a-lower.cfg", "peers lower\n");
    write(d.path(), ".hidden.cfg", "listen hidden\n");
    write(d.path(), "notes.txt", "not config\n");
    write(d.path(), "x.cfg.bak", "listen bak\n");
    fs::create_dir(d.path().join("sub.cfg")).unwrap();
    write(&d.path().join("sub.cfg"), "inner.cfg", "listen inner\n");

    let r = read_paths(&[d.path().to_path_buf()], &MapEnv::new());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    // Byte order, as HAProxy's scandir(): upper case before lower case.
    assert_eq!(
        names(&r),
        ["10-a.cfg", "20-b.cfg", "B-upper.cfg", "a-lower.cfg"]
    );
    assert_eq!(first_words(&r), ["frontend", "backend", "listen", "peers"]);
    assert!(r.lines[0].span.file.ends_with("10-a.cfg"));
}

#[test]
fn several_paths_are_read_in_the_order_given() {
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("conf.d");
    fs::create_dir(&conf).unwrap();
    write(&conf, "b.cfg", "backend b\n");
    let main = write(d.path(), "main.cfg", "global\n");
    let r = read_paths(&[main, conf], &MapEnv::new());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(names(&r), ["main.cfg", "b.cfg"]);
    assert_eq!(first_words(&r), ["global", "backend"]);
}

#[test]
fn a_missing_file_is_an_alert_naming_it_and_the_others_are_still_read() {
    let d = tempfile::tempdir().unwrap();
    let ok = write(d.path(), "ok.cfg", "global\n");
    let missing = d.path().join("missing.cfg");
    let r = read_paths(&[missing.clone(), ok], &MapEnv::new());
    assert_eq!(r.diagnostics.len(), 1);
    let a = &r.diagnostics[0];
    assert_eq!(a.level, Level::Alert);
    assert_eq!(
        a.message,
        format!(
            "cannot open configuration file/directory '{}': No such file or directory (os error 2)",
            missing.display()
        )
    );
    assert_eq!(a.hint.as_deref(), Some("check the path given with -f"));
    assert_eq!(names(&r), ["ok.cfg"]);
}

#[test]
fn a_directory_without_cfg_files_is_a_warning() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "haproxy.conf", "global\n");
    let r = read_paths(&[d.path().to_path_buf()], &MapEnv::new());
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].level, Level::Warning);
    assert!(r.diagnostics[0]
        .message
        .ends_with("contains no '*.cfg' file"));
    assert!(r.lines.is_empty());
}

#[test]
fn haproxy_cfgfiles_lists_the_files_read() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.cfg", "x \"$HAPROXY_CFGFILES\"\n");
    let b = write(d.path(), "b.cfg", "y\n");
    let r = read_paths(&[a.clone(), b.clone()], &MapEnv::new());
    assert_eq!(
        r.lines[0].words[1],
        format!("{};{}", a.display(), b.display())
    );
}

#[test]
fn a_missing_newline_at_the_end_is_a_warning_at_the_last_line() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "t.cfg", "global\n  maxconn 10");
    let r = read_paths(&[f], &MapEnv::new());
    assert_eq!(r.lines.len(), 2, "the last line is still used");
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].level, Level::Warning);
    assert_eq!(r.diagnostics[0].span.as_ref().map(|s| s.line), Some(2));
    assert_eq!(
        r.diagnostics[0].message,
        "missing LF on last line, file might have been truncated"
    );
}

#[test]
fn bytes_that_are_not_utf8_warn_only_where_they_are_used() {
    let d = tempfile::tempdir().unwrap();
    // A Latin-1 comment, as old configurations often have, then a Latin-1 word.
    let f = write(
        d.path(),
        "t.cfg",
        b"# configur\xe9 par Jos\xe9\nglobal\n  description caf\xe9\n",
    );
    let r = read_paths(&[f], &MapEnv::new());
    assert_eq!(r.lines.len(), 2);
    assert_eq!(r.lines[1].words, ["description", "caf\u{FFFD}"]);
    assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
    assert_eq!(r.diagnostics[0].level, Level::Warning);
    assert_eq!(r.diagnostics[0].span.as_ref().map(|s| s.line), Some(3));
}

#[test]
fn an_if_block_cannot_span_two_files() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.cfg", ".if 0\nhidden\n");
    let b = write(d.path(), "b.cfg", "shown\n.endif\n");
    let r = read_paths(&[a, b], &MapEnv::new());
    assert_eq!(first_words(&r), ["shown"]);
    let alerts: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts[0].contains("a.cfg:1) : non-terminated '.if' block"),
        "{alerts:?}"
    );
    assert!(alerts[1].contains("b.cfg:2) : lone '.endif'"), "{alerts:?}");
}

/// Every configuration our users pasted reads without an error; `02` checks details.
/// The fixtures live outside the repository (`FULCRUM_SEED_CONFIGS` overrides where).
#[test]
fn the_seed_configurations_read_cleanly() {
    let dir = std::env::var_os("FULCRUM_SEED_CONFIGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/fixtures/seed-configs"));
    if !dir.is_dir() {
        eprintln!("skipped: no seed configurations at {}", dir.display());
        return;
    }
    let r = read_paths(std::slice::from_ref(&dir), &MapEnv::new());
    assert!(
        !r.diagnostics.iter().any(|d| d.is_error()),
        "{:?}",
        r.diagnostics
    );
    assert_eq!(r.files.len(), 10, "{:?}", r.files);
    let deny: Vec<&Vec<String>> = r
        .lines
        .iter()
        .filter(|l| {
            l.span.file.ends_with("02-websocket-url-param.cfg") && l.words[0] == "http-request"
        })
        .map(|l| &l.words)
        .collect();
    assert!(!deny.is_empty());
    assert!(deny.iter().all(|w| w[1] == "deny"), "{deny:?}");
    // `03` sends a WebSocket handshake as its health check: its escapes become CR LF.
    let check = r
        .lines
        .iter()
        .find(|l| {
            l.span.file.ends_with("03-cometd-websocket-longpoll.cfg")
                && l.words
                    .starts_with(&["option".to_string(), "httpchk".to_string()])
        })
        .map(|l| l.words.clone());
    assert_eq!(
        check.as_deref().and_then(|w| w.get(4)).map(String::as_str),
        Some("HTTP/1.1\r\nHost: \r\nConnection: upgrade\r\nUpgrade: websocket")
    );
}
