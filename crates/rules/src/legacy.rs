//! Redirects, URI rewriting helpers and the 1.x `block`/`req*`/`rsp*` directives.

use fulcrum_config::diag::Span;
use fulcrum_config::rules::{Legacy, LegacyOp, Normalizer, Redirect, RedirectKind};
use regex::bytes::Regex;

use crate::error::RuleError;
use crate::fetch::Ctx;
use crate::fmt::Template;
use crate::proxy::CompileEnv;
use crate::reply::{Answer, Response, Verdict};
use crate::target::Target;

#[derive(Clone, Debug)]
pub(crate) struct RedirectRule {
    kind: RedirectKind,
    target: Template,
    code: u16,
    drop_query: bool,
    append_slash: bool,
    set_cookie: Option<Vec<u8>>,
    clear_cookie: Option<Vec<u8>>,
}

impl RedirectRule {
    pub(crate) fn compile(r: &Redirect, span: &Span, env: &CompileEnv) -> Result<Self, RuleError> {
        Ok(RedirectRule {
            kind: r.kind,
            target: Template::compile(&r.target, span, env)?,
            code: r.code,
            drop_query: r.drop_query,
            append_slash: r.append_slash,
            set_cookie: r.set_cookie.as_ref().map(|c| c.as_bytes().to_vec()),
            // Written as configured (`NAME` or `NAME=`), as HAProxy does.
            clear_cookie: r.clear_cookie.as_ref().map(|c| c.as_bytes().to_vec()),
        })
    }

    /// The redirect response; `None` when the request is unknown (a response-side rule
    /// still redirects using the request it answers).
    pub(crate) fn build(&self, ctx: &Ctx<'_>) -> Option<Response> {
        let req = ctx.req?;
        let uri = req.uri();
        let target = self.target.render_vec(ctx);
        let rest: Vec<u8> = {
            let mut p = crate::uri::path(uri).to_vec();
            if self.append_slash && !p.ends_with(b"/") {
                p.push(b'/');
            }
            if !self.drop_query {
                if let Some(q) = crate::uri::query(uri) {
                    p.push(b'?');
                    p.extend_from_slice(q);
                }
            }
            p
        };
        let location = match self.kind {
            RedirectKind::Location => target,
            RedirectKind::Prefix => {
                // A prefix of "/" keeps the same URL (used with drop-query/append-slash).
                let mut l = if target == b"/" { Vec::new() } else { target };
                l.extend_from_slice(&rest);
                l
            }
            RedirectKind::Scheme => {
                let mut host: &[u8] = b"";
                for i in 0..req.header_count() {
                    if let Some((n, v)) = req.header(i) {
                        if n.eq_ignore_ascii_case(b"host") {
                            host = v;
                            break;
                        }
                    }
                }
                [&target[..], b"://", host, &rest].concat()
            }
        };
        let mut headers = vec![(b"location".to_vec(), location)];
        // As HAProxy 2.6 answers (checked on Debian's binary): temporary
        // redirects must not be cached, and its cookies end with `;`.
        if matches!(self.code, 302 | 303 | 307) {
            headers.push((b"cache-control".to_vec(), b"no-cache".to_vec()));
        }
        if let Some(c) = &self.set_cookie {
            headers.push((b"set-cookie".to_vec(), [&c[..], b"; path=/;"].concat()));
        }
        if let Some(c) = &self.clear_cookie {
            headers.push((
                b"set-cookie".to_vec(),
                [&c[..], b"; path=/; Max-Age=0;"].concat(),
            ));
        }
        Some(Response {
            status: self.code,
            headers,
            body: Vec::new(),
        })
    }
}

/// `uri` with its path (or path and query) replaced, scheme and authority kept.
pub(crate) fn with_path(uri: &[u8], new: &[u8], with_query: bool) -> Vec<u8> {
    let pq = crate::uri::pathq(uri);
    let prefix = &uri[..uri.len() - pq.len()];
    let mut out = prefix.to_vec();
    out.extend_from_slice(new);
    if !with_query {
        if let Some(q) = memchr::memchr(b'?', pq) {
            out.extend_from_slice(&pq[q..]);
        }
    }
    out
}

