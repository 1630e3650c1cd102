//! The rule language's syntax tree: ACLs, sample expressions, conditions and actions.
//!
//! OWNER: rules helper. The section parser (`crate::parse`) calls the `parse_*`
//! entry points below with the words *after* the keyword (e.g. for
//! `http-request deny if bad` it passes `["deny", "if", "bad"]`). Their
//! signatures are a contract; the types' insides belong to the rules helper.
//! `fulcrum-rules` compiles this tree (regexes, map files, fetch lookup) and evaluates it.

use crate::diag::{Diagnostic, Span};

/// `acl NAME FETCH[,CONV…] [flags] VALUE…` (placeholder until the real AST lands).
#[derive(Clone, Debug, PartialEq)]
pub struct AclDef {
    pub name: String,
    pub span: Span,
    pub words: Vec<String>,
}

/// `if|unless TERM…` (placeholder).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub words: Vec<String>,
}

/// One `http-request` / `http-response` / `http-after-response` rule (placeholder).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRule {
    pub span: Span,
    pub words: Vec<String>,
}

/// One `tcp-request connection|session|content` or `tcp-response content` rule,
/// or `tcp-request inspect-delay` (placeholder).
#[derive(Clone, Debug, PartialEq)]
pub struct TcpRule {
    pub span: Span,
    pub words: Vec<String>,
}

/// `use_backend NAME|%[expr] [if|unless COND]` and `use-server NAME [if|unless COND]`.
#[derive(Clone, Debug, PartialEq)]
pub struct UseTarget {
    pub span: Span,
    pub words: Vec<String>,
}

fn placeholder_rule(words: &[String], span: &Span) -> (Span, Vec<String>) {
    (span.clone(), words.to_vec())
}

/// Words after `acl`.
pub fn parse_acl(words: &[String], span: &Span) -> Result<AclDef, Diagnostic> {
    let name = words
        .first()
        .cloned()
        .ok_or_else(|| Diagnostic::alert(span, "'acl' needs a name"))?;
    Ok(AclDef {
        name,
        span: span.clone(),
        words: words.to_vec(),
    })
}

/// Words starting with `if` or `unless`.
pub fn parse_condition(words: &[String], _span: &Span) -> Result<Condition, Diagnostic> {
    Ok(Condition {
        words: words.to_vec(),
    })
}

/// Words after `http-request`.
pub fn parse_http_request(words: &[String], span: &Span) -> Result<HttpRule, Diagnostic> {
    let (span, words) = placeholder_rule(words, span);
    Ok(HttpRule { span, words })
}

/// Words after `http-response`.
pub fn parse_http_response(words: &[String], span: &Span) -> Result<HttpRule, Diagnostic> {
    let (span, words) = placeholder_rule(words, span);
    Ok(HttpRule { span, words })
}

/// Words after `http-after-response`.
pub fn parse_http_after_response(words: &[String], span: &Span) -> Result<HttpRule, Diagnostic> {
    let (span, words) = placeholder_rule(words, span);
    Ok(HttpRule { span, words })
}

/// Words after `tcp-request`.
pub fn parse_tcp_request(words: &[String], span: &Span) -> Result<TcpRule, Diagnostic> {
    let (span, words) = placeholder_rule(words, span);
    Ok(TcpRule { span, words })
}

/// Words after `tcp-response`.
pub fn parse_tcp_response(words: &[String], span: &Span) -> Result<TcpRule, Diagnostic> {
    let (span, words) = placeholder_rule(words, span);
    Ok(TcpRule { span, words })
}

/// Words after `use_backend` (or `use-server`).
pub fn parse_use_target(words: &[String], span: &Span) -> Result<UseTarget, Diagnostic> {
    let (span, words) = placeholder_rule(words, span);
    Ok(UseTarget { span, words })
}

/// A legacy 1.x rule line (`block`, `redirect`, `reqadd`, `reqrep`, `reqdel`, `reqirep`,
/// `reqideny`, `reqdeny`, `reqallow`, `reqiallow`, `rspadd`, `rsprep`, `rspdel`, …):
/// `keyword` is the directive, `words` what follows it. Returns the rule with its
/// 1.x meaning, executed by `fulcrum-rules`, plus the warning naming the modern form.
pub fn parse_legacy(
    keyword: &str,
    words: &[String],
    span: &Span,
) -> Result<(HttpRule, Diagnostic), Diagnostic> {
    let mut all = vec![keyword.to_string()];
    all.extend_from_slice(words);
    let (span2, all) = placeholder_rule(&all, span);
    Ok((
        HttpRule {
            span: span2,
            words: all,
        },
        Diagnostic::warning(span, format!("'{keyword}' is deprecated")),
    ))
}

/// A sample expression `FETCH[(ARGS)][,CONV[(ARGS)]…]` as used by `stick on`, `balance hash`,
/// `capture request`, `track-sc*` (placeholder).
#[derive(Clone, Debug, PartialEq)]
pub struct SampleExpr {
    pub text: String,
}

/// One word holding a sample expression.
pub fn parse_sample_expr(word: &str, _span: &Span) -> Result<SampleExpr, Diagnostic> {
    Ok(SampleExpr {
        text: word.to_string(),
    })
}
