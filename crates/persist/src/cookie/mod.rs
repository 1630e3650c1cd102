//! Cookie persistence (`cookie NAME [rewrite|insert|prefix] …`, server `cookie VALUE`).
//!
//! Per request the engine calls [`CookiePersist::request_header`] on each `Cookie`
//! header (the [`RequestCookie`] collects what was found), asks
//! [`RequestCookie::decision`] where to go, then on the response calls
//! [`CookiePersist::response_set_cookie`] on each `Set-Cookie` header and finally
//! [`CookiePersist::response_insert`] for the headers to add. Texts and conditions
//! are HAProxy's (`http_manage_client_side_cookies`, `…server_side_cookies`,
//! `http_process_res_common`).
//!
//! Without a mode word the cookie is *passive*: requests carrying it go to the
//! server it names, nothing is changed in either direction.

pub mod parse;
mod response;

use std::time::Duration;

use fulcrum_config::model::addr::{Address, Host};
use fulcrum_config::model::persist::{CookieMode, CookieSettings};
use fulcrum_config::model::proxy::Proxy;

pub use response::{AddHeaders, ResponseCookie};

/// `|` separates the server value from the dates in insert mode.
const DELIM_DATE: u8 = b'|';
/// `~` separates the server value from the application's value in prefix mode.
const DELIM_PREFIX: u8 = b'~';
/// Dates more than a day in the future are not trusted.
const FUTURE_SLACK: u64 = 86_400;
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The low 30 bits of `v` as 5 base64 characters, most significant first.
pub fn s30_to_b64(v: u32) -> [u8; 5] {
    let mut out = [0u8; 5];
    for (i, o) in out.iter_mut().enumerate() {
        *o = B64[((v >> (24 - 6 * i)) & 0x3f) as usize];
    }
    out
}

/// The inverse of [`s30_to_b64`]; `None` on a character outside the alphabet.
pub fn b64_to_s30(s: &[u8]) -> Option<u32> {
    let s = s.get(..5)?;
    s.iter().try_fold(0u32, |acc, &c| {
        let d = B64.iter().position(|&x| x == c)? as u32;
        Some((acc << 6) | d)
    })
}

/// What the request's persistence cookie said (the third `%ts`… log flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientCookie {
    /// No persistence cookie in the request.
    #[default]
    None,
    /// A cookie naming no server.
    Invalid,
    /// A cookie naming a server that is down.
    Down,
    /// A cookie naming a server that can take the request.
    Valid,
    /// Idle for longer than `maxidle`.
    Expired,
    /// Older than `maxlife`.
    Old,
    /// Present but not used (`ignore-persist`, or the server was already chosen).
    Unused,
}

impl ClientCookie {
    /// HAProxy's log letter.
    pub fn log_char(self) -> char {
        match self {
            ClientCookie::None => 'N',
            ClientCookie::Invalid => 'I',
            ClientCookie::Down => 'D',
            ClientCookie::Valid => 'V',
            ClientCookie::Expired => 'E',
            ClientCookie::Old => 'O',
            ClientCookie::Unused => 'U',
        }
    }
}

/// Request facts the cookie decision depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestOpts {
    /// `option persist`: go to the cookie's server even when it is down.
    pub option_persist: bool,
    /// A `force-persist` rule matched.
    pub force_persist: bool,
    /// An `ignore-persist` rule matched.
    pub ignore_persist: bool,
    /// A server was already chosen (e.g. `use-server`).
    pub assigned: bool,
}

/// What the `Cookie` headers of one request said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCookie {
    pub status: ClientCookie,
    /// The server (index in declaration order) the cookie sends the request to.
    pub server: Option<usize>,
    /// The request goes to `server` because of the cookie (HAProxy's `SF_DIRECT`).
    pub direct: bool,
    /// Dates carried by an inserted cookie, in seconds since the epoch (0: none).
    pub first_date: u64,
    pub last_date: u64,
}

