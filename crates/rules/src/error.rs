//! The crate's one error type: what failed to compile, and where.

use fulcrum_config::diag::{Diagnostic, Span};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{span}: {message}")]
pub struct RuleError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

impl RuleError {
    pub fn new(span: &Span, message: impl Into<String>) -> Self {
        RuleError {
            span: span.clone(),
            message: message.into(),
            hint: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// As a configuration diagnostic (`[ALERT]` at the rule's line).
    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::alert(&self.span, self.message.clone());
        match &self.hint {
            Some(h) => d.with_hint(h.clone()),
            None => d,
        }
    }
}
