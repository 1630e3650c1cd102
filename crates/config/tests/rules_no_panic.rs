//! Properties of the rule parsers on anything a user may type: no panic, and what is
//! accepted keeps the parser's promises (the same checks as `fuzz/rules_condition`).

use fulcrum_config::diag::Span;
use fulcrum_config::rules::{parse_condition, parse_sample_expr};
use proptest::prelude::*;

fn sp() -> Span {
    Span::new("p.cfg", 1)
}

/// Words that make conditions and expressions interesting, plus noise.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "if",
            "unless",
            "!",
            "||",
            "or",
            "{",
            "}",
            "!{",
            "src",
            "gt",
            "20",
            "-m",
            "found",
            "sc_http_req_rate(0)",
            "sc0_conn_cur",
            "src_get_gpc0(t)",
            "table_cnt",
            "src,table_http_req_rate(t)",
            "src,in_table(t)",
            "hdr(host),lower",
            "sc_get_gpc(1,0)",
            "ok",
            "TRUE",
            "(",
            ")",
            ",",
            "'",
            "\"",
            "\\",
            "sc_(",
            "table_",
            "src_",
            "sc9_x",
        ])
        .prop_map(str::to_string),
        "\\PC{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn conditions_never_panic_and_have_no_empty_group(words in prop::collection::vec(token(), 0..12)) {
        if let Ok(c) = parse_condition(&words, &sp()) {
            prop_assert!(!c.groups.is_empty());
            prop_assert!(c.groups.iter().all(|g| !g.is_empty()));
        }
    }

    #[test]
    fn sample_expressions_never_panic_and_keep_their_text(parts in prop::collection::vec(token(), 1..5)) {
        let word = parts.concat();
        if let Ok(e) = parse_sample_expr(&word, &sp()) {
            prop_assert_eq!(&e.text, &word);
            prop_assert!(!e.fetch.is_empty());
        }
    }
}
