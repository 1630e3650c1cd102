//! The reader: configuration files → logical lines of words (HAProxy configuration.txt §2).
//!
//! OWNER: reader helper. Contract used by every later stage:
//! [`read_paths`] returns the lines that survive `.if` blocks, in order, with quotes,
//! escapes and variables already resolved, and every `#` comment removed.

use crate::diag::{Diagnostic, Span};

/// One configuration line after HAProxy's word splitting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub span: Span,
    /// Words after quoting, escapes and `${VAR}` expansion; never empty.
    pub words: Vec<String>,
    /// The line exactly as written (without the trailing newline), for `migrate`.
    pub raw: String,
}

/// Everything read from a set of `-f` paths.
#[derive(Clone, Debug, Default)]
pub struct ReadResult {
    pub lines: Vec<SourceLine>,
    /// Problems found while reading (bad quoting, unknown `.if` predicate, `.alert`,
    /// unreadable file, …). Reading continues after each so all are reported at once.
    pub diagnostics: Vec<Diagnostic>,
    /// The files actually read, in order (directories expanded to their `*.cfg`).
    pub files: Vec<std::path::PathBuf>,
}

/// Environment lookup, injectable so tests do not depend on the process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Reads every path (a file, or a directory whose `*.cfg` files are read in lexical order).
pub fn read_paths(paths: &[std::path::PathBuf], env: &dyn Env) -> ReadResult {
    let mut out = ReadResult::default();
    for p in paths {
        match std::fs::read_to_string(p) {
            Ok(text) => {
                let r = read_str(&p.display().to_string(), &text, env);
                out.lines.extend(r.lines);
                out.diagnostics.extend(r.diagnostics);
                out.files.push(p.clone());
            }
            Err(e) => out.diagnostics.push(Diagnostic::new(
                crate::diag::Level::Alert,
                None,
                format!("cannot read '{}': {e}", p.display()),
            )),
        }
    }
    out
}

/// Reads one file's text; `file` is the name used in spans.
/// Placeholder splitter (whitespace, `#` comments) until the real reader lands.
pub fn read_str(file: &str, text: &str, _env: &dyn Env) -> ReadResult {
    let file: std::sync::Arc<str> = file.into();
    let mut out = ReadResult::default();
    for (i, raw) in text.lines().enumerate() {
        let body = raw.split('#').next().unwrap_or("");
        let words: Vec<String> = body.split_whitespace().map(str::to_string).collect();
        if !words.is_empty() {
            out.lines.push(SourceLine {
                span: Span {
                    file: file.clone(),
                    line: i as u32 + 1,
                },
                words,
                raw: raw.to_string(),
            });
        }
    }
    out
}
