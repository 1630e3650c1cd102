//! The reader: configuration files → logical lines of words (HAProxy configuration.txt §2).
//!
//! Contract used by every later stage: [`read_paths`] returns the lines that survive
//! `.if` blocks, in order, with quotes, escapes and variables already resolved, and every
//! `#` comment removed. Every problem is a [`Diagnostic`] at its `file:line`, and reading
//! goes on after each one so that all of them are reported in one run.
//!
//! - [`lexer`]: one line → words (quoting, escapes, `"${VAR}"`);
//! - [`cond`]: the `.if` condition language, also behind `fulcrum -cc`;
//! - [`blocks`]: the `.if`/`.elif`/`.else`/`.endif` stack;
//! - [`files`]: `-f` paths and directories → files.

mod blocks;
mod cond;
mod files;
mod lexer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{closest, Diagnostic, Level, Span};

pub use cond::{eval_condition, COMPAT_VERSION, FEATURES, PREDICATES};

/// One configuration line after HAProxy's word splitting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub span: Span,
    /// Words after quoting, escapes and `"${VAR}"` expansion; never empty. The first and
    /// last words are never `""`; one in between may be (`a "" b`), as in HAProxy.
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
    pub files: Vec<PathBuf>,
}

/// Environment lookup, injectable so tests do not depend on the process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment. A value that is not UTF-8 is still defined (lossily decoded).
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        if name.is_empty() || name.contains(['=', '\0']) {
            return None;
        }
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

/// A fixed set of variables, for tests and for callers that build their own environment.
#[derive(Clone, Debug, Default)]
pub struct MapEnv {
    vars: HashMap<String, String>,
}

impl MapEnv {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds or replaces a variable.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MapEnv {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        MapEnv {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

/// The variables HAProxy itself defines while reading, over the caller's environment.
struct WithCfgFiles<'a> {
    base: &'a dyn Env,
    cfgfiles: String,
}

impl Env for WithCfgFiles<'_> {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "HAPROXY_CFGFILES" => Some(self.cfgfiles.clone()),
            _ => self.base.var(name),
        }
    }
}

/// Reads every path (a file, or a directory whose `*.cfg` files are read in lexical order).
/// `HAPROXY_CFGFILES` is defined while reading, as the files' names joined with `;`.
pub fn read_paths(paths: &[PathBuf], env: &dyn Env) -> ReadResult {
    let mut out = ReadResult::default();
    let mut names = Vec::new();
    for p in paths {
        names.extend(files::expand(p, &mut out.diagnostics));
    }
    let env = WithCfgFiles {
        base: env,
        cfgfiles: names
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(";"),
    };
    for path in names {
        let (text, lossy) = match files::read_text(&path) {
            Ok(t) => t,
            Err(e) => {
                out.diagnostics.push(
                    Diagnostic::new(
                        Level::Alert,
                        None,
                        format!("cannot read configuration file '{}': {e}", path.display()),
                    )
                    .with_hint("check the path given with -f and its permissions"),
                );
                continue;
            }
        };
        let name = path.display().to_string();
        let r = read_text(&name, &text, &env, lossy);
        out.lines.extend(r.lines);
        out.diagnostics.extend(r.diagnostics);
        if !text.is_empty() && !text.ends_with('\n') {
            let last = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
            out.diagnostics.push(
                Diagnostic::warning(
                    &Span::new(name.as_str(), last),
                    "missing LF on last line, file might have been truncated",
                )
                .with_hint("end the file with a newline"),
            );
        }
        out.files.push(path);
    }
    out
}

/// Reads one file's text; `file` is the name used in spans.
pub fn read_str(file: &str, text: &str, env: &dyn Env) -> ReadResult {
    read_text(file, text, env, false)
}

/// Splits one line into words exactly as the reader does (comments, quotes, escapes,
/// `"${VAR}"`), without `.if` handling: for tools that check how a written word reads
/// back. The error is the reader's message and hint, joined by `; `.
pub fn split_line(line: &str, env: &dyn Env) -> Result<Vec<String>, String> {
    let ctx = lexer::LexCtx {
        env,
        file: "",
        line: 0,
        section: "",
        comments: true,
    };
    lexer::split(line, &ctx)
        .map(|l| l.words)
        .map_err(|e| format!("{}; {}", e.message, e.hint))
}

const DIRECTIVES: &[&str] = &[
    ".if", ".elif", ".else", ".endif", ".diag", ".notice", ".warning", ".alert",
];

fn read_text(file: &str, text: &str, env: &dyn Env, lossy: bool) -> ReadResult {
    let mut r = FileReader {
        file: file.into(),
        env,
        lossy,
        section: String::new(),
        blocks: blocks::Blocks::default(),
        out: ReadResult::default(),
    };
    let mut last = 0;
    for (i, raw) in text.lines().enumerate() {
        last = u32::try_from(i + 1).unwrap_or(u32::MAX);
        r.line(last, raw);
    }
    let mut out = r.out;
    out.diagnostics.extend(r.blocks.finish(last));
    out
}

