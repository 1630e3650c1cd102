//! The crate's one error type: every fault a peer can put on the wire, named.

/// Which side of the proxy sent the faulty bytes; decides the status HAProxy answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client sent it: HAProxy answers 400 (501 for an unknown transfer coding).
    Request,
    /// The server sent it: HAProxy answers 502 to the client.
    Response,
}

/// A protocol fault. Variants name the fault so logs and tests can tell
/// smuggling vectors apart; [`Error::status`] maps each to HAProxy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- HTTP/1 heads ----
    /// The head did not end within `tune.bufsize - tune.maxrewrite` bytes.
    #[error("message head larger than tune.bufsize minus tune.maxrewrite ({limit} bytes)")]
    HeadTooLarge { limit: usize },
    #[error("more header fields than tune.http.maxhdr allows")]
    TooManyHeaders,
    #[error("malformed request line")]
    InvalidRequestLine,
    #[error("malformed status line")]
    InvalidStatusLine,
    #[error("unsupported or malformed HTTP version")]
    InvalidVersion,
    /// Request-target form not allowed for the method (`GET *`, `CONNECT /`, `GET host:80`…).
    #[error("invalid request-target for this method")]
    InvalidTarget,
    /// Non-ASCII byte in the request-target (allowed by `option accept-invalid-http-request`).
    #[error("non-ASCII byte in the request-target")]
    NonAsciiTarget,
    /// `#` in the request-target (allowed by `option accept-invalid-http-request`).
    #[error("fragment ('#') in the request-target")]
    FragmentInTarget,
    #[error("invalid character in a header field name")]
    InvalidHeaderName,
    /// CTL, NUL or a lone CR inside a header value.
    #[error("invalid character (CR, LF, NUL or control) in a header field value")]
    InvalidHeaderValue,
    /// A CR not followed by LF where a line ends.
    #[error("bare CR where a line must end with CRLF")]
    BareCr,
    /// A header line continued on the next line (RFC 9112 §5.2).
    #[error("obsolete line folding (obs-fold) in the header section")]
    ObsFold,
    #[error("invalid Content-Length value")]
    InvalidContentLength,
    #[error("several Content-Length values that differ")]
    DuplicateContentLength,
    #[error("both Transfer-Encoding and Content-Length")]
    TransferEncodingWithContentLength,
    /// `chunked` missing, repeated or not last.
    #[error("invalid Transfer-Encoding: 'chunked' must appear once, last")]
    InvalidTransferEncoding,
    /// A transfer coding other than `chunked` before it (answered 501).
    #[error("unsupported transfer coding before 'chunked'")]
    UnsupportedTransferEncoding,
    #[error("several Host headers that differ")]
    DuplicateHost,
    #[error("absolute-form request-target authority differs from the Host header")]
    HostMismatch,

    // ---- chunked bodies ----
    #[error("invalid chunk size")]
    InvalidChunkSize,
    #[error("chunk size overflows")]
    ChunkSizeOverflow,
    #[error("missing CRLF after chunk")]
    MissingChunkCrlf,
    #[error("invalid character in a chunk extension")]
    InvalidChunkExtension,
    #[error("invalid trailer line")]
    InvalidTrailer,
    #[error("trailer section larger than {limit} bytes")]
    TrailersTooLarge { limit: usize },

    // ---- PROXY protocol ----
    #[error("connection does not start with a PROXY protocol header")]
    NotProxyProtocol,
    #[error("malformed PROXY protocol v1 header")]
    InvalidProxyV1,
    #[error("malformed PROXY protocol v2 header")]
    InvalidProxyV2,

    // ---- head rewriting ----
    /// A rule produced a name/value/target that would corrupt the head (CR, LF, NUL…).
    #[error("header edit would produce an invalid message: {0}")]
    InvalidEdit(&'static str),
}

impl Error {
    /// The status HAProxy sends to the client for this fault on `side`.
    pub fn status(&self, side: Side) -> u16 {
        match side {
            Side::Response => 502,
            Side::Request => match self {
                Error::UnsupportedTransferEncoding => 501,
                Error::InvalidEdit(_) => 500,
                _ => 400,
            },
        }
    }
}

/// The HTTP/1 parser's error, by the name the engine uses.
pub type HttpError = Error;
