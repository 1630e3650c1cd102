//! Operations wired into a running engine: health checks (one
//! `fulcrum-health` monitor for every server), the stats page, the
//! Prometheus service and the runtime API (`stats socket`).
//!
//! Everything here is built from the configuration after the listeners are
//! bound ([`EngineHandle::start_ops`]) and published in a slot the workers
//! read: a worker sees `None` until then and simply serves traffic.

use crate::engine::EngineHandle;
use crate::error::EngineError;
use crate::runtime::Runtime;
use arc_swap::ArcSwapOption;
use fulcrum_config::model::{Config, Proxy};
use fulcrum_health::{CheckTarget, HealthEvent, HealthHandle, HealthMonitor, MonitorOptions};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// Receives every health log line (`Server bk/srv is DOWN, reason: …`),
/// on the health thread; it must not block.
pub type HealthEventSink = Box<dyn FnMut(&HealthEvent) + Send>;

/// Where the workers find the operations state once it is started.
#[derive(Default)]
pub(crate) struct OpsSlot(ArcSwapOption<Ops>);

thread_local! {
    static CURRENT: RefCell<Option<Arc<OpsSlot>>> = const { RefCell::new(None) };
}

/// Called once by each worker thread so the data path can find the slot.
pub(crate) fn enter(slot: &Arc<OpsSlot>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(slot.clone()));
}

/// The operations state of this worker's engine, when started.
pub(crate) fn current() -> Option<Arc<Ops>> {
    CURRENT.with(|c| c.borrow().as_ref().and_then(|s| s.0.load_full()))
}

/// Everything the stats page, the Prometheus service and the runtime API read.
pub(crate) struct Core {
    pub rt: Runtime,
    pub health: Option<HealthHandle>,
    /// Per frontend index: the stats page it answers, its own or its default
    /// backend's (`listen` sections are both).
    pub pages: Vec<Option<Arc<crate::stats::StatsPage>>>,
    /// Per frontend index: its `monitor-uri`.
    pub monitors: Vec<Option<Arc<crate::stats::monitor::Monitor>>>,
    /// Proxy numeric ids (`iid`) by name, in configuration order.
    pub iids: HashMap<String, u32>,
    pub started: Instant,
    /// Worker threads actually running.
    pub nbthread: usize,
    /// Per backend: the `balance` algorithm as stats name it.
    pub algos: Vec<String>,
    pub started_at: SystemTime,
    pub node: String,
    pub description: String,
    /// The configured `check` servers, for `show servers state` check flags.
    pub checked: HashMap<(usize, usize), bool>,
    /// Servers `disabled` in the configuration (`show servers state` CMAINT).
    pub cfg_disabled: std::collections::HashSet<(usize, usize)>,
    /// Servers with `observe layer7`: connection successes say nothing there.
    pub layer7: std::collections::HashSet<(usize, usize)>,
    pub counters: crate::stats::counters::Counters,
    /// Live sessions (`show sess`, `shutdown session(s)`).
    pub sessions: Arc<crate::sessions::Registry>,
    /// Frontend limits and listening states (`set maxconn`, `disable frontend`).
    pub ctl: Arc<crate::limits::Controls>,
    /// `add server` / `del server` state.
    pub dynsrv: crate::admin::dynsrv::DynServers,
    /// Accept-rate limits (`set rate-limit`) and rates (`show info`).
    pub rate: Arc<crate::rate::Rates>,
    /// Listening sockets for `_getsocks` (`expose-fd listeners`).
    pub handover: Arc<crate::handover::Exposed>,
    /// `ring` sections (`show events`).
    pub rings: Option<Arc<fulcrum_observe::log::Rings>>,
}

/// The running operations: dropping it stops the admin sockets, then health.
pub(crate) struct Ops {
    pub core: Arc<Core>,
    admin: Mutex<Option<crate::admin::AdminServer>>,
}

impl Ops {
    fn stop_admin(&self) {
        if let Ok(mut a) = self.admin.lock() {
            if let Some(a) = a.take() {
                a.stop();
            }
        }
    }
}

impl Drop for Ops {
    fn drop(&mut self) {
        self.stop_admin();
    }
}

