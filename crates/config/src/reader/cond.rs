//! Conditions of `.if` / `.elif` and of `fulcrum -cc` (configuration.txt §2.4).
//!
//! Grammar, as HAProxy reads it (`&&` binds tighter than `||`):
//! ```text
//! expr := and ( "||" and )*        and  := term ( "&&" term )*
//! term := "!"* ( integer | "(" expr ")" | predicate "(" args ")" )
//! ```
//! An empty condition is false; an integer is true unless it is zero.

use super::lexer::{self, LexCtx};
use super::Env;
use crate::diag::closest;

/// The HAProxy version whose configuration language Fulcrum reads; `version_atleast`
/// and `version_before` compare against it.
pub const COMPAT_VERSION: &str = "2.6.0";

/// What `feature(NAME)` is true for, printed by `-vv` with a `+` each. Only what this
/// build really does: tokio's epoll poller, worker threads, `accept4()`, name resolution
/// through `getaddrinfo()`, `splice()` in TCP tunnels (engine), the Prometheus exporter
/// (observe). Not OPENSSL, LUA, PCRE, ZLIB, TPROXY, QUIC…
pub const FEATURES: &[&str] = &[
    "ACCEPT4",
    "EPOLL",
    "GETADDRINFO",
    "LINUX_SPLICE",
    "PROMEX",
    "THREAD",
];

/// The predicates, with how each is written (for hints).
pub const PREDICATES: &[(&str, &str)] = &[
    ("defined", "defined(<name>)"),
    ("feature", "feature(<name>)"),
    ("streq", "streq(<str1>,<str2>)"),
    ("strneq", "strneq(<str1>,<str2>)"),
    ("strstr", "strstr(<str1>,<str2>)"),
    ("version_atleast", "version_atleast(<ver>)"),
    ("version_before", "version_before(<ver>)"),
];

/// Deep enough for any real condition, shallow enough for the stack.
const MAX_DEPTH: usize = 64;

/// Why a condition cannot be evaluated; `hint` says what to write instead.
#[derive(Debug, PartialEq)]
pub(crate) struct CondError {
    pub message: String,
    pub hint: String,
}

/// Evaluates a condition as `fulcrum -cc EXPR` does: `Ok(true)` / `Ok(false)`, or why
/// the text is not a valid condition (with a hint after `; `). Like HAProxy, the text is
/// first split as a configuration line (quotes, escapes, `"${VAR}"`; `#` is not a
/// comment), then its words are joined with single spaces, as on an `.if` line.
pub fn eval_condition(expr: &str, env: &dyn Env) -> Result<bool, String> {
    let ctx = LexCtx {
        env,
        file: "",
        line: 0,
        section: "",
        comments: false,
    };
    let words = lexer::split(expr, &ctx).map_err(|e| format!("{}; {}", e.message, e.hint))?;
    eval(&words.words.join(" "), env).map_err(|e| format!("{}; {}", e.message, e.hint))
}

