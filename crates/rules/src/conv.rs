//! Converters (configuration.txt §7.3.1), compiled once and applied per sample.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use fulcrum_config::diag::Span;
use regex::bytes::Regex;

use crate::conv_text::{self as text, json_escape, pick};
use crate::error::RuleError;
use crate::fetch::Ctx;
use crate::hash;
use crate::map::{MapFile, MapOut};
use crate::proxy::CompileEnv;
use crate::value::Sample;

/// An arithmetic operand: a constant or a variable name.
#[derive(Clone, Debug)]
pub(crate) enum Operand {
    Int(i64),
    Var(String),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum HashKind {
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
}

#[derive(Clone, Debug)]
pub(crate) enum Conv {
    Lower,
    Upper,
    Map {
        map: Arc<MapFile>,
        out: MapOut,
        default: Option<Vec<u8>>,
    },
    Regsub {
        re: Regex,
        subst: Vec<u8>,
        global: bool,
    },
    Word {
        index: i64,
        delims: Vec<u8>,
        count: usize,
    },
    Field {
        index: i64,
        delims: Vec<u8>,
        count: usize,
    },
    Bytes {
        off: usize,
        len: Option<usize>,
    },
    Base64,
    B64dec,
    Hex,
    Length,
    Ipmask {
        v4: u8,
        v6: u8,
    },
    Concat {
        pre: Vec<u8>,
        var: Option<String>,
        post: Vec<u8>,
    },
    Json,
    UrlDec {
        form: bool,
    },
    Arith(Arith, Operand),
    Neg,
    Not,
    Bool,
    Odd,
    Even,
    Strcmp(String),
    SecureMemcmp(String),
    Hash {
        kind: HashKind,
        avalanche: bool,
    },
    Xxh3(u64),
    Ltrim(Vec<u8>),
    Rtrim(Vec<u8>),
    /// `http_date([offset])`, `utime(fmt[,offset])`, `ltime(fmt[,offset])`.
    Date {
        fmt: Option<String>,
        offset: i64,
        local: bool,
    },
    UrlEnc,
    Hex2i,
    CutCrlf,
    HostOnly,
    PortOnly,
    /// `be2dec` (`big`) / `le2dec`.
    ToDec {
        sep: Vec<u8>,
        chunk: usize,
        truncate: bool,
        big: bool,
    },
    Sha1,
    Sha2(u16),
    /// `set-var(NAME[,COND…])`: stores the sample and passes it on.
    SetVar(String, Vec<String>),
    /// `unset-var(NAME)`: removes the variable and passes the sample on.
    UnsetVar(String),
    /// `in_table(T)`, `table_*(T)`: the sample looked up as a key of table `T`.
    Table(Box<fulcrum_persist::convert::TableConverter>),
}

pub(crate) fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect()
}

fn int(args: &[String], i: usize, span: &Span, conv: &str) -> Result<Option<i64>, RuleError> {
    match args.get(i).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| RuleError::new(span, format!("{conv}: '{s}' is not an integer"))),
    }
}

fn mask(s: &str, v6: bool) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (n <= if v6 { 128 } else { 32 }).then_some(n);
    }
    let ip: std::net::Ipv4Addr = s.parse().ok()?;
    let bits = u32::from(ip);
    (bits.leading_ones() + bits.trailing_zeros() == 32).then_some(bits.leading_ones() as u8)
}

/// A variable name as `set-var` takes it: a known scope, a dot, then a name.
fn check_var_name(v: &str, span: &Span, conv: &str) -> Result<(), RuleError> {
    let ok = v.split_once('.').is_some_and(|(scope, rest)| {
        matches!(scope, "proc" | "sess" | "txn" | "req" | "res")
            && !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    });
    if ok {
        Ok(())
    } else {
        Err(RuleError::new(
            span,
            format!("{conv}: '{v}' is not a variable name (proc|sess|txn|req|res, a dot, then a-z A-Z 0-9 . _)"),
        ))
    }
}

