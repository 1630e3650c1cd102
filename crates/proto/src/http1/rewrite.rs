//! Head rewriting: a parsed head plus edits → new head bytes.
//!
//! Unchanged lines are copied byte for byte; only edited parts are
//! re-serialised. With no edits nothing is written and the caller forwards
//! `buf[..head_len]` as received. Framing fields are not re-derived: if edits
//! touch `Content-Length`/`Transfer-Encoding`, parse the output again.

use super::{path_bounds, ByteRange, HeaderEntry, RequestHead, ResponseHead, TargetForm};
use crate::error::Error;
use crate::errors::reason_phrase;

/// One change to a head, as HAProxy's `http-request`/`http-response` actions make them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit<'a> {
    /// `add-header`: append a line, keeping existing ones.
    AddHeader { name: &'a [u8], value: &'a [u8] },
    /// `set-header`: remove every occurrence, then append one line.
    SetHeader { name: &'a [u8], value: &'a [u8] },
    /// `del-header`: remove every occurrence.
    DelHeader { name: &'a [u8] },
    /// `set-method` (requests).
    SetMethod(&'a [u8]),
    /// `set-uri`: the whole request-target (requests).
    SetUri(&'a [u8]),
    /// `set-path`: the path, keeping scheme, authority and query (requests).
    SetPath(&'a [u8]),
    /// `set-query`: the query without `?`; empty removes it (requests).
    SetQuery(&'a [u8]),
    /// `set-status` with an optional reason; HAProxy's phrase when `None` (responses).
    SetStatus {
        status: u16,
        reason: Option<&'a [u8]>,
    },
}

enum Line<'a> {
    Orig(usize),
    New(&'a [u8], &'a [u8]),
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_name(n: &[u8]) -> Result<(), Error> {
    if n.is_empty() || !n.iter().copied().all(is_tchar) {
        return Err(Error::InvalidEdit("header name must be a non-empty token"));
    }
    Ok(())
}

fn check_value(v: &[u8]) -> Result<(), Error> {
    if v.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
        return Err(Error::InvalidEdit(
            "header value contains CR, LF, NUL or a control",
        ));
    }
    Ok(())
}

fn check_target(t: &[u8]) -> Result<(), Error> {
    if t.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(Error::InvalidEdit(
            "request-target contains a space or a control",
        ));
    }
    Ok(())
}

/// Applies header edits to the line plan; `Ok(false)` for a start-line edit.
fn edit_lines<'a>(
    buf: &[u8],
    entries: &[HeaderEntry],
    lines: &mut Vec<Line<'a>>,
    edit: &Edit<'a>,
) -> Result<bool, Error> {
    let named = |l: &Line<'_>, name: &[u8]| match l {
        Line::Orig(i) => entries[*i].name.get(buf).eq_ignore_ascii_case(name),
        Line::New(n, _) => n.eq_ignore_ascii_case(name),
    };
    match *edit {
        Edit::AddHeader { name, value } => {
            check_name(name)?;
            check_value(value)?;
            lines.push(Line::New(name, value));
        }
        Edit::SetHeader { name, value } => {
            check_name(name)?;
            check_value(value)?;
            lines.retain(|l| !named(l, name));
            lines.push(Line::New(name, value));
        }
        Edit::DelHeader { name } => lines.retain(|l| !named(l, name)),
        _ => return Ok(false),
    }
    Ok(true)
}

