//! `fulcrum -c` on each seed as written (only `errorfile` paths moved to files the test
//! creates, as on a machine where they exist): the table's "Fulcrum `-c` must" column.

mod support;

use std::process::Command;
use support::*;

struct Check {
    ok: bool,
    stdout: String,
    stderr: String,
    /// The copy's path, as messages name it.
    file: String,
}

impl Check {
    /// stderr lines of `tag` ("[ALERT]", "[WARNING]") that point at `line`.
    fn at(&self, tag: &str, line: usize) -> Vec<&str> {
        let here = format!("{}:{line}", self.file);
        self.stderr
            .lines()
            .filter(|l| l.starts_with(tag) && l.contains(&here))
            .filter(|l| {
                // not a longer line number starting with the same digits
                let rest = &l[l.find(&here).map_or(0, |p| p + here.len())..];
                !rest.starts_with(|c: char| c.is_ascii_digit())
            })
            .collect()
    }

    /// Line numbers of every `tag` line that points into the file.
    fn lines_with(&self, tag: &str) -> Vec<usize> {
        let prefix = format!("{}:", self.file);
        let mut v: Vec<usize> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with(tag))
            .filter_map(|l| {
                let rest = &l[l.find(&prefix)? + prefix.len()..];
                let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                digits.parse().ok()
            })
            .collect();
        v.dedup();
        v
    }

    fn assert_valid(&self) {
        assert!(self.ok, "exit status not 0:\n{}", self.stderr);
        assert!(
            self.stdout.contains("Configuration file is valid"),
            "{}",
            self.stdout
        );
        assert!(!self.stderr.contains("[ALERT]"), "{}", self.stderr);
    }

    /// A warning at `line` whose text names `modern` (the form to write instead).
    fn assert_warning(&self, line: usize, modern: &str) {
        let w = self.at("[WARNING]", line);
        assert!(
            w.iter().any(|l| l.contains(modern)),
            "no warning at line {line} naming '{modern}':\n{}",
            self.stderr
        );
    }
}

fn check(prefix: &str, opts: CopyOptions) -> Option<(Check, Runnable)> {
    let text = seed(prefix)?;
    let run = Runnable::new(
        &text,
        CopyOptions {
            check_only: true,
            ..opts
        },
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .arg("-c")
        .arg("-f")
        .arg(&run.path)
        .output()
        .expect("run fulcrum -c");
    let c = Check {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        file: run.path.display().to_string(),
    };
    Some((c, run))
}

#[test]
fn c01_02_08_10_are_valid() {
    for seed in ["01", "02", "08", "10"] {
        let Some((c, _run)) = check(seed, CopyOptions::default()) else {
            return;
        };
        c.assert_valid();
    }
}

#[test]
fn c03_valid_with_a_warning_per_legacy_line_naming_the_modern_form() {
    let Some((c, _run)) = check("03", CopyOptions::default()) else {
        return;
    };
    c.assert_valid();
    c.assert_warning(8, "nbthread"); // nbproc 1
    c.assert_warning(47, "stick"); // appsession → stick-table / stick on
}

#[test]
fn c04_duplicate_server_names_are_errors_at_both_lines() {
    let Some((c, _run)) = check("04", CopyOptions::default()) else {
        return;
    };
    assert!(!c.ok, "{}", c.stdout);
    for line in [42, 47] {
        let alerts = c.at("[ALERT]", line);
        assert!(
            alerts
                .iter()
                .any(|l| l.contains("server1") && l.contains("distinct")),
            "line {line}: no error naming 'server1' and asking for distinct names:\n{}",
            c.stderr
        );
    }
}

#[test]
fn c05_errors_only_for_the_placeholder_address_and_the_missing_space() {
    let Some((c, _run)) = check("05", CopyOptions::default()) else {
        return;
    };
    assert!(!c.ok);
    assert_eq!(c.lines_with("[ALERT]"), vec![25, 29], "{}", c.stderr);
    assert!(c.at("[ALERT]", 25).iter().any(|l| l.contains("x.x.x.x:80")));
    assert!(
        c.at("[ALERT]", 29)
            .iter()
            .any(|l| l.contains("stats uri /admin?stats")),
        "{}",
        c.stderr
    );
    c.assert_warning(10, "nbthread");
    c.assert_warning(18, "timeout connect");
    c.assert_warning(19, "timeout client");
    c.assert_warning(20, "timeout server");
}

#[test]
fn c06_09_valid_with_warnings_for_the_legacy_timeouts() {
    for (seed, first) in [("06", 17), ("09", 17)] {
        let Some((c, _run)) = check(seed, CopyOptions::default()) else {
            return;
        };
        c.assert_valid();
        c.assert_warning(first, "timeout connect");
        c.assert_warning(first + 1, "timeout client");
        c.assert_warning(first + 2, "timeout server");
    }
}

#[test]
fn c07_missing_errorfile_is_an_error_at_its_line() {
    let opts = CopyOptions {
        no_errorfiles: true,
        ..CopyOptions::default()
    };
    let Some((c, _run)) = check("07", opts) else {
        return;
    };
    assert!(!c.ok);
    assert_eq!(
        c.lines_with("[ALERT]"),
        vec![48, 49, 50, 51, 52],
        "{}",
        c.stderr
    );
    assert!(c.at("[ALERT]", 51).iter().any(|l| l.contains("503.http")));
}

#[test]
fn c07_with_the_errorfiles_present_valid_with_warnings() {
    let Some((c, _run)) = check("07", CopyOptions::default()) else {
        return;
    };
    c.assert_valid();
    c.assert_warning(12, "nbthread");
    c.assert_warning(32, "timeout connect");
    c.assert_warning(71, "http-request return");
    c.assert_warning(72, "http-request return");
}
