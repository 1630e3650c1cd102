//! Streaming a message body from one side to the other through a bounded
//! buffer: never more than `tune.bufsize` bytes in memory per direction.

use crate::buf::Buf;
use fulcrum_proto::chunked::ChunkedDecoder;
use fulcrum_proto::BodyFraming;
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

#[derive(Debug)]
pub(crate) enum BodyError {
    /// The reading side failed, closed early or timed out.
    Read,
    /// The writing side failed or timed out.
    Write,
    /// Framing violation: 400 on requests, 502 on responses.
    Invalid,
}

/// Tracks where a body ends.
pub(crate) struct BodyReader {
    framing: BodyFraming,
    remaining: u64,
    chunked: ChunkedDecoder,
    done: bool,
}

impl BodyReader {
    pub(crate) fn new(framing: BodyFraming, max_line: usize) -> Self {
        BodyReader {
            framing,
            remaining: if let BodyFraming::ContentLength(n) = framing {
                n
            } else {
                0
            },
            chunked: ChunkedDecoder::with_limit(max_line),
            done: matches!(framing, BodyFraming::None | BodyFraming::ContentLength(0)),
        }
    }

    /// How many leading bytes of `avail` belong to the body.
    fn take(&mut self, avail: &[u8]) -> Result<usize, BodyError> {
        let n = match self.framing {
            BodyFraming::None => 0,
            BodyFraming::CloseDelimited => avail.len(),
            BodyFraming::ContentLength(_) => {
                let n = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(avail.len());
                self.remaining -= n as u64;
                self.done = self.remaining == 0;
                n
            }
            BodyFraming::Chunked => {
                let p = self.chunked.feed(avail).map_err(|_| BodyError::Invalid)?;
                self.done = p.done;
                p.consumed
            }
        };
        Ok(n)
    }
}

pub(crate) async fn with_timeout<T>(
    t: Option<Duration>,
    f: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match t {
        Some(t) => tokio::time::timeout(t, f)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timeout"))),
        None => f.await,
    }
}

/// Sends `prefix` (a head, possibly empty) followed by the body read from `r`
/// (starting with the bytes already in `buf`) to `w`. Bytes after the body stay
/// in `buf` (pipelined requests).
pub(crate) async fn forward<R, W>(
    r: &mut R,
    buf: &mut Buf,
    w: &mut W,
    body: &mut BodyReader,
    prefix: &mut Vec<u8>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
) -> Result<u64, BodyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut sent = 0u64;
    loop {
        let n = if body.done {
            0
        } else {
            body.take(buf.readable())?
        };
        if !prefix.is_empty() {
            // One write for head and the body bytes already here.
            prefix.extend_from_slice(&buf.readable()[..n]);
            with_timeout(write_timeout, w.write_all(prefix))
                .await
                .map_err(|_| BodyError::Write)?;
            sent += prefix.len() as u64;
            prefix.clear();
        } else if n > 0 {
            with_timeout(write_timeout, w.write_all(&buf.readable()[..n]))
                .await
                .map_err(|_| BodyError::Write)?;
            sent += n as u64;
        }
        buf.consume(n);
        if body.done {
            return Ok(sent);
        }
        let got = with_timeout(read_timeout, buf.fill_from(r))
            .await
            .map_err(|_| BodyError::Read)?;
        if got == 0 {
            if body.framing == BodyFraming::CloseDelimited {
                body.done = true;
                return Ok(sent);
            }
            return Err(BodyError::Read);
        }
    }
}

/// Like [`forward`] for a chunked body, but sends only the payload (for
/// HTTP/1.0 clients); the caller closes the connection after it.
pub(crate) async fn forward_dechunked<R, W>(
    r: &mut R,
    buf: &mut Buf,
    w: &mut W,
    prefix: &mut Vec<u8>,
    max_line: usize,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
) -> Result<u64, BodyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut dec = ChunkedDecoder::with_limit(max_line);
    let mut sent = 0u64;
    loop {
        // Payload goes after whatever is pending (the head, at first).
        let p = dec
            .decode(buf.readable(), |data| prefix.extend_from_slice(data))
            .map_err(|_| BodyError::Invalid)?;
        buf.consume(p.consumed);
        if !prefix.is_empty() {
            with_timeout(write_timeout, w.write_all(prefix))
                .await
                .map_err(|_| BodyError::Write)?;
            sent += prefix.len() as u64;
            prefix.clear();
        }
        if p.done {
            return Ok(sent);
        }
        let got = with_timeout(read_timeout, buf.fill_from(r))
            .await
            .map_err(|_| BodyError::Read)?;
        if got == 0 {
            return Err(BodyError::Read);
        }
    }
}
