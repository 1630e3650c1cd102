//! Fulcrum's configuration stage: HAProxy configuration text → typed, validated model.
//!
//! The stages, in the order the data flows:
//! - [`reader`]: files → [`reader::SourceLine`]s (HAProxy §2 quoting, escapes,
//!   environment variables, `.if` blocks), each with its `file:line`;
//! - [`parse`]: lines → [`model::Config`], one typed value per keyword, with
//!   `defaults` inheritance applied as HAProxy does;
//! - [`validate`]: whole-config checks (names, references, files), all errors at once.
//!
//! Nothing here opens a socket; diagnostics are values ([`diag::Diagnostic`]).

pub mod diag;
pub mod logformat;
pub mod migrate;
pub mod model;
pub mod parse;
pub mod reader;
pub mod rules;
pub mod validate;

pub use diag::{Diagnostic, Diagnostics, Level, Span};

use reader::{Env, ReadResult, SourceLine};
use std::path::PathBuf;

/// What loading a configuration gives: the model when it is valid, every finding,
/// and the lines read (for `migrate` and for showing context).
#[derive(Clone, Debug)]
pub struct Loaded {
    /// `None` when any diagnostic is an alert.
    pub config: Option<model::Config>,
    pub diagnostics: Diagnostics,
    pub lines: Vec<SourceLine>,
}

impl Loaded {
    pub fn is_valid(&self) -> bool {
        self.config.is_some()
    }
}

/// Loads the files (or directories of `*.cfg`) given with `-f`, in order.
pub fn load(paths: &[PathBuf], env: &dyn Env) -> Loaded {
    let mut d = Diagnostics::default();
    if paths.is_empty() {
        d.push(Diagnostic::new(
            Level::Alert,
            None,
            "no configuration file given (use -f FILE)",
        ));
    }
    finish(reader::read_paths(paths, env), d)
}

/// Loads one configuration text; `name` is the file name used in diagnostics.
pub fn load_str(name: &str, text: &str, env: &dyn Env) -> Loaded {
    finish(reader::read_str(name, text, env), Diagnostics::default())
}

fn finish(read: ReadResult, mut d: Diagnostics) -> Loaded {
    d.extend(read.diagnostics);
    let cfg = parse::parse_lines(&read.lines, &mut d);
    validate::validate(&cfg, &mut d);
    // Stable order for people and tests: by file position, whole-config findings first.
    d.items.sort_by(|a, b| {
        let key = |x: &Diagnostic| x.span.as_ref().map(|s| (s.file.clone(), s.line));
        key(a).cmp(&key(b))
    });
    Loaded {
        config: (!d.has_errors()).then_some(cfg),
        diagnostics: d,
        lines: read.lines,
    }
}
