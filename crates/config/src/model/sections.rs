//! The non-proxy sections: `userlist`, `peers`, `resolvers`, `mailers`, `http-errors`, `ring`,
//! `program`. OWNER: config-sections helper.

use std::path::PathBuf;
use std::time::Duration;

use crate::diag::Span;
use crate::model::check::keyword_enum;
use crate::model::persist::StickTable;

/// One of the extra sections, as its keyword names it.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtraSection {
    Userlist(Userlist),
    Peers(Peers),
    Resolvers(Resolvers),
    Mailers(Mailers),
    HttpErrors(HttpErrors),
    Ring(Ring),
    Program(Program),
}

impl ExtraSection {
    /// The section keyword (`userlist`, `peers`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            ExtraSection::Userlist(_) => "userlist",
            ExtraSection::Peers(_) => "peers",
            ExtraSection::Resolvers(_) => "resolvers",
            ExtraSection::Mailers(_) => "mailers",
            ExtraSection::HttpErrors(_) => "http-errors",
            ExtraSection::Ring(_) => "ring",
            ExtraSection::Program(_) => "program",
        }
    }

    pub fn name(&self) -> &str {
        &self.header().0
    }

    /// Where the section starts.
    pub fn span(&self) -> &Span {
        &self.header().1
    }

    fn header(&self) -> &(String, Span) {
        match self {
            ExtraSection::Userlist(s) => &s.header,
            ExtraSection::Peers(s) => &s.header,
            ExtraSection::Resolvers(s) => &s.header,
            ExtraSection::Mailers(s) => &s.header,
            ExtraSection::HttpErrors(s) => &s.header,
            ExtraSection::Ring(s) => &s.header,
            ExtraSection::Program(s) => &s.header,
        }
    }
}

/// `userlist NAME`: users and groups for `http_auth()` / `stats auth`-style checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Userlist {
    /// Name and the span of the section line.
    pub header: (String, Span),
    pub groups: Vec<Group>,
    pub users: Vec<User>,
}

/// `group NAME [users a,b]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub name: String,
    pub users: Vec<String>,
    pub span: Span,
}

/// `user NAME [password HASH | insecure-password PW] [groups a,b]`.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub name: String,
    pub password: Password,
    pub groups: Vec<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// No password given: the user can never authenticate.
    None,
    /// A crypt(3) hash (`$5$…`, `$6$…`, …).
    Hashed(String),
    Insecure(String),
}

impl Userlist {
    /// Groups of a user: its own `groups` plus every `group … users` naming it.
    pub fn groups_of(&self, user: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for u in self.users.iter().filter(|u| u.name == user) {
            out.extend(u.groups.iter().map(String::as_str));
        }
        for g in &self.groups {
            if g.users.iter().any(|u| u == user) && !out.contains(&g.name.as_str()) {
                out.push(&g.name);
            }
        }
        out
    }
}

/// `peers NAME`: stick-table replication.
#[derive(Clone, Debug, PartialEq)]
pub struct Peers {
    pub header: (String, Span),
    pub peers: Vec<Peer>,
    /// `bind ADDR [options]` words after `bind`.
    pub bind: Option<Vec<String>>,
    /// `default-server` / `default-bind` option words.
    pub default_server: Vec<String>,
    pub default_bind: Vec<String>,
    pub disabled: bool,
    /// `table NAME type … size …` declared here.
    pub tables: Vec<(String, StickTable)>,
}

/// `peer NAME ADDR:PORT` or `server NAME [ADDR:PORT]` (no address = the local peer).
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    pub name: String,
    pub addr: Option<String>,
    /// Remaining option words (e.g. `ssl`, `shard 1`).
    pub options: Vec<String>,
    pub span: Span,
}

/// `resolvers NAME`: DNS resolution of server addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolvers {
    pub header: (String, Span),
    pub nameservers: Vec<Nameserver>,
    pub parse_resolv_conf: bool,
    pub resolve_retries: Option<u32>,
    pub timeout_resolve: Option<Duration>,
    pub timeout_retry: Option<Duration>,
    pub hold: Vec<(HoldStatus, Duration)>,
    pub accepted_payload_size: Option<u32>,
}

impl Resolvers {
    /// HAProxy's defaults when unset.
    pub fn resolve_retries(&self) -> u32 {
        self.resolve_retries.unwrap_or(3)
    }
    pub fn timeout_resolve(&self) -> Duration {
        self.timeout_resolve.unwrap_or(Duration::from_secs(1))
    }
    pub fn timeout_retry(&self) -> Duration {
        self.timeout_retry.unwrap_or(Duration::from_secs(1))
    }
    pub fn accepted_payload_size(&self) -> u32 {
        self.accepted_payload_size.unwrap_or(512)
    }
    /// `hold STATUS`: the last one written wins; 10s for `valid`, 30s otherwise.
    pub fn hold(&self, status: HoldStatus) -> Duration {
        self.hold
            .iter()
            .rev()
            .find(|(s, _)| *s == status)
            .map(|(_, d)| *d)
            .unwrap_or(match status {
                HoldStatus::Valid => Duration::from_secs(10),
                _ => Duration::from_secs(30),
            })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Nameserver {
    pub name: String,
    /// `IP:PORT`, possibly with a `udp@`/`tcp@` prefix.
    pub addr: String,
    pub span: Span,
}

keyword_enum! {
    /// `hold nx|other|refused|timeout|valid|obsolete`.
    HoldStatus { Nx = "nx", Other = "other", Refused = "refused", Timeout = "timeout", Valid = "valid", Obsolete = "obsolete" }
}

/// `mailers NAME`: SMTP servers for `email-alert`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mailers {
    pub header: (String, Span),
    pub mailers: Vec<Mailer>,
    pub timeout_mail: Option<Duration>,
}

impl Mailers {
    pub fn timeout_mail(&self) -> Duration {
        self.timeout_mail.unwrap_or(Duration::from_secs(10))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mailer {
    pub name: String,
    pub addr: String,
    pub span: Span,
}

/// `http-errors NAME`: a named set of error files, used by `errorfiles NAME`.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpErrors {
    pub header: (String, Span),
    pub files: Vec<ErrorFile>,
}

/// `errorfile CODE FILE`, read when the configuration is loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorFile {
    pub code: u16,
    pub path: PathBuf,
    /// The complete HTTP response the file holds, sent as is.
    pub content: Vec<u8>,
    pub span: Span,
}

/// `ring NAME`: an in-memory log buffer, optionally forwarded to servers.
#[derive(Clone, Debug, PartialEq)]
pub struct Ring {
    pub header: (String, Span),
    pub description: Option<String>,
    pub format: Option<RingFormat>,
    pub maxlen: Option<u32>,
    /// Buffer size in bytes.
    pub size: Option<u64>,
    pub timeout_connect: Option<Duration>,
    pub timeout_server: Option<Duration>,
    pub servers: Vec<Peer>,
}

keyword_enum! {
    /// `format rfc3164|rfc5424|short|priority|timed|iso|raw`.
    RingFormat {
        Rfc3164 = "rfc3164", Rfc5424 = "rfc5424", Short = "short", Priority = "priority",
        Timed = "timed", Iso = "iso", Raw = "raw",
    }
}

/// `program NAME`: an external program HAProxy's master process would run.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub header: (String, Span),
    pub command: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub start_on_reload: Option<bool>,
}
