//! Syslog framing for every `log … format` HAProxy knows, and the `log`
//! line's target/facility/level/sample settings.

use crate::error::ObserveError;
use crate::time::{self, Tm};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::SystemTime;

/// Syslog facilities, in RFC 5424 order (the index is the code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Facility(u8);

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

impl Facility {
    pub const LOCAL0: Facility = Facility(16);
    pub fn parse(name: &str) -> Option<Facility> {
        FACILITIES
            .iter()
            .position(|f| *f == name)
            .and_then(|i| u8::try_from(i).ok())
            .map(Facility)
    }
    pub fn code(self) -> u8 {
        self.0
    }
    pub fn name(self) -> &'static str {
        FACILITIES[usize::from(self.0) % FACILITIES.len()]
    }
}

/// Severities; a lower value is more severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl Severity {
    const ALL: [Severity; 8] = [
        Severity::Emerg,
        Severity::Alert,
        Severity::Crit,
        Severity::Err,
        Severity::Warning,
        Severity::Notice,
        Severity::Info,
        Severity::Debug,
    ];
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
    pub fn name(self) -> &'static str {
        match self {
            Severity::Emerg => "emerg",
            Severity::Alert => "alert",
            Severity::Crit => "crit",
            Severity::Err => "err",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
            Severity::Info => "info",
            Severity::Debug => "debug",
        }
    }
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// `format` of a `log` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SyslogFormat {
    /// `<PRI>Mmm dd hh:mm:ss host tag[pid]: msg` (the default).
    #[default]
    Rfc3164,
    /// `<PRI>1 ISODATE host tag pid - SD msg`.
    Rfc5424,
    /// `<LEVEL>msg` (for systemd's journal).
    Short,
    /// `msg` only.
    Raw,
    /// `ISODATE msg`.
    Iso,
    /// `<LEVEL>ISODATE msg`.
    Timed,
    /// `<PRI>msg`.
    Priority,
}

impl SyslogFormat {
    pub fn parse(name: &str) -> Option<SyslogFormat> {
        Some(match name {
            "rfc3164" => SyslogFormat::Rfc3164,
            "rfc5424" => SyslogFormat::Rfc5424,
            "short" => SyslogFormat::Short,
            "raw" => SyslogFormat::Raw,
            "iso" => SyslogFormat::Iso,
            "timed" => SyslogFormat::Timed,
            "priority" => SyslogFormat::Priority,
            _ => return None,
        })
    }
}

/// Where log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Udp(SocketAddr),
    /// A unix datagram socket such as `/dev/log`.
    Unix(PathBuf),
    Stdout,
    Stderr,
    /// `ring@NAME`, resolved against the configuration's rings.
    Ring(super::ring::RingRef),
}

/// `sample R:S`: of every `size` lines, send those whose rank (1-based)
/// falls in `ranges`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampling {
    pub ranges: Vec<(u32, u32)>,
    pub size: u32,
}

impl Sampling {
    pub fn parse(text: &str) -> Result<Sampling, ObserveError> {
        let bad = || {
            ObserveError::LogConfig(format!(
                "invalid sample '{text}', expected 'R:S' such as '1-2,5:10'"
            ))
        };
        let (ranges, size) = text.split_once(':').ok_or_else(bad)?;
        let size: u32 = size.parse().map_err(|_| bad())?;
        if size == 0 {
            return Err(bad());
        }
        let mut out = Vec::new();
        for r in ranges.split(',') {
            let (a, b) = match r.split_once('-') {
                Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
                None => {
                    let v: u32 = r.parse().map_err(|_| bad())?;
                    (v, v)
                }
            };
            if a == 0 || a > b || b > size {
                return Err(bad());
            }
            out.push((a, b));
        }
        Ok(Sampling { ranges: out, size })
    }

    /// Whether the `n`-th line (0-based, counted per logger) is sent.
    pub fn keeps(&self, n: u64) -> bool {
        let rank = (n % u64::from(self.size)) as u32 + 1;
        self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&rank))
    }
}

/// One `log ADDR [len N] [format F] [sample R:S] FACILITY [LEVEL [MINLEVEL]]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogServer {
    pub target: LogTarget,
    /// Longest line, header included, final newline excluded (default 1024).
    pub max_len: usize,
    pub format: SyslogFormat,
    pub sample: Option<Sampling>,
    pub facility: Facility,
    /// Lines less severe than this are not sent.
    pub level: Severity,
    /// Lines more severe than this are sent at this severity.
    pub min_level: Severity,
}

impl LogServer {
    /// Parses the words after `log` (not `log global`).
    pub fn parse(words: &[&str]) -> Result<LogServer, ObserveError> {
        let err = |m: String| ObserveError::LogConfig(m);
        let (first, mut rest) = words
            .split_first()
            .ok_or_else(|| err("expects <address> and <facility> as arguments".into()))?;
        let target = parse_target(first)?;
        let mut server = LogServer {
            target,
            max_len: 1024,
            format: SyslogFormat::Rfc3164,
            sample: None,
            facility: Facility::LOCAL0,
            level: Severity::Debug,
            min_level: Severity::Emerg,
        };
        loop {
            match rest {
                ["len", n, tail @ ..] => {
                    server.max_len = n
                        .parse()
                        .ok()
                        .filter(|v| (80..=65535).contains(v))
                        .ok_or_else(|| {
                            err(format!(
                                "invalid log length '{n}', must be between 80 and 65535"
                            ))
                        })?;
                    rest = tail;
                }
                ["format", f, tail @ ..] => {
                    server.format = SyslogFormat::parse(f)
                        .ok_or_else(|| err(format!("unknown log format '{f}'")))?;
                    rest = tail;
                }
                ["sample", s, tail @ ..] => {
                    server.sample = Some(Sampling::parse(s)?);
                    rest = tail;
                }
                _ => break,
            }
        }
        let [facility, levels @ ..] = rest else {
            return Err(err("expects <address> and <facility> as arguments".into()));
        };
        server.facility = Facility::parse(facility)
            .ok_or_else(|| err(format!("unknown log facility '{facility}'")))?;
        let level = |name: &str| {
            Severity::parse(name).ok_or_else(|| err(format!("unknown optional log level '{name}'")))
        };
        match levels {
            [] => {}
            [max] => server.level = level(max)?,
            [max, min] => {
                server.level = level(max)?;
                server.min_level = level(min)?;
            }
            [_, _, extra, ..] => {
                return Err(err(format!("cannot handle unexpected argument '{extra}'")))
            }
        }
        Ok(server)
    }