/// The converter's result borrowing the part `bounds` of the input when it can.
fn keep<'v>(s: Sample<'v>, bounds: impl Fn(&[u8]) -> (usize, usize)) -> Sample<'v> {
    match s.into_bytes() {
        Cow::Borrowed(b) => {
            let (x, y) = bounds(b);
            Sample::str(&b[x..y])
        }
        Cow::Owned(b) => {
            let (x, y) = bounds(&b);
            Sample::owned_str(b[x..y].to_vec())
        }
    }
}

pub(crate) fn compile(
    name: &str,
    args: &[String],
    span: &Span,
    env: &CompileEnv,
) -> Result<Conv, RuleError> {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    let operand = || match arg(0).parse::<i64>() {
        Ok(n) => Operand::Int(n),
        Err(_) => Operand::Var(arg(0).to_string()),
    };
    if let Some(t) = crate::stick::compile_conv(name, args, span, env)? {
        return Ok(Conv::Table(Box::new(t)));
    }
    if fulcrum_config::rules::is_map_converter(name) {
        let (kind, out) = crate::map::kinds(name);
        let map = env.load_map(arg(0), kind, span)?;
        return Ok(Conv::Map {
            map,
            out,
            default: args.get(1).map(|d| d.as_bytes().to_vec()),
        });
    }
    let c = match name {
        "lower" => Conv::Lower,
        "upper" => Conv::Upper,
        "regsub" => {
            let flags = arg(2);
            let re = crate::regex_util::compile(arg(0), flags.contains('i'))
                .map_err(|e| RuleError::new(span, e))?;
            Conv::Regsub {
                re,
                subst: arg(1).as_bytes().to_vec(),
                global: flags.contains('g'),
            }
        }
        "word" | "field" => {
            let index = int(args, 0, span, name)?.unwrap_or(1);
            let count = int(args, 2, span, name)?.unwrap_or(1).max(0) as usize;
            let delims = arg(1).as_bytes().to_vec();
            if index == 0 || delims.is_empty() {
                return Err(RuleError::new(
                    span,
                    format!("{name}: index must not be 0 and delimiters not empty"),
                ));
            }
            if name == "word" {
                Conv::Word {
                    index,
                    delims,
                    count,
                }
            } else {
                Conv::Field {
                    index,
                    delims,
                    count,
                }
            }
        }
        "bytes" => {
            let off = int(args, 0, span, name)?.unwrap_or(0);
            let len = int(args, 1, span, name)?;
            let bad = || RuleError::new(span, "bytes: offset and length must be >= 0");
            Conv::Bytes {
                off: usize::try_from(off).map_err(|_| bad())?,
                len: len.map(usize::try_from).transpose().map_err(|_| bad())?,
            }
        }
        "base64" => Conv::Base64,
        "b64dec" => Conv::B64dec,
        "hex" => Conv::Hex,
        "length" => Conv::Length,
        "ipmask" => {
            let v4 = mask(arg(0), false)
                .ok_or_else(|| RuleError::new(span, format!("ipmask: bad mask '{}'", arg(0))))?;
            let v6 = match args.get(1) {
                Some(m) => mask(m, true)
                    .ok_or_else(|| RuleError::new(span, format!("ipmask: bad mask '{m}'")))?,
                None => 128,
            };
            Conv::Ipmask { v4, v6 }
        }
        "concat" => Conv::Concat {
            pre: arg(0).as_bytes().to_vec(),
            var: args.get(1).filter(|s| !s.is_empty()).cloned(),
            post: arg(2).as_bytes().to_vec(),
        },
        "json" => Conv::Json,
        "url_dec" => Conv::UrlDec {
            form: int(args, 0, span, name)?.unwrap_or(0) != 0,
        },
        "add" => Conv::Arith(Arith::Add, operand()),
        "sub" => Conv::Arith(Arith::Sub, operand()),
        "mul" => Conv::Arith(Arith::Mul, operand()),
        "div" => Conv::Arith(Arith::Div, operand()),
        "mod" => Conv::Arith(Arith::Mod, operand()),
        "and" => Conv::Arith(Arith::And, operand()),
        "or" => Conv::Arith(Arith::Or, operand()),
        "xor" => Conv::Arith(Arith::Xor, operand()),
        "neg" => Conv::Neg,
        "not" => Conv::Not,
        "bool" => Conv::Bool,
        "odd" => Conv::Odd,
        "even" => Conv::Even,
        "strcmp" => Conv::Strcmp(arg(0).to_string()),
        "secure_memcmp" => Conv::SecureMemcmp(arg(0).to_string()),
        "sdbm" | "djb2" | "wt6" | "crc32" => Conv::Hash {
            kind: match name {
                "sdbm" => HashKind::Sdbm,
                "djb2" => HashKind::Djb2,
                "wt6" => HashKind::Wt6,
                _ => HashKind::Crc32,
            },
            avalanche: int(args, 0, span, name)?.unwrap_or(0) != 0,
        },
        "xxh3" => Conv::Xxh3(int(args, 0, span, name)?.unwrap_or(0) as u64),
        "ltrim" => Conv::Ltrim(arg(0).as_bytes().to_vec()),
        "http_date" => Conv::Date {
            fmt: None,
            offset: int(args, 0, span, name)?.unwrap_or(0),
            local: false,
        },
        "utime" | "ltime" => Conv::Date {
            fmt: Some(arg(0).to_string()),
            offset: int(args, 1, span, name)?.unwrap_or(0),
            local: name == "ltime",
        },
        "url_enc" => match arg(0) {
            "" | "query" => Conv::UrlEnc,
            other => {
                return Err(RuleError::new(
                    span,
                    format!("url_enc: unknown encoding '{other}' (only 'query')"),
                ))
            }
        },
        "hex2i" => Conv::Hex2i,
        "cut_crlf" => Conv::CutCrlf,
        "host_only" => Conv::HostOnly,
        "port_only" => Conv::PortOnly,
        "be2dec" | "le2dec" => {
            let chunk = int(args, 1, span, name)?.unwrap_or(0);
            if !(1..=8).contains(&chunk) {
                return Err(RuleError::new(
                    span,
                    format!("{name}: chunk size must be 1 to 8 bytes"),
                ));
            }
            Conv::ToDec {
                sep: arg(0).as_bytes().to_vec(),
                chunk: chunk as usize,
                truncate: int(args, 2, span, name)?.unwrap_or(0) != 0,
                big: name == "be2dec",
            }
        }
        "sha1" => Conv::Sha1,
        "sha2" => match int(args, 0, span, name)?.unwrap_or(256) {
            b @ (224 | 256 | 384 | 512) => Conv::Sha2(b as u16),
            b => {
                return Err(RuleError::new(
                    span,
                    format!("sha2: {b} bits is not one of 224, 256, 384, 512"),
                ))
            }
        },
        "set-var" => {
            check_var_name(arg(0), span, name)?;
            Conv::SetVar(
                arg(0).to_string(),
                args.get(1..).unwrap_or_default().to_vec(),
            )
        }
        "unset-var" => {
            check_var_name(arg(0), span, name)?;
            Conv::UnsetVar(arg(0).to_string())
        }
        "rtrim" => Conv::Rtrim(arg(0).as_bytes().to_vec()),
        other => {
            return Err(RuleError::new(
                span,
                format!("converter '{other}' is not supported"),
            ))
        }
    };
    Ok(c)
}

