//! `.if` conditions and blocks, `.diag`/`.notice`/`.warning`/`.alert`, and `-cc`
//! (configuration.txt §2.4).

use fulcrum_config::reader::{
    eval_condition, read_str, MapEnv, ReadResult, COMPAT_VERSION, FEATURES,
};
use fulcrum_config::Level;

fn env() -> MapEnv {
    MapEnv::new()
        .with("A", "1")
        .with("MODE", "prod")
        .with("EMPTY", "")
}

fn cc(expr: &str) -> Result<bool, String> {
    eval_condition(expr, &env())
}

fn read(text: &str) -> ReadResult {
    read_str("c.cfg", text, &env())
}

/// The first word of every line read.
fn kept(r: &ReadResult) -> Vec<&str> {
    r.lines.iter().map(|l| l.words[0].as_str()).collect()
}

fn texts(r: &ReadResult) -> Vec<String> {
    r.diagnostics.iter().map(|d| d.to_string()).collect()
}

#[test]
fn integers_empty_and_negation() {
    for (e, v) in [
        ("", false),
        ("   ", false),
        ("0", false),
        ("1", true),
        ("42", true),
        ("-1", true),
        ("00", false),
        ("0x10", true),
        ("0x0", false),
        ("!0", true),
        ("! ! 1", true),
        ("!!0", false),
    ] {
        assert_eq!(cc(e), Ok(v), "{e:?}");
    }
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(cc("1 && 0 || 1"), Ok(true));
    assert_eq!(cc("0 || 1 && 0"), Ok(false));
    assert_eq!(cc("(0 || 1) && 0"), Ok(false));
    assert_eq!(cc("1 || 0 && 0"), Ok(true));
    assert_eq!(cc("!(0 || 0) && ( 1 )"), Ok(true));
}