    /// The severity a line is sent at, or `None` when it is filtered out.
    pub fn effective_severity(&self, sev: Severity) -> Option<Severity> {
        if sev > self.level {
            None
        } else {
            Some(sev.max(self.min_level))
        }
    }
}

fn parse_target(word: &str) -> Result<LogTarget, ObserveError> {
    let bad = |why: &str| ObserveError::LogConfig(format!("invalid log target '{word}': {why}"));
    match word {
        "stdout" | "fd@1" => return Ok(LogTarget::Stdout),
        "stderr" | "fd@2" => return Ok(LogTarget::Stderr),
        _ => {}
    }
    if let Some(path) = word.strip_prefix("unix@") {
        return Ok(LogTarget::Unix(PathBuf::from(path)));
    }
    if word.starts_with('/') {
        return Ok(LogTarget::Unix(PathBuf::from(word)));
    }
    let addr = ["udp4@", "udp6@", "udp@", "ipv4@", "ipv6@"]
        .iter()
        .find_map(|p| word.strip_prefix(p))
        .unwrap_or(word);
    if addr.contains('@') {
        return Err(bad(
            "only udp, unix, stdout and stderr targets are supported",
        ));
    }
    parse_udp_addr(addr)
        .ok_or_else(|| bad("expected IP[:PORT]"))
        .map(LogTarget::Udp)
}

/// `1.2.3.4`, `1.2.3.4:514`, `::1`, `[::1]:514`; the port defaults to 514.
fn parse_udp_addr(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Some(SocketAddr::new(ip, 514));
    }
    let (host, port) = s.rsplit_once(':')?;
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

/// What identifies this process in the syslog header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogHeader {
    /// `log-send-hostname`; without it RFC 3164 headers say `localhost` and
    /// RFC 5424 headers `-`.
    pub hostname: Option<String>,
    /// `log-tag`.
    pub tag: String,
    pub pid: u32,
}

impl Default for SyslogHeader {
    /// The tag defaults to `haproxy` so that rsyslog rules written for
    /// HAProxy (`$programname startswith 'haproxy'`) keep matching.
    fn default() -> Self {
        SyslogHeader {
            hostname: None,
            tag: "haproxy".into(),
            pid: std::process::id(),
        }
    }
}

/// Frames `msg` for `server`: header, truncation to `max_len` and the final
/// newline. `None` when the severity is filtered out by the server's levels.
/// `sd` is the RFC 5424 structured data (`log-format-sd`), `-` when empty.
pub fn frame(
    server: &LogServer,
    header: &SyslogHeader,
    severity: Severity,
    when: SystemTime,
    utc_offset: i32,
    sd: &str,
    msg: &[u8],
) -> Option<Vec<u8>> {
    let sev = server.effective_severity(severity)?;
    let pri = u32::from(server.facility.code()) * 8 + u32::from(sev.code());
    let tm = time::at_offset(when, utc_offset);
    let mut out = Vec::with_capacity(msg.len() + 64);
    let sd = if sd.is_empty() { "-" } else { sd };
    match server.format {
        SyslogFormat::Rfc3164 => {
            // The host field is mandatory in RFC 3164: HAProxy writes
            // `localhost` without `log-send-hostname`.
            let host = header.hostname.as_deref().unwrap_or("localhost");
            out.extend_from_slice(
                format!(
                    "<{pri}>{} {host} {}[{}]: ",
                    rfc3164_date(&tm),
                    header.tag,
                    header.pid
                )
                .as_bytes(),
            );
        }
        SyslogFormat::Rfc5424 => {
            let host = header.hostname.as_deref().unwrap_or("-");
            out.extend_from_slice(
                format!(
                    "<{pri}>1 {} {host} {} {} - {sd} ",
                    tm.rfc3339(),
                    header.tag,
                    header.pid
                )
                .as_bytes(),
            );
        }
        SyslogFormat::Short => out.extend_from_slice(format!("<{}>", sev.code()).as_bytes()),
        SyslogFormat::Priority => out.extend_from_slice(format!("<{pri}>").as_bytes()),
        SyslogFormat::Timed => {
            out.extend_from_slice(format!("<{}>{} ", sev.code(), tm.rfc3339()).as_bytes())
        }
        SyslogFormat::Iso => out.extend_from_slice(format!("{} ", tm.rfc3339()).as_bytes()),
        SyslogFormat::Raw => {}
    }
    out.extend_from_slice(msg);
    // `len` bounds header and message; the final LF comes on top, as in HAProxy.
    out.truncate(server.max_len);
    out.push(b'\n');
    Some(out)
}

/// `Jan  6 02:51:10`: the day is space-padded, as RFC 3164 asks.
fn rfc3164_date(tm: &Tm) -> String {
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        tm.month_name(),
        tm.day,
        tm.hour,
        tm.min,
        tm.sec
    )
}
