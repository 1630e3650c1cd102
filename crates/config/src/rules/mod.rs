//! The rule language's syntax tree: ACLs, sample expressions, conditions and actions.
//!
//! OWNER: rules helper. The section parser (`crate::parse`) calls the `parse_*`
//! entry points below with the words *after* the keyword (e.g. for
//! `http-request deny if bad` it passes `["deny", "if", "bad"]`). Parsing checks
//! names and argument counts; it reads no file. `fulcrum-rules` compiles this tree
//! (regexes, map files, fetch lookup, ACL names) and evaluates it.

mod acl;
mod action;
mod args;
mod global_var;
mod legacy;
mod sample;
mod stick;
mod tcp;

pub use acl::{parse_acl_body, parse_condition, AclDef, AclRef, CondTerm, Condition, MatchMethod};
pub use action::{
    GptValue, HttpAction, HttpPhase, HttpRule, Normalizer, Redirect, RedirectKind, Reply,
    ReplyBody, TimeoutKind, UriPart,
};
pub(crate) use args::{var_conditions, var_name};
pub use global_var::{parse_global_var, GlobalVar, GlobalVarValue};
pub use legacy::{parse_legacy, Legacy, LegacyOp};
pub use sample::{
    converter_out, fetch_def, is_map_converter, parse_sample_expr, ConvDef, Converter, FetchDef,
    SampleExpr, SmpType, CONVERTERS, FETCHES, MAP_MATCHES,
};
pub use stick::{stick_fetch, StickSource, STICK_COUNTERS, STICK_INDEXED};
pub use tcp::{parse_tcp_request, parse_tcp_response, TcpAction, TcpLayer, TcpRule, TcpRuleKind};

use crate::diag::{Diagnostic, Span};
use crate::logformat::LogFormat;

/// The target of `use_backend` / `use-server`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetName {
    Static(String),
    /// A name containing `%[…]`, rendered per request.
    Dynamic(LogFormat),
}

/// `use_backend NAME|%[expr] [if|unless COND]` and `use-server NAME [if|unless COND]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseTarget {
    pub span: Span,
    pub target: TargetName,
    pub cond: Option<Condition>,
}

/// Words after `acl`.
pub fn parse_acl(words: &[String], span: &Span) -> Result<AclDef, Diagnostic> {
    let name = words
        .first()
        .ok_or_else(|| Diagnostic::alert(span, "'acl' needs a name"))?;
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if !ok {
        return Err(Diagnostic::alert(
            span,
            format!("ACL name '{name}' may only hold letters, digits, '-', '_', '.' and ':'"),
        ));
    }
    parse_acl_body(name, &words[1..], span)
}

/// Words after `http-request`.
pub fn parse_http_request(words: &[String], span: &Span) -> Result<HttpRule, Diagnostic> {
    action::parse_http_rule(words, span, HttpPhase::Request)
}

/// Words after `http-response`.
pub fn parse_http_response(words: &[String], span: &Span) -> Result<HttpRule, Diagnostic> {
    action::parse_http_rule(words, span, HttpPhase::Response)
}

/// Words after `http-after-response`.
pub fn parse_http_after_response(words: &[String], span: &Span) -> Result<HttpRule, Diagnostic> {
    action::parse_http_rule(words, span, HttpPhase::AfterResponse)
}

/// Words after `use_backend` (or `use-server`).
pub fn parse_use_target(words: &[String], span: &Span) -> Result<UseTarget, Diagnostic> {
    let (before, cond) = acl::split_condition(words, span)?;
    let [name] = before.as_slice() else {
        return Err(Diagnostic::alert(
            span,
            "expects one backend or server name, then optionally 'if'/'unless' and a condition",
        ));
    };
    let target = if name.contains("%[") {
        TargetName::Dynamic(
            LogFormat::parse_text(name)
                .map_err(|e| Diagnostic::alert(span, format!("in '{name}': {e}")))?,
        )
    } else {
        TargetName::Static(name.clone())
    };
    Ok(UseTarget {
        span: span.clone(),
        target,
        cond,
    })
}

/// HAProxy time: a number with an optional unit (`us`, `ms`, `s`, `m`, `h`, `d`); default ms.
pub fn parse_time_ms(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit {
        "" | "ms" => n,
        "us" => n / 1000,
        "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(ms)
}
