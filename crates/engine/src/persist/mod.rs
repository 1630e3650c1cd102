//! Persistence in the HTTP path: persistence cookies, `appsession`, `stick`
//! rules and `track-scN` counters, on fulcrum-persist.
//!
//! What lives where: the configuration's stick tables are built once
//! ([`SharedTables`]) and shared by every backend and worker thread; each backend
//! keeps its [`Persist`] (cookie, appsession, compiled stick rules); each client
//! connection keeps a `SessionState` (tracking counters and the current
//! request's persistence facts). The order of calls follows
//! `crates/persist/LIFECYCLE.md`: rules and `stick` keys while rules run, the
//! cookie decision before a server is chosen (a cookie naming a live server
//! bypasses the balancer), `Set-Cookie` edits when the response head is forwarded.
//!
//! Where the engine calls in: `compile` (`SharedTables::from_config`,
//! `Persist::from_proxy`), `http::session` (`session_state`, `request_start`,
//! `log_term`, `txn_end`), `http::rules` (`ViewPersist` in the request and
//! response views, `on_rules` after the backend's rules), `http::txn`
//! (`on_request` + `cookie_edits` while building the request, `connect`,
//! `on_bytes`, `on_response` on the response head), `tcp` (`TcpTrack`,
//! `connect_tcp`) and `tcp_rules` (`TcpTrack` in the view).

/// The `SessionView` methods that reach stick tables and tracking counters, delegated to
/// a view's `ViewPersist` field: every request/response view of the engine has them.
#[macro_export]
#[doc(hidden)]
macro_rules! delegate_persist_view {
    ($field:ident) => {
        fn tables(&self) -> Option<&fulcrum_persist::Tables> {
            self.$field.tables()
        }
        fn session_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
            self.$field.session_trackers()
        }
        fn stream_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
            self.$field.stream_trackers()
        }
        fn trackers_mut(
            &mut self,
            scope: fulcrum_rules::TrackScope,
        ) -> Option<&mut fulcrum_persist::track::Trackers> {
            self.$field.trackers_mut(scope)
        }
        fn now_ms(&self) -> u64 {
            self.$field.now_ms()
        }
    };
}

mod connect;
mod request;
mod response;
mod tcp;

pub(crate) use connect::connect;
pub(crate) use request::{cookie_edits, on_request, on_rules};
pub(crate) use response::on_response;
pub(crate) use tcp::{connect_tcp, TcpTrack};

use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use fulcrum_config::model::persist::{StickKind, StickTable as StickTableModel, StoreData};
use fulcrum_config::model::sections::ExtraSection;
use fulcrum_config::model::{Config, Proxy};
use fulcrum_observe::log::{CookieRequest, CookieResponse, TermState};
use fulcrum_persist::appsession::AppRequest;
use fulcrum_persist::cookie::{ClientCookie, RequestCookie, ResponseCookie};
use fulcrum_persist::track::{status_counts, Trackers};
use fulcrum_persist::{BackendPersist, Key, StickTable, Tables};
use fulcrum_rules::view::TrackScope;

use crate::runtime::{Backend, Runtime};

