//! HTTP/1 heads: parsing (httparse) into offsets over the received bytes, the
//! message framing rules of RFC 9112 §6 with HAProxy's strictness, and
//! re-emitting a head as received apart from the headers we drop or add.

use std::ops::Range;

/// HAProxy's default `tune.http.maxhdr`.
pub(crate) const MAX_HEADERS: usize = 101;

/// One header line, as byte ranges into the head.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    pub name: Range<usize>,
    pub value: Range<usize>,
    /// The whole line including its line ending.
    pub line: Range<usize>,
}

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Response body ending when the server closes.
    UntilClose,
}

/// A parsed head: start line facts plus header offsets.
#[derive(Clone, Debug, Default)]
pub(crate) struct Head {
    pub len: usize,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub method: Range<usize>,
    pub status: u16,
    pub headers: Vec<Header>,
}

/// Why a head is rejected (400 for requests, 502 for responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    Syntax,
    TooManyHeaders,
    BadContentLength,
    ContentLengthAndChunked,
    BadTransferEncoding,
}

fn offset(base: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - base.as_ptr() as usize
}

fn map_err(e: httparse::Error) -> Invalid {
    match e {
        httparse::Error::TooManyHeaders => Invalid::TooManyHeaders,
        _ => Invalid::Syntax,
    }
}

/// Parses a request head at the start of `buf`; `Ok(None)` means incomplete.
pub(crate) fn parse_request(buf: &[u8], head: &mut Head) -> Result<Option<()>, Invalid> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    let len = match req.parse(buf).map_err(map_err)? {
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(n) => n,
    };
    let method = req.method.unwrap_or("");
    let m0 = offset(buf, method.as_bytes());
    head.method = m0..m0 + method.len();
    head.minor = req.version.unwrap_or(1);
    head.status = 0;
    fill_headers(buf, len, req.headers, head);
    Ok(Some(()))
}

/// Parses a response head at the start of `buf`; `Ok(None)` means incomplete.
pub(crate) fn parse_response(buf: &[u8], head: &mut Head) -> Result<Option<()>, Invalid> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hs);
    let len = match resp.parse(buf).map_err(map_err)? {
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(n) => n,
    };
    head.minor = resp.version.unwrap_or(1);
    head.status = resp.code.unwrap_or(0);
    head.method = 0..0;
    fill_headers(buf, len, resp.headers, head);
    Ok(Some(()))
}

