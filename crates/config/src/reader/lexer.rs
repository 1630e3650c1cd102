//! One configuration line → words, with HAProxy's rules (configuration.txt §2.2, §2.3):
//! blanks split words, `#` starts a comment, backslash escapes, weak (`"`) and strong (`'`)
//! quoting, and environment variables expanded inside double quotes only.
//!
//! Works on bytes: every byte with a meaning is ASCII, so UTF-8 text passes through
//! untouched; only `\xNN` can produce bytes that are checked again at the end of a word.

use super::Env;
use crate::diag::Level;

/// What the line is read with: variables, and the values of the pseudo-variables.
pub(crate) struct LexCtx<'a> {
    pub env: &'a dyn Env,
    pub file: &'a str,
    pub line: u32,
    pub section: &'a str,
    /// `#` starts a comment (configuration lines); not in a `-cc` condition.
    pub comments: bool,
}

/// A finding that does not stop the line from being used.
#[derive(Debug, PartialEq)]
pub(crate) struct Note {
    pub level: Level,
    pub message: String,
    pub hint: Option<String>,
}

/// A problem that makes the whole line unusable.
#[derive(Debug, PartialEq)]
pub(crate) struct LexError {
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Default)]
pub(crate) struct Lexed {
    /// Words as HAProxy counts them: an empty word is kept between others, never at the end.
    pub words: Vec<String>,
    pub notes: Vec<Note>,
}

/// HAProxy's `isspace()`: these separate words (CR and LF end the line before that).
pub(crate) fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c | b'\r' | b'\n')
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'.'
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `at position N`, 1-based like HAProxy's messages.
fn at(pos: usize) -> String {
    format!("at position {}", pos + 1)
}

struct Lexer<'a, 'c> {
    b: &'a [u8],
    i: usize,
    ctx: &'c LexCtx<'c>,
    words: Vec<Vec<u8>>,
    cur: Vec<u8>,
    notes: Vec<Note>,
}

/// Splits one line (without its newline) into words.
pub(crate) fn split(line: &str, ctx: &LexCtx<'_>) -> Result<Lexed, LexError> {
    let b = line.as_bytes();
    let start = b.iter().position(|&c| !is_blank(c)).unwrap_or(b.len());
    let mut lx = Lexer {
        b,
        i: start,
        ctx,
        words: Vec::new(),
        cur: Vec::new(),
        notes: Vec::new(),
    };
    lx.run()?;
    let mut words = Vec::with_capacity(lx.words.len());
    for (n, w) in lx.words.into_iter().enumerate() {
        match String::from_utf8(w) {
            Ok(s) => words.push(s),
            Err(_) => {
                return Err(LexError {
                    message: format!("word {} is not valid UTF-8 once its '\\xNN' escapes are decoded", n + 1),
                    hint: "escape each byte of a multi-byte character (e.g. '\\xc3\\xa9' for 'é') or write the character itself".into(),
                })
            }
        }
    }
    Ok(Lexed {
        words,
        notes: lx.notes,
    })
}

impl Lexer<'_, '_> {
    fn peek(&self, off: usize) -> Option<u8> {
        self.b.get(self.i + off).copied()
    }

    fn end_word(&mut self) {
        self.words.push(std::mem::take(&mut self.cur));
    }

