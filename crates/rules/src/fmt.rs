//! Log-format arguments of actions (`set-header X %[src]`), compiled once, rendered per request.

use fulcrum_config::diag::Span;
use fulcrum_config::logformat::{Flags, Item, LogFormat, Var};

use crate::error::RuleError;
use crate::fetch::{Ctx, Expr};
use crate::fetch_build::compile_expr;
use crate::proxy::CompileEnv;

#[derive(Clone, Debug)]
enum Piece {
    Text(Vec<u8>),
    Sep,
    Var(Var, Flags),
    Sample(Box<Expr>, Flags),
}

/// A compiled log-format string.
#[derive(Clone, Debug)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    pub(crate) fn compile(
        lf: &LogFormat,
        span: &Span,
        env: &CompileEnv,
    ) -> Result<Template, RuleError> {
        let mut pieces = Vec::with_capacity(lf.items.len());
        for item in &lf.items {
            pieces.push(match item {
                Item::Text(t) => Piece::Text(t.as_bytes().to_vec()),
                Item::Separator => Piece::Sep,
                Item::Var { var, flags } => Piece::Var(*var, *flags),
                Item::Sample { expr, flags } => {
                    let parsed = fulcrum_config::rules::parse_sample_expr(&expr.text, span)
                        .map_err(|d| {
                            RuleError::new(span, d.message).with_hint(d.hint.unwrap_or_default())
                        })?;
                    Piece::Sample(Box::new(compile_expr(&parsed, span, env)?), *flags)
                }
            });
        }
        Ok(Template { pieces })
    }

    pub(crate) fn render(&self, ctx: &Ctx<'_>, out: &mut Vec<u8>) {
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Sep => {
                    if out.last() != Some(&b' ') {
                        out.push(b' ');
                    }
                }
                Piece::Var(v, flags) => {
                    if ctx.sess.log_var(*v, *flags, out) {
                        continue;
                    }
                    let mut tmp = Vec::new();
                    if !render_var(*v, ctx, &mut tmp) {
                        tmp.push(b'-');
                    }
                    push_flagged(out, &tmp, *flags);
                }
                Piece::Sample(e, flags) => match e.one(ctx) {
                    Some(s) => push_flagged(out, &s.to_bytes(), *flags),
                    None => out.push(b'-'),
                },
            }
        }
    }

    /// Renders on a request (e.g. a `unique-id-format`, a dynamic `use_backend`).
    pub fn render_request<V: crate::view::RequestView>(&self, view: &V) -> Vec<u8> {
        self.render_vec(&Ctx::request(view))
    }

    /// Compiles a log-format string for evaluation outside rules.
    pub fn new(lf: &LogFormat, span: &Span, env: &CompileEnv) -> Result<Template, RuleError> {
        Self::compile(lf, span, env)
    }

    pub(crate) fn render_vec(&self, ctx: &Ctx<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        self.render(ctx, &mut v);
        v
    }
}

fn push_flagged(out: &mut Vec<u8>, v: &[u8], flags: Flags) {
    if flags.quote {
        out.push(b'"');
    }
    for &b in v {
        if flags.escape && matches!(b, b'"' | b'\\' | b']') {
            out.push(b'\\');
        }
        out.push(b);
    }
    if flags.quote {
        out.push(b'"');
    }
}

/// The variables known from the views alone.
fn render_var(v: Var, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
    let s = ctx.sess;
    let text: Vec<u8> = match v {
        Var::ClientIp => match s.src() {
            Some(a) => a.ip().to_string().into_bytes(),
            None => return false,
        },
        Var::ClientPort => match s.src() {
            Some(a) => a.port().to_string().into_bytes(),
            None => return false,
        },
        Var::FrontendIp => match s.dst() {
            Some(a) => a.ip().to_string().into_bytes(),
            None => return false,
        },
        Var::FrontendPort => match s.dst() {
            Some(a) => a.port().to_string().into_bytes(),
            None => return false,
        },
        Var::FrontendName | Var::FrontendNameTransport => s.frontend().0.as_bytes().to_vec(),
        Var::BackendName => match s.backend() {
            Some(b) => b.0.as_bytes().to_vec(),
            None => return false,
        },
        Var::ServerName => match s.server() {
            Some(b) => b.0.as_bytes().to_vec(),
            None => return false,
        },
        Var::HttpMethod => match ctx.req {
            Some(r) => r.method().to_vec(),
            None => return false,
        },
        Var::HttpUri => match ctx.req {
            Some(r) => r.uri().to_vec(),
            None => return false,
        },
        Var::HttpPath => match ctx.req {
            Some(r) => crate::uri::path(r.uri()).to_vec(),
            None => return false,
        },
        Var::HttpQuery => match ctx.req {
            Some(r) => crate::uri::query(r.uri())
                .map(|q| [b"?", q].concat())
                .unwrap_or_default(),
            None => return false,
        },
        Var::HttpVersion => match ctx.req {
            Some(r) => r.version().to_vec(),
            None => return false,
        },
        Var::Pid => std::process::id().to_string().into_bytes(),
        _ => return false,
    };
    out.extend_from_slice(&text);
    true
}
