//! What a head means for the connection: framing, connection tokens, Host,
//! and the smuggling defences HAProxy applies before forwarding anything.

use super::headers::{comma_elements, trim_ows};
use super::parse::{RawRequest, RawResponse};
use super::{
    find_sub, BodyFraming, ByteRange, ConnectionTokens, HeaderEntry, Limits, Method, RequestHead,
    ResponseHead, TargetForm, Version,
};
use crate::error::Error;

/// Transfer-Encoding codings seen over all TE headers, in order.
#[derive(Default)]
struct TeSummary {
    chunked: usize,
    last_chunked: bool,
    other: bool,
}

#[derive(Default)]
struct Scan {
    content_length: Option<u64>,
    te: Option<TeSummary>,
    connection: ConnectionTokens,
    upgrade: Option<ByteRange>,
    expect_continue: bool,
    host: Option<ByteRange>,
}

fn scan(buf: &[u8], headers: &[HeaderEntry], framing_headers: bool) -> Result<Scan, Error> {
    let mut s = Scan::default();
    for h in headers {
        let name = h.name.get(buf);
        let value = h.value.get(buf);
        if name.eq_ignore_ascii_case(b"content-length") {
            if framing_headers {
                let n = parse_content_length(value)?;
                if s.content_length.is_some_and(|prev| prev != n) {
                    return Err(Error::DuplicateContentLength);
                }
                s.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if framing_headers {
                let te = s.te.get_or_insert_with(TeSummary::default);
                let mut any = false;
                for coding in comma_elements(value) {
                    any = true;
                    if coding.eq_ignore_ascii_case(b"chunked") {
                        te.chunked += 1;
                        te.last_chunked = true;
                    } else {
                        te.other = true;
                        te.last_chunked = false;
                    }
                }
                if !any {
                    return Err(Error::InvalidTransferEncoding);
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in comma_elements(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    s.connection.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    s.connection.keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    s.connection.upgrade = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            s.upgrade.get_or_insert(h.value);
        } else if name.eq_ignore_ascii_case(b"expect") {
            if trim_ows(value).eq_ignore_ascii_case(b"100-continue") {
                s.expect_continue = true;
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            match s.host {
                Some(prev) if !prev.get(buf).eq_ignore_ascii_case(value) => {
                    return Err(Error::DuplicateHost)
                }
                Some(_) => {}
                None => s.host = Some(h.value),
            }
        }
    }
    Ok(s)
}

/// Digits only; a comma list of equal values is the same value (RFC 9110 §8.6).
fn parse_content_length(value: &[u8]) -> Result<u64, Error> {
    let mut found: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = trim_ows(part);
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(Error::InvalidContentLength);
        }
        let n = part.iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        let n = n.ok_or(Error::InvalidContentLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(Error::DuplicateContentLength);
        }
        found = Some(n);
    }
    found.ok_or(Error::InvalidContentLength)
}

/// Framing from Transfer-Encoding: `chunked` once and last, else a fault.
fn chunked_framing(te: &TeSummary, request: bool) -> Result<BodyFraming, Error> {
    if te.chunked != 1 || !te.last_chunked {
        return Err(Error::InvalidTransferEncoding);
    }
    if te.other && request {
        return Err(Error::UnsupportedTransferEncoding);
    }
    Ok(BodyFraming::Chunked)
}

pub(super) fn finish_request(
    buf: &[u8],
    raw: RawRequest,
    limits: &Limits,
) -> Result<RequestHead, Error> {
    let method = Method::from_bytes(raw.method.get(buf));
    let target = raw.target.get(buf);
    let s = scan(buf, &raw.headers, true)?;

    let mut must_close = false;
    let framing = match (&s.te, s.content_length) {
        (Some(_), Some(_)) => return Err(Error::TransferEncodingWithContentLength),
        (Some(te), None) => {
            // RFC 9112 §6.1: TE in HTTP/1.0 is accepted for this message only.
            must_close = raw.version == Version::Http10;
            chunked_framing(te, true)?
        }
        (None, Some(n)) => BodyFraming::ContentLength(n),
        (None, None) => BodyFraming::None,
    };

    if !limits.accept_invalid {
        if target.iter().any(|&b| b >= 0x80) {
            return Err(Error::NonAsciiTarget);
        }
        if target.contains(&b'#') {
            return Err(Error::FragmentInTarget);
        }
    }
    let target_form = target_form(method, target)?;
    if target_form == TargetForm::Absolute {
        if let Some(host) = s.host {
            if !authority_matches(target, host.get(buf)) {
                return Err(Error::HostMismatch);
            }
        }
    }

    Ok(RequestHead {
        method,
        method_range: raw.method,
        target: raw.target,
        target_form,
        version: raw.version,
        start_line: raw.start_line,
        headers: raw.headers,
        framing,
        connection: s.connection,
        upgrade: s.upgrade,
        // RFC 9110 §10.1.1: a server ignores 100-continue from HTTP/1.0 clients.
        expect_continue: s.expect_continue && raw.version == Version::Http11,
        host: s.host,
        head_len: raw.head_len,
        must_close,
    })
}

pub(super) fn finish_response(
    buf: &[u8],
    raw: RawResponse,
    request_method: Method,
) -> Result<ResponseHead, Error> {
    let status = raw.status;
    if !(100..=999).contains(&status) {
        return Err(Error::InvalidStatusLine);
    }
    // 1xx, 204 and 304 never have a body; HAProxy ignores their framing headers.
    let bodyless_status = status < 200 || status == 204 || status == 304;
    let s = scan(buf, &raw.headers, !bodyless_status)?;
    let tunnel =
        status == 101 || (request_method == Method::Connect && (200..300).contains(&status));

    let mut must_close = false;
    let framing = match (&s.te, s.content_length) {
        (Some(_), Some(_)) => return Err(Error::TransferEncodingWithContentLength),
        (Some(te), None) => {
            must_close = raw.version == Version::Http10;
            chunked_framing(te, false)?
        }
        (None, Some(n)) => BodyFraming::ContentLength(n),
        (None, None) => BodyFraming::CloseDelimited,
    };
    let framing = if bodyless_status || tunnel || request_method == Method::Head {
        BodyFraming::None
    } else {
        if framing == BodyFraming::CloseDelimited {
            must_close = true;
        }
        framing
    };

    Ok(ResponseHead {
        version: raw.version,
        status,
        reason: raw.reason,
        start_line: raw.start_line,
        headers: raw.headers,
        framing,
        connection: s.connection,
        upgrade: s.upgrade,
        tunnel,
        head_len: raw.head_len,
        must_close,
    })
}

/// `scheme "://"` with an RFC 3986 scheme before it.
fn absolute_scheme_len(t: &[u8]) -> Option<usize> {
    let i = find_sub(t, b"://")?;
    let scheme = &t[..i];
    let ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    ok.then_some(i)
}

/// Which request-target form this is, and whether the method allows it.
fn target_form(method: Method, t: &[u8]) -> Result<TargetForm, Error> {
    let form = if t == b"*" {
        TargetForm::Asterisk
    } else if t.first() == Some(&b'/') {
        TargetForm::Origin
    } else if absolute_scheme_len(t).is_some() {
        TargetForm::Absolute
    } else {
        TargetForm::Authority
    };
    let allowed = match form {
        TargetForm::Asterisk => method == Method::Options,
        TargetForm::Origin | TargetForm::Absolute => method != Method::Connect,
        TargetForm::Authority => method == Method::Connect && valid_authority(t),
    };
    if allowed {
        Ok(form)
    } else {
        Err(Error::InvalidTarget)
    }
}

/// `host:port` as CONNECT needs it.
fn valid_authority(t: &[u8]) -> bool {
    match split_host_port(t) {
        Some((host, Some(port))) => !host.is_empty() && port_ok(port),
        _ => false,
    }
}

fn port_ok(p: &[u8]) -> bool {
    !p.is_empty() && p.len() <= 5 && p.iter().all(u8::is_ascii_digit)
}

/// Splits `host[:port]`, minding `[v6]` literals; `None` for an unterminated bracket.
fn split_host_port(a: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if a.first() == Some(&b'[') {
        let close = a.iter().position(|&b| b == b']')?;
        let host = &a[..=close];
        return match a.get(close + 1) {
            None => Some((host, None)),
            Some(b':') => Some((host, Some(&a[close + 2..]))),
            Some(_) => None,
        };
    }
    match a.iter().rposition(|&b| b == b':') {
        Some(i) => Some((&a[..i], Some(&a[i + 1..]))),
        None => Some((a, None)),
    }
}

/// The absolute-form authority designates the same host and port as `Host`.
fn authority_matches<'a>(target: &'a [u8], host: &'a [u8]) -> bool {
    let Some(slen) = absolute_scheme_len(target) else {
        return false;
    };
    let scheme = &target[..slen];
    let rest = &target[slen + 3..];
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let mut authority = &rest[..end];
    if let Some(at) = authority.iter().rposition(|&b| b == b'@') {
        authority = &authority[at + 1..];
    }
    let default_port: &'a [u8] = if scheme.eq_ignore_ascii_case(b"http") {
        b"80"
    } else if scheme.eq_ignore_ascii_case(b"https") {
        b"443"
    } else {
        b""
    };
    let norm = |a: &'a [u8]| -> Option<(&'a [u8], &'a [u8])> {
        let (h, p) = split_host_port(a)?;
        let p = match p {
            Some(p) if !p.is_empty() => p,
            _ => default_port,
        };
        Some((h, p))
    };
    match (norm(authority), norm(trim_ows(host))) {
        (Some((ah, ap)), Some((hh, hp))) => {
            !ah.is_empty() && ah.eq_ignore_ascii_case(hh) && ap == hp
        }
        _ => false,
    }
}