    fn run(&mut self) -> Result<(), LexError> {
        // Where the open quote is, and which one.
        let mut quote: Option<(usize, u8)> = None;
        while let Some(c) = self.peek(0) {
            let in_dq = matches!(quote, Some((_, b'"')));
            let in_sq = matches!(quote, Some((_, b'\'')));
            match c {
                // HAProxy ends the line at NUL or CR wherever they are, even inside quotes.
                0 | b'\r' | b'\n' => {
                    self.warn_if_cut(c);
                    break;
                }
                b'#' if quote.is_none() && self.ctx.comments => break,
                b'"' if !in_sq => {
                    quote = if in_dq { None } else { Some((self.i, c)) };
                    self.i += 1;
                }
                b'\'' if !in_dq => {
                    quote = if in_sq { None } else { Some((self.i, c)) };
                    self.i += 1;
                }
                b'\\' if !in_sq => self.escape(in_dq)?,
                b'$' if in_dq => self.variable()?,
                b'$' if quote.is_none() => {
                    self.warn_unquoted_variable();
                    self.cur.push(c);
                    self.i += 1;
                }
                c if is_blank(c) && quote.is_none() => {
                    while self
                        .peek(0)
                        .is_some_and(|c| is_blank(c) && c != b'\r' && c != b'\n')
                    {
                        self.i += 1;
                    }
                    self.end_word();
                }
                _ => {
                    self.cur.push(c);
                    self.i += 1;
                }
            }
        }
        if let Some((pos, q)) = quote {
            let q = q as char;
            return Err(LexError {
                message: format!("unmatched quote {q} {}", at(pos)),
                hint: format!(
                    "close it with {q} on the same line, or write \\{q} for a literal {q}"
                ),
            });
        }
        // HAProxy drops an empty last word; keywords read an empty word as the end of
        // their arguments, so empty words at the end (`a "" `) are all dropped.
        self.end_word();
        while self.words.last().is_some_and(Vec::is_empty) {
            self.words.pop();
        }
        Ok(())
    }

    /// A backslash outside single quotes; `in_dq` when inside double quotes.
    fn escape(&mut self, in_dq: bool) -> Result<(), LexError> {
        let pos = self.i;
        let Some(next) = self.peek(1) else {
            self.notes.push(Note {
                level: Level::Warning,
                message: "a backslash at the end of a line does not continue the statement on the next line".into(),
                hint: Some("write the whole statement on one line; the backslash is kept as a literal '\\'".into()),
            });
            self.cur.push(b'\\');
            self.i += 1;
            return Ok(());
        };
        let out = match next {
            b' ' | b'\t' | b'\\' | b'\'' | b'"' => next,
            b'#' if self.ctx.comments => next,
            b't' => b'\t',
            b'n' => b'\n',
            b'r' => b'\r',
            b'$' if in_dq => b'$',
            b'x' => {
                let (hi, lo) = match (self.peek(2).and_then(hex), self.peek(3).and_then(hex)) {
                    (Some(h), Some(l)) => (h, l),
                    _ => {
                        return Err(LexError {
                            message: format!("truncated or invalid hexadecimal sequence {}", at(pos)),
                            hint: "write '\\x' followed by exactly two hexadecimal digits (e.g. '\\x20'), or '\\\\x' for a literal backslash and 'x'".into(),
                        })
                    }
                };
                let byte = (hi << 4) | lo;
                if byte == 0 {
                    return Err(LexError {
                        message: format!(
                            "'\\x00' {} cannot be used: a word cannot contain a NUL byte",
                            at(pos)
                        ),
                        hint: "remove the '\\x00' escape".into(),
                    });
                }
                self.cur.push(byte);
                self.i += 4;
                return Ok(());
            }
            // `\$` outside double quotes stays as written, without the unquoted-variable warning.
            b'$' => {
                self.cur.extend_from_slice(b"\\$");
                self.i += 2;
                return Ok(());
            }
            // Not an escape sequence: the backslash stays, the next byte is read normally.
            _ => {
                self.cur.push(b'\\');
                self.i += 1;
                return Ok(());
            }
        };
        self.cur.push(out);
        self.i += 2;
        Ok(())
    }

