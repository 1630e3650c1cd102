//! HTTP/1.0 and 1.1 message heads (RFC 9112), sans-io.
//!
//! [`parse_request`] / [`parse_response`] read a head from the caller's buffer
//! and keep only offsets ([`ByteRange`]) into it, so the engine can forward the
//! head bytes exactly as received when no rule changes them. Everything the
//! engine must decide once per message (body framing, connection tokens,
//! `Expect: 100-continue`, Host) is computed here, with HAProxy's smuggling
//! defences: each rejected construct is a distinct [`crate::Error`] variant.
//!
//! [`rewrite`] produces a new head from edits; [`Headers`] looks headers up the
//! way HAProxy's `hdr()`/`fhdr()` fetches do.

mod analyze;
mod headers;
mod lenient;
mod parse;
pub mod rewrite;

pub use headers::Headers;
pub use parse::{parse_request, parse_response};
pub use rewrite::{rewrite_request, rewrite_response, Edit};

/// `tune.bufsize` default.
pub const DEFAULT_BUFSIZE: usize = 16384;
/// `tune.maxrewrite` default.
pub const DEFAULT_MAXREWRITE: usize = 1024;
/// `tune.http.maxhdr` default: the most header lines a head may carry.
pub const MAX_HEADERS: usize = 101;

/// The interim response HAProxy sends for `Expect: 100-continue` before reading the body.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Parser limits and relaxations, from the proxy's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest head accepted: `tune.bufsize - tune.maxrewrite`.
    pub max_head: usize,
    /// `option accept-invalid-http-request` (on a request parser) or
    /// `option accept-invalid-http-response` (on a response parser): accepts
    /// invalid characters in header names, multi-digit HTTP versions, and (for
    /// requests) non-ASCII bytes and `#` in the request-target. Nothing else.
    pub accept_invalid: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: DEFAULT_BUFSIZE - DEFAULT_MAXREWRITE,
            accept_invalid: false,
        }
    }
}

impl Limits {
    /// Limits from `tune.bufsize` and `tune.maxrewrite`, as HAProxy computes
    /// them: the rewrite reserve is capped at half the buffer.
    pub fn from_tune(bufsize: usize, maxrewrite: usize, accept_invalid: bool) -> Self {
        let maxrewrite = maxrewrite.min(bufsize / 2);
        Limits {
            max_head: bufsize.saturating_sub(maxrewrite).max(1),
            accept_invalid,
        }
    }
}

/// Outcome of feeding bytes to a parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// Not enough bytes yet: read more and call again with the whole buffer.
    Partial,
    /// A complete item and how many bytes of the buffer it took.
    Complete(T, usize),
}

/// Offsets of a piece of the caller's buffer. `u32` keeps heads compact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ByteRange {
    pub start: u32,
    pub end: u32,
}

impl ByteRange {
    pub fn new(start: usize, end: usize) -> Self {
        // Heads are bounded by `Limits::max_head`, far below u32::MAX; saturate anyway.
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        ByteRange {
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    /// The bytes this range designates in `buf` (empty if `buf` is not the parsed buffer).
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// HTTP version of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    Http10,
    /// HTTP/1.1, and any later 1.x HAProxy accepts when relaxed.
    Http11,
}

impl Version {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Version::Http10 => b"HTTP/1.0",
            Version::Http11 => b"HTTP/1.1",
        }
    }
}

/// Request method; `Other` for extension methods (their bytes are in `method_range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Connect,
    Other,
}

impl Method {
    /// Methods are case-sensitive (RFC 9110 §9.1).
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            _ => Method::Other,
        }
    }
}

/// How the body after a head is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyFraming {
    /// No body: the next message starts right after the head.
    None,
    /// Exactly this many bytes follow ([`crate::chunked::LengthCounter`]).
    ContentLength(u64),
    /// Chunked transfer coding ([`crate::chunked::ChunkedDecoder`]).
    Chunked,
    /// Response body runs until the server closes the connection.
    CloseDelimited,
}

/// Tokens found in all `Connection` headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

/// One header line: offsets of its name, its value (without surrounding
/// whitespace) and the whole line including its line ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderEntry {
    pub name: ByteRange,
    pub value: ByteRange,
    pub line: ByteRange,
}

/// Shape of the request-target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`
    Origin,
    /// `http://host/path`
    Absolute,
    /// `host:port`, CONNECT only.
    Authority,
    /// `*`, OPTIONS only.
    Asterisk,
}

