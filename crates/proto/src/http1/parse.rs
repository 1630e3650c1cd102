//! Head parsing: `httparse` on the fast path, the lenient parser only when
//! `accept-invalid-*` is on and `httparse` refused something it relaxes.

use super::analyze::{finish_request, finish_response};
use super::lenient;
use super::{
    ByteRange, HeaderEntry, Limits, Method, Parsed, RequestHead, ResponseHead, Version, MAX_HEADERS,
};
use crate::error::Error;

/// A request head as split by a parser, before any semantic check.
pub(super) struct RawRequest {
    pub method: ByteRange,
    pub target: ByteRange,
    pub version: Version,
    pub start_line: ByteRange,
    pub headers: Vec<HeaderEntry>,
    pub head_len: usize,
}

/// A response head as split by a parser, before any semantic check.
pub(super) struct RawResponse {
    pub version: Version,
    pub status: u16,
    pub reason: ByteRange,
    pub start_line: ByteRange,
    pub headers: Vec<HeaderEntry>,
    pub head_len: usize,
}

/// Parses a request head at the start of `buf`.
///
/// `Partial` means the head is not complete yet; once `buf` holds
/// `limits.max_head` bytes without a complete head, the answer is
/// [`Error::HeadTooLarge`]. On success the head's bytes are `buf[..head_len]`.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Parsed<RequestHead>, Error> {
    let window = &buf[..buf.len().min(limits.max_head)];
    let raw = match strict_request(window) {
        Ok(Some(raw)) => raw,
        Ok(None) => return partial(buf, limits),
        Err(e) if limits.accept_invalid && relaxable(e) => match lenient::request(window)? {
            Some(raw) => raw,
            None => return partial(buf, limits),
        },
        Err(e) => return Err(e),
    };
    let len = raw.head_len;
    let head = finish_request(window, raw, limits)?;
    Ok(Parsed::Complete(head, len))
}

/// Parses a response head at the start of `buf`, sent in answer to a request
/// with `request_method` (HEAD and CONNECT change how the body is framed).
pub fn parse_response(
    buf: &[u8],
    request_method: Method,
    limits: &Limits,
) -> Result<Parsed<ResponseHead>, Error> {
    let window = &buf[..buf.len().min(limits.max_head)];
    let raw = match strict_response(window) {
        Ok(Some(raw)) => raw,
        Ok(None) => return partial(buf, limits),
        Err(e) if limits.accept_invalid && relaxable(e) => match lenient::response(window)? {
            Some(raw) => raw,
            None => return partial(buf, limits),
        },
        Err(e) => return Err(e),
    };
    let len = raw.head_len;
    let head = finish_response(window, raw, request_method)?;
    Ok(Parsed::Complete(head, len))
}

fn partial<T>(buf: &[u8], limits: &Limits) -> Result<Parsed<T>, Error> {
    if buf.len() >= limits.max_head {
        Err(Error::HeadTooLarge {
            limit: limits.max_head,
        })
    } else {
        Ok(Parsed::Partial)
    }
}

/// What `accept-invalid-http-request/response` lets through in HAProxy.
fn relaxable(e: Error) -> bool {
    matches!(e, Error::InvalidHeaderName | Error::InvalidVersion)
}

fn strict_request(window: &[u8]) -> Result<Option<RawRequest>, Error> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let head_len = match req.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(classify(e, window, false)),
    };
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(Error::InvalidRequestLine);
    };
    let head = &window[..head_len];
    let method = range_of(head, method.as_bytes())?;
    let target = range_of(head, path.as_bytes())?;
    let start_line = line_from(head, method.start as usize)?;
    let headers = entries(head, req.headers)?;
    Ok(Some(RawRequest {
        method,
        target,
        version: version_of(minor),
        start_line,
        headers,
        head_len,
    }))
}

