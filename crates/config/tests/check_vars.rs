//! `http-check` / `tcp-check` variable steps: `set-var(NAME[,COND…]) EXPR`,
//! `set-var-fmt(NAME) FMT`, `unset-var(NAME)`, checked as HAProxy checks them.

use fulcrum_config::diag::{Diagnostics, Level, Span};
use fulcrum_config::model::check::{CheckRule, CheckSettings};
use fulcrum_config::parse::check::proxy_keyword;

fn w(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn run(lines: &[&str]) -> (CheckSettings, Diagnostics) {
    let mut s = CheckSettings::default();
    let mut d = Diagnostics::default();
    for l in lines {
        assert!(
            proxy_keyword(&w(l), &Span::new("t.cfg", 3), &mut s, &mut d),
            "{l}"
        );
    }
    (s, d)
}

#[test]
fn variable_steps_are_accepted_with_a_notice() {
    let (s, d) = run(&[
        "http-check set-var(check.x) str(a),lower",
        "http-check set-var(check.y,ifnotexists) int(3)",
        "http-check unset-var(check.x)",
        "tcp-check set-var-fmt(check.z) %[str(b)]",
        "tcp-check unset-var(proc.z)",
    ]);
    assert!(!d.has_errors(), "{d:?}");
    let notices = d.items.iter().filter(|x| x.level == Level::Notice).count();
    assert_eq!(notices, 5, "{d:?}");
    assert_eq!(
        s.http_rules,
        vec![
            CheckRule::Var(w("set-var(check.x) str(a),lower")),
            CheckRule::Var(w("set-var(check.y,ifnotexists) int(3)")),
            CheckRule::Var(w("unset-var(check.x)")),
        ]
    );
    assert_eq!(s.tcp_rules.len(), 2);
}

#[test]
fn bad_names_conditions_and_expressions_are_alerts() {
    for line in [
        "http-check set-var(x) str(a)",
        "http-check set-var(check.x,ifnope) str(a)",
        "http-check set-var(check.x) nosuchfetch",
        "http-check set-var(check.x)",
        "tcp-check set-var-fmt(check.x)",
        "tcp-check unset-var(nope.x)",
        "http-check set-var",
    ] {
        let (_, d) = run(&[line]);
        assert!(d.has_errors(), "{line}: {d:?}");
    }
}
