//! `http-check expect` / `tcp-check expect`: matching received bytes.

use crate::error::HealthError;
use crate::status::{CheckStatus, Outcome};
use fulcrum_config::model::check::{Expect, ExpectMatch, HeaderMatchMethod, HeaderPattern};

/// A custom validator (mysql, ldap, ssl-hello): what the bytes so far say.
pub type CustomFn = fn(&[u8], bool) -> Option<Outcome>;

/// A compiled matcher.
#[derive(Clone, Debug)]
pub enum Matcher {
    Status(Vec<(u16, u16)>),
    Rstatus(regex::Regex),
    String(Vec<u8>),
    Rstring(regex::bytes::Regex),
    Binary(Vec<u8>),
    /// Matched against the hex dump (upper case) of the bytes, as HAProxy does.
    Rbinary(regex::Regex),
    Header {
        full: bool,
        name: HeaderMatcher,
        value: Option<HeaderMatcher>,
    },
    /// Returns `None` to read more, else the final outcome.
    Custom(CustomFn),
}

/// `-m str|beg|end|sub|reg` with its pattern.
#[derive(Clone, Debug)]
pub enum HeaderMatcher {
    Str(String),
    Beg(String),
    End(String),
    Sub(String),
    Reg(regex::Regex),
}

impl HeaderMatcher {
    fn compile(p: &HeaderPattern) -> Result<Self, HealthError> {
        let s = p.pattern.clone();
        Ok(match p.method {
            HeaderMatchMethod::Str => HeaderMatcher::Str(s),
            HeaderMatchMethod::Beg => HeaderMatcher::Beg(s),
            HeaderMatchMethod::End => HeaderMatcher::End(s),
            HeaderMatchMethod::Sub => HeaderMatcher::Sub(s),
            HeaderMatchMethod::Reg => HeaderMatcher::Reg(regex(&s)?),
        })
    }

    fn matches(&self, v: &str, case_insensitive: bool) -> bool {
        let fold = |x: &str| {
            if case_insensitive {
                x.to_ascii_lowercase()
            } else {
                x.to_string()
            }
        };
        let v = fold(v);
        match self {
            HeaderMatcher::Str(p) => v == fold(p),
            HeaderMatcher::Beg(p) => v.starts_with(&fold(p)),
            HeaderMatcher::End(p) => v.ends_with(&fold(p)),
            HeaderMatcher::Sub(p) => v.contains(&fold(p)),
            HeaderMatcher::Reg(r) => r.is_match(&v),
        }
    }
}

fn regex(p: &str) -> Result<regex::Regex, HealthError> {
    regex::Regex::new(p).map_err(|source| HealthError::Regex {
        pattern: p.to_string(),
        source,
    })
}

/// One compiled `expect` rule.
#[derive(Clone, Debug)]
pub struct Expectation {
    pub negate: bool,
    pub matcher: Matcher,
    /// Wait for at least this many bytes before matching (`min-recv`).
    pub min_recv: Option<usize>,
    pub ok_status: Option<CheckStatus>,
    pub error_status: Option<CheckStatus>,
    pub tout_status: Option<CheckStatus>,
    /// `on-success` / `on-error` texts (log-format is not evaluated: kept as written).
    pub on_success: Option<String>,
    pub on_error: Option<String>,
}

/// A parsed HTTP response, what HTTP expectations look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The result of matching what has been received so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    NeedMore,
    Pass,
    Fail,
    /// A custom validator decided the outcome itself.
    Decided(Outcome),
}

impl Expectation {
    /// A plain matcher with HAProxy's defaults.
    pub fn new(matcher: Matcher) -> Self {
        Expectation {
            negate: false,
            matcher,
            min_recv: None,
            ok_status: None,
            error_status: None,
            tout_status: None,
            on_success: None,
            on_error: None,
        }
    }