/// Expired entries are swept at most this often (by whichever thread comes first).
const PURGE_EVERY_MS: u64 = 1000;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Milliseconds on the process's monotonic clock: the `now` of tables and
/// trackers, the same for every worker thread.
pub fn now_ms() -> u64 {
    let ms = EPOCH.get_or_init(Instant::now).elapsed().as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// Seconds since the epoch: the `now` of cookie dates (`maxidle`, `maxlife`).
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Claims the next sweep when one is due, so one thread does it.
fn sweep_due(last: &AtomicU64, now: u64) -> bool {
    let prev = last.load(Ordering::Relaxed);
    now.saturating_sub(prev) >= PURGE_EVERY_MS
        && last
            .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Every stick table of the configuration, shared by all worker threads.
#[derive(Debug, Default)]
pub struct SharedTables {
    tables: Tables,
    last_purge: AtomicU64,
}

impl SharedTables {
    pub fn from_config(cfg: &Config) -> Arc<Self> {
        let mut tables = Tables::from_config(cfg);
        // HAProxy stores `server_id` in every table a `stick` rule names, even
        // when its `store` list does not say so.
        for p in &cfg.proxies {
            for r in &p.persist.stick_rules {
                let name = r.table.as_deref().unwrap_or(&p.name);
                if let Some(mut model) = table_model(cfg, name) {
                    if !model.store.contains(&StoreData::ServerId) {
                        model.store.push(StoreData::ServerId);
                        tables.insert(Arc::new(StickTable::from_model(name, &model)));
                    }
                }
            }
        }
        Arc::new(SharedTables {
            tables,
            last_purge: AtomicU64::new(0),
        })
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    fn is_empty(&self) -> bool {
        self.tables.names().next().is_none()
    }

    fn maybe_purge(&self, now: u64) {
        if sweep_due(&self.last_purge, now) {
            self.tables.purge_expired(now);
        }
    }
}

/// The declaration of table `name`: a proxy's, or `P/T` of a `peers` section.
fn table_model(cfg: &Config, name: &str) -> Option<StickTableModel> {
    if let Some(t) = cfg
        .proxies
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.persist.stick_table.clone())
    {
        return Some(t);
    }
    let (peers, table) = name.split_once('/')?;
    cfg.sections.iter().find_map(|s| match s {
        ExtraSection::Peers(p) if p.header.0 == peers => p
            .tables
            .iter()
            .find(|(n, _)| n == table)
            .map(|(_, t)| t.clone()),
        _ => None,
    })
}

/// A `stick` rule's kind and table; its expression and condition are compiled
/// with the backend's rules (`CompiledProxy::stick`, same index).
#[derive(Debug)]
pub struct StickRule {
    pub kind: StickKind,
    /// `None` when the table named does not exist (the rule then does nothing).
    pub table: Option<Arc<StickTable>>,
}

/// One backend's persistence settings and state.
#[derive(Debug, Default)]
pub struct Persist {
    shared: Option<Arc<SharedTables>>,
    routing: BackendPersist,
    stick: Vec<StickRule>,
    /// `option persist`: a cookie naming a down server still goes there.
    option_persist: bool,
    /// Servers declared `non-stick`, by index.
    non_stick: Vec<bool>,
    last_purge: AtomicU64,
}

impl Persist {
    /// The persistence of proxy `p`; `shared` holds the configuration's tables.
    pub fn from_proxy(p: &Proxy, shared: &Arc<SharedTables>) -> Self {
        let stick = p
            .persist
            .stick_rules
            .iter()
            .map(|r| StickRule {
                kind: r.kind,
                table: shared
                    .tables
                    .resolve(r.table.as_deref(), &p.name)
                    .ok()
                    .cloned(),
            })
            .collect();
        Persist {
            shared: Some(shared.clone()),
            routing: BackendPersist::from_proxy(p),
            stick,
            option_persist: p.options.persist,
            non_stick: p
                .servers
                .iter()
                .map(|s| s.settings.persist.non_stick == Some(true))
                .collect(),
            last_purge: AtomicU64::new(0),
        }
    }

    /// `cookie … dynamic`: servers named by host name get their cookie from the
    /// address resolved at compile time (servers named by address already have it).
    pub fn resolve_dynamic_cookies(&mut self, p: &Proxy, servers: &[crate::runtime::Server]) {
        let dynamic = p.persist.cookie.as_ref().is_some_and(|c| c.dynamic);
        let (Some(c), Some(key), true) = (
            self.routing.cookie.as_mut(),
            p.persist.dynamic_cookie_key.as_deref(),
            dynamic,
        ) else {
            return;
        };
        for (i, (m, s)) in p.servers.iter().zip(servers).enumerate() {
            if c.server_cookie(i).is_none()
                && m.settings.persist.cookie.is_none()
                && !s.addr().ip().is_unspecified()
            {
                let v =
                    fulcrum_persist::dyncookie::server_cookie(key, s.addr().ip(), s.addr().port());
                c.set_server_cookie(i, Some(v));
            }
        }
    }

    /// The configuration's stick tables (`show table`, reloads).
    pub fn tables(&self) -> Option<&Tables> {
        self.shared.as_deref().map(SharedTables::tables)
    }

    /// The cookie and appsession of this backend.
    pub fn routing(&self) -> &BackendPersist {
        &self.routing
    }

    /// For servers whose dynamic cookie is known only once resolved.
    pub fn routing_mut(&mut self) -> &mut BackendPersist {
        &mut self.routing
    }

    pub fn stick_rules(&self) -> &[StickRule] {
        &self.stick
    }

    /// Whether requests to this backend need any persistence work.
    pub fn is_active(&self) -> bool {
        self.routing.cookie.is_some() || self.routing.appsession.is_some() || !self.stick.is_empty()
    }

    /// Sweeps expired entries of the appsession's table (the shared tables are
    /// swept by [`request_start`]).
    fn maybe_purge(&self, now: u64) {
        if let Some(app) = &self.routing.appsession {
            if sweep_due(&self.last_purge, now) {
                app.table().purge_expired(now);
            }
        }
    }
}

/// Where the request goes because of persistence, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `use-server`.
    UseServer,
    Cookie,
    AppSession,
    Stick,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    server: usize,
    source: Source,
}

/// What persistence learnt about the request being served.
#[derive(Debug, Default)]
struct ReqState {
    force: bool,
    ignore: bool,
    post: bool,
    /// GET or HEAD: a response may be cacheable (`nocache`).
    cacheable_method: bool,
    /// The server a `use-server` rule named.
    use_server: Option<usize>,
    /// Keys of the `stick` rules that matched the request: (rule index, key).
    stick_keys: Vec<(usize, Key)>,
    cookie: RequestCookie,
    /// The backend has a `cookie` line (the log shows cookie flags).
    has_cookie: bool,
    app: Option<AppRequest>,
    target: Option<Target>,
    /// The server the request went to.
    server: Option<usize>,
    res_cookie: ResponseCookie,
}

/// Per client connection: tracking counters and the current request's facts.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    shared: Option<Arc<SharedTables>>,
    /// `tcp-request connection|session track-scN` (none run in HTTP mode yet).
    session: RefCell<Trackers>,
    /// `http-request track-scN`: ended with each transaction.
    stream: RefCell<Trackers>,
    req: RefCell<ReqState>,
}

