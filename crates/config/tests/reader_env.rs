//! Environment variables in the reader (configuration.txt §2.3).

use fulcrum_config::reader::{read_str, MapEnv, ReadResult};
use fulcrum_config::Level;

fn env() -> MapEnv {
    MapEnv::new()
        .with("A", "alpha")
        .with("EMPTY", "")
        .with("LIST", "  one two\tthree ")
        .with("SPACED", "a b")
}

fn read(text: &str) -> ReadResult {
    read_str("e.cfg", text, &env())
}

/// Words of the only line, with no diagnostic at all.
fn words(text: &str) -> Vec<String> {
    let r = read(text);
    assert!(r.diagnostics.is_empty(), "{text:?}: {:?}", r.diagnostics);
    assert_eq!(r.lines.len(), 1, "{text:?}");
    r.lines[0].words.clone()
}

fn only_error(text: &str) -> (String, String) {
    let r = read(text);
    let errs: Vec<_> = r.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1, "{text:?}: {:?}", r.diagnostics);
    assert!(r.lines.is_empty(), "a line with an error is not used");
    (
        errs[0].message.clone(),
        errs[0].hint.clone().unwrap_or_default(),
    )
}

#[test]
fn variables_expand_inside_double_quotes() {
    assert_eq!(
        words(r#"x "${A}" "$A" "<$A>" "${A}_2""#),
        ["x", "alpha", "alpha", "<alpha>", "alpha_2"]
    );
    assert_eq!(
        words(r#"log "${A}:514" local0"#),
        ["log", "alpha:514", "local0"]
    );
}

#[test]
fn a_name_without_braces_stops_at_the_first_other_character() {
    assert_eq!(words(r#"x "$A.b" "$A-b""#), ["x", "alpha.b", "alpha-b"]);
}

#[test]
fn a_value_with_blanks_stays_one_word_unless_expanded_with_star() {
    assert_eq!(words(r#"x "${SPACED}""#), ["x", "a b"]);
    assert_eq!(
        words(r#"x "${LIST[*]}" y"#),
        ["x", "", "one", "two", "three", "", "y"]
    );
    assert_eq!(words(r#"x "${SPACED[*]}" y"#), ["x", "a", "b", "y"]);
    assert_eq!(words(r#"x pre"${SPACED[*]}"post"#), ["x", "prea", "bpost"]);
}

#[test]
fn star_needs_braces() {
    assert_eq!(words(r#"x "$SPACED[*]""#), ["x", "a b[*]"]);
}

#[test]
fn default_values_replace_only_unset_variables() {
    assert_eq!(
        words(r#"x "${UNSET-127.0.0.1}:514""#),
        ["x", "127.0.0.1:514"]
    );
    assert_eq!(words(r#"x "${A-def}""#), ["x", "alpha"]);
    assert_eq!(words(r#"x "${EMPTY-def}" y"#), ["x", "", "y"]);
    assert_eq!(words(r#"x "${UNSET-a b}""#), ["x", "a b"]);
    assert_eq!(words(r#"x "${UNSET[*]-a b}""#), ["x", "a", "b"]);
}

#[test]
fn an_unset_variable_expands_to_nothing_with_a_diag_note() {
    let r = read(r#"x "${UNSET}" y"#);
    assert_eq!(r.lines[0].words, ["x", "", "y"]);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].level, Level::Diag);
    assert_eq!(
        r.diagnostics[0].message,
        "environment variable 'UNSET' at position 4 is not set and expands to nothing"
    );
    // An empty last word is dropped, as HAProxy does.
    assert_eq!(read(r#"x "$UNSET""#).lines[0].words, ["x"]);
}

#[test]
fn variables_are_not_expanded_outside_double_quotes() {
    let r = read("bind ${A}:80 '${A}' \\${A}\n");
    assert_eq!(r.lines[0].words, ["bind", "${A}:80", "${A}", "\\${A}"]);
    // Unquoted: a warning saying how to write it; single-quoted: deliberate, no warning.
    let warnings: Vec<_> = r
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Warning)
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", r.diagnostics);
    assert_eq!(
        warnings[0].message,
        "'${A}' is not expanded: environment variables are only expanded inside double quotes"
    );
    assert!(warnings[0]
        .hint
        .as_deref()
        .unwrap_or("")
        .contains("write \"${A}\""));
}

#[test]
fn a_dollar_not_followed_by_a_name_is_plain_text_outside_quotes() {
    assert_eq!(
        words("acl end path_reg ^/x$ $5"),
        ["acl", "end", "path_reg", "^/x$", "$5"]
    );
}

#[test]
fn an_escaped_dollar_inside_double_quotes_is_literal() {
    assert_eq!(words(r#"x "\$A costs \$5""#), ["x", "$A costs $5"]);
}

#[test]
fn pseudo_variables_give_file_line_and_section() {
    let r = read(
        "frontend web\n  x \"${.FILE}:$.LINE\" \"${.SECTION}\"\nglobal\n  y \"${.SECTION}\"\n",
    );
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.lines[1].words, ["x", "e.cfg:2", "web"]);
    assert_eq!(r.lines[3].words, ["y", "global"]);
}

#[test]
fn every_section_keyword_the_parser_knows_sets_the_section() {
    // The reader and the parser share one list of section keywords.
    let r = read(
        "frontend web
crt-store certs
  z \"${.SECTION}\"
",
    );
    assert_eq!(r.lines[2].words, ["z", "certs"]);
}

#[test]
fn a_bad_first_character_in_a_name_is_an_alert() {
    let (m, h) = only_error(r#"x "price $5""#);
    assert_eq!(
        m,
        "forbidden first char in environment variable name at position 11"
    );
    assert!(h.contains("write \\$ for a literal '$'"), "{h}");
    let (m, _) = only_error(r#"x "${}""#);
    assert_eq!(
        m,
        "forbidden first char in environment variable name at position 6"
    );
}

#[test]
fn an_unclosed_brace_is_an_alert() {
    let (m, h) = only_error(r#"x "${A""#);
    assert_eq!(
        m,
        "unmatched brace in environment variable name at position 5"
    );
    assert_eq!(h, "write \"${A}\" or \"${A-default}\"");
    let (m, _) = only_error(r#"x "${A-def""#);
    assert_eq!(
        m,
        "unmatched brace in environment variable name at position 5"
    );
}

#[test]
fn shell_style_colon_default_is_an_alert() {
    let (m, h) = only_error(r#"x "${A:-def}""#);
    assert_eq!(
        m,
        "unmatched brace in environment variable name at position 5"
    );
    assert!(h.contains("${A-default}"));
}

#[test]
fn a_bad_word_expansion_is_an_alert() {
    let (m, h) = only_error(r#"x "${LIST[0]}""#);
    assert_eq!(
        m,
        "truncated or invalid word expansion sequence at position 10"
    );
    assert_eq!(
        h,
        "write \"${LIST[*]}\" to split the value into several words"
    );
}

#[test]
fn an_unknown_pseudo_variable_is_an_alert() {
    let (m, h) = only_error(r#"x "${.NAME}""#);
    assert_eq!(m, "unknown pseudo-variable '.NAME' at position 6");
    assert_eq!(h, "the pseudo-variables are .FILE, .LINE and .SECTION");
}

#[test]
fn the_process_environment_is_read() {
    use fulcrum_config::reader::{Env, ProcessEnv};
    // PATH is set for every test process; a name with '=' can never be set.
    assert!(ProcessEnv.var("PATH").is_some());
    assert_eq!(ProcessEnv.var("A=B"), None);
    assert_eq!(ProcessEnv.var(""), None);
}