    pub fn compile(e: &Expect) -> Result<Self, HealthError> {
        let status = |s: &Option<String>| -> Result<Option<CheckStatus>, HealthError> {
            s.as_deref()
                .map(|n| CheckStatus::from_name(n).ok_or(HealthError::UnknownStatus(n.into())))
                .transpose()
        };
        let matcher = match &e.matcher {
            ExpectMatch::Status(r) => Matcher::Status(r.clone()),
            ExpectMatch::Rstatus(p) => Matcher::Rstatus(regex(p)?),
            // Log-format strings are matched as written (no sample expressions here).
            ExpectMatch::String(s) | ExpectMatch::StringLogFormat(s) => {
                Matcher::String(s.as_bytes().to_vec())
            }
            ExpectMatch::Rstring(p) => {
                Matcher::Rstring(regex::bytes::Regex::new(p).map_err(|source| {
                    HealthError::Regex {
                        pattern: p.clone(),
                        source,
                    }
                })?)
            }
            ExpectMatch::Binary(b) => Matcher::Binary(b.clone()),
            ExpectMatch::BinaryLogFormat(h) => Matcher::Binary(hex_decode(h)),
            ExpectMatch::Rbinary(p) => Matcher::Rbinary(regex(p)?),
            ExpectMatch::Header { full, name, value } => Matcher::Header {
                full: *full,
                name: HeaderMatcher::compile(name)?,
                value: value.as_ref().map(HeaderMatcher::compile).transpose()?,
            },
        };
        Ok(Expectation {
            negate: e.negate,
            matcher,
            min_recv: e.min_recv.and_then(|m| usize::try_from(m).ok()),
            ok_status: status(&e.ok_status)?,
            error_status: status(&e.error_status)?,
            tout_status: status(&e.tout_status)?,
            on_success: e.on_success.clone(),
            on_error: e.on_error.clone(),
        })
    }

    /// Matches raw bytes (`tcp-check expect`); `eof`: the peer closed.
    pub fn match_tcp(&self, buf: &[u8], eof: bool) -> Match {
        if let Matcher::Custom(f) = self.matcher {
            return match f(buf, eof) {
                Some(o) => Match::Decided(o),
                None if eof => Match::Fail,
                None => Match::NeedMore,
            };
        }
        if !eof && self.min_recv.is_some_and(|m| buf.len() < m) {
            return Match::NeedMore;
        }
        let found = match &self.matcher {
            Matcher::String(s) | Matcher::Binary(s) => find(buf, s),
            Matcher::Rstring(r) => r.is_match(buf),
            Matcher::Rbinary(r) => r.is_match(&hex(buf)),
            _ => false,
        };
        match (found != self.negate, eof) {
            (true, _) => Match::Pass,
            // Not there yet: more bytes may bring it, unless min-recv was reached.
            (false, false) if self.min_recv.is_none() && !found => Match::NeedMore,
            (false, _) => Match::Fail,
        }
    }

    /// Matches a complete HTTP response.
    pub fn match_http(&self, r: &HttpResponse) -> bool {
        let found = match &self.matcher {
            Matcher::Status(ranges) => ranges
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&r.status)),
            Matcher::Rstatus(re) => re.is_match(&r.status.to_string()),
            Matcher::String(s) => find(&r.body, s),
            Matcher::Rstring(re) => re.is_match(&r.body),
            Matcher::Binary(b) => find(&r.body, b),
            Matcher::Rbinary(re) => re.is_match(&hex(&r.body)),
            Matcher::Header { full, name, value } => r.headers.iter().any(|(n, v)| {
                if !name.matches(n, true) {
                    return false;
                }
                let Some(vm) = value else { return true };
                if *full {
                    vm.matches(v, false)
                } else {
                    v.split(',').any(|e| vm.matches(e.trim(), false))
                }
            }),
            Matcher::Custom(_) => false,
        };
        found != self.negate
    }

    /// How HAProxy names the pattern in `TCPCHK did not match content…`.
    pub fn describe(&self) -> String {
        match &self.matcher {
            Matcher::String(s) => format!(" '{}'", String::from_utf8_lossy(s)),
            Matcher::Binary(_) => " (binary)".into(),
            Matcher::Rstring(_) | Matcher::Rstatus(_) => " (regex)".into(),
            Matcher::Rbinary(_) => " (binary regex)".into(),
            Matcher::Status(_) => "(status codes)".into(),
            Matcher::Header { .. } => " (header pattern)".into(),
            Matcher::Custom(_) => " (custom function)".into(),
        }
    }

    /// How HAProxy names what an expect waited for when the check timed out.
    pub fn describe_wait(&self) -> String {
        match &self.matcher {
            Matcher::String(s) => format!(" (expect string '{}')", String::from_utf8_lossy(s)),
            Matcher::Binary(b) => format!(" (expect binary '{}')", hex(b)),
            Matcher::Rstring(_) => " (expect regex)".into(),
            Matcher::Rbinary(_) => " (expect binary regex)".into(),
            Matcher::Custom(_) => " (expect custom function)".into(),
            Matcher::Status(_) => " (expect HTTP status codes)".into(),
            Matcher::Rstatus(_) => " (expect HTTP status regex)".into(),
            Matcher::Header { .. } => " (expect HTTP header pattern)".into(),
        }
    }

    /// Whether the body must be read before matching.
    pub fn needs_body(&self) -> bool {
        matches!(
            self.matcher,
            Matcher::String(_) | Matcher::Rstring(_) | Matcher::Binary(_) | Matcher::Rbinary(_)
        )
    }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Upper-case hex dump, what `rbinary` patterns are written against.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

