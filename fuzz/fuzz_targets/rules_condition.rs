#![no_main]
//! Rule conditions and sample expressions on arbitrary text: the parsers never panic,
//! and what they accept keeps their promises (no empty OR group, the expression text
//! kept as written, every converter a known one).
use fulcrum_config::diag::Span;
use fulcrum_config::rules::{parse_acl_body, parse_condition, parse_sample_expr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let span = Span::new("fuzz.cfg", 1);
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if let Ok(c) = parse_condition(&words, &span) {
        assert!(!c.groups.is_empty());
        assert!(c.groups.iter().all(|g| !g.is_empty()));
    }
    // The same words after an `if`, as most rules write them.
    let mut with_if = vec!["if".to_string()];
    with_if.extend(words.iter().cloned());
    let _ = parse_condition(&with_if, &span);
    let _ = parse_acl_body("fuzz", &words, &span);
    for word in words.iter().chain(std::iter::once(&text.to_string())) {
        if let Ok(e) = parse_sample_expr(word, &span) {
            assert_eq!(&e.text, word);
            assert!(!e.fetch.is_empty());
        }
    }
});
