//! What `balance` sees of a request or a TCP session: the `SelectKey`s the engine gives
//! the balancer, and the evaluation of `balance hash <expr>`.

use super::*;

/// A key with only the client's address (TCP mode).
pub struct SourceKey(pub IpAddr);

impl SelectKey for SourceKey {
    fn source(&self) -> Option<IpAddr> {
        Some(self.0)
    }
}

/// A TCP connection's key: the client's address and the bytes buffered by
/// `tcp-request content` inspection (`balance rdp-cookie`, `balance hash`).
pub(crate) struct TcpKey<'a> {
    src: IpAddr,
    payload: &'a [u8],
    hash: Option<Vec<u8>>,
}

impl<'a> TcpKey<'a> {
    pub(crate) fn new(lb: &Balancer, ctx: HashCtx<'_>, payload: &'a [u8]) -> Self {
        let hash = lb.hash_expr.get().and_then(|e| {
            let view = HashView {
                ctx,
                req: None,
                body: payload,
                vars: fulcrum_rules::Vars::default(),
            };
            e.eval_session(&view).map(sample_bin)
        });
        TcpKey {
            src: ctx.src.ip(),
            payload,
            hash,
        }
    }
}

impl SelectKey for TcpKey<'_> {
    fn source(&self) -> Option<IpAddr> {
        // A UNIX client has no address: `balance source` falls back to
        // round-robin, as HAProxy's.
        crate::unix::inet_ip(self.src)
    }
    fn payload(&self) -> Option<&[u8]> {
        Some(self.payload)
    }
    fn hash_input(&self) -> Option<&[u8]> {
        self.hash.as_deref()
    }
}

/// The session facts `balance hash <expr>` may fetch besides the request.
#[derive(Clone, Copy)]
pub(crate) struct HashCtx<'a> {
    pub fe: &'a str,
    pub be: &'a str,
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// What `balance` sees of an HTTP request. The head is copied only for
/// algorithms that look at it, the body start only for `url_param` on a POST,
/// and `balance hash` keeps only its sample's bytes.
pub(crate) struct HttpKey {
    src: IpAddr,
    head: Option<(Vec<u8>, RequestHead)>,
    body: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
}

impl HttpKey {
    /// `head`: the request as forwarded (after rules) and its parse, built only
    /// when [`Balancer::needs_request`]; `buffered`: body bytes received so far.
    pub(crate) fn new(
        lb: &Balancer,
        ctx: HashCtx<'_>,
        head: impl FnOnce() -> (Vec<u8>, RequestHead),
        buffered: &[u8],
    ) -> Self {
        let mut key = HttpKey {
            src: ctx.src.ip(),
            head: None,
            body: None,
            hash: None,
        };
        if !lb.needs_request() {
            return key;
        }
        let (buf, req) = head();
        key.body = post_body(lb.algo(), &req, buffered);
        if let Some(expr) = lb.hash_expr.get() {
            // Only this request's body: pipelined requests may follow it.
            let body = match req.framing {
                BodyFraming::ContentLength(n) => {
                    &buffered[..usize::try_from(n).unwrap_or(usize::MAX).min(buffered.len())]
                }
                BodyFraming::Chunked => buffered,
                BodyFraming::None | BodyFraming::CloseDelimited => &[],
            };
            let view = HashView {
                ctx,
                req: Some((&buf, &req)),
                body,
                vars: fulcrum_rules::Vars::default(),
            };
            key.hash = expr.eval_request(&view).map(sample_bin);
        }
        key.head = Some((buf, req));
        key
    }
}

impl SelectKey for HttpKey {
    fn source(&self) -> Option<IpAddr> {
        // A UNIX client has no address: `balance source` falls back to
        // round-robin, as HAProxy's.
        crate::unix::inet_ip(self.src)
    }
    fn uri(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|(b, h)| h.target_bytes(b))
    }
    fn header(&self, name: &str) -> Option<&[u8]> {
        let (b, h) = self.head.as_ref()?;
        h.headers_in(b).get(name.as_bytes())
    }
    fn post_body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }
    fn hash_input(&self) -> Option<&[u8]> {
        self.hash.as_deref()
    }
}