#[test]
fn predicates() {
    for (e, v) in [
        ("defined(A)", true),
        ("defined(EMPTY)", true),
        ("defined(NOPE)", false),
        ("streq(a,a)", true),
        ("streq(a,b)", false),
        ("strneq(a,b)", true),
        ("streq(,)", true),
        ("streq(a, a)", false), // blanks are part of the argument, as in HAProxy
        (r#"streq(\"a,b\",\'a,b\')"#, true),
        (r"streq(a\,b,a\,b)", true),
        (r#"streq(\"x)\",x\\))"#, true),
        ("strstr(haproxy,pro)", true),
        ("feature(OPENSSL)", false),
        ("feature(EPOLL)", true),
        ("!feature(LUA) && defined(A)", true),
    ] {
        assert_eq!(cc(e), Ok(v), "{e:?}");
    }
}

#[test]
fn every_listed_feature_is_true_and_nothing_else() {
    for f in FEATURES {
        assert_eq!(cc(&format!("feature({f})")), Ok(true), "{f}");
        assert_eq!(
            cc(&format!("feature({})", f.to_lowercase())),
            Ok(false),
            "{f}"
        );
    }
}

#[test]
fn versions_compare_with_the_compatible_haproxy_version() {
    assert_eq!(COMPAT_VERSION, "2.6.0");
    for (e, v) in [
        ("version_atleast(2.4)", true),
        ("version_atleast(2.6)", true),
        ("version_atleast(2.6.0)", true),
        ("version_atleast(2.6-dev19)", true),
        ("version_atleast(2.6-rc1)", true),
        ("version_atleast(2.6.1)", false),
        ("version_atleast(2.10)", false),
        ("version_atleast(3)", false),
        ("version_atleast(1.8.30)", true),
        ("version_before(2.7)", true),
        ("version_before(2.6.1)", true),
        ("version_before(2.6)", false),
        ("version_before(2.6-dev1)", false),
        ("version_before(2.4-dev19)", false),
    ] {
        assert_eq!(cc(e), Ok(v), "{e:?}");
    }
}

#[test]
fn condition_errors_say_what_is_wrong_and_what_to_write() {
    for (e, msg) in [
        ("foo(1)", "unknown predicate 'foo' in conditional expression at position 1; the predicates are defined, feature, streq, strneq, strstr, version_atleast, version_before"),
        ("defind(A)", "unknown predicate 'defind' in conditional expression at position 1; did you mean 'defined'? The predicates are defined, feature, streq, strneq, strstr, version_atleast, version_before"),
        ("streq(a)", "missing arguments (got 1/2) for predicate 'streq' at position 9; write streq(<str1>,<str2>)"),
        ("defined(A,B)", "too many arguments (got 2/1) for predicate 'defined' at position 13; write defined(<name>)"),
        ("defined(A", "missing ')' in the arguments of predicate 'defined' at position 10; write defined(<name>)"),
        (r"streq(\'a,b)", "unmatched quote in the arguments of predicate 'streq' at position 12; write streq(<str1>,<str2>)"),
        ("defined", "missing arguments for predicate 'defined' at position 8; write defined(<name>)"),
        ("defined (A)", "missing arguments for predicate 'defined' at position 8; write defined(<name>)"),
        ("1 2", "unexpected character '2' at the end of conditional expression '1 2' at position 3; combine terms with '&&' or '||', e.g. 'defined(A) && !defined(B)'"),
        ("(1", "expected ')' after conditional expression at position 3; close each '(' with ')'"),
        ("1 &&", "unparsable conditional expression '' at position 5; a term is 0, 1, a predicate such as defined(NAME), '!' and a term, or '(' expression ')'"),
        ("&& 1", "unparsable conditional expression '&& 1' at position 1; a term is 0, 1, a predicate such as defined(NAME), '!' and a term, or '(' expression ')'"),
        ("version_atleast(abc)", "invalid version 'abc' in conditional expression; write a version as 'haproxy -v' shows it, e.g. 2.4, 2.6.12 or 2.4-dev19"),
    ] {
        assert_eq!(cc(e), Err(msg.to_string()), "{e:?}");
    }
}

#[test]
fn cc_reads_its_text_like_a_configuration_line_first() {
    // Quotes and escapes are resolved and variables expanded, then the words are joined.
    assert_eq!(cc(r#"streq("$MODE",prod)"#), Ok(true));
    assert_eq!(cc(r#"streq('a b',"a b")"#), Ok(true));
    assert_eq!(cc("defined(A)   &&   1"), Ok(true));
    // `#` is not a comment there.
    assert!(cc("1 # note")
        .unwrap_err()
        .starts_with("unexpected character '#'"));
    assert_eq!(
        cc(r#"streq("a,b)"#),
        Err(r#"unmatched quote " at position 7; close it with " on the same line, or write \" for a literal ""#.to_string())
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let e = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let err = cc(&e).unwrap_err();
    assert!(
        err.starts_with("conditional expression nested too deeply"),
        "{err}"
    );
    let e = format!("{}1", "!".repeat(10_000));
    assert_eq!(cc(&e), Ok(true));
    // Realistic nesting is far below the limit.
    assert_eq!(
        cc(&format!("{}1{}", "(".repeat(60), ")".repeat(60))),
        Ok(true)
    );
}

#[test]
fn if_elif_else_pick_exactly_one_branch() {
    let text = |c1: &str, c2: &str| {
        format!(".if {c1}\n  first\n.elif {c2}\n  second\n.else\n  third\n.endif\nafter\n")
    };
    for (c1, c2, want) in [
        ("1", "1", "first"),
        ("0", "1", "second"),
        ("0", "0", "third"),
        ("1", "0", "first"),
    ] {
        let r = read(&text(c1, c2));
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert_eq!(kept(&r), [want, "after"], "{c1} {c2}");
    }
}

#[test]
fn blocks_nest_and_a_masked_block_masks_its_children() {
    let r = read(".if 0\n .if 1\n  a\n .else\n  b\n .endif\n.else\n .if 1\n  c\n .endif\n.endif\n");
    assert!(r.diagnostics.is_empty());
    assert_eq!(kept(&r), ["c"]);
}

#[test]
fn conditions_see_variables_expanded_in_double_quotes() {
    let r =
        read(".if streq(\"$MODE\",prod)\n  p\n.endif\n.if strneq(\"${MODE}\",prod)\n  q\n.endif\n");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(kept(&r), ["p"]);
}

#[test]
fn the_manual_s_ssl_example_is_false_without_openssl() {
    let r = read(".if feature(OPENSSL) && (streq(\"$WITH_SSL\",yes) || streq(\"$SSL_ONLY\",yes))\n  bind\n.endif\n");
    assert!(r.lines.is_empty());
    assert!(!r.diagnostics.iter().any(|d| d.is_error()));
}

#[test]
fn the_manual_s_nested_message_example() {
    let text = ".if \"${A}\"\n  .if \"${B}\"\n     .notice \"A=1, B=1\"\n  .elif \"${C}\"\n     .notice \"A=1, B=0, C=1\"\n  .elif \"${D}\"\n     .warning \"A=1, B=0, C=0, D=1\"\n  .else\n     .alert \"A=1, B=0, C=0, D=0\"\n  .endif\n.else\n     .notice \"A=0\"\n.endif\n";
    let run = |vars: &[(&str, &str)]| {
        let env: MapEnv = vars.iter().copied().collect();
        let r = read_str("c.cfg", text, &env);
        r.diagnostics
            .iter()
            .filter(|d| d.level != Level::Diag)
            .map(|d| (d.level, d.message.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&[("A", "0")]), [(Level::Notice, "A=0".to_string())]);
    assert_eq!(
        run(&[("A", "1"), ("B", "1")]),
        [(Level::Notice, "A=1, B=1".to_string())]
    );
    assert_eq!(
        run(&[("A", "1"), ("B", "0"), ("C", "1")]),
        [(Level::Notice, "A=1, B=0, C=1".to_string())]
    );
    assert_eq!(
        run(&[("A", "1"), ("B", "0"), ("C", "0"), ("D", "1")]),
        [(Level::Warning, "A=1, B=0, C=0, D=1".to_string())]
    );
    assert_eq!(
        run(&[("A", "1"), ("B", "0"), ("C", "0"), ("D", "0")]),
        [(Level::Alert, "A=1, B=0, C=0, D=0".to_string())]
    );
}

#[test]
fn message_directives_report_at_their_level_and_alert_is_an_error() {
    let r = read(".diag \"d\"\n.notice 'n'\n.warning w\n.alert \"SSL support is mandatory\"\n");
    assert_eq!(
        texts(&r),
        [
            "[DIAG]     (c.cfg:1) : d",
            "[NOTICE]   (c.cfg:2) : n",
            "[WARNING]  (c.cfg:3) : w",
            "[ALERT]    (c.cfg:4) : SSL support is mandatory",
        ]
    );
}

#[test]
fn a_message_of_several_words_must_be_quoted() {
    let r = read(".warning replace this\n");
    assert_eq!(
        texts(&r),
        ["[ALERT]    (c.cfg:1) : unexpected argument 'this' for '.warning' (use quotes if the message should contain spaces: .warning \"your message\")"]
    );
}

#[test]
fn messages_and_unknown_directives_in_a_masked_block_are_ignored() {
    let r = read(".if 0\n  .alert \"no\"\n  .frobnicate\n.endif\n");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
}

#[test]
fn an_unknown_directive_is_an_alert_with_a_suggestion() {
    let r = read(".warnig \"x\"\n.zzzzzzzz\n");
    let t = texts(&r);
    assert_eq!(
        t[0],
        "[ALERT]    (c.cfg:1) : unknown directive '.warnig' (did you mean '.warning'?)"
    );
    assert!(t[1].starts_with(
        "[ALERT]    (c.cfg:2) : unknown directive '.zzzzzzzz' (the directives are .if, .elif"
    ));
}

#[test]
fn a_bad_condition_is_an_alert_and_no_branch_of_its_block_is_used() {
    let r = read(".if bogus(1)\n  a\n.else\n  b\n.endif\nc\n");
    assert_eq!(kept(&r), ["c"]);
    assert_eq!(
        texts(&r),
        ["[ALERT]    (c.cfg:1) : unknown predicate 'bogus' in conditional expression at position 1 in '.if' (the predicates are defined, feature, streq, strneq, strstr, version_atleast, version_before)"]
    );
}

#[test]
fn conditions_of_masked_blocks_are_not_evaluated() {
    let r = read(".if 1\n a\n.elif bogus(\n b\n.endif\n.if 0\n .if bogus(\n .endif\n.endif\n");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(kept(&r), ["a"]);
}

#[test]
fn lone_elif_else_endif_are_alerts() {
    let r = read(".elif 1\n.else\n.endif\nx\n");
    assert_eq!(
        texts(&r),
        [
            "[ALERT]    (c.cfg:1) : lone '.elif' with no matching '.if' (remove this '.elif' or open the block with '.if <condition>')",
            "[ALERT]    (c.cfg:2) : lone '.else' with no matching '.if' (remove this '.else' or open the block with '.if <condition>')",
            "[ALERT]    (c.cfg:3) : lone '.endif' with no matching '.if' (remove this '.endif' or open the block with '.if <condition>')",
        ]
    );
    assert_eq!(kept(&r), ["x"]);
}

#[test]
fn elif_or_else_after_else_are_alerts() {
    let r = read(".if 0\n.else\n a\n.elif 1\n b\n.endif\n");
    assert_eq!(
        texts(&r),
        ["[ALERT]    (c.cfg:4) : '.elif' after '.else' is not permitted (move this '.elif' before the '.else' of its block)"]
    );
    assert_eq!(kept(&r), ["a"]);
    let r = read(".if 0\n.else\n.else\n.endif\n");
    assert_eq!(texts(&r).len(), 1);
    assert!(texts(&r)[0].contains("'.else' after '.else' is not permitted"));
}

#[test]
fn an_unterminated_if_is_reported_at_its_line() {
    let r = read("global\n.if 1\n  .if 0\n  .endif\n  maxconn 1\n");
    assert_eq!(
        texts(&r),
        ["[ALERT]    (c.cfg:2) : non-terminated '.if' block (the file ends at line 5) (close the block with '.endif' in the same file)"]
    );
}

#[test]
fn else_and_endif_take_no_argument_but_a_comment_is_fine() {
    let r = read(".if 0\n.else # fallback\n a\n.endif extra\n");
    assert_eq!(
        texts(&r),
        ["[ALERT]    (c.cfg:4) : unexpected argument 'extra' for '.endif' (write '.endif' alone on its line; comments start with '#')"]
    );
    assert_eq!(kept(&r), ["a"]);
}

#[test]
fn a_quoting_error_in_a_masked_block_is_still_reported() {
    // HAProxy splits every line before looking at blocks; so does Fulcrum.
    let r = read(".if 0\n  bind \"oops\n.endif\n");
    assert_eq!(texts(&r).len(), 1);
    assert!(texts(&r)[0].contains("unmatched quote"));
}
