//! The `.if` / `.elif` / `.else` / `.endif` stack of one file (configuration.txt §2.4).
//! Blocks never span files: each file starts with an empty stack.

use crate::diag::{Diagnostic, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Branch {
    /// This branch's lines are used.
    Take,
    /// No branch taken yet: a later `.elif` or `.else` may still be.
    Wait,
    /// A branch was taken already, the enclosing block is masked, or the condition was
    /// invalid: nothing more of this block is used.
    Skip,
}

#[derive(Debug)]
struct Frame {
    branch: Branch,
    seen_else: bool,
    opened: Span,
}

#[derive(Debug, Default)]
pub(crate) struct Blocks {
    stack: Vec<Frame>,
}

impl Blocks {
    /// Whether lines outside directives are used right now.
    pub fn active(&self) -> bool {
        !matches!(self.stack.last(), Some(f) if f.branch != Branch::Take)
    }

    /// `eval` runs only when the block could be taken, as HAProxy skips masked conditions.
    pub fn open_if(
        &mut self,
        span: &Span,
        eval: impl FnOnce() -> Result<bool, Diagnostic>,
    ) -> Option<Diagnostic> {
        let (branch, diag) = if self.active() {
            match eval() {
                Ok(true) => (Branch::Take, None),
                Ok(false) => (Branch::Wait, None),
                Err(d) => (Branch::Skip, Some(d)),
            }
        } else {
            (Branch::Skip, None)
        };
        self.stack.push(Frame {
            branch,
            seen_else: false,
            opened: span.clone(),
        });
        diag
    }

    pub fn elif(
        &mut self,
        span: &Span,
        eval: impl FnOnce() -> Result<bool, Diagnostic>,
    ) -> Option<Diagnostic> {
        let Some(top) = self.stack.last_mut() else {
            return Some(lone(span, ".elif"));
        };
        if top.seen_else {
            top.branch = Branch::Skip;
            return Some(
                Diagnostic::alert(span, "'.elif' after '.else' is not permitted")
                    .with_hint("move this '.elif' before the '.else' of its block"),
            );
        }
        match top.branch {
            Branch::Take | Branch::Skip => {
                top.branch = Branch::Skip;
                None
            }
            Branch::Wait => match eval() {
                Ok(v) => {
                    top.branch = if v { Branch::Take } else { Branch::Wait };
                    None
                }
                Err(d) => {
                    top.branch = Branch::Skip;
                    Some(d)
                }
            },
        }
    }

    pub fn else_(&mut self, span: &Span) -> Option<Diagnostic> {
        let Some(top) = self.stack.last_mut() else {
            return Some(lone(span, ".else"));
        };
        if top.seen_else {
            top.branch = Branch::Skip;
            return Some(
                Diagnostic::alert(span, "'.else' after '.else' is not permitted").with_hint(
                    "a block has at most one '.else'; use '.elif <condition>' for more branches",
                ),
            );
        }
        top.seen_else = true;
        top.branch = match top.branch {
            Branch::Wait => Branch::Take,
            Branch::Take | Branch::Skip => Branch::Skip,
        };
        None
    }

    pub fn endif(&mut self, span: &Span) -> Option<Diagnostic> {
        match self.stack.pop() {
            Some(_) => None,
            None => Some(lone(span, ".endif")),
        }
    }

    /// At the end of the file: one alert per block still open, at its `.if`.
    pub fn finish(self, last_line: u32) -> Vec<Diagnostic> {
        self.stack
            .into_iter()
            .map(|f| {
                Diagnostic::alert(
                    &f.opened,
                    format!("non-terminated '.if' block (the file ends at line {last_line})"),
                )
                .with_hint("close the block with '.endif' in the same file")
            })
            .collect()
    }
}

fn lone(span: &Span, what: &str) -> Diagnostic {
    Diagnostic::alert(span, format!("lone '{what}' with no matching '.if'")).with_hint(format!(
        "remove this '{what}' or open the block with '.if <condition>'"
    ))
}
