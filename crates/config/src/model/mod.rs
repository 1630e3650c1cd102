//! The typed configuration model. OWNER: config-model helper, except the submodules
//! `check`, `persist` and `sections`, owned by the config-sections helper.

pub mod addr;
pub mod balance;
pub mod bind;
pub mod check;
pub mod cpumap;
pub mod global;
pub mod log;
pub mod options;
pub mod persist;
pub mod proxy;
pub mod sections;
pub mod server;

pub use addr::{Address, Family, Host, Ports};
pub use balance::{Balance, HashFunction, HashMethod, HashType};
pub use bind::Bind;
pub use global::Global;
pub use log::{LogSetting, LogTarget};
pub use options::{HttpMode, Options};
pub use proxy::{Mode, Proxy, ProxyKind, StatsSettings, Timeouts};
pub use server::{Server, ServerSettings};

use crate::diag::Span;

/// A whole configuration: every file given with `-f`, merged.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub global: Global,
    /// Every `defaults` section in order (named ones can be referenced with `from`).
    pub defaults: Vec<Proxy>,
    /// `frontend`, `backend` and `listen` sections in order, defaults applied.
    pub proxies: Vec<Proxy>,
    /// `userlist`, `peers`, `resolvers`, `mailers`, `http-errors`, `ring`, `program`, in order.
    pub sections: Vec<sections::ExtraSection>,
    /// Every non-proxy section as lines, in order: the typed ones above too, and those
    /// parsed by nobody yet (`cache`, `fcgi-app`, `log-forward`, `crt-store`, each with a notice).
    pub other_sections: Vec<RawSection>,
}

impl Config {
    /// The extra section of this keyword (`"userlist"`, `"resolvers"`, …) and name.
    pub fn section(&self, keyword: &str, name: &str) -> Option<&sections::ExtraSection> {
        self.sections
            .iter()
            .find(|s| s.keyword() == keyword && s.name() == name)
    }
    /// Frontends and listens, in order.
    pub fn frontends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_frontend())
    }
    /// Backends and listens, in order.
    pub fn backends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_backend())
    }
    /// The proxy with this name that can act as a backend.
    pub fn backend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.kind.is_backend())
    }
    /// The proxy with this name that can act as a frontend.
    pub fn frontend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.kind.is_frontend())
    }
}

/// A section this parser does not own, with its lines.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSection {
    pub kind: String,
    pub name: Option<String>,
    pub span: Span,
    pub lines: Vec<crate::reader::SourceLine>,
}