impl EngineHandle {
    /// Starts health checks for every server, the stats page of each proxy
    /// with `stats enable`/`stats uri`, `use-service prometheus-exporter`,
    /// and a runtime API listener per `global stats socket`. `cfg` must be
    /// the configuration the runtime was compiled from. Health log lines go
    /// to the `global log` servers, to `tracing`, and to `events` when
    /// given. Stopped with the engine.
    pub fn start_ops(
        &self,
        cfg: &Config,
        events: Option<HealthEventSink>,
    ) -> Result<(), EngineError> {
        // A second call replaces the first: its sockets and checks stop first.
        self.stop_ops();
        let rt = self.runtime().clone();
        let backends: Vec<&Proxy> = cfg
            .proxies
            .iter()
            .filter(|p| p.kind.is_backend() && !p.disabled)
            .collect();
        hold_unusable(&rt, &backends);
        let sessions = self.shared.sessions.clone();
        let names = rt.frontends.iter().map(|f| f.name.as_str());
        self.shared.rate.configure(cfg, names);
        let rings = self.shared.rings.as_deref();
        let health = start_health(&rt, cfg, &backends, events, sessions.clone(), rings)?;
        let mut checked = HashMap::new();
        let mut layer7 = std::collections::HashSet::new();
        let mut cfg_disabled = std::collections::HashSet::new();
        for (bi, p) in backends.iter().enumerate() {
            for (si, s) in p.servers.iter().enumerate() {
                checked.insert((bi, si), s.settings.check.enabled == Some(true));
                if s.settings.disabled {
                    cfg_disabled.insert((bi, si));
                }
                if s.settings.check.observe == Some(fulcrum_config::model::check::Observe::Layer7) {
                    layer7.insert((bi, si));
                }
            }
        }
        let pages = crate::stats::pages(cfg, &rt)?;
        let monitors = crate::stats::monitor::monitors(cfg, &rt)?;
        // The same numbers as the `fe_id`/`be_id` fetches.
        let iids = crate::compile::proxy_ids(cfg);
        let counters = crate::stats::counters::Counters::new(&rt);
        let core = Arc::new(Core {
            rt,
            health,
            pages,
            monitors,
            iids,
            started: Instant::now(),
            nbthread: self.threads(),
            algos: backends.iter().map(|p| algo_name(p).to_string()).collect(),
            started_at: SystemTime::now(),
            node: cfg.global.node.clone().unwrap_or_default(),
            description: cfg.global.description.clone().unwrap_or_default(),
            checked,
            cfg_disabled,
            layer7,
            counters,
            sessions,
            ctl: self.shared.ctl.clone(),
            dynsrv: crate::admin::dynsrv::DynServers::new(&backends, &cfg.global),
            rate: self.shared.rate.clone(),
            handover: self.shared.handover.clone(),
            rings: self.shared.rings.clone(),
        });
        let admin = crate::admin::AdminServer::start(&cfg.global, core.clone())?;
        let ops = Ops {
            core,
            admin: Mutex::new(admin),
        };
        self.shared.ops.0.store(Some(Arc::new(ops)));
        Ok(())
    }

    /// TCP addresses of the `stats socket` listeners, port 0 resolved.
    pub fn stats_socket_addrs(&self) -> Vec<std::net::SocketAddr> {
        let Some(ops) = self.shared.ops.0.load_full() else {
            return Vec::new();
        };
        let admin = ops.admin.lock();
        admin
            .ok()
            .and_then(|a| a.as_ref().map(|a| a.tcp_addrs.clone()))
            .unwrap_or_default()
    }

    /// Stops health checks and the runtime API (also done when the engine's
    /// last handle is gone).
    pub fn stop_ops(&self) {
        // The sockets close now even if a worker still holds the state.
        if let Some(ops) = self.shared.ops.0.swap(None) {
            ops.stop_admin();
        }
    }
}

/// `disabled` servers, and those without an address (`init-addr none`),
/// stay in maintenance as in HAProxy: the monitor's initial state must not
/// make them usable.
fn hold_unusable(rt: &Runtime, backends: &[&Proxy]) {
    for (p, be) in backends.iter().zip(&rt.backends) {
        for (si, (s, srv)) in p.servers.iter().zip(&be.servers).enumerate() {
            let no_addr = srv.addr().port() == 0 && srv.addr().ip().is_unspecified();
            if s.settings.disabled || no_addr {
                srv.state.set_admin(fulcrum_balance::AdminState::Maint);
                be.server_changed(si);
            }
        }
    }
}

