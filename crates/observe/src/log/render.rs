//! Renders a [`LogFormat`] for one [`LogRecord`] the way HAProxy's
//! `sess_build_logline` prints it (configuration.txt §8.2.4).

use super::record::LogRecord;
use crate::time::{self, Tm};
use fulcrum_config::logformat::{Flags, Item, LogFormat, Var};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

/// Appends the line for `rec` to `out` (no newline, no syslog header).
/// `samples(i)` gives the value of the format's `i`-th `%[…]` expression
/// (see [`LogFormat::samples`]); `None` prints `-`.
pub fn render(
    fmt: &LogFormat,
    rec: &LogRecord,
    samples: &dyn Fn(usize) -> Option<String>,
    out: &mut Vec<u8>,
) {
    let mut w = Line {
        out,
        // A line starts "after a space": leading separators never print.
        last_space: true,
    };
    let mut sample_idx = 0;
    for item in &fmt.items {
        match item {
            Item::Text(t) => w.raw(t.as_bytes()),
            Item::Separator => {
                if !w.last_space {
                    w.out.push(b' ');
                    w.last_space = true;
                }
            }
            Item::Var { var, flags } => var_value(&mut w, *var, *flags, rec),
            Item::Sample { flags, .. } => {
                let v = samples(sample_idx);
                sample_idx += 1;
                w.text(v.as_deref(), *flags, Enc::Plain);
            }
        }
    }
}

/// Appends one `%` variable of `rec` as a log line prints it (flags `Q`, `E`,
/// `X` included): `unique-id-format` and action arguments render through it.
pub fn render_var(var: Var, flags: Flags, rec: &LogRecord, out: &mut Vec<u8>) {
    let mut w = Line {
        out,
        last_space: false,
    };
    var_value(&mut w, var, flags, rec);
}