struct FileReader<'a> {
    file: Arc<str>,
    env: &'a dyn Env,
    /// The file was not UTF-8: words holding U+FFFD are reported.
    lossy: bool,
    /// The current section's name (or keyword), for `.SECTION`.
    section: String,
    blocks: blocks::Blocks,
    out: ReadResult,
}

impl FileReader<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.out.diagnostics.push(d);
    }

    fn line(&mut self, n: u32, raw: &str) {
        let span = Span {
            file: self.file.clone(),
            line: n,
        };
        let body = raw.trim_start_matches(|c: char| c.is_ascii() && lexer::is_blank(c as u8));
        if body.starts_with('[') {
            // A scope line (`[name]`): HAProxy only uses it to label its own messages.
            if !body.contains(']') {
                self.push(
                    Diagnostic::alert(&span, "missing ']' in scope line")
                        .with_hint("write '[name]' alone on its line"),
                );
            }
            return;
        }
        let ctx = lexer::LexCtx {
            env: self.env,
            file: &self.file,
            line: n,
            section: &self.section,
            comments: true,
        };
        let lexed = match lexer::split(raw, &ctx) {
            Ok(l) => l,
            Err(e) => {
                // Reported even inside a masked block: HAProxy splits every line first.
                self.push(Diagnostic::alert(&span, e.message).with_hint(e.hint));
                return;
            }
        };
        let words = lexed.words;
        let Some(first) = words.first() else {
            return;
        };
        let active = self.blocks.active();
        if matches!(first.as_str(), ".if" | ".elif" | ".else" | ".endif") {
            if active {
                self.notes(&span, lexed.notes);
            }
            self.block_directive(&span, &words);
            return;
        }
        if !active {
            return;
        }
        self.notes(&span, lexed.notes);
        if first.is_empty() {
            self.push(
                Diagnostic::new(Level::Diag, Some(span), "line ignored: its first word is empty")
                    .with_hint("remove the empty quotes at the start of the line, or set the variable they hold"),
            );
            return;
        }
        if first.starts_with('.') {
            self.message_directive(&span, &words);
            return;
        }
        if crate::parse::is_section_keyword(first) {
            self.section = words.get(1).unwrap_or(first).clone();
        }
        if self.lossy && words.iter().any(|w| w.contains('\u{FFFD}')) {
            self.push(
                Diagnostic::warning(
                    &span,
                    "this line holds bytes that are not valid UTF-8; each was replaced by U+FFFD",
                )
                .with_hint("save the file as UTF-8"),
            );
        }
        self.out.lines.push(SourceLine {
            span,
            words,
            raw: raw.to_string(),
        });
    }

    fn notes(&mut self, span: &Span, notes: Vec<lexer::Note>) {
        for n in notes {
            let mut d = Diagnostic::new(n.level, Some(span.clone()), n.message);
            d.hint = n.hint;
            self.push(d);
        }
    }

    fn block_directive(&mut self, span: &Span, words: &[String]) {
        let name = words[0].as_str();
        // HAProxy evaluates the words after the directive joined back with single spaces.
        let expr = words[1..].join(" ");
        let env = self.env;
        let eval = || {
            cond::eval(&expr, env).map_err(|e| {
                Diagnostic::alert(span, format!("{} in '{name}'", e.message)).with_hint(e.hint)
            })
        };
        let d = match name {
            ".if" => self.blocks.open_if(span, eval),
            ".elif" => self.blocks.elif(span, eval),
            _ => {
                if let Some(extra) = words.get(1) {
                    self.push(
                        Diagnostic::alert(
                            span,
                            format!("unexpected argument '{extra}' for '{name}'"),
                        )
                        .with_hint(format!(
                            "write '{name}' alone on its line; comments start with '#'"
                        )),
                    );
                }
                if name == ".else" {
                    self.blocks.else_(span)
                } else {
                    self.blocks.endif(span)
                }
            }
        };
        if let Some(d) = d {
            self.push(d);
        }
    }

    /// `.diag`, `.notice`, `.warning`, `.alert` "message", or an unknown directive.
    fn message_directive(&mut self, span: &Span, words: &[String]) {
        let name = words[0].as_str();
        let level = match name {
            ".diag" => Level::Diag,
            ".notice" => Level::Notice,
            ".warning" => Level::Warning,
            ".alert" => Level::Alert,
            _ => {
                let hint = match closest(name, DIRECTIVES.iter().copied()) {
                    Some(c) => format!("did you mean '{c}'?"),
                    None => format!("the directives are {}", DIRECTIVES.join(", ")),
                };
                self.push(
                    Diagnostic::alert(span, format!("unknown directive '{name}'")).with_hint(hint),
                );
                return;
            }
        };
        if let Some(extra) = words.get(2) {
            self.push(
                Diagnostic::alert(span, format!("unexpected argument '{extra}' for '{name}'"))
                    .with_hint(format!(
                        "use quotes if the message should contain spaces: {name} \"your message\""
                    )),
            );
            return;
        }
        let text = words.get(1).cloned().unwrap_or_default();
        self.push(Diagnostic::new(level, Some(span.clone()), text));
    }
}
