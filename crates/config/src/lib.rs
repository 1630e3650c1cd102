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
use std::collections::{HashMap, HashSet};
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
    order(&mut d, &read.lines);
    Loaded {
        config: (!d.has_errors()).then_some(cfg),
        diagnostics: d,
        lines: read.lines,
    }
}

/// Findings in reading order (whole-config ones first), each once: settings copied
/// from a `defaults` section are checked in every proxy that copies them.
fn order(d: &mut Diagnostics, lines: &[SourceLine]) {
    let mut file_rank: HashMap<&str, usize> = HashMap::new();
    for l in lines {
        let n = file_rank.len();
        file_rank.entry(&l.span.file).or_insert(n);
    }
    let key = |x: &Diagnostic| {
        x.span.as_ref().map(|s| {
            let rank = file_rank.get(&*s.file).copied().unwrap_or(usize::MAX);
            (rank, s.line)
        })
    };
    d.items.sort_by_key(|x| key(x));
    let mut seen = HashSet::new();
    d.items.retain(|x| seen.insert(x.to_string()));
}
