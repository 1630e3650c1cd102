//! The command line as a user types it: the real binary, real files, exit codes and text.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fulcrum(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(args)
        .env("FULCRUM_TEST_VAR", "set")
        .output()
        .expect("run fulcrum")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

const VALID: &str = "\
global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend web
    bind 127.0.0.1:18080
    default_backend app
backend app
    server s1 127.0.0.1:18081
";

#[test]
fn version_short_and_verbose() {
    let o = fulcrum(&["-v"]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout).starts_with("Fulcrum version "),
        "{}",
        text(&o.stdout)
    );
    let o = fulcrum(&["-vv"]);
    assert!(o.status.success());
    let out = text(&o.stdout);
    assert!(out.contains("Feature list : "), "{out}");
    assert!(
        out.contains("Available services : prometheus-exporter"),
        "{out}"
    );
}

#[test]
fn check_condition_exit_codes() {
    assert_eq!(
        fulcrum(&["-cc", "defined(FULCRUM_TEST_VAR)"]).status.code(),
        Some(0)
    );
    assert_eq!(
        fulcrum(&["-cc", "defined(FULCRUM_NO_SUCH_VAR)"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        fulcrum(&["-cc", "version_atleast(2.4) && !version_before(2.0)"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(fulcrum(&["-cc", "streq(a,b)"]).status.code(), Some(1));
}

#[test]
fn check_valid_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "ok.cfg", VALID);
    let o = fulcrum(&["-c", "-f", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Configuration file is valid\n");
}

#[test]
fn check_reports_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = VALID.replace(
        "    server s1 127.0.0.1:18081\n",
        "    server s1 127.0.0.1:18081\n    server s1 127.0.0.1:18082\n    balanse roundrobin\n",
    );
    let cfg = write(dir.path(), "bad.cfg", &bad);
    let o = fulcrum(&["-c", "-f", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    // Duplicate server names: reported at both lines.
    assert!(err.contains("bad.cfg:12"), "{err}");
    assert!(err.contains("bad.cfg:13"), "{err}");
    // The typo, with a suggestion, in the same run.
    assert!(
        err.contains("bad.cfg:14") && err.contains("balance"),
        "{err}"
    );
    assert!(!text(&o.stdout).contains("valid"));
}

#[test]
fn directory_of_cfg_files_is_read_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).unwrap();
    let (head, tail) = VALID.split_at(VALID.find("frontend").unwrap());
    write(&conf, "10-base.cfg", head);
    write(&conf, "20-proxies.cfg", tail);
    write(&conf, "notes.txt", "this is not a config\n");
    let o = fulcrum(&["-c", "-f", conf.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn no_configuration_is_an_error_that_says_what_to_do() {
    let o = fulcrum(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("-f"), "{}", text(&o.stderr));
}

#[test]
fn migrate_rewrites_legacy_lines() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = VALID
        .replace("    timeout connect 5s\n", "    contimeout 5000\n")
        .replace(
            "    timeout client 30s\n",
            "    clitimeout 30000   # client side\n",
        )
        .replace("    timeout server 30s\n", "    srvtimeout 30000\n")
        .replace("    maxconn 100\n", "    maxconn 100\n    nbproc 1\n");
    let cfg = write(dir.path(), "legacy.cfg", &legacy);
    let o = fulcrum(&["-c", "-f", cfg.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "legacy config must load: {}",
        text(&o.stderr)
    );
    let warnings = text(&o.stderr);
    assert!(
        warnings.contains("[WARNING]") && warnings.contains("timeout connect"),
        "{warnings}"
    );

    let o = fulcrum(&["migrate", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let migrated = text(&o.stdout);
    assert!(migrated.contains("timeout connect 5000"), "{migrated}");
    assert!(migrated.contains("timeout client 30000"), "{migrated}");
    assert!(
        migrated.contains("# client side"),
        "comments are kept: {migrated}"
    );
    assert!(
        !migrated.contains("contimeout") && !migrated.contains("nbproc"),
        "{migrated}"
    );

    let out = write(dir.path(), "migrated.cfg", &migrated);
    let o = fulcrum(&["-c", "-f", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        !text(&o.stderr).contains("[WARNING]"),
        "no legacy warnings left: {}",
        text(&o.stderr)
    );
}
