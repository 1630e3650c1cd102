//! Body framing counters: an incremental chunked-coding validator and a
//! Content-Length counter.
//!
//! Both only say how many of the offered bytes belong to the current message
//! and when it ends, so the engine forwards body bytes unchanged as they
//! arrive and never buffers a whole body. Bytes after the end belong to the
//! next (pipelined) message.

use crate::error::Error;

/// Default cap on a chunk-size line and on the trailer section: HAProxy's
/// `tune.bufsize - tune.maxrewrite`.
pub const DEFAULT_LINE_LIMIT: usize = 16384 - 1024;

/// How far one call got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input that belong to this message (forward them).
    pub consumed: usize,
    /// The message ended with the last consumed byte.
    pub done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size,
    /// Whitespace after the size, before `;` or the line end.
    SizeWs,
    /// A chunk extension, skipped up to the line end.
    Ext,
    /// CR seen at the end of the size line.
    SizeLf,
    /// Chunk data; `remaining` bytes left.
    Data,
    /// The CRLF after chunk data.
    DataCr,
    DataLf,
    /// Start of a trailer line, or of the final empty line.
    TrailerStart,
    Trailer,
    TrailerLf,
    /// CR of the final empty line seen.
    EndLf,
    Done,
}

/// Incremental validator for a chunked body (RFC 9112 §7.1), trailers included.
///
/// Rejects what HAProxy rejects: non-hex or missing sizes, sizes that
/// overflow, data not followed by a line end, bare CRs, malformed trailers.
/// A bare LF is accepted where CRLF is expected, as HAProxy does. After an
/// error the decoder keeps returning it.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    remaining: u64,
    digits: u32,
    line_len: usize,
    trailer_len: usize,
    colon: bool,
    limit: usize,
    failed: Option<Error>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_LINE_LIMIT)
    }

    /// `limit` caps a size line (with extensions) and the whole trailer section.
    pub fn with_limit(limit: usize) -> Self {
        ChunkedDecoder {
            state: State::Size,
            remaining: 0,
            digits: 0,
            line_len: 0,
            trailer_len: 0,
            colon: false,
            limit,
            failed: None,
        }
    }

    /// The final CRLF (after any trailers) has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes; see [`ChunkedDecoder::decode`].
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress, Error> {
        self.decode(input, |_| {})
    }

    /// Consumes body bytes, handing each piece of chunk payload to `on_data`.
    /// Stops at the end of the message: bytes beyond `consumed` are not its.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<Progress, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let avail = (input.len() - i) as u64;
                let take = avail.min(self.remaining) as usize;
                on_data(&input[i..i + take]);
                i += take;
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            if let Err(e) = self.step(input[i]) {
                self.failed = Some(e);
                return Err(e);
            }
            i += 1;
        }
        Ok(Progress {
            consumed: i,
            done: self.state == State::Done,
        })
    }

    fn size_line_byte(&mut self) -> Result<(), Error> {
        self.line_len += 1;
        if self.line_len > self.limit {
            return Err(Error::InvalidChunkExtension);
        }
        Ok(())
    }

    fn end_size_line(&mut self) {
        self.state = if self.remaining == 0 {
            State::TrailerStart
        } else {
            State::Data
        };
    }

    fn trailer_byte(&mut self) -> Result<(), Error> {
        self.trailer_len += 1;
        if self.trailer_len > self.limit {
            return Err(Error::TrailersTooLarge { limit: self.limit });
        }
        Ok(())
    }

    fn step(&mut self, b: u8) -> Result<(), Error> {
        match self.state {
            State::Size => {
                self.size_line_byte()?;
                if let Some(d) = (b as char).to_digit(16) {
                    if self.remaining > u64::MAX >> 4 {
                        return Err(Error::ChunkSizeOverflow);
                    }
                    self.remaining = (self.remaining << 4) | u64::from(d);
                    self.digits += 1;
                    return Ok(());
                }
                if self.digits == 0 {
                    return Err(Error::InvalidChunkSize);
                }
                match b {
                    b' ' | b'\t' => self.state = State::SizeWs,
                    b';' => self.state = State::Ext,
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => self.end_size_line(),
                    _ => return Err(Error::InvalidChunkSize),
                }
            }
            State::SizeWs => {
                self.size_line_byte()?;
                match b {
                    b' ' | b'\t' => {}
                    b';' => self.state = State::Ext,
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => self.end_size_line(),
                    _ => return Err(Error::InvalidChunkSize),
                }
            }
            State::Ext => {
                self.size_line_byte()?;
                match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => self.end_size_line(),
                    b'\t' => {}
                    0..=0x1f | 0x7f => return Err(Error::InvalidChunkExtension),
                    _ => {}
                }
            }
            State::SizeLf => match b {
                b'\n' => self.end_size_line(),
                _ => return Err(Error::MissingChunkCrlf),
            },
            State::Data | State::Done => {}
            State::DataCr => match b {
                b'\r' => self.state = State::DataLf,
                b'\n' => self.next_chunk(),
                _ => return Err(Error::MissingChunkCrlf),
            },
            State::DataLf => match b {
                b'\n' => self.next_chunk(),
                _ => return Err(Error::MissingChunkCrlf),
            },
            State::TrailerStart => match b {
                b'\r' => self.state = State::EndLf,
                b'\n' => self.state = State::Done,
                _ if is_tchar(b) => {
                    self.trailer_byte()?;
                    self.colon = false;
                    self.state = State::Trailer;
                }
                // A line starting with SP/HT is obs-fold; anything else is no field name.
                _ => return Err(Error::InvalidTrailer),
            },
            State::Trailer => {
                self.trailer_byte()?;
                match b {
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' => self.end_trailer_line()?,
                    b':' => self.colon = true,
                    b'\t' => {}
                    0..=0x1f | 0x7f => return Err(Error::InvalidTrailer),
                    _ if !self.colon && !is_tchar(b) => return Err(Error::InvalidTrailer),
                    _ => {}
                }
            }
            State::TrailerLf => match b {
                b'\n' => self.end_trailer_line()?,
                _ => return Err(Error::InvalidTrailer),
            },
            State::EndLf => match b {
                b'\n' => self.state = State::Done,
                _ => return Err(Error::MissingChunkCrlf),
            },
        }
        Ok(())
    }

    fn next_chunk(&mut self) {
        self.state = State::Size;
        self.digits = 0;
        self.line_len = 0;
        self.remaining = 0;
    }

    fn end_trailer_line(&mut self) -> Result<(), Error> {
        if !self.colon {
            return Err(Error::InvalidTrailer);
        }
        self.state = State::TrailerStart;
        Ok(())
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Counts down a `Content-Length` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthCounter {
    remaining: u64,
}

impl LengthCounter {
    pub fn new(len: u64) -> Self {
        LengthCounter { remaining: len }
    }

    /// Of `available` bytes, how many belong to the body; the rest is the next message.
    pub fn feed(&mut self, available: usize) -> Progress {
        let take = (available as u64).min(self.remaining);
        self.remaining -= take;
        Progress {
            consumed: take as usize,
            done: self.remaining == 0,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }
}
