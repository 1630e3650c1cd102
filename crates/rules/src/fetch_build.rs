//! Resolving fetch names and arguments once at load.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use fulcrum_config::diag::Span;
use fulcrum_config::rules::SampleExpr;

use crate::auth::Userlist;
use crate::error::RuleError;
use crate::fetch::{Expr, Fetch, Post, Side};
use crate::proxy::CompileEnv;
use crate::value::Sample;

fn opt_name(args: &[String], i: usize) -> Option<Vec<u8>> {
    args.get(i)
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
}

fn int_arg(args: &[String], i: usize, span: &Span, fetch: &str) -> Result<Option<i64>, RuleError> {
    match args.get(i).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| RuleError::new(span, format!("{fetch}: '{s}' is not an integer"))),
    }
}

/// `backend/server` or `server` (in the current backend).
fn split_server(arg: &str) -> (Option<String>, String) {
    match arg.split_once('/') {
        Some((b, s)) => (Some(b.to_string()), s.to_string()),
        None => (None, arg.to_string()),
    }
}

fn userlist(args: &[String], env: &CompileEnv, span: &Span) -> Result<Arc<Userlist>, RuleError> {
    let name = args.first().map(String::as_str).unwrap_or_default();
    env.userlists
        .get(name)
        .cloned()
        .ok_or_else(|| RuleError::new(span, format!("unknown userlist '{name}'")))
}

