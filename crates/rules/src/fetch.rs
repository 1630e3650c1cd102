//! Sample fetches resolved at load, evaluated against the views.

use std::borrow::Cow;

use std::sync::Arc;

use crate::auth::{basic_credentials, Userlist};
use crate::conv::Conv;

use crate::fetch_util::{payload_slice, rdp_cookie, split_host_port, strip_http, uuid4};
use crate::uri;
use crate::value::Sample;
use crate::view::{RequestView, ResponseView, SessionView};

/// What a rule can see while it runs.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'v> {
    pub sess: &'v dyn SessionView,
    pub req: Option<&'v dyn RequestView>,
    pub res: Option<&'v dyn ResponseView>,
}

impl<'v> Ctx<'v> {
    pub fn session<V: SessionView>(v: &'v V) -> Self {
        Ctx {
            sess: v,
            req: None,
            res: None,
        }
    }
    pub fn request<V: RequestView>(v: &'v V) -> Self {
        Ctx {
            sess: v,
            req: Some(v),
            res: None,
        }
    }
    pub fn response<V: ResponseView>(v: &'v V) -> Self {
        Ctx {
            sess: v,
            req: Some(v),
            res: Some(v),
        }
    }
    /// The proxy whose rules run now: the backend once chosen, else the frontend.
    pub(crate) fn current_proxy(&self) -> &'v str {
        self.current_backend()
    }
    /// The backend a count without argument refers to: the current one.
    fn current_backend(&self) -> &'v str {
        self.sess.backend().map_or(self.sess.frontend().0, |b| b.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Req,
    Res,
    /// `hdr()`: the response's headers in response rules, else the request's.
    Auto,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Post {
    None,
    Int,
    Ip,
}

#[derive(Clone, Debug)]
pub(crate) enum Fetch {
    Src,
    SrcPort,
    Dst,
    DstPort,
    FeName,
    FeId,
    BeName,
    BeId,
    SrvName,
    SrvId,
    Nbsrv(Option<String>),
    BeConn(Option<String>),
    FeConn(Option<String>),
    Connslots(Option<String>),
    SrvConn(Option<String>, String),
    SrvIsUp(Option<String>, String),
    Queue(Option<String>),
    AvgQueue(Option<String>),
    Const(Sample<'static>),
    Method,
    Path,
    PathQ,
    Url,
    UrlIp,
    UrlPort,
    UrlParam {
        name: Option<Vec<u8>>,
        delim: u8,
        post: Post,
    },
    Query,
    Base,
    Base32,
    Hdr {
        side: Side,
        name: Option<Vec<u8>>,
        occ: Option<i64>,
        split: bool,
        post: Post,
    },
    HdrCnt {
        side: Side,
        name: Option<Vec<u8>>,
        split: bool,
    },
    ReqHdrs,
    ReqHdrsLen,
    Cook {
        side: Side,
        name: Option<Vec<u8>>,
        post: Post,
    },
    CookCnt {
        side: Side,
        name: Option<Vec<u8>>,
    },
    Status,
    ReqVer,
    /// `HTTP/1.1` rather than `1.1` (`capture.req.ver`).
    ReqVerFull,
    ResVer,
    /// `HTTP/1.1` rather than `1.1` (`capture.res.ver`).
    ResVerFull,
    ReqBody,
    ReqBodyLen,
    ResBody,
    ResBodyLen,
    ReqLen,
    ReqPayload {
        off: usize,
        len: usize,
    },
    /// `res.len` / `res.payload(off,len)`: the server's data (`tcp-response content`).
    ResLen,
    ResPayload {
        off: usize,
        len: usize,
    },
    SslSni,
    SslFc,
    UniqueId,
    /// `capture.req.hdr(N)` (false) / `capture.res.hdr(N)` (true).
    Captured(bool, usize),
    /// A stick-table fetch (`sc_*`, `src_*`, `table_*`).
    Stick(Box<crate::stick::StickFetch>),
    /// SNI of a TLS ClientHello in the buffered payload (TLS pass-through).
    ClientHelloSni,
    ClientHelloType,
    RdpCookie(Option<Vec<u8>>),
    RdpCookieCnt(Option<Vec<u8>>),
    HttpAuth(Arc<Userlist>),
    HttpAuthGroup(Arc<Userlist>),
    HttpFirstReq,
    ProtoHttp,
    WaitEnd,
    Var(String),
    Env(String),
    Date(i64),
    Rand(Option<u64>),
    Uuid,
}

/// A compiled sample expression: a fetch and its converters.
#[derive(Clone, Debug)]
pub struct Expr {
    pub(crate) fetch: Fetch,
    pub(crate) convs: Vec<Conv>,
    pub text: String,
}

/// Header values: each comma-separated element (`split`) or each full line.
fn each_header<'v>(
    ctx: &Ctx<'v>,
    side: Side,
    name: Option<&[u8]>,
    split: bool,
    f: &mut dyn FnMut(&'v [u8]) -> bool,
) -> bool {
    let side = match side {
        Side::Auto if ctx.res.is_some() => Side::Res,
        Side::Auto => Side::Req,
        s => s,
    };
    let get = |i: usize| -> Option<(&'v [u8], &'v [u8])> {
        match side {
            Side::Res => ctx.res?.res_header(i),
            _ => ctx.req?.header(i),
        }
    };
    let count = match side {
        Side::Res => ctx.res.map_or(0, |r| r.res_header_count()),
        _ => ctx.req.map_or(0, |r| r.header_count()),
    };
    for i in 0..count {
        let Some((n, v)) = get(i) else { continue };
        if name.is_some_and(|want| !n.eq_ignore_ascii_case(want)) {
            continue;
        }
        if split {
            for part in v.split(|b| *b == b',') {
                if f(part.trim_ascii()) {
                    return true;
                }
            }
        } else if f(v.trim_ascii()) {
            return true;
        }
    }
    false
}

fn post<'v>(p: Post, v: &'v [u8]) -> Option<Sample<'v>> {
    match p {
        Post::None => Some(Sample::str(v)),
        Post::Int => crate::value::parse_int_prefix(v).map(Sample::Int),
        Post::Ip => Sample::str(v).to_ip().map(Sample::Ip),
    }
}

