//! Generated responses: `deny`/`tarpit`/`return` replies, redirects, the verdict type.

use std::sync::Arc;

use fulcrum_config::diag::Span;
use fulcrum_config::rules::{Reply as ReplyAst, ReplyBody};

use crate::error::RuleError;
use crate::fetch::Ctx;
use crate::fmt::Template;
use crate::proxy::CompileEnv;

/// A response the engine sends as is (`return`, `redirect`, `deny` with a body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The 401 answer to `http-request auth` (HAProxy's page and headers).
    pub fn auth_challenge(realm: &str) -> Response {
        let realm = realm.replace('"', "\\\"");
        Response {
            status: 401,
            headers: vec![
                (b"cache-control".to_vec(), b"no-cache".to_vec()),
                (b"content-type".to_vec(), b"text/html".to_vec()),
                (b"www-authenticate".to_vec(), format!("Basic realm=\"{realm}\"").into_bytes()),
            ],
            body: b"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n".to_vec(),
        }
    }

    /// HTTP/1.1 serialisation. `content-length` goes first, as HAProxy writes
    /// it, unless the headers already place it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).into_bytes();
        if !self.headers.iter().any(|(n, _)| n == b"content-length") {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        for (n, v) in &self.headers {
            out.extend_from_slice(n);
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// The usual reason phrase of a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Time-out",
        410 => "Gone",
        413 => "Payload Too Large",
        425 => "Too Early",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        _ => "Other",
    }
}

/// What the engine answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The proxy's errorfile (or built-in page) for this status; a status with
    /// neither (200, 204 …, e.g. `http-request return status 204`) gets an empty body.
    Errorfile(u16),
    /// The status's page from an `http-errors` section.
    Errorfiles {
        section: String,
        status: u16,
    },
    /// A complete HTTP response read from a file at load.
    Raw(Arc<[u8]>),
    Built(Response),
}

/// The outcome of a rule list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No final action: go on with the next stage.
    Continue,
    /// `allow`: skip the rest of this list, go on.
    Allow,
    Deny(Answer),
    /// Hold the connection for `timeout tarpit`, then answer.
    Tarpit(Answer),
    Redirect(Response),
    Return(Answer),
    /// 401 with `WWW-Authenticate: Basic realm="…"`.
    Auth {
        realm: String,
    },
    UseService(String),
    /// 1.x `reqsetbe`: switch to this backend (before `use_backend`).
    UseBackend(String),
    /// `reject`: close the connection without a response.
    Reject,
    /// `silent-drop`: disappear without a FIN/RST the client would see.
    SilentDrop,
    /// `wait-for-body time T [at-least N]` found the body short
    /// ([`RequestView::body_ready`](crate::view::RequestView::body_ready)): wait up to
    /// `time_ms` for more (408 past it), then go on with
    /// [`run_http_request_from`](crate::run_http_request_from) at `rule`.
    WaitForBody {
        time_ms: u64,
        at_least: Option<u64>,
        /// The `wait-for-body` rule's index in its list.
        rule: usize,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum CBody {
    Default,
    Bytes(Vec<u8>),
    Lf(Template),
    Raw(Arc<[u8]>),
    Errorfiles(String),
}

#[derive(Clone, Debug)]
pub(crate) struct CReply {
    status: u16,
    content_type: Option<Vec<u8>>,
    body: CBody,
    headers: Vec<(Vec<u8>, Template)>,
}

pub(crate) fn tpl(
    lf: &fulcrum_config::logformat::LogFormat,
    span: &Span,
    env: &CompileEnv,
) -> Result<Template, RuleError> {
    Template::compile(lf, span, env)
}

pub(crate) fn compile_reply(
    r: &ReplyAst,
    default_status: u16,
    span: &Span,
    env: &CompileEnv,
) -> Result<CReply, RuleError> {
    let body = match &r.body {
        ReplyBody::Default => CBody::Default,
        ReplyBody::Text(t) => CBody::Bytes(t.as_bytes().to_vec()),
        ReplyBody::LfText(lf) => CBody::Lf(tpl(lf, span, env)?),
        ReplyBody::File(f) => CBody::Bytes(env.read_file(f, span)?.into_bytes()),
        ReplyBody::LfFile(f) => {
            let text = env.read_file(f, span)?;
            let lf = fulcrum_config::logformat::LogFormat::parse_text(&text)
                .map_err(|e| RuleError::new(span, format!("{f}: {e}")))?;
            CBody::Lf(tpl(&lf, span, env)?)
        }
        ReplyBody::ErrorFile(f) => CBody::Raw(env.read_file(f, span)?.into_bytes().into()),
        ReplyBody::ErrorFiles(s) => CBody::Errorfiles(s.clone()),
    };
    let headers = r
        .headers
        .iter()
        .map(|(n, v)| Ok((n.as_bytes().to_vec(), tpl(v, span, env)?)))
        .collect::<Result<_, RuleError>>()?;
    Ok(CReply {
        status: r.status.unwrap_or(default_status),
        content_type: r.content_type.as_ref().map(|c| c.as_bytes().to_vec()),
        body,
        headers,
    })
}

pub(crate) fn build_reply(r: &CReply, ctx: &Ctx<'_>) -> Answer {
    let body = match &r.body {
        CBody::Default if r.headers.is_empty() && r.content_type.is_none() => {
            return Answer::Errorfile(r.status)
        }
        CBody::Default => Vec::new(),
        CBody::Raw(b) => return Answer::Raw(b.clone()),
        CBody::Errorfiles(s) => {
            return Answer::Errorfiles {
                section: s.clone(),
                status: r.status,
            }
        }
        CBody::Bytes(b) => b.clone(),
        CBody::Lf(t) => t.render_vec(ctx),
    };
    // HAProxy 2.6's order (checked on Debian's binary): the rule's headers,
    // names in lower case, then content-length, then content-type.
    let mut headers = Vec::new();
    for (n, v) in &r.headers {
        headers.push((n.to_ascii_lowercase(), v.render_vec(ctx)));
    }
    headers.push((
        b"content-length".to_vec(),
        body.len().to_string().into_bytes(),
    ));
    if let Some(ct) = &r.content_type {
        headers.push((b"content-type".to_vec(), ct.clone()));
    }
    Answer::Built(Response {
        status: r.status,
        headers,
        body,
    })
}