fn start_health(
    rt: &Runtime,
    cfg: &Config,
    backends: &[&Proxy],
    events: Option<HealthEventSink>,
    sessions: Arc<crate::sessions::Registry>,
    rings: Option<&fulcrum_observe::log::Rings>,
) -> Result<Option<HealthHandle>, EngineError> {
    let mut targets = Vec::new();
    for (bi, (p, be)) in backends.iter().zip(&rt.backends).enumerate() {
        for (si, srv) in be.servers.iter().enumerate() {
            if let Some(mut t) = CheckTarget::from_config(p, bi, si, srv.state.clone(), srv.addr())
            {
                t.unix = srv.unix.as_ref().and_then(|u| u.sockaddr().ok());
                targets.push(t);
            }
        }
    }
    if targets.is_empty() {
        return Ok(None);
    }
    let lbs: Vec<_> = rt.backends.iter().map(|b| b.lb.clone()).collect();
    let on_change = move |b: usize, s: usize| {
        if let Some(lb) = lbs.get(b) {
            lb.on_server_change(s);
        }
    };
    let mut events = events;
    let logger = crate::admin::health_log::global_logger(&cfg.global, rings);
    let backups: Vec<Vec<bool>> = rt
        .backends
        .iter()
        .map(|b| b.servers.iter().map(|s| s.backup).collect())
        .collect();
    let sink = move |ev: HealthEvent| {
        log_event(&ev);
        shutdown_on_event(&sessions, &backups, &ev);
        if let Some(l) = &logger {
            crate::admin::health_log::send(l, &ev);
        }
        if let Some(f) = events.as_mut() {
            f(&ev);
        }
    };
    let requeue: Vec<_> = rt.backends.iter().map(|b| b.lb.clone()).collect();
    let handle = HealthMonitor::start(
        targets,
        MonitorOptions::from_global(&cfg.global),
        on_change,
        sink,
    )
    .map_err(|e| EngineError::Config(format!("health checks: {e}")))?;
    // A server going down sends its queued requests elsewhere (`option redispatch`).
    handle.set_requeue(move |b, s, up| match requeue.get(b) {
        Some(lb) if !up => lb.requeue_down(s),
        _ => 0,
    });
    Ok(Some(handle))
}

/// HAProxy's name of a backend's `balance` algorithm.
fn algo_name(p: &Proxy) -> &'static str {
    use fulcrum_config::model::Balance as B;
    match p.balance.as_ref().unwrap_or(&B::RoundRobin) {
        B::RoundRobin => "roundrobin",
        B::StaticRr => "static-rr",
        B::LeastConn => "leastconn",
        B::First => "first",
        B::Source => "source",
        B::Uri { .. } => "uri",
        B::UrlParam { .. } => "url_param",
        B::Hdr { .. } => "hdr",
        B::RdpCookie { .. } => "rdp-cookie",
        B::Random { .. } => "random",
        B::Hash(_) => "hash",
    }
}

/// `on-marked-down shutdown-sessions` (this server's sessions) and `on-marked-up
/// shutdown-backup-sessions` (the backend's backup servers' sessions), HTTP and
/// TCP alike, through the session registry.
fn shutdown_on_event(
    sessions: &crate::sessions::Registry,
    backups: &[Vec<bool>],
    ev: &HealthEvent,
) {
    let bi = ev.backend_idx;
    if ev.shutdown_sessions {
        if let Some(si) = ev.server_idx {
            sessions.kill_where(bi, fulcrum_observe::log::TermCause::Down, |s| s == si);
        }
    }
    if ev.shutdown_backup_sessions {
        let Some(b) = backups.get(bi) else { return };
        sessions.kill_where(bi, fulcrum_observe::log::TermCause::Up, |s| {
            b.get(s).copied().unwrap_or(false)
        });
    }
}

/// Health lines to `tracing` at their syslog severity.
fn log_event(ev: &HealthEvent) {
    use fulcrum_health::message::Severity;
    match ev.severity {
        Severity::Emerg | Severity::Alert => tracing::error!("{}", ev.message),
        Severity::Notice => tracing::warn!("{}", ev.message),
        Severity::Info => tracing::info!("{}", ev.message),
    }
}