fn write_lines(buf: &[u8], entries: &[HeaderEntry], lines: &[Line<'_>], out: &mut Vec<u8>) {
    for l in lines {
        match l {
            Line::Orig(i) => out.extend_from_slice(entries[*i].line.get(buf)),
            Line::New(n, v) => {
                out.extend_from_slice(n);
                out.extend_from_slice(b": ");
                out.extend_from_slice(v);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// The empty line that ends the head, as received (`\r\n` or `\n`).
fn terminator<'b>(
    buf: &'b [u8],
    start_line: ByteRange,
    entries: &[HeaderEntry],
    head_len: usize,
) -> &'b [u8] {
    let from = entries.last().map_or(start_line.end, |h| h.line.end) as usize;
    buf.get(from..head_len).unwrap_or(b"\r\n")
}

fn form_of(t: &[u8]) -> TargetForm {
    if t == b"*" {
        TargetForm::Asterisk
    } else if t.first() == Some(&b'/') {
        TargetForm::Origin
    } else if super::find_sub(t, b"://").is_some() {
        TargetForm::Absolute
    } else {
        TargetForm::Authority
    }
}

/// Writes the edited request head into `out` (appending). Returns `false`,
/// writing nothing, when `edits` is empty: forward `buf[..head.head_len]`.
pub fn rewrite_request<'a>(
    buf: &'a [u8],
    head: &RequestHead,
    edits: &[Edit<'a>],
    out: &mut Vec<u8>,
) -> Result<bool, Error> {
    if edits.is_empty() {
        return Ok(false);
    }
    let mut lines: Vec<Line<'a>> = (0..head.headers.len()).map(Line::Orig).collect();
    let mut method: &[u8] = head.method_range.get(buf);
    let mut target: Option<Vec<u8>> = None;
    for edit in edits {
        if edit_lines(buf, &head.headers, &mut lines, edit)? {
            continue;
        }
        let cur = target.get_or_insert_with(|| head.target.get(buf).to_vec());
        match *edit {
            Edit::SetMethod(m) => {
                if m.is_empty() || !m.iter().copied().all(is_tchar) {
                    return Err(Error::InvalidEdit("method must be a non-empty token"));
                }
                method = m;
            }
            Edit::SetUri(u) => {
                check_target(u)?;
                if u.is_empty() {
                    return Err(Error::InvalidEdit("request-target must not be empty"));
                }
                *cur = u.to_vec();
            }
            Edit::SetPath(p) => {
                check_target(p)?;
                let (s, e) = path_bounds(cur, form_of(cur));
                cur.splice(s..e, p.iter().copied());
            }
            Edit::SetQuery(q) => {
                check_target(q)?;
                let (_, e) = path_bounds(cur, form_of(cur));
                cur.truncate(e);
                if !q.is_empty() {
                    cur.push(b'?');
                    cur.extend_from_slice(q);
                }
            }
            Edit::SetStatus { .. } => {
                return Err(Error::InvalidEdit("set-status applies to responses"))
            }
            Edit::AddHeader { .. } | Edit::SetHeader { .. } | Edit::DelHeader { .. } => {}
        }
    }
    let orig_target = head.target.get(buf);
    let start_changed =
        method != head.method_range.get(buf) || target.as_deref().is_some_and(|t| t != orig_target);
    if start_changed {
        out.extend_from_slice(method);
        out.push(b' ');
        out.extend_from_slice(target.as_deref().unwrap_or(orig_target));
        out.push(b' ');
        out.extend_from_slice(head.version.as_bytes());
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(head.start_line.get(buf));
    }
    write_lines(buf, &head.headers, &lines, out);
    out.extend_from_slice(terminator(
        buf,
        head.start_line,
        &head.headers,
        head.head_len,
    ));
    Ok(true)
}

/// Writes the edited response head into `out` (appending). Returns `false`,
/// writing nothing, when `edits` is empty: forward `buf[..head.head_len]`.
pub fn rewrite_response<'a>(
    buf: &'a [u8],
    head: &ResponseHead,
    edits: &[Edit<'a>],
    out: &mut Vec<u8>,
) -> Result<bool, Error> {
    if edits.is_empty() {
        return Ok(false);
    }
    let mut lines: Vec<Line<'a>> = (0..head.headers.len()).map(Line::Orig).collect();
    let mut status: Option<(u16, &[u8])> = None;
    for edit in edits {
        if edit_lines(buf, &head.headers, &mut lines, edit)? {
            continue;
        }
        match *edit {
            Edit::SetStatus {
                status: code,
                reason,
            } => {
                if !(100..=999).contains(&code) {
                    return Err(Error::InvalidEdit("status must have three digits"));
                }
                let reason = reason.unwrap_or_else(|| reason_phrase(code).as_bytes());
                check_value(reason)?;
                status = Some((code, reason));
            }
            _ => return Err(Error::InvalidEdit("request-line edit on a response")),
        }
    }
    match status {
        Some((code, reason)) => {
            out.extend_from_slice(head.version.as_bytes());
            out.push(b' ');
            out.extend_from_slice(code.to_string().as_bytes());
            out.push(b' ');
            out.extend_from_slice(reason);
            out.extend_from_slice(b"\r\n");
        }
        None => out.extend_from_slice(head.start_line.get(buf)),
    }
    write_lines(buf, &head.headers, &lines, out);
    out.extend_from_slice(terminator(
        buf,
        head.start_line,
        &head.headers,
        head.head_len,
    ));
    Ok(true)
}
