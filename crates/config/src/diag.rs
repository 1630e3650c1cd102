//! Diagnostics: what is wrong, where (`file:line`), and what to write instead.

use std::fmt;
use std::sync::Arc;

/// Where a configuration line comes from. Cheap to clone: the file name is shared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<str>,
    /// 1-based line number.
    pub line: u32,
}

impl Span {
    pub fn new(file: impl Into<Arc<str>>, line: u32) -> Self {
        Span {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Severity, with HAProxy's words: `[ALERT]` makes the configuration invalid,
/// the others do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Diag,
    Notice,
    Warning,
    Alert,
}

impl Level {
    pub fn tag(self) -> &'static str {
        match self {
            Level::Diag => "DIAG",
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Alert => "ALERT",
        }
    }
}

/// One finding about the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    /// `None` for findings about the whole configuration (e.g. no file given).
    pub span: Option<Span>,
    /// What is wrong, in one sentence, e.g. `unknown keyword 'balanse' in 'backend' section`.
    pub message: String,
    /// What to write instead, e.g. `did you mean 'balance'?` or `write 'timeout connect 5000'`.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(level: Level, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            level,
            span,
            message: message.into(),
            hint: None,
        }
    }
    pub fn alert(span: &Span, message: impl Into<String>) -> Self {
        Self::new(Level::Alert, Some(span.clone()), message)
    }
    pub fn warning(span: &Span, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, Some(span.clone()), message)
    }
    pub fn notice(span: &Span, message: impl Into<String>) -> Self {
        Self::new(Level::Notice, Some(span.clone()), message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.level == Level::Alert
    }
}

impl fmt::Display for Diagnostic {
    /// `[ALERT]    (file:line) : message; hint`, close to HAProxy's own layout so
    /// that scripts grepping `[ALERT]` keep working.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = format!("[{}]", self.level.tag());
        write!(f, "{tag:<10}")?;
        if let Some(span) = &self.span {
            write!(f, " ({span}) :")?;
        } else {
            write!(f, " :")?;
        }
        write!(f, " {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// A bag of findings, collected across all stages so that every problem is
/// reported in one run.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.level == Level::Warning)
    }
}

/// "Did you mean" helper shared by every stage: the closest candidate within a
/// small edit distance, or `None`.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let max = (word.len() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes; keywords are ASCII.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(!ca.eq_ignore_ascii_case(cb));
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_file_line_and_hint() {
        let d = Diagnostic::alert(&Span::new("h.cfg", 7), "unknown keyword 'balanse'")
            .with_hint("did you mean 'balance'?");
        assert_eq!(
            d.to_string(),
            "[ALERT]    (h.cfg:7) : unknown keyword 'balanse' (did you mean 'balance'?)"
        );
    }

    #[test]
    fn closest_finds_typos_only() {
        let kw = ["balance", "server", "timeout"];
        assert_eq!(closest("balanse", kw), Some("balance"));
        assert_eq!(closest("zzzzzzz", kw), None);
    }
}