pub fn hex_decode(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter_map(|c| (c as char).to_digit(16).map(|d| d as u8))
        .collect();
    digits
        .chunks(2)
        .map(|p| p.iter().fold(0, |a, d| a * 16 + d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            reason: "X".into(),
            headers: vec![
                ("Content-Type".into(), "text/html; charset=utf-8".into()),
                ("Cache-Control".into(), "no-cache, private".into()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn status_ranges_and_negation() {
        let mut e = Expectation::new(Matcher::Status(vec![(200, 399)]));
        assert!(e.match_http(&resp(302, "")));
        assert!(!e.match_http(&resp(500, "")));
        e.negate = true;
        assert!(e.match_http(&resp(500, "")));
        let ws = Expectation::new(Matcher::Status(vec![(101, 101)]));
        assert!(!ws.match_http(&resp(200, "")));
    }

    #[test]
    fn body_and_header_matchers() {
        let s = Expectation::new(Matcher::String(b"healthy".to_vec()));
        assert!(s.match_http(&resp(200, "i am healthy")));
        assert!(!s.match_http(&resp(200, "i am sick")));
        let h = Expectation::new(Matcher::Header {
            full: false,
            name: HeaderMatcher::Str("cache-control".into()),
            value: Some(HeaderMatcher::Str("private".into())),
        });
        assert!(h.match_http(&resp(200, "")));
        let f = Expectation::new(Matcher::Header {
            full: true,
            name: HeaderMatcher::Str("cache-control".into()),
            value: Some(HeaderMatcher::Str("private".into())),
        });
        assert!(!f.match_http(&resp(200, "")));
    }

    #[test]
    fn tcp_matching_waits_for_data_then_decides() {
        let e = Expectation::new(Matcher::String(b"+PONG".to_vec()));
        assert_eq!(e.match_tcp(b"+PO", false), Match::NeedMore);
        assert_eq!(e.match_tcp(b"+PONG\r\n", false), Match::Pass);
        assert_eq!(e.match_tcp(b"-ERR", true), Match::Fail);
        let r = Expectation::new(Matcher::Rbinary(regex::Regex::new("^0A").unwrap()));
        assert_eq!(r.match_tcp(&[0x0a, 0x35], false), Match::Pass);
        let mut m = Expectation::new(Matcher::Rstring(
            regex::bytes::Regex::new("^2[0-9]{2}").unwrap(),
        ));
        m.min_recv = Some(4);
        assert_eq!(m.match_tcp(b"22", false), Match::NeedMore);
        assert_eq!(m.match_tcp(b"554 no", false), Match::Fail);
    }

    #[test]
    fn hex_decode_reads_pairs() {
        assert_eq!(hex_decode("0A ff"), vec![0x0a, 0xff]);
        assert_eq!(hex(&[0x0a, 0xff]), "0AFF");
    }
}
