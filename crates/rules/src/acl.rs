//! ACLs compiled per proxy, conditions over them, and their evaluation.

use std::collections::HashMap;
use std::sync::Arc;

use fulcrum_config::diag::{closest, Span};
use fulcrum_config::rules::{AclDef, AclRef, Condition};

use crate::auth::Userlist;
use crate::error::RuleError;
use crate::fetch::{Ctx, Expr, Fetch};
use crate::fetch_build::compile_expr;
use crate::pattern::PatternSet;
use crate::proxy::CompileEnv;
use crate::view::{RequestView, ResponseView, SessionView};

/// ACLs every proxy knows (configuration.txt §7.4).
const PREDEFINED: &[(&str, &str)] = &[
    ("TRUE", "always_true"),
    ("FALSE", "always_false"),
    ("HTTP", "req.proto_http"),
    ("HTTP_1.0", "req.ver 1.0"),
    ("HTTP_1.1", "req.ver 1.1"),
    ("HTTP_2.0", "req.ver 2.0"),
    ("HTTP_CONTENT", "req.hdr_val(content-length) gt 0"),
    ("HTTP_URL_ABS", "url_reg ^[^/:]*://"),
    ("HTTP_URL_SLASH", "url_beg /"),
    ("HTTP_URL_STAR", "url *"),
    ("LOCALHOST", "src 127.0.0.1/8 ::1"),
    ("METH_CONNECT", "method CONNECT"),
    ("METH_DELETE", "method DELETE"),
    ("METH_GET", "method GET HEAD"),
    ("METH_HEAD", "method HEAD"),
    ("METH_OPTIONS", "method OPTIONS"),
    ("METH_POST", "method POST"),
    ("METH_PUT", "method PUT"),
    ("METH_TRACE", "method TRACE"),
    ("RDP_COOKIE", "req.rdp_cookie_cnt gt 0"),
    ("REQ_CONTENT", "req.len gt 0"),
    ("WAIT_END", "wait_end"),
];

/// One compiled ACL line.
#[derive(Debug)]
pub(crate) struct Acl {
    expr: Expr,
    pats: PatternSet,
    /// `http_auth_group(UL) g1 g2`: patterns are group names of the userlist.
    groups: Option<(Arc<Userlist>, Vec<String>)>,
}

impl Acl {
    fn compile(def: &AclDef, env: &CompileEnv) -> Result<Acl, RuleError> {
        let span = &def.span;
        let expr = compile_expr(&def.expr, span, env)?;
        let mut words = def.patterns.clone();
        for f in &def.files {
            let text = env.read_file(f, span)?;
            if def.map_files {
                words.extend(crate::map::parse_entries(&text).into_iter().map(|(k, _)| k));
            } else {
                words.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_string),
                );
            }
        }
        if let Fetch::HttpAuthGroup(ul) = &expr.fetch {
            let groups = Some((ul.clone(), words));
            let pats = PatternSet::compile(fulcrum_config::rules::MatchMethod::Found, false, &[])
                .map_err(|e| RuleError::new(span, e))?;
            return Ok(Acl { expr, pats, groups });
        }
        let pats = PatternSet::compile(def.method, def.icase, &words)
            .map_err(|e| RuleError::new(span, format!("acl '{}': {e}", def.name)))?;
        Ok(Acl {
            expr,
            pats,
            groups: None,
        })
    }

    fn eval(&self, ctx: &Ctx<'_>) -> bool {
        if let Some((ul, groups)) = &self.groups {
            return self.expr.each(ctx, &mut |s| {
                let user = s.to_bytes();
                groups.iter().any(|g| ul.user_in_group(&user, g))
            });
        }
        self.expr.each(ctx, &mut |s| self.pats.matches(&s))
    }
}

/// All lines of one ACL name (ORed).
type AclSet = Arc<Vec<Acl>>;

/// The named ACLs of one proxy, plus the predefined ones.
#[derive(Debug, Default)]
pub struct AclScope {
    named: HashMap<String, AclSet>,
    /// Where each name is first declared: HAProxy resolves names while reading,
    /// so a use above the declaration is an error there too.
    first: HashMap<String, Span>,
}