/// The body bytes of a POST already buffered (never waited for), decoded from
/// chunks, and cut at `check_post <max_wait>` as HAProxy limits its search.
fn post_body(algo: &BalanceAlgo, req: &RequestHead, buffered: &[u8]) -> Option<Vec<u8>> {
    let BalanceAlgo::UrlParam { check_post, .. } = algo else {
        return None;
    };
    if req.method != Method::Post {
        return None;
    }
    let mut body = match req.framing {
        BodyFraming::ContentLength(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX).min(buffered.len());
            buffered[..n].to_vec()
        }
        BodyFraming::Chunked => {
            let mut out = Vec::new();
            let mut dec = fulcrum_proto::chunked::ChunkedDecoder::new();
            // A malformed body leaves what was decoded before the fault.
            let _ = dec.decode(buffered, |d| out.extend_from_slice(d));
            out
        }
        BodyFraming::None | BodyFraming::CloseDelimited => return None,
    };
    // HAProxy raises a limit below 3 to 3 (`S=3`, the shortest parameter).
    if let Some(max) = check_post.filter(|m| *m > 0) {
        body.truncate(usize::try_from(max.max(3)).unwrap_or(usize::MAX));
    }
    (!body.is_empty()).then_some(body)
}

/// A sample as HAProxy hashes it: cast to binary (integers as 8 big-endian
/// bytes, addresses in network order, strings as they are).
fn sample_bin(s: fulcrum_rules::Sample<'_>) -> Vec<u8> {
    use fulcrum_rules::Sample;
    match s {
        Sample::Bool(b) => i64::from(b).to_be_bytes().to_vec(),
        Sample::Int(i) => i.to_be_bytes().to_vec(),
        Sample::Ip(IpAddr::V4(a)) => a.octets().to_vec(),
        Sample::Ip(IpAddr::V6(a)) => a.octets().to_vec(),
        Sample::Str(b) | Sample::Bin(b) => b.into_owned(),
    }
}

/// Compiles `balance hash <expr>` of proxy `p`; `None` for other algorithms.
pub(crate) fn hash_expr(
    p: &fulcrum_config::model::Proxy,
) -> Result<Option<fulcrum_rules::Expr>, String> {
    let Some(fulcrum_config::model::Balance::Hash(e)) = &p.balance else {
        return Ok(None);
    };
    let span = p
        .span
        .clone()
        .unwrap_or_else(|| fulcrum_config::diag::Span::new("", 0));
    let base = std::path::Path::new(&*span.file)
        .parent()
        .map(|d| d.to_path_buf())
        .unwrap_or_default();
    let env = fulcrum_rules::CompileEnv::new(base);
    fulcrum_rules::compile_expr(e, &span, &env)
        .map(Some)
        .map_err(|e| format!("balance hash: {e}"))
}

/// The request (or in TCP mode the inspected payload) as `balance hash`
/// fetches see it (read-only).
struct HashView<'a> {
    ctx: HashCtx<'a>,
    req: Option<(&'a [u8], &'a RequestHead)>,
    /// The request body, or the TCP payload when there is no request.
    body: &'a [u8],
    vars: fulcrum_rules::Vars,
}

impl SessionView for HashView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.ctx.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.ctx.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (self.ctx.fe, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        Some((self.ctx.be, 0))
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn fulcrum_rules::Stats {
        &crate::stats::CurrentStats
    }
    fn vars(&self) -> &fulcrum_rules::Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut fulcrum_rules::Vars {
        &mut self.vars
    }
    fn payload(&self) -> &[u8] {
        if self.req.is_some() {
            &[]
        } else {
            self.body
        }
    }
    // Selection happens once inspection is over: samples are final.
    fn wait_ended(&self) -> bool {
        true
    }
}

impl RequestView for HashView<'_> {
    fn method(&self) -> &[u8] {
        self.req.map_or(&[], |(b, r)| r.method_bytes(b))
    }
    fn uri(&self) -> &[u8] {
        self.req.map_or(&[], |(b, r)| r.target_bytes(b))
    }
    fn version(&self) -> &[u8] {
        match self.req.map(|(_, r)| r.version) {
            Some(Version::Http10) => b"HTTP/1.0",
            _ => b"HTTP/1.1",
        }
    }
    fn header_count(&self) -> usize {
        self.req.map_or(0, |(_, r)| r.headers.len())
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let (b, r) = self.req?;
        let h = r.headers.get(i)?;
        Some((h.name.get(b), h.value.get(b)))
    }
    fn body(&self) -> &[u8] {
        self.body
    }
    // Selection does not edit the request.
    fn set_method(&mut self, _: &[u8]) {}
    fn set_uri(&mut self, _: &[u8]) {}
    fn add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn remove_header(&mut self, _: usize) {}
}