pub(crate) fn eval(expr: &str, env: &dyn Env) -> Result<bool, CondError> {
    let mut p = Parser {
        s: expr.as_bytes(),
        i: 0,
        env,
    };
    p.blanks();
    if p.i == p.s.len() {
        return Ok(false);
    }
    let v = p.or(0)?;
    p.blanks();
    match p.s.get(p.i) {
        None => Ok(v),
        Some(&c) => Err(p.err(
            format!(
                "unexpected character '{}' at the end of conditional expression '{expr}'",
                c as char
            ),
            "combine terms with '&&' or '||', e.g. 'defined(A) && !defined(B)'",
        )),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    env: &'a dyn Env,
}

impl Parser<'_> {
    fn blanks(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn rest(&self) -> String {
        String::from_utf8_lossy(&self.s[self.i.min(self.s.len())..]).into_owned()
    }

    fn err(&self, message: String, hint: &str) -> CondError {
        CondError {
            message: format!("{message} at position {}", self.i + 1),
            hint: hint.to_string(),
        }
    }

    fn eat(&mut self, op: &[u8]) -> bool {
        if self.s[self.i.min(self.s.len())..].starts_with(op) {
            self.i += op.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<bool, CondError> {
        // Every term is parsed (and so checked) even when the result is already known.
        let mut v = self.and(depth)?;
        loop {
            self.blanks();
            if !self.eat(b"||") {
                return Ok(v);
            }
            v |= self.and(depth)?;
        }
    }

    fn and(&mut self, depth: usize) -> Result<bool, CondError> {
        let mut v = self.term(depth)?;
        loop {
            self.blanks();
            if !self.eat(b"&&") {
                return Ok(v);
            }
            v &= self.term(depth)?;
        }
    }

    fn term(&mut self, depth: usize) -> Result<bool, CondError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(
                "conditional expression nested too deeply".into(),
                "use fewer parentheses",
            ));
        }
        self.blanks();
        let mut neg = false;
        while self.eat(b"!") {
            neg = !neg;
            self.blanks();
        }
        let v = if let Some(v) = self.integer() {
            v
        } else if self.eat(b"(") {
            let v = self.or(depth + 1)?;
            self.blanks();
            if !self.eat(b")") {
                return Err(self.err(
                    "expected ')' after conditional expression".into(),
                    "close each '(' with ')'",
                ));
            }
            v
        } else {
            self.predicate()?
        };
        Ok(v != neg)
    }

    /// `strtol(…, 0)`: optional sign, then decimal, `0x` hexadecimal or `0` octal digits.
    fn integer(&mut self) -> Option<bool> {
        let start = self.i;
        let mut j = self.i;
        if matches!(self.s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let s = self.s;
        let digits = |j: usize, ok: fn(&u8) -> bool| {
            s[j.min(s.len())..].iter().take_while(|c| ok(c)).count()
        };
        let (from, n) = if s.get(j) == Some(&b'0')
            && matches!(s.get(j + 1), Some(b'x' | b'X'))
            && s.get(j + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            (j + 2, digits(j + 2, u8::is_ascii_hexdigit))
        } else if s.get(j) == Some(&b'0') {
            (j, digits(j, |c| (b'0'..=b'7').contains(c)))
        } else {
            (j, digits(j, u8::is_ascii_digit))
        };
        if n == 0 {
            self.i = start;
            return None;
        }
        self.i = from + n;
        Some(s[from..from + n].iter().any(|&c| c != b'0'))
    }

    fn predicate(&mut self) -> Result<bool, CondError> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        if name.is_empty() {
            return Err(self.err(
                format!("unparsable conditional expression '{}'", self.rest()),
                "a term is 0, 1, a predicate such as defined(NAME), '!' and a term, or '(' expression ')'",
            ));
        }
        let Some(&(_, usage)) = PREDICATES.iter().find(|(n, _)| *n == name) else {
            self.i = start;
            let known: Vec<&str> = PREDICATES.iter().map(|(n, _)| *n).collect();
            let hint = match closest(&name, known.iter().copied()) {
                Some(c) => format!(
                    "did you mean '{c}'? The predicates are {}",
                    known.join(", ")
                ),
                None => format!("the predicates are {}", known.join(", ")),
            };
            return Err(self.err(
                format!("unknown predicate '{name}' in conditional expression"),
                &hint,
            ));
        };
        if !self.eat(b"(") {
            return Err(self.err(
                format!("missing arguments for predicate '{name}'"),
                &format!("write {usage}"),
            ));
        }
        let args = self.args(&name, usage)?;
        let want = usage.matches('<').count();
        if args.len() != want {
            let what = if args.len() < want {
                "missing arguments"
            } else {
                "too many arguments"
            };
            return Err(self.err(
                format!("{what} (got {}/{want}) for predicate '{name}'", args.len()),
                &format!("write {usage}"),
            ));
        }
        self.apply(&name, &args)
    }

    /// The arguments after `(` up to the matching `)`: split on commas, quotes group and
    /// are removed, a backslash takes the next character literally.
    fn args(&mut self, name: &str, usage: &str) -> Result<Vec<String>, CondError> {
        let mut args = Vec::new();
        let mut cur = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            let Some(&c) = self.s.get(self.i) else {
                let what = if quote.is_some() {
                    "unmatched quote"
                } else {
                    "missing ')'"
                };
                return Err(self.err(
                    format!("{what} in the arguments of predicate '{name}'"),
                    &format!("write {usage}"),
                ));
            };
            self.i += 1;
            match (c, quote) {
                (b'\\', q) if q != Some(b'\'') && self.i < self.s.len() => {
                    cur.push(self.s[self.i]);
                    self.i += 1;
                }
                (b'"' | b'\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (b',', None) => {
                    args.push(String::from_utf8_lossy(&std::mem::take(&mut cur)).into_owned())
                }
                (b')', None) => {
                    args.push(String::from_utf8_lossy(&cur).into_owned());
                    return Ok(args);
                }
                _ => cur.push(c),
            }
        }
    }

    fn apply(&self, name: &str, a: &[String]) -> Result<bool, CondError> {
        Ok(match (name, a) {
            ("defined", [n]) => self.env.var(n).is_some(),
            ("feature", [f]) => FEATURES.contains(&f.as_str()),
            ("streq", [x, y]) => x == y,
            ("strneq", [x, y]) => x != y,
            ("strstr", [x, y]) => x.contains(y.as_str()),
            ("version_atleast", [v]) => {
                self.version(v)? <= version_key(COMPAT_VERSION).unwrap_or_default()
            }
            ("version_before", [v]) => {
                self.version(v)? > version_key(COMPAT_VERSION).unwrap_or_default()
            }
            _ => false,
        })
    }

    fn version(&self, v: &str) -> Result<VersionKey, CondError> {
        version_key(v).ok_or_else(|| CondError {
            message: format!("invalid version '{v}' in conditional expression"),
            hint: "write a version as 'haproxy -v' shows it, e.g. 2.4, 2.6.12 or 2.4-dev19".into(),
        })
    }
}

/// Four numbers, then the stage (dev < pre < rc < release) and its number.
type VersionKey = ([u32; 4], u8, u32);

/// Parses `2`, `2.6`, `2.6.12`, `2.4-dev19`, `2.6-rc1`; missing numbers are zero and
/// anything after an unknown suffix (`-1ubuntu`, `+git`) is ignored.
pub(crate) fn version_key(v: &str) -> Option<VersionKey> {
    let b = v.as_bytes();
    let mut i = 0;
    let mut nums = [0u32; 4];
    for (k, slot) in nums.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') || !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                break;
            }
            i += 1;
        }
        let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        *slot = v[i..i + n].parse().ok()?;
        i += n;
    }
    let rest = &v[i..];
    for (rank, tag) in [(0u8, "-dev"), (1, "-pre"), (2, "-rc")] {
        if let Some(num) = rest.strip_prefix(tag) {
            let n = num.bytes().take_while(u8::is_ascii_digit).count();
            let stage = if n == 0 { 0 } else { num[..n].parse().ok()? };
            return Some((nums, rank, stage));
        }
    }
    Some((nums, 3, 0))
}