/// A parsed request head; every range points into the buffer given to [`parse_request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    pub method_range: ByteRange,
    pub target: ByteRange,
    pub target_form: TargetForm,
    pub version: Version,
    /// The request line including its line ending.
    pub start_line: ByteRange,
    pub headers: Vec<HeaderEntry>,
    pub framing: BodyFraming,
    pub connection: ConnectionTokens,
    /// Value of the first `Upgrade` header.
    pub upgrade: Option<ByteRange>,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
    /// Value of the `Host` header (all occurrences agree).
    pub host: Option<ByteRange>,
    /// Length of the head, including its final empty line.
    pub head_len: usize,
    /// Framing is only trustworthy for this message (Transfer-Encoding in
    /// HTTP/1.0, RFC 9112 §6.1): close the connection after the exchange.
    pub must_close: bool,
}

impl RequestHead {
    /// Keep-alive unless told otherwise, for the request's version.
    pub fn keep_alive_by_default(&self) -> bool {
        self.version == Version::Http11
    }

    /// Whether the client asked for the connection to stay open.
    pub fn keep_alive(&self) -> bool {
        if self.must_close || self.connection.close {
            return false;
        }
        self.keep_alive_by_default() || self.connection.keep_alive
    }

    /// `Connection: upgrade` together with an `Upgrade` header.
    pub fn wants_upgrade(&self) -> bool {
        self.connection.upgrade && self.upgrade.is_some()
    }

    pub fn method_bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        self.method_range.get(buf)
    }

    pub fn target_bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        self.target.get(buf)
    }

    /// The path (HAProxy's `path` fetch): from the first `/` after any
    /// scheme and authority, up to `?`. Empty for `*` and authority-form.
    pub fn path<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let t = self.target.get(buf);
        let (start, end) = path_bounds(t, self.target_form);
        t.get(start..end).unwrap_or(&[])
    }

    /// The query string after `?`, without it (HAProxy's `query` fetch).
    pub fn query<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        let t = self.target.get(buf);
        let (_, end) = path_bounds(t, self.target_form);
        if t.get(end) == Some(&b'?') {
            t.get(end + 1..)
        } else {
            None
        }
    }

    /// Lookups over this head's headers.
    pub fn headers_in<'a>(&'a self, buf: &'a [u8]) -> Headers<'a> {
        Headers::new(buf, &self.headers)
    }
}

/// Bounds of the path within a target: `(start, end)`, `end` at `?` or the end.
pub(crate) fn path_bounds(t: &[u8], form: TargetForm) -> (usize, usize) {
    let start = match form {
        TargetForm::Origin => 0,
        TargetForm::Asterisk | TargetForm::Authority => return (t.len(), t.len()),
        TargetForm::Absolute => {
            let after = find_sub(t, b"://").map_or(0, |i| i + 3);
            t[after..]
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .map_or(t.len(), |i| after + i)
        }
    };
    let end = t[start..]
        .iter()
        .position(|&b| b == b'?')
        .map_or(t.len(), |i| start + i);
    (start, end)
}

pub(crate) fn find_sub(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A parsed response head; every range points into the buffer given to [`parse_response`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: ByteRange,
    /// The status line including its line ending.
    pub start_line: ByteRange,
    pub headers: Vec<HeaderEntry>,
    /// `None` for HEAD requests, 1xx, 204, 304 and tunnels whatever the headers say.
    pub framing: BodyFraming,
    pub connection: ConnectionTokens,
    pub upgrade: Option<ByteRange>,
    /// 101 Switching Protocols, or 2xx to CONNECT: bytes after the head are a tunnel.
    pub tunnel: bool,
    pub head_len: usize,
    /// See [`RequestHead::must_close`]; also set for close-delimited bodies.
    pub must_close: bool,
}

impl ResponseHead {
    pub fn keep_alive_by_default(&self) -> bool {
        self.version == Version::Http11
    }

    /// Whether the server keeps the connection open after this response.
    pub fn keep_alive(&self) -> bool {
        if self.must_close || self.connection.close {
            return false;
        }
        self.keep_alive_by_default() || self.connection.keep_alive
    }

    /// 1xx other than 101: a final response follows on the same connection.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    pub fn headers_in<'a>(&'a self, buf: &'a [u8]) -> Headers<'a> {
        Headers::new(buf, &self.headers)
    }
}