fn strict_response(window: &[u8]) -> Result<Option<RawResponse>, Error> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut slots);
    let head_len = match res.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(classify(e, window, true)),
    };
    let (Some(minor), Some(status)) = (res.version, res.code) else {
        return Err(Error::InvalidStatusLine);
    };
    let head = &window[..head_len];
    // The status line starts at the first 'H' (httparse skips leading empty lines).
    let start = head
        .iter()
        .position(|&b| b == b'H')
        .ok_or(Error::InvalidStatusLine)?;
    let start_line = line_from(head, start)?;
    let reason = match res.reason {
        Some(r) if !r.is_empty() => range_of(head, r.as_bytes())?,
        _ => ByteRange::new(start_line.end as usize, start_line.end as usize),
    };
    let headers = entries(head, res.headers)?;
    Ok(Some(RawResponse {
        version: version_of(minor),
        status,
        reason,
        start_line,
        headers,
        head_len,
    }))
}

fn version_of(minor: u8) -> Version {
    if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    }
}

fn classify(e: httparse::Error, window: &[u8], response: bool) -> Error {
    match e {
        httparse::Error::HeaderName if has_obs_fold(window) => Error::ObsFold,
        httparse::Error::HeaderName => Error::InvalidHeaderName,
        httparse::Error::HeaderValue => Error::InvalidHeaderValue,
        httparse::Error::NewLine if has_bare_cr(window) => Error::BareCr,
        // Otherwise the version token ran on (`HTTP/1.10`): let the lenient parser judge.
        httparse::Error::NewLine => Error::InvalidVersion,
        httparse::Error::Status => Error::InvalidStatusLine,
        httparse::Error::Token if response => Error::InvalidStatusLine,
        httparse::Error::Token => Error::InvalidRequestLine,
        httparse::Error::TooManyHeaders => Error::TooManyHeaders,
        httparse::Error::Version => Error::InvalidVersion,
    }
}

/// A CR not followed by LF.
fn has_bare_cr(window: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', window).any(|i| window.get(i + 1).is_some_and(|&b| b != b'\n'))
}

/// A header-section line starting with SP/HT continues the previous one (obs-fold).
pub(super) fn has_obs_fold(window: &[u8]) -> bool {
    let mut lines = window.split(|&b| b == b'\n');
    // Skip leading empty lines and the start line.
    for line in lines.by_ref() {
        if !(line.is_empty() || line == b"\r") {
            break;
        }
    }
    for line in lines {
        if line.is_empty() || line == b"\r" {
            return false;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return true;
        }
    }
    false
}

/// Offset range of `sub`, a slice httparse handed back from `head`.
fn range_of(head: &[u8], sub: &[u8]) -> Result<ByteRange, Error> {
    let base = head.as_ptr() as usize;
    let at = sub.as_ptr() as usize;
    if at < base || at + sub.len() > base + head.len() {
        // httparse always slices the input; anything else is a parser bug.
        return Err(Error::InvalidRequestLine);
    }
    Ok(ByteRange::new(at - base, at - base + sub.len()))
}

/// The line starting at `start`, through its `\n`.
fn line_from(head: &[u8], start: usize) -> Result<ByteRange, Error> {
    let rest = head.get(start..).ok_or(Error::InvalidRequestLine)?;
    let lf = memchr::memchr(b'\n', rest).ok_or(Error::InvalidRequestLine)?;
    Ok(ByteRange::new(start, start + lf + 1))
}

fn entries(head: &[u8], parsed: &[httparse::Header<'_>]) -> Result<Vec<HeaderEntry>, Error> {
    let mut out = Vec::with_capacity(parsed.len());
    for h in parsed {
        let name = range_of(head, h.name.as_bytes())?;
        let line = line_from(head, name.start as usize)?;
        let value = if h.value.is_empty() {
            // An empty slice may not point into the buffer: place it after the colon.
            let colon = head[name.end as usize..line.end as usize]
                .iter()
                .position(|&b| b == b':')
                .map_or(name.end as usize, |i| name.end as usize + i + 1);
            ByteRange::new(colon, colon)
        } else {
            range_of(head, h.value)?
        };
        out.push(HeaderEntry { name, value, line });
    }
    Ok(out)
}