    /// `$NAME`, `${NAME}`, `${NAME-default}`, `${NAME[*]}` inside double quotes.
    fn variable(&mut self) -> Result<(), LexError> {
        let dollar = self.i;
        self.i += 1;
        let brace = if self.peek(0) == Some(b'{') {
            self.i += 1;
            Some(self.i - 1)
        } else {
            None
        };
        let name_start = self.i;
        if !self.peek(0).is_some_and(is_name_start) {
            return Err(LexError {
                message: format!("forbidden first char in environment variable name {}", at(self.i)),
                hint: "a variable name starts with a letter or '_' (e.g. \"${HOST}\"); write \\$ for a literal '$' inside double quotes".into(),
            });
        }
        if self.peek(0) == Some(b'.') {
            self.i += 1;
        }
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        let name = String::from_utf8_lossy(&self.b[name_start..self.i]).into_owned();
        let mut value = self.lookup(&name, name_start)?;

        let mut expand = false;
        if brace.is_some() && self.peek(0) == Some(b'[') {
            if self.peek(1) != Some(b'*') || self.peek(2) != Some(b']') {
                return Err(LexError {
                    message: format!(
                        "truncated or invalid word expansion sequence {}",
                        at(self.i)
                    ),
                    hint: format!("write \"${{{name}[*]}}\" to split the value into several words"),
                });
            }
            expand = true;
            self.i += 3;
        }
        if let Some(open) = brace {
            if self.peek(0) == Some(b'-') {
                let from = self.i + 1;
                let Some(len) = self.b[from..].iter().position(|&c| c == b'}') else {
                    return Err(unmatched_brace(open, &name));
                };
                if value.is_none() {
                    value = Some(String::from_utf8_lossy(&self.b[from..from + len]).into_owned());
                }
                self.i = from + len;
            }
            if self.peek(0) != Some(b'}') {
                return Err(unmatched_brace(open, &name));
            }
            self.i += 1;
        }

        match value {
            Some(v) if expand => self.emit_split(&v),
            Some(v) => self.cur.extend_from_slice(v.as_bytes()),
            None => self.notes.push(Note {
                level: Level::Diag,
                message: format!(
                    "environment variable '{name}' {} is not set and expands to nothing",
                    at(dollar)
                ),
                hint: Some(format!(
                    "set it, or give a default with \"${{{name}-default}}\""
                )),
            }),
        }
        Ok(())
    }

    fn lookup(&self, name: &str, pos: usize) -> Result<Option<String>, LexError> {
        if !name.starts_with('.') {
            return Ok(self.ctx.env.var(name));
        }
        match name {
            ".FILE" => Ok(Some(self.ctx.file.to_string())),
            ".LINE" => Ok(Some(self.ctx.line.to_string())),
            ".SECTION" => Ok(Some(self.ctx.section.to_string())),
            _ => Err(LexError {
                message: format!("unknown pseudo-variable '{name}' {}", at(pos)),
                hint: "the pseudo-variables are .FILE, .LINE and .SECTION".into(),
            }),
        }
    }

    /// `${NAME[*]}`: each blank in the value separates words, as HAProxy does.
    fn emit_split(&mut self, v: &str) {
        let mut bytes = v.as_bytes().iter().copied().peekable();
        while let Some(c) = bytes.next() {
            if is_blank(c) {
                self.end_word();
                while bytes.next_if(|&c| is_blank(c)).is_some() {}
            } else {
                self.cur.push(c);
            }
        }
    }

    /// Text after a NUL or CR in the middle of a line is silently lost in HAProxy; say so.
    fn warn_if_cut(&mut self, c: u8) {
        let rest = &self.b[self.i + 1..];
        if c == b'\n' || rest.iter().all(|&b| is_blank(b)) {
            return;
        }
        let what = if c == 0 {
            "a NUL byte"
        } else {
            "a carriage return (CR)"
        };
        self.notes.push(Note {
            level: Level::Warning,
            message: format!(
                "{what} {} ends the line: the rest of it is ignored",
                at(self.i)
            ),
            hint: Some("end lines with LF or CRLF; inside a word, write '\\r' for a CR".into()),
        });
    }

    fn warn_unquoted_variable(&mut self) {
        if self.peek(1) != Some(b'{') || !self.peek(2).is_some_and(is_name_start) {
            return;
        }
        let rest = &self.b[self.i..];
        let end = rest
            .iter()
            .position(|&c| c == b'}')
            .map_or(rest.len(), |e| e + 1);
        let text = String::from_utf8_lossy(&rest[..end]);
        self.notes.push(Note {
            level: Level::Warning,
            message: format!("'{text}' is not expanded: environment variables are only expanded inside double quotes"),
            hint: Some(format!("write \"{text}\" to use the variable, or '{text}' to silence this warning")),
        });
    }
}

fn unmatched_brace(pos: usize, name: &str) -> LexError {
    LexError {
        message: format!("unmatched brace in environment variable name {}", at(pos)),
        hint: format!("write \"${{{name}}}\" or \"${{{name}-default}}\""),
    }
}