/// Where the request goes, as far as the cookie is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistDecision {
    /// To this server, which is up.
    Direct(usize),
    /// To this server although it is down (`option persist`, `force-persist`): if the
    /// connection fails, ask [`RequestCookie::connect_failed`].
    DirectDown(usize),
    /// No usable cookie: the balancer picks.
    Balance,
}

/// What to do once the persistent server could not be connected (retries spent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// `option redispatch`: pick another server with the balancer; the response
    /// then carries a corrected cookie (insert mode).
    Redispatch,
    /// No redispatch: answer 503.
    ServiceUnavailable,
}

impl RequestCookie {
    pub fn decision(&self) -> PersistDecision {
        match (self.server, self.direct, self.status) {
            (Some(s), true, ClientCookie::Down) => PersistDecision::DirectDown(s),
            (Some(s), true, _) => PersistDecision::Direct(s),
            _ => PersistDecision::Balance,
        }
    }

    /// The persistent server could not be reached: with `option redispatch` the
    /// persistence is broken (the response will fix the client's cookie), without
    /// it the request fails with 503.
    pub fn connect_failed(&mut self, option_redispatch: bool) -> AfterFailure {
        if option_redispatch {
            self.direct = false;
            self.server = None;
            AfterFailure::Redispatch
        } else {
            AfterFailure::ServiceUnavailable
        }
    }
}

/// A change to one header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderEdit {
    Keep,
    Replace(Vec<u8>),
    Remove,
}

/// A backend's compiled `cookie` settings and its servers' cookie values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookiePersist {
    name: Box<[u8]>,
    mode: CookieMode,
    indirect: bool,
    nocache: bool,
    postonly: bool,
    preserve: bool,
    httponly: bool,
    secure: bool,
    /// `D1; domain=D2…`, as HAProxy joins several `domain`s.
    domain: Option<String>,
    /// `A1; A2…`.
    attrs: Option<String>,
    /// Seconds; 0: not set.
    maxidle: u64,
    maxlife: u64,
    /// Each server's cookie value, by declaration index.
    servers: Vec<Option<Box<[u8]>>>,
}

fn secs(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| d.as_secs())
}

impl CookiePersist {
    /// `servers[i]`: the cookie value of the i-th server (`None`: it has none).
    pub fn new(s: &CookieSettings, servers: Vec<Option<String>>) -> Self {
        let join = |v: &[String], sep: &str| (!v.is_empty()).then(|| v.join(sep));
        CookiePersist {
            name: s.name.as_bytes().into(),
            mode: s.mode,
            indirect: s.indirect,
            nocache: s.nocache,
            postonly: s.postonly,
            preserve: s.preserve,
            httponly: s.httponly,
            secure: s.secure,
            domain: join(&s.domains, "; domain="),
            attrs: join(&s.attrs, "; "),
            maxidle: secs(s.maxidle),
            maxlife: secs(s.maxlife),
            servers: servers
                .into_iter()
                .map(|v| v.map(|v| v.into_bytes().into_boxed_slice()))
                .collect(),
        }
    }

    /// A backend's settings with its servers' values: `cookie VALUE`, or with
    /// `dynamic` and `dynamic-cookie-key` the value derived from the address (servers
    /// named by host name get theirs from the engine once resolved, see
    /// [`crate::dyncookie::server_cookie`]). `None` without a `cookie` line.
    pub fn from_proxy(p: &Proxy) -> Option<Self> {
        let s = p.persist.cookie.as_ref()?;
        let key = p
            .persist
            .dynamic_cookie_key
            .as_deref()
            .filter(|_| s.dynamic);
        let values = p
            .servers
            .iter()
            .map(|srv| {
                srv.settings.persist.cookie.clone().or_else(|| {
                    let key = key?;
                    match &srv.addr {
                        Address::Inet {
                            host: Host::Ip(ip), ..
                        } => Some(crate::dyncookie::server_cookie(
                            key,
                            *ip,
                            srv.addr.port().unwrap_or(0),
                        )),
                        _ => None,
                    }
                })
            })
            .collect();
        Some(Self::new(s, values))
    }