fn fill_headers(buf: &[u8], len: usize, hs: &[httparse::Header<'_>], head: &mut Head) {
    head.len = len;
    head.headers.clear();
    for h in hs.iter() {
        let n0 = offset(buf, h.name.as_bytes());
        let v0 = offset(buf, h.value);
        head.headers.push(Header {
            name: n0..n0 + h.name.len(),
            value: v0..v0 + h.value.len(),
            line: n0..n0,
        });
    }
    // A line ends where the next begins; the last one ends before the blank line.
    let blank = if buf[..len].ends_with(b"\r\n\r\n") {
        2
    } else {
        1
    };
    let count = head.headers.len();
    for i in 0..count {
        let end = if i + 1 < count {
            head.headers[i + 1].name.start
        } else {
            len - blank
        };
        head.headers[i].line.end = end;
    }
}

impl Head {
    pub(crate) fn iter<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.headers
            .iter()
            .map(move |h| (&buf[h.name.clone()], &buf[h.value.clone()]))
    }

    pub(crate) fn has(&self, buf: &[u8], name: &str) -> bool {
        self.iter(buf)
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Comma-separated tokens of every `name` header, trimmed.
    pub(crate) fn tokens<'a>(
        &'a self,
        buf: &'a [u8],
        name: &'a str,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter(buf)
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .flat_map(|(_, v)| v.split(|&b| b == b','))
            .map(trim)
            .filter(|t| !t.is_empty())
    }

    pub(crate) fn has_token(&self, buf: &[u8], name: &str, token: &str) -> bool {
        self.tokens(buf, name)
            .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }

    pub(crate) fn method<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.method.clone()]
    }

    /// Whether the sender wants the connection kept open after this message.
    pub(crate) fn wants_keep_alive(&self, buf: &[u8]) -> bool {
        if self.has_token(buf, "connection", "close") {
            return false;
        }
        self.minor >= 1 || self.has_token(buf, "connection", "keep-alive")
    }

    /// A request asking for a protocol switch.
    pub(crate) fn is_upgrade(&self, buf: &[u8]) -> bool {
        self.has_token(buf, "connection", "upgrade") && self.has(buf, "upgrade")
    }

    /// Request framing; any ambiguity is a smuggling attempt and rejected.
    pub(crate) fn request_framing(&self, buf: &[u8]) -> Result<Framing, Invalid> {
        match (self.content_length(buf)?, self.chunked(buf)?) {
            (Some(_), true) => Err(Invalid::ContentLengthAndChunked),
            (_, true) if self.minor == 0 => Err(Invalid::BadTransferEncoding),
            (_, true) => Ok(Framing::Chunked),
            (Some(0), false) | (None, false) => Ok(Framing::None),
            (Some(n), false) => Ok(Framing::Length(n)),
        }
    }

    /// Response framing for a request with method `req_method`.
    pub(crate) fn response_framing(
        &self,
        buf: &[u8],
        req_method: &[u8],
    ) -> Result<Framing, Invalid> {
        let cl = self.content_length(buf)?;
        let te = self.has(buf, "transfer-encoding");
        if cl.is_some() && te {
            return Err(Invalid::ContentLengthAndChunked);
        }
        if req_method == b"HEAD"
            || (100..200).contains(&self.status)
            || self.status == 204
            || self.status == 304
        {
            return Ok(Framing::None);
        }
        if te {
            // Only a final "chunked" delimits the body; anything else runs to close.
            let last_chunked = self
                .tokens(buf, "transfer-encoding")
                .last()
                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            return Ok(if last_chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            });
        }
        Ok(match cl {
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        })
    }

    /// All Content-Length values must be the same valid number.
    fn content_length(&self, buf: &[u8]) -> Result<Option<u64>, Invalid> {
        let mut found: Option<u64> = None;
        for (name, value) in self.iter(buf) {
            if !name.eq_ignore_ascii_case(b"content-length") {
                continue;
            }
            for part in value.split(|&b| b == b',') {
                let n = parse_decimal(trim(part)).ok_or(Invalid::BadContentLength)?;
                match found {
                    Some(prev) if prev != n => return Err(Invalid::BadContentLength),
                    _ => found = Some(n),
                }
            }
        }
        Ok(found)
    }

    /// Transfer-Encoding must be exactly one final "chunked" after valid codings.
    fn chunked(&self, buf: &[u8]) -> Result<bool, Invalid> {
        if !self.has(buf, "transfer-encoding") {
            return Ok(false);
        }
        let mut count = 0;
        let mut last_chunked = false;
        for (name, value) in self.iter(buf) {
            if !name.eq_ignore_ascii_case(b"transfer-encoding") {
                continue;
            }
            for part in value.split(|&b| b == b',') {
                let t = trim(part);
                if t.is_empty() || !t.iter().all(|&b| is_tchar(b)) {
                    return Err(Invalid::BadTransferEncoding);
                }
                last_chunked = t.eq_ignore_ascii_case(b"chunked");
                if last_chunked {
                    count += 1;
                }
            }
        }
        if count != 1 || !last_chunked {
            return Err(Invalid::BadTransferEncoding);
        }
        Ok(true)
    }
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Writes `head` (from `buf`) to `out`: start line and headers as received,
/// minus those `drop` selects, plus `add`, then the blank line.
pub(crate) fn rewrite(
    out: &mut Vec<u8>,
    buf: &[u8],
    head: &Head,
    drop: impl Fn(&[u8]) -> bool,
    add: &[(&str, &str)],
) {
    let first = head.headers.first().map_or(head.len, |h| h.line.start);
    let first = if head.headers.is_empty() {
        // No headers: keep the start line, the blank line is re-added below.
        let blank = if buf[..head.len].ends_with(b"\r\n\r\n") {
            2
        } else {
            1
        };
        head.len - blank
    } else {
        first
    };
    out.extend_from_slice(&buf[..first]);
    for h in &head.headers {
        if !drop(&buf[h.name.clone()]) {
            out.extend_from_slice(&buf[h.line.clone()]);
        }
    }
    for (n, v) in add {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(s: &str) -> (Vec<u8>, Head) {
        let mut h = Head::default();
        parse_request(s.as_bytes(), &mut h).unwrap().unwrap();
        (s.as_bytes().to_vec(), h)
    }

    #[test]
    fn framing_rules() {
        let (b, h) = req("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.request_framing(&b), Ok(Framing::Length(5)));
        let (b, h) = req("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(h.request_framing(&b), Ok(Framing::Length(5)));
        let (b, h) = req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.request_framing(&b), Ok(Framing::Chunked));
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        ] {
            let (b, h) = req(bad);
            assert!(h.request_framing(&b).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rewrite_keeps_bytes_and_edits_headers() {
        let (b, h) = req("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Y:  z \r\n\r\n");
        let mut out = Vec::new();
        rewrite(
            &mut out,
            &b,
            &h,
            |n| n.eq_ignore_ascii_case(b"connection"),
            &[("X-Forwarded-For", "1.2.3.4")],
        );
        assert_eq!(
            out,
            b"GET /x HTTP/1.1\r\nHost: a\r\nX-Y:  z \r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"
        );
        let (b, h) = req("GET / HTTP/1.0\r\n\r\n");
        out.clear();
        rewrite(&mut out, &b, &h, |_| false, &[("A", "b")]);
        assert_eq!(out, b"GET / HTTP/1.0\r\nA: b\r\n\r\n");
    }

    proptest! {
        #[test]
        fn rewrite_without_edits_is_identity(names in proptest::collection::vec("[A-Za-z-]{1,10}", 0..8), vals in proptest::collection::vec("[ -~]{0,12}", 8)) {
            let mut s = String::from("GET / HTTP/1.1\r\n");
            for (n, v) in names.iter().zip(vals.iter()) {
                s.push_str(&format!("{n}: {}\r\n", v.trim()));
            }
            s.push_str("\r\n");
            let (b, h) = req(&s);
            let mut out = Vec::new();
            rewrite(&mut out, &b, &h, |_| false, &[]);
            prop_assert_eq!(out, b);
        }
    }
}