impl Fetch {
    /// Calls `f` with every value (ACL context); stops when `f` returns true.
    /// Returns whether `f` asked to stop.
    pub(crate) fn each<'v>(&self, ctx: &Ctx<'v>, f: &mut dyn FnMut(Sample<'v>) -> bool) -> bool {
        match self {
            Fetch::Hdr {
                side,
                name,
                occ: None,
                split,
                post: p,
            } => each_header(ctx, *side, name.as_deref(), *split, &mut |v| {
                post(*p, v).is_some_and(&mut *f)
            }),
            Fetch::Cook {
                side,
                name,
                post: p,
            } => self.each_cookie(ctx, *side, name.as_deref(), &mut |v| {
                post(*p, v).is_some_and(&mut *f)
            }),
            Fetch::UrlParam {
                name,
                delim,
                post: p,
            } => match ctx.req {
                Some(r) => uri::params(r.uri(), *delim)
                    .filter(|(n, _)| name.as_deref().is_none_or(|w| *n == w))
                    .any(|(_, v)| post(*p, v).is_some_and(&mut *f)),
                None => false,
            },
            _ => match self.one(ctx) {
                Some(s) => f(s),
                None => false,
            },
        }
    }

    fn each_cookie<'v>(
        &self,
        ctx: &Ctx<'v>,
        side: Side,
        name: Option<&[u8]>,
        f: &mut dyn FnMut(&'v [u8]) -> bool,
    ) -> bool {
        let hname: &[u8] = if side == Side::Req {
            b"cookie"
        } else {
            b"set-cookie"
        };
        each_header(ctx, side, Some(hname), false, &mut |line| {
            if side == Side::Req {
                uri::cookies(line).any(|(n, v)| name.is_none_or(|w| n == w) && f(v))
            } else {
                uri::set_cookie(line).is_some_and(|(n, v)| name.is_none_or(|w| n == w) && f(v))
            }
        })
    }