    pub fn name(&self) -> &[u8] {
        &self.name
    }
    pub fn mode(&self) -> CookieMode {
        self.mode
    }
    /// Sets a server's value at run time (dynamic cookie after resolution).
    pub fn set_server_cookie(&mut self, server: usize, value: Option<String>) {
        if server >= self.servers.len() {
            self.servers.resize(server + 1, None);
        }
        self.servers[server] = value.map(|v| v.into_bytes().into_boxed_slice());
    }
    pub fn server_cookie(&self, server: usize) -> Option<&[u8]> {
        self.servers.get(server).and_then(|v| v.as_deref())
    }

    /// Reads one `Cookie` header value of the request at `now` (seconds since the
    /// epoch) and says how the header must change before it goes to the server.
    /// `alive(i)`: server `i` can take traffic (up, not in maintenance; a draining
    /// server still takes persistent traffic).
    pub fn request_header(
        &self,
        st: &mut RequestCookie,
        header: &[u8],
        alive: &dyn Fn(usize) -> bool,
        o: &RequestOpts,
        now: u64,
    ) -> HeaderEdit {
        let h = header;
        let mut out: Vec<u8> = Vec::with_capacity(h.len());
        let mut changed = false;
        let (mut kept_any, mut preserve, mut deleting) = (false, false, false);
        for it in parse::items(h) {
            let name = it.name(h);
            let seg_start = it.prev;
            if name.first() == Some(&b'$') {
                // RFC 2109 attributes follow the fate of the cookie before them.
                if !deleting {
                    self.push_kept(
                        &mut out,
                        &mut deleting,
                        &mut changed,
                        kept_any,
                        &h[seg_start..it.next],
                    );
                    kept_any = true;
                }
                continue;
            }
            let Some(eq) = it.equal else {
                preserve = true;
                self.push_kept(
                    &mut out,
                    &mut deleting,
                    &mut changed,
                    kept_any,
                    &h[seg_start..it.next],
                );
                kept_any = true;
                continue;
            };
            let normalized = it.name.1 != eq || it.value.0 != eq + 1;
            if name != &*self.name {
                preserve = true;
                let seg = rebuild(h, seg_start, &it, it.value.0, normalized);
                changed |= normalized;
                self.push_kept(&mut out, &mut deleting, &mut changed, kept_any, &seg);
                kept_any = true;
                continue;
            }
            let delim = self.read_cookie(st, h, &it, alive, o, now);
            let (vb, ve) = it.value;
            if self.mode == CookieMode::Prefix && delim != ve {
                // Give the server back the value it set, without our prefix.
                preserve = true;
                let seg = rebuild(h, seg_start, &it, delim + 1, true);
                changed = true;
                self.push_kept(&mut out, &mut deleting, &mut changed, kept_any, &seg);
                kept_any = true;
            } else if self.mode == CookieMode::Insert && self.indirect {
                deleting = true;
                changed = true;
            } else {
                let seg = rebuild(h, seg_start, &it, vb, normalized);
                changed |= normalized;
                self.push_kept(&mut out, &mut deleting, &mut changed, kept_any, &seg);
                kept_any = true;
            }
        }
        if !changed {
            return HeaderEdit::Keep;
        }
        if !preserve {
            return HeaderEdit::Remove;
        }
        HeaderEdit::Replace(out)
    }