pub(crate) fn apply_all<'v>(
    convs: &[Conv],
    mut s: Sample<'v>,
    ctx: &Ctx<'v>,
) -> Option<Sample<'v>> {
    for c in convs {
        s = c.apply(s, ctx)?;
    }
    Some(s)
}

fn var_bytes<'v>(ctx: &Ctx<'v>, name: &str) -> Option<Vec<u8>> {
    Some(ctx.sess.vars().get(name)?.to_bytes().into_owned())
}

impl Conv {
    fn apply<'v>(&self, s: Sample<'v>, ctx: &Ctx<'v>) -> Option<Sample<'v>> {
        let out = match self {
            Conv::Table(t) => crate::stick::apply_conv(t, &s, ctx)?,
            Conv::Lower => Sample::Str(Cow::Owned(s.into_bytes().to_ascii_lowercase())),
            Conv::Upper => Sample::Str(Cow::Owned(s.into_bytes().to_ascii_uppercase())),
            Conv::Map { map, out, default } => match map.lookup(&s, *out) {
                Some(v) => v,
                None => {
                    let d = default.as_ref()?;
                    MapOut::convert(*out, d)?
                }
            },
            Conv::Regsub { re, subst, global } => Sample::Str(Cow::Owned(
                crate::regex_util::replace(re, &s.into_bytes(), subst, *global),
            )),
            Conv::Word {
                index,
                delims,
                count,
            }
            | Conv::Field {
                index,
                delims,
                count,
            } => {
                let b = s.into_bytes();
                let skip = matches!(self, Conv::Word { .. });
                match b {
                    Cow::Borrowed(b) => Sample::str(pick(b, delims, *index, *count, skip)?),
                    Cow::Owned(b) => {
                        Sample::owned_str(pick(&b, delims, *index, *count, skip)?.to_vec())
                    }
                }
            }
            Conv::Bytes { off, len } => {
                let b = s.into_bytes();
                let end = len.map_or(b.len(), |l| off.saturating_add(l).min(b.len()));
                if *off > b.len() {
                    return None;
                }
                match b {
                    Cow::Borrowed(b) => Sample::Bin(Cow::Borrowed(&b[*off..end])),
                    Cow::Owned(b) => Sample::Bin(Cow::Owned(b[*off..end].to_vec())),
                }
            }
            Conv::Base64 => Sample::owned_str(
                base64::engine::general_purpose::STANDARD
                    .encode(s.to_bytes())
                    .into_bytes(),
            ),
            Conv::B64dec => Sample::Bin(Cow::Owned(
                base64::engine::general_purpose::STANDARD
                    .decode(s.to_bytes())
                    .ok()?,
            )),
            Conv::Hex => {
                let b = s.to_bytes();
                let mut out = Vec::with_capacity(b.len() * 2);
                for x in b.iter() {
                    out.extend_from_slice(format!("{x:02X}").as_bytes());
                }
                Sample::owned_str(out)
            }
            Conv::Length => Sample::Int(s.to_bytes().len() as i64),
            Conv::Ipmask { v4, v6 } => match s.to_ip()? {
                IpAddr::V4(a) => {
                    let m = u32::MAX.checked_shl(32 - u32::from(*v4)).unwrap_or(0);
                    Sample::Ip(IpAddr::V4((u32::from(a) & m).into()))
                }
                IpAddr::V6(a) => {
                    let m = u128::MAX.checked_shl(128 - u32::from(*v6)).unwrap_or(0);
                    Sample::Ip(IpAddr::V6((u128::from(a) & m).into()))
                }
            },
            Conv::Concat { pre, var, post } => {
                let mut b = s.into_bytes().into_owned();
                b.extend_from_slice(pre);
                if let Some(v) = var {
                    b.extend_from_slice(&var_bytes(ctx, v).unwrap_or_default());
                }
                b.extend_from_slice(post);
                Sample::owned_str(b)
            }
            Conv::Json => Sample::owned_str(json_escape(&s.to_bytes())),
            Conv::UrlDec { form } => {
                Sample::owned_str(crate::uri::url_decode(&s.to_bytes(), *form)?)
            }
            Conv::Arith(op, operand) => {
                let a = s.to_int()?;
                let b = match operand {
                    Operand::Int(n) => *n,
                    Operand::Var(v) => ctx.sess.vars().get(v)?.to_int()?,
                };
                Sample::Int(match op {
                    Arith::Add => a.saturating_add(b),
                    Arith::Sub => a.saturating_sub(b),
                    Arith::Mul => a.saturating_mul(b),
                    // HAProxy: division by zero gives the largest value, modulo by zero gives 0.
                    Arith::Div => a.checked_div(b).unwrap_or(i64::MAX),
                    Arith::Mod => a.checked_rem(b).unwrap_or(0),
                    Arith::And => a & b,
                    Arith::Or => a | b,
                    Arith::Xor => a ^ b,
                })
            }
            Conv::Neg => Sample::Int(s.to_int()?.saturating_neg()),
            Conv::Not => Sample::Bool(!s.to_bool()),
            Conv::Bool => Sample::Bool(s.to_bool()),
            Conv::Odd => Sample::Bool(s.to_int()? & 1 == 1),
            Conv::Even => Sample::Bool(s.to_int()? & 1 == 0),
            Conv::Strcmp(v) => {
                let other = var_bytes(ctx, v)?;
                Sample::Int(match s.to_bytes().as_ref().cmp(other.as_slice()) {
                    std::cmp::Ordering::Less => -1,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 1,
                })
            }
            Conv::SecureMemcmp(v) => {
                let other = var_bytes(ctx, v)?;
                let a = s.to_bytes();
                let eq = a.len() == other.len()
                    && a.iter().zip(&other).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
                Sample::Bool(eq)
            }
            Conv::Hash { kind, avalanche } => {
                let b = s.to_bytes();
                let mut h = match kind {
                    HashKind::Sdbm => hash::sdbm(&b),
                    HashKind::Djb2 => hash::djb2(&b),
                    HashKind::Wt6 => hash::wt6(&b),
                    HashKind::Crc32 => hash::crc32(&b),
                };
                if *avalanche {
                    h = hash::avalanche(h);
                }
                Sample::Int(i64::from(h))
            }
            Conv::Date { fmt, offset, local } => {
                let t = s.to_int()?.saturating_add(*offset);
                let text = match fmt {
                    Some(f) if *local => crate::time_fmt::strftime_local(f, t),
                    Some(f) => crate::time_fmt::strftime(f, t),
                    None => crate::time_fmt::http_date(t),
                };
                Sample::owned_str(text.into_bytes())
            }
            Conv::Xxh3(seed) => Sample::Int(hash::xxh3(&s.to_bytes(), *seed)),
            Conv::Ltrim(chars) | Conv::Rtrim(chars) => {
                let left = matches!(self, Conv::Ltrim(_));
                keep(s, |b| text::trim_bounds(b, chars, left))
            }
            Conv::UrlEnc => Sample::owned_str(text::url_enc(&s.to_bytes())),
            Conv::Hex2i => Sample::Int(text::hex2i(&s.to_bytes())?),
            Conv::CutCrlf => keep(s, |b| (0, text::cut_crlf(b))),
            Conv::HostOnly => Sample::owned_str(text::host_only(&s.to_bytes())),
            Conv::PortOnly => Sample::Int(text::port_only(&s.to_bytes())),
            Conv::ToDec {
                sep,
                chunk,
                truncate,
                big,
            } => Sample::owned_str(text::to_dec(&s.to_bytes(), sep, *chunk, *truncate, *big)),
            Conv::Sha1 => Sample::Bin(Cow::Owned(text::sha1(&s.to_bytes()))),
            Conv::Sha2(bits) => Sample::Bin(Cow::Owned(text::sha2(&s.to_bytes(), *bits))),
            Conv::SetVar(name, conds) => {
                ctx.sess.vars().set_from_converter(name, conds, &s);
                s
            }
            Conv::UnsetVar(name) => {
                ctx.sess.vars().unset_from_converter(name);
                s
            }
        };
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_parse() {
        assert_eq!(mask("24", false), Some(24));
        assert_eq!(mask("255.255.0.0", false), Some(16));
        assert_eq!(mask("255.0.255.0", false), None);
    }
}