    /// Whether more buffered data could change this fetch's result (HAProxy's
    /// "may change"): `tcp-request content` rules then wait for more data.
    fn payload_may_grow(&self, sess: &dyn SessionView) -> bool {
        let p = sess.payload();
        match self {
            Fetch::ReqLen | Fetch::ResLen => true,
            Fetch::ReqPayload { off, len } => *len == 0 || p.len() < off.saturating_add(*len),
            Fetch::ResPayload { off, len } => {
                *len == 0 || sess.res_payload().len() < off.saturating_add(*len)
            }
            Fetch::ClientHelloSni | Fetch::ClientHelloType => crate::tls::incomplete(p),
            Fetch::RdpCookie(_) | Fetch::RdpCookieCnt(_) => {
                memchr::memmem::find(p, b"\r\n").is_none()
            }
            _ => false,
        }
    }

    /// The single value used in sample context (last header or cookie occurrence …).
    pub(crate) fn one<'v>(&self, ctx: &Ctx<'v>) -> Option<Sample<'v>> {
        let sess = ctx.sess;
        if !sess.wait_ended() && self.payload_may_grow(sess) {
            crate::tcp::note_incomplete();
        }
        let req = || ctx.req;
        let stats = sess.stats();
        let cur = ctx.current_backend();
        macro_rules! be {
            ($b:expr) => {
                $b.as_deref().unwrap_or(cur)
            };
        }
        let s = match self {
            Fetch::Src => Sample::Ip(sess.src()?.ip()),
            Fetch::SrcPort => Sample::Int(i64::from(sess.src()?.port())),
            Fetch::Dst => Sample::Ip(sess.dst()?.ip()),
            Fetch::DstPort => Sample::Int(i64::from(sess.dst()?.port())),
            Fetch::FeName => Sample::str(sess.frontend().0.as_bytes()),
            Fetch::FeId => Sample::Int(sess.frontend().1),
            // Until a backend is chosen the frontend is the current backend (configuration.txt "be_id").
            Fetch::BeName => Sample::str(sess.backend().unwrap_or(sess.frontend()).0.as_bytes()),
            Fetch::BeId => Sample::Int(sess.backend().unwrap_or(sess.frontend()).1),
            Fetch::SrvName => Sample::str(sess.server()?.0.as_bytes()),
            Fetch::SrvId => Sample::Int(sess.server()?.1),
            Fetch::Nbsrv(b) => Sample::Int(stats.nbsrv(be!(b))?),
            Fetch::BeConn(b) => Sample::Int(stats.be_conn(be!(b))?),
            Fetch::FeConn(f) => {
                Sample::Int(stats.fe_conn(f.as_deref().unwrap_or(sess.frontend().0))?)
            }
            Fetch::Connslots(b) => Sample::Int(stats.connslots(be!(b))?),
            Fetch::SrvConn(b, s) => Sample::Int(stats.srv_conn(be!(b), s)?),
            Fetch::SrvIsUp(b, s) => Sample::Bool(stats.srv_is_up(be!(b), s)?),
            Fetch::Queue(b) => Sample::Int(stats.queue(be!(b))?),
            Fetch::AvgQueue(b) => Sample::Int(stats.avg_queue(be!(b))?),
            Fetch::Const(c) => c.clone(),
            Fetch::Method => Sample::str(req()?.method()),
            Fetch::Path => Sample::str(uri::path(req()?.uri())),
            Fetch::PathQ => Sample::str(uri::pathq(req()?.uri())),
            Fetch::Url => Sample::str(req()?.uri()),
            Fetch::UrlIp | Fetch::UrlPort => {
                let auth = uri::authority(req()?.uri())?;
                let (host, port) = split_host_port(auth);
                if matches!(self, Fetch::UrlIp) {
                    Sample::Ip(std::str::from_utf8(host).ok()?.parse().ok()?)
                } else {
                    Sample::Int(port.map_or(80, i64::from))
                }
            }
            Fetch::UrlParam {
                name,
                delim,
                post: p,
            } => {
                let (_, v) = uri::params(req()?.uri(), *delim)
                    .find(|(n, _)| name.as_deref().is_none_or(|w| *n == w))?;
                post(*p, v)?
            }
            Fetch::Query => Sample::str(uri::query(req()?.uri())?),
            Fetch::Base | Fetch::Base32 => {
                let r = req()?;
                let mut host: &[u8] = b"";
                each_header(ctx, Side::Req, Some(b"host"), false, &mut |v| {
                    host = v;
                    true
                });
                let mut b = host.to_vec();
                // HAProxy: the path up to '?' (not '#'), only when it starts with '/'.
                let pq = uri::pathq(r.uri());
                let p = &pq[..memchr::memchr(b'?', pq).unwrap_or(pq.len())];
                if p.starts_with(b"/") {
                    b.extend_from_slice(p);
                }
                if matches!(self, Fetch::Base32) {
                    Sample::Int(i64::from(crate::hash::base32(&b)))
                } else {
                    Sample::owned_str(b)
                }
            }
            Fetch::Hdr {
                side,
                name,
                occ,
                split,
                post: p,
            } => {
                // Positive: n-th value from the first; negative: from the last (-1 = last).
                let occ = occ.unwrap_or(-1);
                let want = if occ > 0 {
                    occ
                } else {
                    let mut total = 0i64;
                    each_header(ctx, *side, name.as_deref(), *split, &mut |_| {
                        total += 1;
                        false
                    });
                    total + 1 + occ.min(-1)
                };
                let mut seen = 0i64;
                let mut found = None;
                each_header(ctx, *side, name.as_deref(), *split, &mut |v| {
                    seen += 1;
                    if seen == want {
                        found = Some(v);
                    }
                    seen == want
                });
                let v = found?;
                post(*p, v)?
            }
            Fetch::HdrCnt { side, name, split } => {
                let mut n = 0i64;
                each_header(ctx, *side, name.as_deref(), *split, &mut |_| {
                    n += 1;
                    false
                });
                Sample::Int(n)
            }
            Fetch::ReqHdrs | Fetch::ReqHdrsLen => {
                let r = req()?;
                let mut out = Vec::new();
                for i in 0..r.header_count() {
                    if let Some((n, v)) = r.header(i) {
                        out.extend_from_slice(n);
                        out.extend_from_slice(b": ");
                        out.extend_from_slice(v);
                        out.extend_from_slice(b"\r\n");
                    }
                }
                out.extend_from_slice(b"\r\n");
                if matches!(self, Fetch::ReqHdrsLen) {
                    Sample::Int(out.len() as i64)
                } else {
                    Sample::owned_str(out)
                }
            }
            Fetch::Cook {
                side,
                name,
                post: p,
            } => {
                // Sample context: the last occurrence of a named cookie, the
                // first cookie when no name is given (configuration.txt `req.cook`).
                let mut last = None;
                let first_only = name.is_none();
                self.each_cookie(ctx, *side, name.as_deref(), &mut |v| {
                    last = Some(v);
                    first_only
                });
                post(*p, last?)?
            }
            Fetch::CookCnt { side, name } => {
                let mut n = 0i64;
                self.each_cookie(ctx, *side, name.as_deref(), &mut |_| {
                    n += 1;
                    false
                });
                Sample::Int(n)
            }
            Fetch::Status => Sample::Int(i64::from(ctx.res?.status())),
            Fetch::ReqVer => Sample::str(strip_http(req()?.version())),
            Fetch::ReqVerFull => Sample::str(req()?.version()),
            Fetch::ResVer => Sample::str(strip_http(ctx.res?.res_version())),
            Fetch::ResVerFull => Sample::str(ctx.res?.res_version()),
            Fetch::ReqBody => Sample::Bin(Cow::Borrowed(req()?.body())),
            Fetch::ReqBodyLen => Sample::Int(req()?.body().len() as i64),
            Fetch::ResBody => Sample::Bin(Cow::Borrowed(ctx.res?.res_body())),
            Fetch::ResBodyLen => Sample::Int(ctx.res?.res_body().len() as i64),
            Fetch::ReqLen => Sample::Int(sess.payload().len() as i64),
            Fetch::ReqPayload { off, len } => payload_slice(sess.payload(), *off, *len)?,
            Fetch::ResLen => Sample::Int(sess.res_payload().len() as i64),
            Fetch::ResPayload { off, len } => payload_slice(sess.res_payload(), *off, *len)?,
            Fetch::SslSni => Sample::str(sess.ssl_sni()?),
            Fetch::UniqueId => Sample::str(sess.unique_id()?),
            Fetch::Captured(res, slot) => Sample::str(sess.captured_header(*res, *slot)?),
            Fetch::Stick(f) => f.eval(ctx)?,
            Fetch::ClientHelloSni => Sample::str(crate::tls::client_hello_sni(sess.payload())?),
            Fetch::ClientHelloType => {
                Sample::Int(i64::from(crate::tls::hello_type(sess.payload())?))
            }
            Fetch::SslFc => Sample::Bool(sess.ssl_sni().is_some()),
            Fetch::RdpCookie(name) => Sample::str(rdp_cookie(sess.payload(), name.as_deref())?),
            Fetch::RdpCookieCnt(name) => Sample::Int(i64::from(
                rdp_cookie(sess.payload(), name.as_deref()).is_some(),
            )),
            Fetch::HttpAuth(ul) => {
                Sample::Bool(credentials(ctx).is_some_and(|(u, p)| ul.check(&u, &p)))
            }
            Fetch::HttpAuthGroup(ul) => {
                let (u, p) = credentials(ctx)?;
                if !ul.check(&u, &p) {
                    return None;
                }
                Sample::owned_str(u)
            }
            Fetch::HttpFirstReq => Sample::Bool(req()?.is_first_request()),
            Fetch::ProtoHttp => Sample::Bool(req().is_some()),
            Fetch::WaitEnd => Sample::Bool(sess.wait_ended()),
            Fetch::Var(name) => sess.vars().get(name)?,
            Fetch::Env(name) => Sample::owned_str(sess.env(name)?.into_bytes()),
            Fetch::Date(off) => Sample::Int(sess.now_unix().saturating_add(*off)),
            Fetch::Rand(range) => {
                let r = sess.random();
                Sample::Int(match range {
                    Some(n) if *n > 0 => ((u128::from(r as u32) * u128::from(*n)) >> 32) as i64,
                    _ => i64::from(r as u32),
                })
            }
            Fetch::Uuid => Sample::owned_str(uuid4(sess.random(), sess.random()).into_bytes()),
        };
        Some(s)
    }
}

