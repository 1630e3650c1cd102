//! The global section's `set-var NAME EXPR` and `set-var-fmt NAME FMT`
//! (configuration.txt §3.1): `proc.` variables set once, when the configuration
//! is loaded, from expressions that need no traffic (`str()`, `int()`, `env()`…).

use super::args::{check_var_name, lf};
use super::parse_sample_expr;
use crate::diag::{Diagnostic, Span};
use crate::logformat::LogFormat;

/// One global `set-var`/`set-var-fmt` line.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalVar {
    /// `proc.NAME`.
    pub name: String,
    pub value: GlobalVarValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum GlobalVarValue {
    Expr(super::SampleExpr),
    Fmt(LogFormat),
}

/// `set-var NAME EXPR` (`fmt` false) or `set-var-fmt NAME FMT`: the words after the keyword.
pub fn parse_global_var(fmt: bool, args: &[String], span: &Span) -> Result<GlobalVar, Diagnostic> {
    let kw = if fmt { "set-var-fmt" } else { "set-var" };
    let [name, value] = args else {
        let what = if fmt {
            "a format"
        } else {
            "a sample expression"
        };
        return Err(Diagnostic::alert(
            span,
            format!("'{kw}' expects a variable name and {what}"),
        ));
    };
    check_var_name(name, span)?;
    if !name.starts_with("proc.") {
        return Err(Diagnostic::alert(
            span,
            format!(
                "'{kw}': only 'proc.' variables may be set in the global section, found '{name}'"
            ),
        ));
    }
    let value = if fmt {
        GlobalVarValue::Fmt(lf(value, span)?)
    } else {
        GlobalVarValue::Expr(parse_sample_expr(value, span)?)
    };
    Ok(GlobalVar {
        name: name.clone(),
        value,
        span: span.clone(),
    })
}
