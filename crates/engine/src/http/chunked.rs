//! A streaming validator for chunked bodies (RFC 9112 §7.1). It forwards
//! nothing itself: it tells the caller how many bytes belong to the body and
//! rejects anything a peer could interpret differently (bare LF, oversized or
//! non-hex sizes, missing CRLF after data).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

#[derive(Clone, Debug)]
pub(crate) struct Chunked {
    st: St,
    size: u64,
    digits: u8,
    trailer_bytes: usize,
    max_trailers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadChunk;

impl Chunked {
    pub(crate) fn new(max_trailers: usize) -> Self {
        Chunked {
            st: St::Size,
            size: 0,
            digits: 0,
            trailer_bytes: 0,
            max_trailers,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.st == St::Done
    }

    /// Consumes body bytes from `input`; returns how many belong to the body
    /// (stopping right after the final CRLF).
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<usize, BadChunk> {
        let mut i = 0;
        while i < input.len() && self.st != St::Done {
            let b = input[i];
            match self.st {
                St::Data => {
                    let take = usize::try_from(self.size)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    self.size -= take as u64;
                    i += take;
                    if self.size == 0 {
                        self.st = St::DataCr;
                    }
                    continue;
                }
                St::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.digits >= 15 {
                            return Err(BadChunk);
                        }
                        self.digits += 1;
                        self.size = self.size * 16 + u64::from(hex(b));
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => self.st = St::Ext,
                    b'\r' if self.digits > 0 => self.st = St::SizeLf,
                    _ => return Err(BadChunk),
                },
                St::Ext => match b {
                    b'\r' => self.st = St::SizeLf,
                    b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                    _ => return Err(BadChunk),
                },
                St::SizeLf => {
                    if b != b'\n' {
                        return Err(BadChunk);
                    }
                    self.st = if self.size == 0 {
                        St::TrailerStart
                    } else {
                        St::Data
                    };
                }
                St::DataCr => {
                    if b != b'\r' {
                        return Err(BadChunk);
                    }
                    self.st = St::DataLf;
                }
                St::DataLf => {
                    if b != b'\n' {
                        return Err(BadChunk);
                    }
                    self.st = St::Size;
                    self.size = 0;
                    self.digits = 0;
                }
                St::TrailerStart => {
                    self.st = if b == b'\r' {
                        St::FinalLf
                    } else {
                        St::TrailerLine
                    };
                    if b == b'\n' {
                        return Err(BadChunk);
                    }
                }
                St::TrailerLine => match b {
                    b'\r' => self.st = St::TrailerLf,
                    b'\n' | 0 => return Err(BadChunk),
                    _ => {}
                },
                St::TrailerLf | St::FinalLf => {
                    if b != b'\n' {
                        return Err(BadChunk);
                    }
                    self.st = if self.st == St::FinalLf {
                        St::Done
                    } else {
                        St::TrailerStart
                    };
                }
                St::Done => {}
            }
            if matches!(self.st, St::TrailerStart | St::TrailerLine | St::TrailerLf) {
                self.trailer_bytes += 1;
                if self.trailer_bytes > self.max_trailers {
                    return Err(BadChunk);
                }
            }
            i += 1;
        }
        Ok(i)
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn whole(s: &[u8]) -> Result<usize, BadChunk> {
        let mut c = Chunked::new(1024);
        let n = c.feed(s)?;
        if c.is_done() {
            Ok(n)
        } else {
            Err(BadChunk)
        }
    }

    #[test]
    fn valid_and_invalid_bodies() {
        assert_eq!(whole(b"5\r\nhello\r\n0\r\n\r\nNEXT"), Ok(15));
        assert_eq!(whole(b"5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), Ok(30));
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"fffffffffffffffff\r\n",
            b"\r\n",
            b"5\r\nhello\r\n0\r\n\n",
        ] {
            assert_eq!(
                whole(bad),
                Err(BadChunk),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_result(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..5), cut in 0usize..400) {
            let mut body = Vec::new();
            for c in &chunks {
                body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                body.extend_from_slice(c);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
            let total = body.len();
            body.extend_from_slice(b"GET");
            let cut = cut.min(body.len());
            let mut p = Chunked::new(1024);
            let a = p.feed(&body[..cut]).unwrap();
            let b = p.feed(&body[a..]).unwrap();
            prop_assert!(p.is_done());
            prop_assert_eq!(a + b, total);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Chunked::new(64).feed(&bytes);
        }
    }
}
