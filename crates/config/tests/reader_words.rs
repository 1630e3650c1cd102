//! The reader's word splitting: comments, blanks, escapes, quotes (configuration.txt §2.2).

use fulcrum_config::reader::{read_str, split_line, MapEnv, ReadResult};
use fulcrum_config::Level;

fn read(text: &str) -> ReadResult {
    read_str("t.cfg", text, &MapEnv::new())
}

/// The words of the only line of `text`.
fn words(text: &str) -> Vec<String> {
    let r = read(text);
    assert!(r.diagnostics.is_empty(), "{text:?}: {:?}", r.diagnostics);
    assert_eq!(r.lines.len(), 1, "{text:?}: {:?}", r.lines);
    r.lines[0].words.clone()
}

fn alerts(r: &ReadResult) -> Vec<String> {
    r.diagnostics
        .iter()
        .filter(|d| d.level == Level::Alert)
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn blanks_split_words_and_indentation_is_ignored() {
    assert_eq!(
        words("  \tserver  s1\t127.0.0.1:80   check  "),
        ["server", "s1", "127.0.0.1:80", "check"]
    );
}

#[test]
fn empty_and_comment_only_lines_produce_nothing() {
    let r = read("\n   \n# a comment\n\t# indented comment\nglobal\n");
    assert_eq!(r.lines.len(), 1);
    assert_eq!(r.lines[0].words, ["global"]);
    assert_eq!(r.lines[0].span.to_string(), "t.cfg:5");
    assert!(r.diagnostics.is_empty());
}

#[test]
fn a_hash_starts_a_comment_even_glued_to_a_word() {
    assert_eq!(words("global#this is the global section"), ["global"]);
    assert_eq!(words("mode http   # or tcp"), ["mode", "http"]);
}

#[test]
fn a_hash_is_literal_when_quoted_or_escaped() {
    assert_eq!(
        words(r#"acl a "x#y" 'z#w' u\#v"#),
        ["acl", "a", "x#y", "z#w", "u#v"]
    );
}

#[test]
fn backslash_escapes_outside_quotes() {
    assert_eq!(words(r"a\ b"), ["a b"]);
    assert_eq!(words(r"a\\b"), [r"a\b"]);
    assert_eq!(words(r#"a\"b\'c"#), [r#"a"b'c"#]);
    assert_eq!(words(r"x\ty\nz\r"), ["x\ty\nz\r"]);
    assert_eq!(words(r"\x41\x62\x20c"), ["Ab c"]);
    assert_eq!(words("a\\\tb"), ["a\tb"]);
}

#[test]
fn unknown_escapes_keep_their_backslash() {
    // Regex back-references and escaped dots reach the regex engine untouched.
    assert_eq!(
        words(r"reqrep ^(.*)\.html \1.php"),
        ["reqrep", r"^(.*)\.html", r"\1.php"]
    );
    // `\$` is only an escape inside double quotes.
    assert_eq!(words(r"a\$b"), [r"a\$b"]);
    assert_eq!(words(r#""a\$b""#), ["a$b"]);
}

#[test]
fn double_quotes_protect_blanks_quotes_and_hashes() {
    assert_eq!(words(r##"x "a b" "it's" "#""##), ["x", "a b", "it's", "#"]);
    assert_eq!(words(r#""\"q\" \x41\t""#), ["\"q\" A\t"]);
}

#[test]
fn single_quotes_are_literal() {
    assert_eq!(
        words(r#"x '\n $HOME "${A}" \x41'"#),
        ["x", r#"\n $HOME "${A}" \x41"#]
    );
}

#[test]
fn quoted_parts_join_the_adjacent_word() {
    assert_eq!(words(r#"a"b c"d'e f'g"#), ["ab cde fg"]);
}

#[test]
fn the_manual_s_five_log_formats_are_equivalent() {
    let forms = [
        r"log-format %{+Q}o\ %t\ %s\ %{-Q}r",
        r#"log-format "%{+Q}o %t %s %{-Q}r""#,
        r"log-format '%{+Q}o %t %s %{-Q}r'",
        r#"log-format "%{+Q}o %t"' %s %{-Q}r'"#,
        r#"log-format "%{+Q}o %t"' %s'\ %{-Q}r"#,
    ];
    for f in forms {
        assert_eq!(words(f), ["log-format", "%{+Q}o %t %s %{-Q}r"], "{f}");
    }
}

#[test]
fn regsub_arguments_keep_their_inner_quotes() {
    assert_eq!(
        words(r#"http-request set-path %[path,regsub(\"(foo|bar)\",blah,g)]"#),
        [
            "http-request",
            "set-path",
            r#"%[path,regsub("(foo|bar)",blah,g)]"#
        ]
    );
    assert_eq!(
        words(r#"http-request set-path '%[path,regsub("^/(here)(/|$)","my/\1",g)]'"#),
        [
            "http-request",
            "set-path",
            r#"%[path,regsub("^/(here)(/|$)","my/\1",g)]"#
        ]
    );
}

#[test]
fn empty_words_count_between_others_but_not_at_the_end() {
    assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
    assert_eq!(words(r#"a ''"#), ["a"]);
    assert_eq!(words(r#"a "" '' "#), ["a"]);
    assert_eq!(words("a   "), ["a"]);
}

#[test]
fn a_line_whose_first_word_is_empty_is_ignored_with_a_diag_note() {
    let r = read("\"\" server s1\n");
    assert!(r.lines.is_empty());
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].level, Level::Diag);
    assert!(r.diagnostics[0].message.contains("first word is empty"));
}

#[test]
fn multi_byte_characters_pass_through_and_hex_escapes_may_build_them() {
    assert_eq!(words("description café ☕"), ["description", "café", "☕"]);
    assert_eq!(words(r"x caf\xc3\xa9"), ["x", "café"]);
}

#[test]
fn crlf_line_endings_are_accepted_and_raw_keeps_the_line() {
    let r = read("global\r\n  maxconn 10\r\n");
    assert!(r.diagnostics.is_empty());
    assert_eq!(r.lines[1].words, ["maxconn", "10"]);
    assert_eq!(r.lines[1].raw, "  maxconn 10");
}

#[test]
fn raw_is_the_line_as_written() {
    let r = read("  bind :80   # public\n");
    assert_eq!(r.lines[0].raw, "  bind :80   # public");
}

#[test]
fn unmatched_double_quote_is_an_alert_with_its_position() {
    let r = read("global\n  log \"127.0.0.1 local0\n");
    assert_eq!(
        alerts(&r),
        [
            r#"[ALERT]    (t.cfg:2) : unmatched quote " at position 7 (close it with " on the same line, or write \" for a literal ")"#
        ]
    );
    assert_eq!(r.lines.len(), 1, "the bad line is dropped, the others kept");
}

#[test]
fn unmatched_single_quote_is_an_alert() {
    let r = read("acl a path_reg '^/x\n");
    assert_eq!(alerts(&r).len(), 1);
    assert!(r.diagnostics[0]
        .message
        .starts_with("unmatched quote ' at position 16"));
}

#[test]
fn a_hash_inside_an_unclosed_quote_does_not_close_it() {
    let r = read("x \"a # b\n");
    assert!(r.diagnostics[0].message.starts_with("unmatched quote"));
}

#[test]
fn bad_hex_escapes_are_alerts() {
    for (line, pos) in [(r"x \xZ1", 3), (r"x ab\x4", 5), (r#"x "\x""#, 4)] {
        let r = read(line);
        assert_eq!(alerts(&r).len(), 1, "{line}");
        assert_eq!(
            r.diagnostics[0].message,
            format!("truncated or invalid hexadecimal sequence at position {pos}"),
            "{line}"
        );
        assert!(r.diagnostics[0]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("two hexadecimal digits"));
    }
}

#[test]
fn a_nul_escape_is_an_alert() {
    let r = read(r"x a\x00b");
    assert_eq!(
        r.diagnostics[0].message,
        "'\\x00' at position 4 cannot be used: a word cannot contain a NUL byte"
    );
}

#[test]
fn hex_escapes_forming_invalid_utf8_are_an_alert() {
    let r = read(r"x \xff");
    assert_eq!(alerts(&r).len(), 1);
    assert_eq!(
        r.diagnostics[0].message,
        "word 2 is not valid UTF-8 once its '\\xNN' escapes are decoded"
    );
}

#[test]
fn a_trailing_backslash_warns_that_lines_do_not_continue() {
    let r = read("acl a path /x \\\n");
    assert_eq!(r.lines[0].words, ["acl", "a", "path", "/x", "\\"]);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].level, Level::Warning);
    assert!(r.diagnostics[0].message.contains("does not continue"));
}

#[test]
fn every_bad_line_is_reported_and_good_lines_are_kept() {
    let r = read("global\n  a \"x\n  maxconn 10\n  b 'y\n  c \\xg0\n");
    let lines: Vec<u32> = r
        .diagnostics
        .iter()
        .filter_map(|d| d.span.as_ref())
        .map(|s| s.line)
        .collect();
    assert_eq!(lines, [2, 4, 5]);
    assert_eq!(
        r.lines
            .iter()
            .map(|l| l.words[0].as_str())
            .collect::<Vec<_>>(),
        ["global", "maxconn"]
    );
}

#[test]
fn scope_lines_are_skipped_and_a_broken_one_is_an_alert() {
    let r = read("[scope1]\nglobal\n[broken\n");
    assert_eq!(r.lines.len(), 1);
    assert_eq!(
        alerts(&r),
        ["[ALERT]    (t.cfg:3) : missing ']' in scope line (write '[name]' alone on its line)"]
    );
}

#[test]
fn split_line_reads_one_line_like_the_reader() {
    let env = MapEnv::new().with("V", "v");
    assert_eq!(
        split_line(r#"  a "b $V" 'c d' # e"#, &env),
        Ok(vec!["a".into(), "b v".into(), "c d".into()])
    );
    assert_eq!(split_line("", &env), Ok(vec![]));
    assert_eq!(
        split_line("x 'y", &env),
        Err("unmatched quote ' at position 3; close it with ' on the same line, or write \\' for a literal '".into())
    );
}

#[test]
fn a_carriage_return_inside_a_line_ends_it_with_a_warning() {
    // Old Mac line endings: HAProxy would silently read only the first line.
    let r = read("global\r  maxconn 10\r");
    assert_eq!(r.lines.len(), 1);
    assert_eq!(r.lines[0].words, ["global"]);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].level, Level::Warning);
    assert_eq!(
        r.diagnostics[0].message,
        "a carriage return (CR) at position 7 ends the line: the rest of it is ignored"
    );
}