fn credentials(ctx: &Ctx<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut cred = None;
    each_header(ctx, Side::Req, Some(b"authorization"), false, &mut |v| {
        cred = basic_credentials(v);
        true
    });
    cred
}

impl Expr {
    /// Every value after converters (ACL context); stops when `f` returns true.
    pub(crate) fn each<'v>(&self, ctx: &Ctx<'v>, f: &mut dyn FnMut(Sample<'v>) -> bool) -> bool {
        self.fetch.each(
            ctx,
            &mut |s| match crate::conv::apply_all(&self.convs, s, ctx) {
                Some(s) => f(s),
                None => false,
            },
        )
    }

    /// The value in sample context (`%[…]`, `set-var`, `use_backend %[…]`).
    pub(crate) fn one<'v>(&self, ctx: &Ctx<'v>) -> Option<Sample<'v>> {
        crate::conv::apply_all(&self.convs, self.fetch.one(ctx)?, ctx)
    }
}

impl Expr {
    /// Evaluates in sample context on a request (`balance hdr`, `stick on`, `capture`).
    pub fn eval_request<'v, V: RequestView>(&self, view: &'v V) -> Option<Sample<'v>> {
        self.one(&Ctx::request(view))
    }

    /// Evaluates in sample context on a response (`stick store-response`, `capture response`).
    pub fn eval_response<'v, V: ResponseView>(&self, view: &'v V) -> Option<Sample<'v>> {
        self.one(&Ctx::response(view))
    }

    /// Evaluates with only the session (TCP mode).
    pub fn eval_session<'v, V: SessionView>(&self, view: &'v V) -> Option<Sample<'v>> {
        self.one(&Ctx::session(view))
    }
}
