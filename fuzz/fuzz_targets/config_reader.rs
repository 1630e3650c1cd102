#![no_main]
//! The configuration reader on arbitrary bytes: it must never panic, and what it returns
//! must keep the reader's promises (no empty line, no empty first or last word).
use fulcrum_config::reader::{eval_condition, read_str, MapEnv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = MapEnv::new()
        .with("A", "x y  z")
        .with("EMPTY", "")
        .with("ONE", "1");
    let r = read_str("fuzz.cfg", &text, &env);
    for l in &r.lines {
        assert!(!l.words.is_empty());
        assert!(!l.words[0].is_empty());
        assert!(l.words.last().is_some_and(|w| !w.is_empty()));
    }
    // The same bytes as a `-cc` condition.
    let _ = eval_condition(&text, &env);
});
