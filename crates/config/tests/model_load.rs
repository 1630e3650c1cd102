//! The public entry points `load` and `load_str`, as the CLI and the engine call them.

use fulcrum_config::reader::ProcessEnv;
use fulcrum_config::{load, load_str, Level};
use std::path::PathBuf;

#[test]
fn no_file_is_an_error() {
    let l = load(&[], &ProcessEnv);
    assert!(l.config.is_none());
    assert_eq!(l.diagnostics.errors().count(), 1);
}

#[test]
fn an_unreadable_file_is_an_error() {
    let l = load(&[PathBuf::from("/nonexistent/haproxy.cfg")], &ProcessEnv);
    assert!(l.config.is_none());
    assert!(l
        .diagnostics
        .errors()
        .any(|d| d.to_string().contains("/nonexistent/haproxy.cfg")));
}

#[test]
fn several_files_merge_and_findings_follow_reading_order() {
    let dir = tempfile::tempdir().unwrap();
    let (z, a) = (dir.path().join("z.cfg"), dir.path().join("a.cfg"));
    std::fs::write(&z, "global\nnbproc 2\ndefaults\nmode http\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\n").unwrap();
    std::fs::write(
        &a,
        "frontend f\nbind :80\ndefault_backend b\nbackend b\nclitimeout 5\nserver s 127.0.0.1:1\n",
    )
    .unwrap();
    let l = load(&[z.clone(), a.clone()], &ProcessEnv);
    let w: Vec<String> = l
        .diagnostics
        .items
        .iter()
        .filter(|d| d.level == Level::Warning)
        .map(|d| d.span.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].ends_with("z.cfg:2"), "{w:?}");
    assert!(w[1].ends_with("a.cfg:5"), "{w:?}");
    let c = l.config.unwrap();
    assert_eq!(c.global.threads(), Some(2));
    assert_eq!(
        c.frontend("f").unwrap().mode,
        fulcrum_config::model::Mode::Http,
        "defaults from the first file apply"
    );
    assert_eq!(l.lines.len(), 13);
}

#[test]
fn valid_text_gives_a_config_and_no_alert() {
    let l = load_str("ok.cfg", "defaults\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\nlisten l\nbind :80\nserver s 127.0.0.1:81\n", &ProcessEnv);
    assert!(l.is_valid());
    assert!(
        l.diagnostics.items.iter().all(|d| d.level < Level::Warning),
        "{:?}",
        l.diagnostics
    );
}

#[test]
fn unknown_or_valueless_bind_and_server_words_are_named_with_a_hint() {
    let l = load_str(
        "words.cfg",
        "defaults\ntimeout client 1s\ntimeout server 1s\ntimeout connect 1s\n\
         default-server wieght 3\nlisten l\nbind :80 bakclog 10\nbind :81 backlog\n\
         server s 127.0.0.1:81 zzzzzz 1\nserver t 127.0.0.1:82 weight\n",
        &ProcessEnv,
    );
    let errors: Vec<(String, Option<String>)> = l
        .diagnostics
        .errors()
        .map(|d| (d.message.clone(), d.hint.clone()))
        .collect();
    let hint = |s: &str| Some(s.to_string());
    assert_eq!(
        errors,
        [
            (
                "'default-server': unknown setting 'wieght'".to_string(),
                hint("did you mean 'weight'?")
            ),
            (
                "'bind': unknown option 'bakclog'".to_string(),
                hint("did you mean 'backlog'?")
            ),
            ("'bind … backlog' expects a value".to_string(), None),
            ("'server': unknown setting 'zzzzzz'".to_string(), None),
            ("'server … weight' expects a value".to_string(), None),
        ]
    );
}
