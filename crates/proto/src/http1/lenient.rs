//! The relaxed head parser behind `option accept-invalid-http-request/response`.
//!
//! Used only after `httparse` refused a head for a reason HAProxy relaxes:
//! header names with non-token characters and versions like `HTTP/1.10`.
//! It still refuses what HAProxy always refuses (control characters, bare CR,
//! obs-fold, empty names) and, stricter than HAProxy, whitespace inside a
//! header name, since a backend may read `Transfer-Encoding :` as the real thing.

use super::parse::{RawRequest, RawResponse};
use super::{ByteRange, HeaderEntry, Version, MAX_HEADERS};
use crate::error::Error;

/// Lines of a complete head: `(start, end_without_eol, end_with_eol)`.
struct Lines {
    lines: Vec<(usize, usize, usize)>,
    head_len: usize,
}

/// Splits the head into lines; `None` if the empty line ending it is not there yet.
fn split(window: &[u8]) -> Result<Option<Lines>, Error> {
    let mut pos = 0;
    let mut lines = Vec::new();
    let mut seen_start = false;
    while pos < window.len() {
        let Some(lf) = memchr::memchr(b'\n', &window[pos..]) else {
            return Ok(None);
        };
        let end_eol = pos + lf + 1;
        let mut end = pos + lf;
        if end > pos && window[end - 1] == b'\r' {
            end -= 1;
        }
        if memchr::memchr(b'\r', &window[pos..end]).is_some() {
            return Err(Error::BareCr);
        }
        if end == pos {
            if seen_start {
                return Ok(Some(Lines {
                    lines,
                    head_len: end_eol,
                }));
            }
            // Empty lines before the start line are tolerated, as HAProxy does.
        } else {
            seen_start = true;
            lines.push((pos, end, end_eol));
        }
        pos = end_eol;
    }
    Ok(None)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `HTTP/<digits>.<digits>` with major 1; minor 0 is 1.0, anything above is 1.1.
fn version(v: &[u8]) -> Result<Version, Error> {
    let rest = v.strip_prefix(b"HTTP/").ok_or(Error::InvalidVersion)?;
    let dot = rest
        .iter()
        .position(|&b| b == b'.')
        .ok_or(Error::InvalidVersion)?;
    let (major, minor) = (&rest[..dot], &rest[dot + 1..]);
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(Error::InvalidVersion);
    }
    if !major.iter().skip_while(|&&b| b == b'0').eq(b"1".iter()) {
        return Err(Error::InvalidVersion);
    }
    Ok(if minor.iter().all(|&b| b == b'0') {
        Version::Http10
    } else {
        Version::Http11
    })
}

fn headers(window: &[u8], lines: &[(usize, usize, usize)]) -> Result<Vec<HeaderEntry>, Error> {
    if lines.len() > MAX_HEADERS {
        return Err(Error::TooManyHeaders);
    }
    let mut out = Vec::with_capacity(lines.len());
    for &(start, end, end_eol) in lines {
        let line = &window[start..end];
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(Error::ObsFold);
        }
        let colon = memchr::memchr(b':', line).ok_or(Error::InvalidHeaderName)?;
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|&b| b <= b' ' || b == 0x7f) {
            return Err(Error::InvalidHeaderName);
        }
        let mut vs = colon + 1;
        let mut ve = line.len();
        while vs < ve && (line[vs] == b' ' || line[vs] == b'\t') {
            vs += 1;
        }
        while ve > vs && (line[ve - 1] == b' ' || line[ve - 1] == b'\t') {
            ve -= 1;
        }
        if line[vs..ve]
            .iter()
            .any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)
        {
            return Err(Error::InvalidHeaderValue);
        }
        out.push(HeaderEntry {
            name: ByteRange::new(start, start + colon),
            value: ByteRange::new(start + vs, start + ve),
            line: ByteRange::new(start, end_eol),
        });
    }
    Ok(out)
}

pub(super) fn request(window: &[u8]) -> Result<Option<RawRequest>, Error> {
    let Some(Lines { lines, head_len }) = split(window)? else {
        return Ok(None);
    };
    let Some(&(start, end, end_eol)) = lines.first() else {
        return Err(Error::InvalidRequestLine);
    };
    let line = &window[start..end];
    let mut parts = line.split(|&b| b == b' ');
    let (Some(m), Some(t), Some(v), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::InvalidRequestLine);
    };
    if m.is_empty() || !m.iter().copied().all(is_tchar) {
        return Err(Error::InvalidRequestLine);
    }
    if t.is_empty() || t.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(Error::InvalidRequestLine);
    }
    let version = version(v)?;
    let m_start = start;
    let t_start = m_start + m.len() + 1;
    Ok(Some(RawRequest {
        method: ByteRange::new(m_start, m_start + m.len()),
        target: ByteRange::new(t_start, t_start + t.len()),
        version,
        start_line: ByteRange::new(start, end_eol),
        headers: headers(window, &lines[1..])?,
        head_len,
    }))
}

pub(super) fn response(window: &[u8]) -> Result<Option<RawResponse>, Error> {
    let Some(Lines { lines, head_len }) = split(window)? else {
        return Ok(None);
    };
    let Some(&(start, end, end_eol)) = lines.first() else {
        return Err(Error::InvalidStatusLine);
    };
    let line = &window[start..end];
    let sp = memchr::memchr(b' ', line).ok_or(Error::InvalidStatusLine)?;
    let version = version(&line[..sp])?;
    let rest = &line[sp + 1..];
    let code = rest.get(..3).ok_or(Error::InvalidStatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) || !(rest.len() == 3 || rest[3] == b' ') {
        return Err(Error::InvalidStatusLine);
    }
    let status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    let reason_start = (start + sp + 1 + 4).min(end);
    if window[reason_start..end]
        .iter()
        .any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)
    {
        return Err(Error::InvalidStatusLine);
    }
    Ok(Some(RawResponse {
        version,
        status,
        reason: ByteRange::new(reason_start, end),
        start_line: ByteRange::new(start, end_eol),
        headers: headers(window, &lines[1..])?,
        head_len,
    }))
}