impl AclScope {
    /// Compiles every `acl` line; all errors are returned together.
    pub fn new(defs: &[AclDef], env: &CompileEnv) -> Result<AclScope, Vec<RuleError>> {
        let mut lines: HashMap<String, Vec<Acl>> = HashMap::new();
        let mut first: HashMap<String, Span> = HashMap::new();
        let mut errors = Vec::new();
        for d in defs {
            first
                .entry(d.name.clone())
                .or_insert_with(|| d.span.clone());
            match Acl::compile(d, env) {
                Ok(a) => lines.entry(d.name.clone()).or_default().push(a),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AclScope {
            named: lines.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            first,
        })
    }

    fn lookup(&self, name: &str, span: &Span, env: &CompileEnv) -> Result<AclSet, RuleError> {
        if let Some(s) = self.named.get(name) {
            if let Some(decl) = self.first.get(name) {
                if decl.file == span.file && decl.line > span.line {
                    return Err(RuleError::new(
                        span,
                        format!(
                            "no such ACL: '{name}' (it is declared later, at line {})",
                            decl.line
                        ),
                    )
                    .with_hint(format!(
                        "move 'acl {name} …' above its first use, as HAProxy requires"
                    )));
                }
            }
            return Ok(s.clone());
        }
        if let Some((_, text)) = PREDEFINED.iter().find(|(n, _)| *n == name) {
            let words: Vec<String> = text.split(' ').map(str::to_string).collect();
            let def = fulcrum_config::rules::parse_acl_body(name, &words, span)
                .map_err(|d| RuleError::new(span, d.message))?;
            return Ok(Arc::new(vec![Acl::compile(&def, env)?]));
        }
        let names = self
            .named
            .keys()
            .map(String::as_str)
            .chain(PREDEFINED.iter().map(|(n, _)| *n));
        let mut e = RuleError::new(span, format!("no such ACL: '{name}'"));
        if let Some(s) = closest(name, names) {
            e = e.with_hint(format!("did you mean '{s}'?"));
        }
        Err(e)
    }

    /// Binds a condition's ACL names; an unknown name is an error at the condition's line.
    pub fn compile_cond(&self, cond: &Condition, env: &CompileEnv) -> Result<Cond, RuleError> {
        let mut groups = Vec::with_capacity(cond.groups.len());
        for g in &cond.groups {
            let mut terms = Vec::with_capacity(g.len());
            for t in g {
                let set = match &t.acl {
                    AclRef::Named(n) => self.lookup(n, &cond.span, env)?,
                    AclRef::Anonymous(def) => Arc::new(vec![Acl::compile(def, env)?]),
                };
                terms.push((t.negated, set));
            }
            groups.push(terms);
        }
        Ok(Cond {
            unless: cond.unless,
            groups,
        })
    }
}

/// A compiled condition: OR of AND-groups of possibly negated ACLs.
#[derive(Debug, Clone)]
pub struct Cond {
    unless: bool,
    groups: Vec<Vec<(bool, AclSet)>>,
}

impl Cond {
    pub(crate) fn eval_ctx(&self, ctx: &Ctx<'_>) -> bool {
        let hit = self.groups.iter().any(|g| {
            g.iter()
                .all(|(neg, set)| set.iter().any(|acl| acl.eval(ctx)) != *neg)
        });
        hit != self.unless
    }
}

/// `Some(cond)` must hold; `None` always holds.
pub(crate) fn holds(cond: &Option<Cond>, ctx: &Ctx<'_>) -> bool {
    cond.as_ref().is_none_or(|c| c.eval_ctx(ctx))
}

/// Evaluates a condition on a request.
pub fn eval<V: RequestView>(cond: &Cond, view: &V) -> bool {
    cond.eval_ctx(&Ctx::request(view))
}

/// Evaluates a condition on a response.
pub fn eval_response<V: ResponseView>(cond: &Cond, view: &V) -> bool {
    cond.eval_ctx(&Ctx::response(view))
}

/// Evaluates a condition with only the session (TCP rules).
pub fn eval_session<V: SessionView>(cond: &Cond, view: &V) -> bool {
    cond.eval_ctx(&Ctx::session(view))
}
