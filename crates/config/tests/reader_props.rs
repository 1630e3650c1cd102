//! Properties of the reader: it never panics, its output keeps its promises, every way of
//! quoting a word reads back the same word, and conditions evaluate like Rust booleans.

use fulcrum_config::reader::{eval_condition, read_str, MapEnv};
use proptest::prelude::*;

fn env() -> MapEnv {
    MapEnv::new().with("A", "x y").with("E", "").with("B", "1")
}

/// Words made of any character but NUL, CR and LF (which end a line whatever the quoting).
fn word() -> impl Strategy<Value = String> {
    "[^\u{0}\r\n]{1,12}"
}

/// Writes `w` unquoted, escaping every byte the reader would interpret.
fn escaped(w: &str) -> String {
    let mut out = String::new();
    for c in w.chars() {
        match c {
            ' ' | '\\' | '#' | '"' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            // Other blanks (vertical tab, form feed) only through hexadecimal.
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Writes `w` inside double quotes: only `"`, `\` and `$` need a backslash.
fn double_quoted(w: &str) -> String {
    let mut out = String::from("\"");
    for c in w.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Writes `w` inside single quotes, closing them around each `'`, written `\'`.
fn single_quoted(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// The words after a fixed keyword (a first word starting with '.' would be a directive).
fn read_line(args: &str) -> Vec<String> {
    let line = format!("kw {args}");
    let r = read_str("p.cfg", &line, &env());
    assert!(
        !r.diagnostics.iter().any(|d| d.is_error()),
        "{line:?}: {:?}",
        r.diagnostics
    );
    r.lines
        .first()
        .map(|l| l.words[1..].to_vec())
        .unwrap_or_default()
}

/// A random condition made of 0/1, `!`, `&&`, `||` and parentheses, with its value.
#[derive(Clone, Debug)]
enum Cond {
    Lit(bool),
    Defined(bool),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

impl Cond {
    fn text(&self) -> String {
        match self {
            Cond::Lit(b) => u8::from(*b).to_string(),
            Cond::Defined(b) => format!("defined({})", if *b { "B" } else { "NOPE" }),
            Cond::Not(c) => format!("!({})", c.text()),
            Cond::And(a, b) => format!("({}) && ({})", a.text(), b.text()),
            Cond::Or(a, b) => format!("{} || {}", a.text(), b.text()),
        }
    }
    fn value(&self) -> bool {
        match self {
            Cond::Lit(b) | Cond::Defined(b) => *b,
            Cond::Not(c) => !c.value(),
            Cond::And(a, b) => a.value() && b.value(),
            Cond::Or(a, b) => a.value() || b.value(),
        }
    }
}

fn cond() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Cond::Lit),
        any::<bool>().prop_map(Cond::Defined)
    ];
    leaf.prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn reading_any_text_never_panics_and_keeps_its_promises(text in any::<String>()) {
        let r = read_str("p.cfg", &text, &env());
        let n = text.lines().count() as u32;
        for l in &r.lines {
            prop_assert!(!l.words.is_empty());
            prop_assert!(!l.words[0].is_empty());
            prop_assert!(!l.words[l.words.len() - 1].is_empty());
            prop_assert!(l.span.line >= 1 && l.span.line <= n);
        }
        for d in &r.diagnostics {
            prop_assert!(!d.message.is_empty());
        }
    }

    #[test]
    fn reading_config_like_text_never_panics(
        lines in prop::collection::vec("[ .\\\\\"'#${}()\\[\\]*!&|a-z0-9_-]{0,30}", 0..20)
    ) {
        let mut text = String::new();
        for (i, l) in lines.iter().enumerate() {
            // Sprinkle directives so that block handling is exercised too.
            let prefix = [".if ", ".elif ", ".else", ".endif", "", "", ".warning "][i % 7];
            text.push_str(prefix);
            text.push_str(l);
            text.push('\n');
        }
        let _ = read_str("p.cfg", &text, &env());
    }

    #[test]
    fn any_condition_text_never_panics(text in "[ ()!&|,'\"\\\\a-z0-9_.-]{0,40}") {
        let _ = eval_condition(&text, &env());
    }

    #[test]
    fn escaped_words_read_back_unchanged(ws in prop::collection::vec(word(), 1..6)) {
        let line: Vec<String> = ws.iter().map(|w| escaped(w)).collect();
        prop_assert_eq!(read_line(&line.join(" ")), ws);
    }

    #[test]
    fn double_quoted_words_read_back_unchanged(ws in prop::collection::vec(word(), 1..6)) {
        let line: Vec<String> = ws.iter().map(|w| double_quoted(w)).collect();
        prop_assert_eq!(read_line(&line.join("\t")), ws);
    }

    #[test]
    fn single_quoted_words_read_back_unchanged(ws in prop::collection::vec(word(), 1..6)) {
        let line: Vec<String> = ws.iter().map(|w| single_quoted(w)).collect();
        prop_assert_eq!(read_line(&line.join("  ")), ws);
    }

    #[test]
    fn a_comment_after_any_words_changes_nothing(ws in prop::collection::vec(word(), 1..6), c in "[^\r\n]*") {
        let line: Vec<String> = ws.iter().map(|w| escaped(w)).collect();
        prop_assert_eq!(read_line(&format!("{} #{c}", line.join(" "))), ws);
    }

    #[test]
    fn conditions_evaluate_like_booleans(c in cond()) {
        prop_assert_eq!(eval_condition(&c.text(), &env()), Ok(c.value()));
    }

    #[test]
    fn if_blocks_keep_exactly_the_chosen_branch(c in cond(), d in cond()) {
        let text = format!(".if {}\nfirst\n.elif {}\nsecond\n.else\nthird\n.endif\n", c.text(), d.text());
        let want = if c.value() { "first" } else if d.value() { "second" } else { "third" };
        let r = read_str("p.cfg", &text, &env());
        prop_assert!(r.diagnostics.is_empty());
        let kept: Vec<&str> = r.lines.iter().map(|l| l.words[0].as_str()).collect();
        prop_assert_eq!(kept, vec![want]);
    }

    #[test]
    fn versions_order_like_their_numbers(a in 0u32..5, b in 0u32..12, c in 0u32..20) {
        let v = format!("{a}.{b}.{c}");
        prop_assert_eq!(eval_condition(&format!("version_atleast({v})"), &env()), Ok((a, b, c) <= (2, 6, 0)));
        prop_assert_eq!(eval_condition(&format!("version_before({v})"), &env()), Ok((a, b, c) > (2, 6, 0)));
        // A development version comes before its release.
        prop_assert_eq!(
            eval_condition(&format!("version_atleast({a}.{b}-dev{c})"), &env()),
            Ok((a, b) <= (2, 6))
        );
    }
}