pub(crate) fn compile_fetch(
    name: &str,
    args: &[String],
    span: &Span,
    env: &CompileEnv,
) -> Result<Fetch, RuleError> {
    let a0 = || args.first().cloned();
    let side_of = |n: &str| {
        if n.starts_with("res.") || n.starts_with('s') {
            Side::Res
        } else if n == "hdr" {
            Side::Auto
        } else {
            Side::Req
        }
    };
    if let Some(f) = crate::stick::compile_fetch(name, args, span, env)? {
        return Ok(Fetch::Stick(Box::new(f)));
    }
    let f = match name {
        "src" => Fetch::Src,
        "src_port" => Fetch::SrcPort,
        "dst" => Fetch::Dst,
        "dst_port" => Fetch::DstPort,
        "fe_name" => Fetch::FeName,
        "fe_id" => Fetch::FeId,
        "be_name" => Fetch::BeName,
        "be_id" => Fetch::BeId,
        "srv_name" => Fetch::SrvName,
        "srv_id" => Fetch::SrvId,
        "nbsrv" => Fetch::Nbsrv(a0()),
        "be_conn" => Fetch::BeConn(a0()),
        "fe_conn" => Fetch::FeConn(a0()),
        "connslots" => Fetch::Connslots(a0()),
        "srv_conn" | "srv_is_up" => {
            let (b, s) = split_server(args.first().map(String::as_str).unwrap_or_default());
            if name == "srv_conn" {
                Fetch::SrvConn(b, s)
            } else {
                Fetch::SrvIsUp(b, s)
            }
        }
        "queue" => Fetch::Queue(a0()),
        "avg_queue" => Fetch::AvgQueue(a0()),
        "always_true" => Fetch::Const(Sample::Bool(true)),
        "always_false" => Fetch::Const(Sample::Bool(false)),
        "method" => Fetch::Method,
        "path" => Fetch::Path,
        "pathq" => Fetch::PathQ,
        "url" => Fetch::Url,
        "url_ip" => Fetch::UrlIp,
        "url_port" => Fetch::UrlPort,
        "url_param" | "urlp" | "urlp_val" => Fetch::UrlParam {
            name: opt_name(args, 0),
            delim: args.get(1).and_then(|d| d.bytes().next()).unwrap_or(b'&'),
            post: if name == "urlp_val" {
                Post::Int
            } else {
                Post::None
            },
        },
        "query" => Fetch::Query,
        "base" => Fetch::Base,
        "base32" => Fetch::Base32,
        "hdr" | "req.hdr" | "req.fhdr" | "hdr_val" | "req.hdr_val" | "hdr_ip" | "req.hdr_ip"
        | "res.hdr" | "shdr" | "res.fhdr" | "res.hdr_val" | "shdr_val" => Fetch::Hdr {
            side: side_of(name),
            name: opt_name(args, 0).map(|n| n.to_ascii_lowercase()),
            occ: int_arg(args, 1, span, name)?,
            split: !name.ends_with("fhdr"),
            post: if name.ends_with("_val") {
                Post::Int
            } else if name.ends_with("_ip") {
                Post::Ip
            } else {
                Post::None
            },
        },
        "hdr_cnt" | "req.hdr_cnt" | "req.fhdr_cnt" | "res.hdr_cnt" | "shdr_cnt" => Fetch::HdrCnt {
            side: side_of(name),
            name: opt_name(args, 0),
            split: !name.contains("fhdr"),
        },
        "req.hdrs" => Fetch::ReqHdrs,
        "req.hdrs_len" => Fetch::ReqHdrsLen,
        "cook" | "req.cook" | "res.cook" | "scook" | "cook_val" | "req.cook_val" => Fetch::Cook {
            side: side_of(name),
            name: opt_name(args, 0),
            post: if name.ends_with("_val") {
                Post::Int
            } else {
                Post::None
            },
        },
        "cook_cnt" | "req.cook_cnt" | "res.cook_cnt" | "scook_cnt" => Fetch::CookCnt {
            side: side_of(name),
            name: opt_name(args, 0),
        },
        "status" => Fetch::Status,
        "req.ver" | "req_ver" => Fetch::ReqVer,
        "res.ver" | "resp_ver" => Fetch::ResVer,
        "req.body" => Fetch::ReqBody,
        "req.body_len" => Fetch::ReqBodyLen,
        "res.body" => Fetch::ResBody,
        "res.body_len" => Fetch::ResBodyLen,
        "req.len" | "req_len" => Fetch::ReqLen,
        "res.len" => Fetch::ResLen,
        "req.payload" | "res.payload" => {
            let off = int_arg(args, 0, span, name)?.unwrap_or(0);
            let len = int_arg(args, 1, span, name)?.unwrap_or(0);
            match (usize::try_from(off), usize::try_from(len)) {
                (Ok(off), Ok(len)) if name == "res.payload" => Fetch::ResPayload { off, len },
                (Ok(off), Ok(len)) => Fetch::ReqPayload { off, len },
                _ => {
                    return Err(RuleError::new(
                        span,
                        format!("{name}: offset and length must be >= 0"),
                    ))
                }
            }
        }
        "req.ssl_sni" | "req_ssl_sni" => Fetch::ClientHelloSni,
        "req.ssl_hello_type" | "req_ssl_hello_type" => Fetch::ClientHelloType,
        "ssl_fc_sni" => Fetch::SslSni,
        "ssl_fc" => Fetch::SslFc,
        "rdp_cookie" | "req.rdp_cookie" => Fetch::RdpCookie(opt_name(args, 0)),
        "rdp_cookie_cnt" | "req.rdp_cookie_cnt" => Fetch::RdpCookieCnt(opt_name(args, 0)),
        "http_auth" => Fetch::HttpAuth(userlist(args, env, span)?),
        "http_auth_group" => Fetch::HttpAuthGroup(userlist(args, env, span)?),
        "http_first_req" => Fetch::HttpFirstReq,
        "req.proto_http" | "req_proto_http" => Fetch::ProtoHttp,
        "wait_end" => Fetch::WaitEnd,
        "var" => Fetch::Var(args.first().cloned().unwrap_or_default()),
        "env" => Fetch::Env(args.first().cloned().unwrap_or_default()),
        "date" => Fetch::Date(int_arg(args, 0, span, name)?.unwrap_or(0)),
        "rand" => Fetch::Rand(int_arg(args, 0, span, name)?.and_then(|r| u64::try_from(r).ok())),
        "uuid" => Fetch::Uuid,
        "unique-id" => Fetch::UniqueId,
        "capture.req.hdr" | "capture.res.hdr" => {
            let slot = int_arg(args, 0, span, name)?
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    RuleError::new(span, format!("{name}: expects a capture slot >= 0"))
                })?;
            Fetch::Captured(name == "capture.res.hdr", slot)
        }
        "capture.req.method" => Fetch::Method,
        "capture.req.uri" => Fetch::PathQ,
        "capture.req.ver" => Fetch::ReqVerFull,
        "capture.res.ver" => Fetch::ResVerFull,
        "str" => Fetch::Const(Sample::owned_str(args.concat().into_bytes())),
        "int" => Fetch::Const(Sample::Int(int_arg(args, 0, span, name)?.unwrap_or(0))),
        "bool" => Fetch::Const(Sample::Bool(matches!(
            args.first().map(String::as_str),
            Some("1" | "true")
        ))),
        "ipv4" | "ipv6" => {
            let a = args.first().map(String::as_str).unwrap_or_default();
            let ip: IpAddr = a
                .parse()
                .map_err(|_| RuleError::new(span, format!("{name}: '{a}' is not an address")))?;
            Fetch::Const(Sample::Ip(ip))
        }
        "bin" => {
            let a = args.first().map(String::as_str).unwrap_or_default();
            Fetch::Const(Sample::Bin(Cow::Owned(
                crate::conv::unhex(a.as_bytes())
                    .ok_or_else(|| RuleError::new(span, format!("bin: '{a}' is not hex")))?,
            )))
        }
        other => {
            return Err(RuleError::new(
                span,
                format!("sample fetch '{other}' is not supported"),
            ))
        }
    };
    Ok(f)
}

/// Compiles a parsed expression (fetch + converters), e.g. for `stick on` or `balance hash`.
pub fn compile_expr(e: &SampleExpr, span: &Span, env: &CompileEnv) -> Result<Expr, RuleError> {
    let fetch = compile_fetch(&e.fetch, &e.args, span, env)?;
    let convs = e
        .convs
        .iter()
        .map(|c| crate::conv::compile(&c.name, &c.args, span, env))
        .collect::<Result<_, _>>()?;
    Ok(Expr {
        fetch,
        convs,
        text: e.text.clone(),
    })
}