/// `uri` with its query replaced (an empty query drops the `?`).
pub(crate) fn with_query(uri: &[u8], q: &[u8]) -> Vec<u8> {
    let base = &uri[..memchr::memchr(b'?', uri).unwrap_or(uri.len())];
    let mut out = base.to_vec();
    if !q.is_empty() {
        out.push(b'?');
        out.extend_from_slice(q);
    }
    out
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// One `normalize-uri` step on the request target.
pub(crate) fn normalize(uri: &[u8], n: Normalizer) -> Vec<u8> {
    let pq = crate::uri::pathq(uri);
    let prefix = &uri[..uri.len() - pq.len()];
    let split = pq
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .unwrap_or(pq.len());
    let (path, tail) = pq.split_at(split);
    let new_path: Vec<u8> = match n {
        Normalizer::PathMergeSlashes => {
            let mut o: Vec<u8> = Vec::with_capacity(path.len());
            for &b in path {
                if !(b == b'/' && o.last() == Some(&b'/')) {
                    o.push(b);
                }
            }
            o
        }
        Normalizer::PathStripDot | Normalizer::PathStripDotdot { .. } => {
            let dotdot = matches!(n, Normalizer::PathStripDotdot { .. });
            let full = matches!(n, Normalizer::PathStripDotdot { full: true });
            let segs: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
            let mut out: Vec<&[u8]> = Vec::new();
            let last = segs.len().saturating_sub(1);
            for (i, s) in segs.iter().enumerate() {
                if !dotdot && *s == b"." && i > 0 {
                    if i == last {
                        out.push(b"");
                    }
                    continue;
                }
                if dotdot && *s == b".." && i > 0 {
                    if out.len() > 1 {
                        out.pop();
                    } else if !full {
                        out.push(s);
                        continue;
                    }
                    if i == last {
                        out.push(b"");
                    }
                    continue;
                }
                out.push(s);
            }
            out.join(&b'/')
        }
        Normalizer::PercentToUppercase { .. } | Normalizer::PercentDecodeUnreserved { .. } => {
            let mut o = Vec::with_capacity(path.len());
            let mut i = 0;
            while let Some(&b) = path.get(i) {
                let hex = path
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                match (b, hex) {
                    (b'%', Some(h)) => {
                        let v = std::str::from_utf8(h)
                            .ok()
                            .and_then(|s| u8::from_str_radix(s, 16).ok())
                            .unwrap_or(0);
                        if matches!(n, Normalizer::PercentDecodeUnreserved { .. })
                            && is_unreserved(v)
                        {
                            o.push(v);
                        } else {
                            o.push(b'%');
                            o.extend_from_slice(&h.to_ascii_uppercase());
                        }
                        i += 3;
                    }
                    _ => {
                        o.push(b);
                        i += 1;
                    }
                }
            }
            o
        }
        _ => path.to_vec(),
    };
    let new_tail: Vec<u8> = match n {
        Normalizer::QuerySortByName => match tail.strip_prefix(b"?") {
            Some(q) => {
                let (q, frag) = q.split_at(q.iter().position(|b| *b == b'#').unwrap_or(q.len()));
                let mut parts: Vec<&[u8]> = q.split(|b| *b == b'&').collect();
                parts.sort_by(|a, b| {
                    let key =
                        |p: &[u8]| p.split(|c| *c == b'=').next().unwrap_or_default().to_vec();
                    key(a).cmp(&key(b))
                });
                [&b"?"[..], &parts.join(&b'&'), frag].concat()
            }
            None => tail.to_vec(),
        },
        Normalizer::FragmentStrip => {
            tail[..tail.iter().position(|b| *b == b'#').unwrap_or(tail.len())].to_vec()
        }
        Normalizer::FragmentEncode => {
            let mut o = Vec::with_capacity(tail.len());
            for &b in tail {
                if b == b'#' {
                    o.extend_from_slice(b"%23");
                } else {
                    o.push(b);
                }
            }
            o
        }
        _ => tail.to_vec(),
    };
    [prefix, &new_path, &new_tail].concat()
}

#[derive(Clone, Debug)]
pub(crate) enum CLegacy {
    Block,
    Redirect(RedirectRule),
    Add(Vec<u8>, Vec<u8>),
    Replace(Regex, Vec<u8>),
    Delete(Regex),
    Deny(Regex),
    Allow(Regex),
    Tarpit(Regex),
    Pass,
    SetBackend(Regex, String),
}

impl CLegacy {
    pub(crate) fn compile(l: &Legacy, span: &Span, env: &CompileEnv) -> Result<Self, RuleError> {
        let re =
            |s: &str| crate::regex_util::compile(s, l.icase).map_err(|e| RuleError::new(span, e));
        Ok(match &l.op {
            LegacyOp::Block => CLegacy::Block,
            LegacyOp::Redirect(r) => CLegacy::Redirect(RedirectRule::compile(r, span, env)?),
            LegacyOp::Add(line) => {
                let (n, v) = line.split_once(':').unwrap_or((line.as_str(), ""));
                CLegacy::Add(n.trim().as_bytes().to_vec(), v.trim().as_bytes().to_vec())
            }
            LegacyOp::Replace { regex, replace } => {
                CLegacy::Replace(re(regex)?, replace.as_bytes().to_vec())
            }
            LegacyOp::Delete { regex } => CLegacy::Delete(re(regex)?),
            LegacyOp::Deny { regex } => CLegacy::Deny(re(regex)?),
            LegacyOp::Allow { regex } => CLegacy::Allow(re(regex)?),
            LegacyOp::Tarpit { regex } => CLegacy::Tarpit(re(regex)?),
            LegacyOp::Pass { .. } => CLegacy::Pass,
            LegacyOp::SetBackend { regex, backend } => {
                CLegacy::SetBackend(re(regex)?, backend.clone())
            }
        })
    }

    /// Header lines as 1.x saw them: `Name: value`.
    fn lines<T: Target + ?Sized>(t: &T) -> Vec<Vec<u8>> {
        (0..t.hdr_count())
            .filter_map(|i| t.hdr(i).map(|(n, v)| [n, b": ", v].concat()))
            .collect()
    }

    fn first_line<T: Target>(t: &T) -> Option<Vec<u8>> {
        let r = t.ctx().req?;
        if t.is_response() {
            return None;
        }
        Some([r.method(), b" ", r.uri(), b" ", r.version()].concat())
    }

    /// Runs one directive; `allowed` is set by `reqallow` and stops later legacy denials.
    pub(crate) fn exec<T: Target>(&self, t: &mut T, allowed: &mut bool) -> Option<Verdict> {
        let deny_status = if t.is_response() { 502 } else { 403 };
        let any = |t: &T, re: &Regex| -> bool {
            Self::first_line(t).is_some_and(|l| re.is_match(&l))
                || Self::lines(t).iter().any(|l| re.is_match(l))
        };
        match self {
            CLegacy::Block => return Some(Verdict::Deny(Answer::Errorfile(403))),
            CLegacy::Redirect(r) => return r.build(&t.ctx()).map(Verdict::Redirect),
            CLegacy::Add(n, v) => t.hdr_add(n, v),
            CLegacy::Pass => {}
            CLegacy::Deny(re) if !*allowed && any(t, re) => {
                return Some(Verdict::Deny(Answer::Errorfile(deny_status)))
            }
            CLegacy::Tarpit(re) if !*allowed && any(t, re) => {
                return Some(Verdict::Tarpit(Answer::Errorfile(500)))
            }
            CLegacy::Allow(re) if any(t, re) => *allowed = true,
            CLegacy::SetBackend(re, be) if any(t, re) => {
                return Some(Verdict::UseBackend(be.clone()))
            }
            CLegacy::SetBackend(..) => {}
            CLegacy::Deny(_) | CLegacy::Tarpit(_) | CLegacy::Allow(_) => {}
            CLegacy::Delete(re) => {
                let lines = Self::lines(t);
                for (i, l) in lines.iter().enumerate().rev() {
                    if re.is_match(l) {
                        t.hdr_remove(i);
                    }
                }
            }
            CLegacy::Replace(re, with) => {
                if let Some(first) = Self::first_line(t) {
                    if let Some(caps) = re.captures(&first) {
                        let mut o = Vec::new();
                        crate::regex_util::expand(&caps, with, &mut o);
                        let mut parts = o.splitn(3, |b| *b == b' ');
                        if let (Some(m), Some(u), Some(req)) =
                            (parts.next(), parts.next(), t.req_mut())
                        {
                            req.set_method(m);
                            req.set_uri(u);
                        }
                    }
                }
                let lines = Self::lines(t);
                for (i, l) in lines.iter().enumerate().rev() {
                    let Some(caps) = re.captures(l) else { continue };
                    let mut o = Vec::new();
                    crate::regex_util::expand(&caps, with, &mut o);
                    let (n, v) = match memchr::memchr(b':', &o) {
                        Some(c) => (
                            o[..c].trim_ascii().to_vec(),
                            o[c + 1..].trim_ascii().to_vec(),
                        ),
                        None => (o.trim_ascii().to_vec(), Vec::new()),
                    };
                    let same_name = t
                        .hdr(i)
                        .is_some_and(|(old, _)| old.eq_ignore_ascii_case(&n));
                    if same_name {
                        t.hdr_set(i, &v);
                    } else {
                        // A renamed header moves to the end; order rarely matters to servers.
                        t.hdr_remove(i);
                        if !n.is_empty() {
                            t.hdr_add(&n, &v);
                        }
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_rewrites_keep_the_other_parts() {
        assert_eq!(with_path(b"/a/b?x=1", b"/c", false), b"/c?x=1");
        assert_eq!(with_path(b"http://h/a?x", b"/c", false), b"http://h/c?x");
        assert_eq!(with_path(b"/a?x", b"/c?y", true), b"/c?y");
        assert_eq!(with_query(b"/a?x", b"y=2"), b"/a?y=2");
        assert_eq!(with_query(b"/a?x", b""), b"/a");
    }

    #[test]
    fn normalizers() {
        assert_eq!(
            normalize(b"//a///b?x//y", Normalizer::PathMergeSlashes),
            b"/a/b?x//y"
        );
        assert_eq!(normalize(b"/a/./b/.", Normalizer::PathStripDot), b"/a/b/");
        assert_eq!(
            normalize(b"/a/b/../c", Normalizer::PathStripDotdot { full: false }),
            b"/a/c"
        );
        assert_eq!(
            normalize(b"/../c", Normalizer::PathStripDotdot { full: true }),
            b"/c"
        );
        assert_eq!(
            normalize(
                b"/%7euser%2f",
                Normalizer::PercentDecodeUnreserved { strict: false }
            ),
            b"/~user%2F"
        );
        assert_eq!(
            normalize(b"/p?b=2&a=1", Normalizer::QuerySortByName),
            b"/p?a=1&b=2"
        );
        assert_eq!(normalize(b"/p#frag", Normalizer::FragmentStrip), b"/p");
    }
}