/// Convenience: the line as a `String`, with every sample printed as `-`.
pub fn render_line(fmt: &LogFormat, rec: &LogRecord) -> String {
    let mut out = Vec::new();
    render(fmt, rec, &|_| None, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Which bytes are shown as `#XX` (HAProxy's encoding maps).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    /// Names, addresses, samples: only control characters.
    Plain,
    /// Request line: controls, DEL and above, `"` and `#`.
    Url,
    /// Header captures: also `|`, `{`, `}`.
    Header,
}

fn needs_hash(b: u8, enc: Enc) -> bool {
    match enc {
        // HAProxy copies these raw; control characters are encoded here so
        // that a value can never split or forge a log line.
        Enc::Plain => b < 0x20 || b == 0x7f,
        Enc::Url => !(0x20..0x7f).contains(&b) || b == b'"' || b == b'#',
        Enc::Header => !(0x20..0x7f).contains(&b) || matches!(b, b'"' | b'#' | b'|' | b'{' | b'}'),
    }
}

struct Line<'a> {
    out: &'a mut Vec<u8>,
    last_space: bool,
}

impl Line<'_> {
    fn raw(&mut self, b: &[u8]) {
        if !b.is_empty() {
            self.out.extend_from_slice(b);
            self.last_space = false;
        }
    }

    fn fmt(&mut self, args: std::fmt::Arguments<'_>) {
        // Writing to a Vec cannot fail.
        let _ = self.out.write_fmt(args);
        self.last_space = false;
    }

    /// A text field: `-` when absent, `""` when absent and quoted.
    fn text(&mut self, s: Option<&str>, flags: Flags, enc: Enc) {
        match s {
            Some(s) if !s.is_empty() => {
                if flags.quote {
                    self.out.push(b'"');
                }
                for &b in s.as_bytes() {
                    if needs_hash(b, enc) {
                        self.fmt(format_args!("#{b:02X}"));
                        continue;
                    }
                    if flags.escape && matches!(b, b'"' | b'\\' | b']') {
                        self.out.push(b'\\');
                    }
                    self.out.push(b);
                }
                if flags.quote {
                    self.out.push(b'"');
                }
            }
            _ if flags.quote => self.out.extend_from_slice(b"\"\""),
            _ => self.out.push(b'-'),
        }
        self.last_space = false;
    }

    /// A piece of the request line: URL-encoded, quoted on `Q`, printed
    /// as is even when empty.
    fn chunk(&mut self, s: &str, flags: Flags) {
        if flags.quote {
            self.out.push(b'"');
        }
        for &b in s.as_bytes() {
            if needs_hash(b, Enc::Url) {
                self.fmt(format_args!("#{b:02X}"));
            } else {
                if flags.escape && matches!(b, b'"' | b'\\' | b']') {
                    self.out.push(b'\\');
                }
                self.out.push(b);
            }
        }
        if flags.quote {
            self.out.push(b'"');
        }
        self.last_space = false;
    }

    /// `%04X` with `X`, decimal otherwise (`%pid`, `%rt`, `%lc`).
    fn num4(&mut self, v: u64, flags: Flags) {
        if flags.hex {
            self.fmt(format_args!("{v:04X}"));
        } else {
            self.fmt(format_args!("{v}"));
        }
    }

    fn num(&mut self, v: i64, flags: Flags) {
        if flags.hex {
            self.fmt(format_args!("{:X}", v));
        } else {
            self.fmt(format_args!("{v}"));
        }
    }

    fn ip(&mut self, a: Option<SocketAddr>, flags: Flags) {
        // HAProxy prints the family name for a UNIX socket.
        if a.as_ref().is_some_and(super::is_unix) {
            return self.text(Some("unix"), flags, Enc::Plain);
        }
        match a.map(|a| a.ip()) {
            Some(IpAddr::V4(v4)) if flags.hex => {
                self.fmt(format_args!("{:08X}", u32::from(v4)));
            }
            Some(IpAddr::V6(v6)) if flags.hex => {
                self.fmt(format_args!("{:032X}", u128::from(v6)));
            }
            Some(ip) => self.text(Some(&ip.to_string()), flags, Enc::Plain),
            None => self.text(None, flags, Enc::Plain),
        }
    }

    fn port(&mut self, a: Option<SocketAddr>, flags: Flags) {
        match a {
            Some(a) if super::is_unix(&a) => self.text(Some("unix"), flags, Enc::Plain),
            Some(a) if flags.hex => self.fmt(format_args!("{:04X}", a.port())),
            Some(a) => self.fmt(format_args!("{}", a.port())),
            None => self.text(None, flags, Enc::Plain),
        }
    }

    /// `16/Jan/2016:02:51:10.487`
    fn date_ms(&mut self, tm: &Tm) {
        self.fmt(format_args!(
            "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
            tm.day,
            tm.month_name(),
            tm.year,
            tm.hour,
            tm.min,
            tm.sec,
            tm.millis()
        ));
    }

    /// `16/Jan/2016:02:51:10 +0000`
    fn date_zone(&mut self, tm: &Tm) {
        self.fmt(format_args!(
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} {}",
            tm.day,
            tm.month_name(),
            tm.year,
            tm.hour,
            tm.min,
            tm.sec,
            tm.offset_hhmm()
        ));
    }

    fn plus_if(&mut self, cond: bool) {
        if cond {
            self.out.push(b'+');
        }
    }

    fn captures(&mut self, caps: &[Option<String>], flags: Flags, list: bool) {
        if list {
            for (i, c) in caps.iter().enumerate() {
                if i > 0 {
                    self.out.push(b' ');
                }
                self.text(c.as_deref(), flags, Enc::Header);
            }
            return;
        }
        // `%hr` prints nothing at all without captures: the separator that
        // follows is then skipped, as in HAProxy's lines.
        if caps.is_empty() {
            return;
        }
        if flags.quote {
            self.out.push(b'"');
        }
        self.out.push(b'{');
        for (i, c) in caps.iter().enumerate() {
            if i > 0 {
                self.out.push(b'|');
            }
            if let Some(c) = c {
                let unquoted = Flags {
                    quote: false,
                    ..flags
                };
                let before = self.out.len();
                self.text(Some(c), unquoted, Enc::Header);
                if c.is_empty() {
                    self.out.truncate(before);
                }
            }
        }
        self.out.push(b'}');
        if flags.quote {
            self.out.push(b'"');
        }
        self.last_space = false;
    }
}