    /// Appends a kept segment; after a deleted run, blanks before the old
    /// delimiter go, and a segment that becomes first loses its delimiter.
    fn push_kept(
        &self,
        out: &mut Vec<u8>,
        deleting: &mut bool,
        changed: &mut bool,
        kept_any: bool,
        seg: &[u8],
    ) {
        let mut seg = seg;
        if *deleting {
            *changed = true;
            while out.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
                out.pop();
            }
        }
        if !kept_any || out.is_empty() {
            let skip = seg
                .iter()
                .position(|b| !matches!(b, b';' | b',' | b' ' | b'\t'))
                .unwrap_or(seg.len());
            seg = &seg[skip..];
        }
        *deleting = false;
        out.extend_from_slice(seg);
    }

    /// Our cookie found: reads its server and dates into `st`; returns where the
    /// server part of the value ends.
    fn read_cookie(
        &self,
        st: &mut RequestCookie,
        h: &[u8],
        it: &parse::Item,
        alive: &dyn Fn(usize) -> bool,
        o: &RequestOpts,
        now: u64,
    ) -> usize {
        let (vb, ve) = it.value;
        let mut delim = ve;
        if self.mode == CookieMode::Prefix {
            delim = memchr::memchr(DELIM_PREFIX, &h[vb..ve]).map_or(ve, |p| vb + p);
        } else if let Some(p) = memchr::memchr(DELIM_DATE, &h[vb..ve]) {
            delim = vb + p;
            let d1 = delim + 1;
            if ve - d1 >= 5 {
                if let Some(v) = b64_to_s30(&h[d1..]).filter(|v| *v > 0) {
                    st.last_date = u64::from(v) << 2;
                }
            }
            if let Some(p2) = memchr::memchr(DELIM_DATE, &h[d1..ve]) {
                let d2 = d1 + p2;
                if ve - d2 > 5 {
                    if let Some(v) = b64_to_s30(&h[d2 + 1..]).filter(|v| *v > 0) {
                        st.first_date = u64::from(v) << 2;
                    }
                }
            }
        }
        let too_far =
            |d: u64, max: u64| now.saturating_sub(d) > max || d.saturating_sub(now) > FUTURE_SLACK;
        let mut found_part = delim;
        if st.first_date != 0 && self.maxlife != 0 && too_far(st.first_date, self.maxlife) {
            st.status = ClientCookie::Old;
            found_part = vb;
            (st.first_date, st.last_date) = (0, 0);
        } else if st.last_date != 0 && self.maxidle != 0 && too_far(st.last_date, self.maxidle) {
            st.status = ClientCookie::Expired;
            found_part = vb;
            (st.first_date, st.last_date) = (0, 0);
        }
        let value = &h[vb..found_part];
        let mut chosen = None;
        // Empty values never match, so that a server without a cookie cannot be stuck to.
        if !value.is_empty() && !o.ignore_persist && !o.assigned && !st.direct {
            for (i, v) in self.servers.iter().enumerate() {
                if v.as_deref() != Some(value) {
                    continue;
                }
                let up = alive(i);
                if up || o.option_persist || o.force_persist {
                    st.status = if up {
                        ClientCookie::Valid
                    } else {
                        ClientCookie::Down
                    };
                    chosen = Some(i);
                    break;
                }
                st.status = ClientCookie::Down;
            }
        }
        match chosen {
            Some(i) => {
                st.server = Some(i);
                st.direct = true;
            }
            None if !matches!(
                st.status,
                ClientCookie::Down | ClientCookie::Expired | ClientCookie::Old
            ) =>
            {
                st.status = if o.ignore_persist || o.assigned || st.direct {
                    ClientCookie::Unused
                } else {
                    ClientCookie::Invalid
                };
            }
            None => {}
        }
        delim
    }
}

/// A cookie's segment with blanks around `=` removed and the value taken from
/// `value_from` (HAProxy rewrites both in place).
fn rebuild(
    h: &[u8],
    seg_start: usize,
    it: &parse::Item,
    value_from: usize,
    normalize: bool,
) -> Vec<u8> {
    if !normalize {
        return h[seg_start..it.next].to_vec();
    }
    let mut v = Vec::with_capacity(it.next - seg_start);
    v.extend_from_slice(&h[seg_start..it.name.1]);
    v.push(b'=');
    v.extend_from_slice(&h[value_from..it.next]);
    v
}

#[cfg(test)]
mod tests;