/// The state for a new connection; `None` when nothing in the runtime persists
/// (then nothing is allocated).
pub(crate) fn session_state(rt: &Runtime) -> Option<Rc<SessionState>> {
    let shared = rt
        .backends
        .iter()
        .find_map(|b| b.persist.shared.clone())
        .filter(|s| !s.is_empty());
    let active = rt.backends.iter().any(|b| b.persist.is_active());
    (shared.is_some() || active).then(|| {
        Rc::new(SessionState {
            shared,
            ..SessionState::default()
        })
    })
}

/// What rules views lend to fulcrum-rules: tables, trackers, the clock.
pub(crate) struct ViewPersist<'a> {
    tables: Option<&'a Tables>,
    session: Option<RefMut<'a, Trackers>>,
    stream: Option<RefMut<'a, Trackers>>,
}

impl<'a> ViewPersist<'a> {
    pub(crate) fn new(st: Option<&'a SessionState>) -> Self {
        let Some(st) = st else {
            return ViewPersist {
                tables: None,
                session: None,
                stream: None,
            };
        };
        ViewPersist {
            tables: st.shared.as_deref().map(SharedTables::tables),
            session: st.session.try_borrow_mut().ok(),
            stream: st.stream.try_borrow_mut().ok(),
        }
    }
    pub(crate) fn tables(&self) -> Option<&Tables> {
        self.tables
    }
    pub(crate) fn session_trackers(&self) -> Option<&Trackers> {
        self.session.as_deref()
    }
    pub(crate) fn stream_trackers(&self) -> Option<&Trackers> {
        self.stream.as_deref()
    }
    pub(crate) fn trackers_mut(&mut self, scope: TrackScope) -> Option<&mut Trackers> {
        match scope {
            TrackScope::Session => self.session.as_deref_mut(),
            TrackScope::Stream => self.stream.as_deref_mut(),
        }
    }
    pub(crate) fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// Counts a response status on the tracked entries (`http_err_*`, `http_fail_*`).
fn count_status(st: &SessionState, status: u16, now: u64) {
    let (err, fail) = status_counts(status);
    for cell in [&st.stream, &st.session] {
        if let Ok(t) = cell.try_borrow() {
            if err {
                t.on_http_error(now);
            }
            if fail {
                t.on_http_failure(now);
            }
        }
    }
}

/// A new HTTP request on the connection: counters the session tracks count it
/// (those an `http-request track-scN` starts count it when they start).
pub(crate) fn request_start(st: Option<&SessionState>) {
    let Some(st) = st else { return };
    let now = now_ms();
    // Every request may sweep the shared tables (at most once per period).
    if let Some(s) = &st.shared {
        s.maybe_purge(now);
    }
    if let Ok(t) = st.session.try_borrow() {
        t.on_http_request(now);
    }
}

/// Bytes of one exchange: `up` from the client (when its body was read whole),
/// `down` to it (when the response was sent whole).
pub(crate) fn on_bytes(st: Option<&SessionState>, up: Option<u64>, down: Option<u64>) {
    let Some(st) = st else { return };
    let now = now_ms();
    for cell in [&st.stream, &st.session] {
        if let Ok(t) = cell.try_borrow() {
            if let Some(n) = up.filter(|n| *n > 0) {
                t.on_bytes_in(n, now);
            }
            if let Some(n) = down.filter(|n| *n > 0) {
                t.on_bytes_out(n, now);
            }
        }
    }
}

/// The end of a transaction: `status` is set when Fulcrum answered itself (it is
/// counted then); the stream's counters stop tracking.
pub(crate) fn txn_end(st: Option<&SessionState>, status: Option<u16>) {
    let Some(st) = st else { return };
    let now = now_ms();
    if let Some(code) = status {
        count_status(st, code, now);
    }
    if let Ok(mut t) = st.stream.try_borrow_mut() {
        let mut old = std::mem::take(&mut *t);
        old.end(now);
    }
    if let Ok(mut r) = st.req.try_borrow_mut() {
        *r = ReqState::default();
    }
}

/// The third and fourth `%ts` characters, when the backend has a cookie.
pub(crate) fn log_term(st: Option<&SessionState>, term: &mut TermState) {
    let Some(r) = st.and_then(|s| s.req.try_borrow().ok()) else {
        return;
    };
    if !r.has_cookie {
        return;
    }
    term.cookie_req = match r.cookie.status {
        ClientCookie::None => CookieRequest::None,
        ClientCookie::Invalid => CookieRequest::Invalid,
        ClientCookie::Down => CookieRequest::Down,
        ClientCookie::Valid => CookieRequest::Valid,
        ClientCookie::Expired => CookieRequest::Expired,
        ClientCookie::Old => CookieRequest::Old,
        ClientCookie::Unused => CookieRequest::Unused,
    };
    term.cookie_res = match r.res_cookie {
        ResponseCookie::None => CookieResponse::None,
        ResponseCookie::Found => CookieResponse::Provided,
        ResponseCookie::Deleted => CookieResponse::Deleted,
        ResponseCookie::Inserted => CookieResponse::Inserted,
        ResponseCookie::Replaced => CookieResponse::Rewritten,
        ResponseCookie::Updated => CookieResponse::Updated,
    };
}

/// Server `i` may take persistent traffic: up and not in maintenance (a
/// draining server still takes it).
fn alive(be: &Backend, i: usize) -> bool {
    be.servers
        .get(i)
        .is_some_and(|s| s.state.is_up() && s.state.admin() != fulcrum_balance::AdminState::Maint)
}

/// The HAProxy server id stored in tables for server `i`.
fn server_id(be: &Backend, i: usize) -> Option<i32> {
    be.servers
        .get(i)
        .and_then(|s| i32::try_from(s.state.id()).ok())
}

fn server_index(be: &Backend, id: i32) -> Option<usize> {
    be.servers
        .iter()
        .position(|s| i32::try_from(s.state.id()).ok() == Some(id))
}

#[cfg(test)]
mod tests;