fn local_tm(t: SystemTime, rec: &LogRecord) -> Tm {
    time::at_offset(t, rec.utc_offset)
}

fn unix_secs(t: SystemTime) -> i64 {
    time::unix_micros(t).div_euclid(1_000_000)
}

fn var_value(w: &mut Line<'_>, var: Var, f: Flags, rec: &LogRecord) {
    let t = &rec.timers;
    let req_date = rec.request_date.unwrap_or(rec.accept_date);
    let parts = rec.request_parts();
    match var {
        Var::FlagsForNext => {}
        Var::BytesRead => {
            w.plus_if(rec.logasap);
            w.num(rec.bytes_read as i64, f);
        }
        Var::BytesUploaded => w.num(rec.bytes_uploaded as i64, f),
        Var::CapturedRequestCookie => w.text(rec.captured_request_cookie.as_deref(), f, Enc::Plain),
        Var::CapturedResponseCookie => {
            w.text(rec.captured_response_cookie.as_deref(), f, Enc::Plain)
        }
        Var::Hostname => w.text(Some(&rec.hostname), f, Enc::Plain),
        Var::HttpMethod => w.chunk(parts.method.unwrap_or(BADREQ), f),
        Var::HttpUri => w.chunk(parts.uri.unwrap_or(BADREQ), f),
        Var::HttpPath => w.chunk(parts.uri.map_or(BADREQ, path_of), f),
        Var::HttpPathOnly => w.chunk(parts.uri.map_or(BADREQ, path_only), f),
        // The query runs from the line's first `?` to the next space, and is
        // empty (not `-`) without one.
        Var::HttpQuery => w.chunk(parts.line.map_or(BADREQ, query_of), f),
        Var::HttpVersion => w.chunk(parts.version.unwrap_or(BADREQ), f),
        Var::UniqueId => w.text(rec.unique_id.as_deref(), f, Enc::Plain),
        Var::StatusCode => w.num(rec.status.map_or(-1, i64::from), f),
        Var::GmtDate => w.date_zone(&time::at_offset(rec.accept_date, 0)),
        Var::LocalDate => w.date_zone(&local_tm(rec.accept_date, rec)),
        Var::Date => w.date_ms(&local_tm(rec.accept_date, rec)),
        Var::RequestDate => w.date_ms(&local_tm(req_date, rec)),
        Var::RequestGmtDate => w.date_zone(&time::at_offset(req_date, 0)),
        Var::RequestLocalDate => w.date_zone(&local_tm(req_date, rec)),
        Var::Timestamp => {
            let secs = unix_secs(rec.accept_date);
            if f.hex {
                w.fmt(format_args!("{secs:08X}"));
            } else {
                w.fmt(format_args!("{secs}"));
            }
        }
        Var::AcceptMillis => {
            let ms = local_tm(rec.accept_date, rec).millis();
            if f.hex {
                w.fmt(format_args!("{ms:02X}"));
            } else {
                w.fmt(format_args!("{ms:03}"));
            }
        }
        Var::TimeActive => {
            w.plus_if(rec.logasap);
            w.num(t.ta, f);
        }
        Var::TimeTotal => {
            w.plus_if(rec.logasap);
            w.num(t.tt, f);
        }
        Var::TimeConnect => w.num(t.tc, f),
        Var::TimeData => w.num(t.td(), f),
        Var::TimeHandshake => w.num(t.th, f),
        Var::TimeIdle => w.num(t.ti, f),
        Var::TimeRequestTotal => w.num(t.tq(), f),
        Var::TimeRequest => w.num(t.tr_request, f),
        Var::TimeResponse => w.num(t.tr_response, f),
        Var::TimeUser => {
            w.plus_if(rec.logasap);
            w.num(t.tu(), f);
        }
        Var::TimeWait => w.num(t.tw, f),
        Var::ActConn => w.num(i64::from(rec.actconn), f),
        Var::FeConn => w.num(i64::from(rec.feconn), f),
        Var::BeConn => w.num(i64::from(rec.beconn), f),
        Var::SrvConn => w.num(i64::from(rec.srv_conn), f),
        Var::Retries => {
            w.plus_if(rec.redispatched);
            w.num(i64::from(rec.retries), f);
        }
        Var::SrvQueue => w.num(i64::from(rec.srv_queue), f),
        Var::BackendQueue => w.num(i64::from(rec.backend_queue), f),
        Var::BackendName => w.text(Some(&rec.backend), f, Enc::Plain),
        Var::BackendSourceIp => w.ip(rec.backend_src, f),
        Var::BackendSourcePort => w.port(rec.backend_src, f),
        Var::ClientIp => w.ip(rec.client, f),
        // HAProxy logs a UNIX client's listener id as its port.
        Var::ClientPort => match rec.client {
            Some(a) if super::is_unix(&a) => w.num(i64::from(a.port()), f),
            c => w.port(c, f),
        },
        Var::FrontendIp => w.ip(rec.frontend_addr, f),
        Var::FrontendPort => w.port(rec.frontend_addr, f),
        Var::ServerIp => w.ip(rec.server_addr, f),
        Var::ServerPort => w.port(rec.server_addr, f),
        Var::FrontendName => w.text(Some(&rec.frontend), f, Enc::Plain),
        Var::FrontendNameTransport => {
            let name = if rec.frontend_tls {
                format!("{}~", rec.frontend)
            } else {
                rec.frontend.clone()
            };
            w.text(Some(&name), f, Enc::Plain);
        }
        Var::ServerName => w.text(
            Some(rec.server.as_deref().unwrap_or("<NOSRV>")),
            f,
            Enc::Plain,
        ),
        Var::LogCounter => w.num4(rec.log_counter, f),
        Var::RequestCounter => w.num4(rec.request_counter, f),
        Var::Pid => w.num4(u64::from(rec.pid), f),
        Var::CapturedRequestHeaders => w.captures(&rec.request_captures, f, false),
        Var::CapturedRequestHeadersList => w.captures(&rec.request_captures, f, true),
        Var::CapturedResponseHeaders => w.captures(&rec.response_captures, f, false),
        Var::CapturedResponseHeadersList => w.captures(&rec.response_captures, f, true),
        Var::RequestLine => w.chunk(rec.request_line.as_deref().unwrap_or(BADREQ), f),
        Var::SslCipher => w.text(rec.ssl_cipher.as_deref(), f, Enc::Plain),
        Var::SslVersion => w.text(rec.ssl_version.as_deref(), f, Enc::Plain),
        Var::TermState => w.raw(&rec.termination.short()),
        Var::TermStateCookie => w.raw(&rec.termination.long()),
    }
}

/// `/a/b?x=1` → `/a/b`
fn path_of(uri: &str) -> &str {
    uri.split_once('?').map_or(uri, |(p, _)| p)
}

/// `http://h/a/b?x` → `/a/b`
fn path_only(uri: &str) -> &str {
    let p = path_of(uri);
    match p.find("://") {
        Some(i) => {
            let after = &p[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => p,
    }
}

/// `GET /a?x=1 HTTP/1.1` → `?x=1`; empty without a query.
fn query_of(line: &str) -> &str {
    match line.find('?') {
        Some(i) => {
            let q = &line[i..];
            q.find([' ', '\t']).map_or(q, |j| &q[..j])
        }
        None => "",
    }
}

const BADREQ: &str = "<BADREQ>";
