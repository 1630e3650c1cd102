//! 1.x rule directives (`block`, `reqadd`, `reqrep`, …), kept with their old meaning so
//! old configurations keep working; each comes with a warning naming the modern form.
//! `redirect` shares their place in the processing order but is still a keyword of
//! HAProxy 2.6 (configuration.txt `redirect location|prefix|scheme`): no warning.

use super::acl::split_condition;
use super::action::{HttpAction, HttpPhase, HttpRule, Redirect};
use super::args::{parse_redirect, Args};
use crate::diag::{Diagnostic, Level, Span};

/// What a legacy directive does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegacyOp {
    /// `block`: 403, before the `http-request` rules.
    Block,
    /// `redirect …`: after the `http-request` and `req*` rules.
    Redirect(Redirect),
    /// `reqadd`/`rspadd`: append the header line `Name: value`.
    Add(String),
    /// `reqrep`/`rsprep`: replace in every header line (and the request/status line).
    Replace { regex: String, replace: String },
    /// `reqdel`/`rspdel`: remove every matching header line.
    Delete { regex: String },
    /// `reqdeny`/`rspdeny`: 403 (502 for responses) if a line matches.
    Deny { regex: String },
    /// `reqallow`: stop evaluating legacy deny rules if a line matches.
    Allow { regex: String },
    /// `reqtarpit`: tarpit if a line matches.
    Tarpit { regex: String },
    /// `reqpass`: nothing happens if a line matches; later rules still run.
    Pass { regex: String },
    /// `reqsetbe REGEX BACKEND`: use this backend if a line matches.
    SetBackend { regex: String, backend: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Legacy {
    pub keyword: String,
    pub op: LegacyOp,
    /// `req*i*` / `rsp*i*`: case-insensitive regex.
    pub icase: bool,
}

/// `(op kind, response side, icase)` for `req*`/`rsp*` keywords.
fn classify(keyword: &str) -> Option<(&'static str, bool, bool)> {
    let (rest, response) = if let Some(r) = keyword.strip_prefix("req") {
        (r, false)
    } else {
        (keyword.strip_prefix("rsp")?, true)
    };
    let (rest, icase) = match rest.strip_prefix('i') {
        Some(r) if !r.is_empty() => (r, true),
        _ => (rest, false),
    };
    let op = [
        "add", "rep", "del", "deny", "allow", "tarpit", "pass", "setbe",
    ]
    .into_iter()
    .find(|o| *o == rest)?;
    if (icase && op == "add") || (response && matches!(op, "allow" | "tarpit" | "pass" | "setbe")) {
        return None;
    }
    Some((op, response, icase))
}

fn modern(keyword: &str, op: &str, response: bool) -> String {
    let side = if response {
        "http-response"
    } else {
        "http-request"
    };
    match op {
        "block" => "http-request deny".into(),
        "add" => format!("{side} add-header"),
        "rep" => format!("{side} replace-header (or http-request replace-path / set-uri)"),
        "del" => format!("{side} del-header"),
        "deny" => format!("{side} deny if {{ ... -m reg ... }}"),
        "allow" => "http-request allow".into(),
        "tarpit" => "http-request tarpit".into(),
        "setbe" => "use_backend BACKEND if { ... -m reg ... }".into(),
        _ => format!("a {side} rule ('{keyword}' has no effect)"),
    }
}

/// A legacy rule line: `keyword` is the directive, `words` what follows it. The
/// diagnostic is a warning naming the modern form, except for `redirect` (a
/// [`Level::Diag`] note on its order, since it is no legacy keyword).
pub fn parse_legacy(
    keyword: &str,
    words: &[String],
    span: &Span,
) -> Result<(HttpRule, Diagnostic), Diagnostic> {
    let (before, cond) = split_condition(words, span)?;
    let need = |n: usize| -> Result<(), Diagnostic> {
        if before.len() == n {
            Ok(())
        } else {
            Err(Diagnostic::alert(
                span,
                format!(
                    "'{keyword}' expects {n} argument(s) before 'if'/'unless', {} given",
                    before.len()
                ),
            ))
        }
    };
    let (op, response, icase, kind) = match keyword {
        "block" => {
            need(0)?;
            (LegacyOp::Block, false, false, "block")
        }
        "redirect" => {
            let mut a = Args {
                action: "redirect",
                words: &before,
                pos: 0,
                span,
            };
            let r = parse_redirect(&mut a)?;
            (LegacyOp::Redirect(r), false, false, "redirect")
        }
        _ => {
            let Some((kind, response, icase)) = classify(keyword) else {
                return Err(Diagnostic::alert(
                    span,
                    format!("unknown legacy directive '{keyword}'"),
                ));
            };
            let op = match kind {
                "add" => {
                    need(1)?;
                    LegacyOp::Add(before[0].clone())
                }
                "rep" => {
                    need(2)?;
                    LegacyOp::Replace {
                        regex: before[0].clone(),
                        replace: before[1].clone(),
                    }
                }
                "setbe" => {
                    need(2)?;
                    LegacyOp::SetBackend {
                        regex: before[0].clone(),
                        backend: before[1].clone(),
                    }
                }
                _ => {
                    need(1)?;
                    let regex = before[0].clone();
                    match kind {
                        "del" => LegacyOp::Delete { regex },
                        "deny" => LegacyOp::Deny { regex },
                        "allow" => LegacyOp::Allow { regex },
                        "tarpit" => LegacyOp::Tarpit { regex },
                        _ => LegacyOp::Pass { regex },
                    }
                }
            };
            (op, response, icase, kind)
        }
    };
    let warning = if keyword == "redirect" {
        // Only shown in diagnostic mode (`-dD`): the order is HAProxy's, but surprising.
        Diagnostic::new(
            Level::Diag,
            Some(span.clone()),
            "'redirect' runs after the 'http-request' rules of its proxy, wherever it is written",
        )
    } else {
        Diagnostic::warning(
            span,
            format!("'{keyword}' is a 1.x directive, still executed with its old meaning"),
        )
        .with_hint(format!(
            "write '{}' instead",
            modern(keyword, kind, response)
        ))
    };
    let rule = HttpRule {
        span: span.clone(),
        phase: if response {
            HttpPhase::Response
        } else {
            HttpPhase::Request
        },
        action: HttpAction::Legacy(Legacy {
            keyword: keyword.to_string(),
            op,
            icase,
        }),
        cond,
    };
    Ok((rule, warning))
}
