//! Dynamic servers, as HAProxy 2.6's runtime API has them: `add server`,
//! `del server` and `set server addr`.
//!
//! A backend's servers are a vector fixed at start, and the balancer,
//! counters, sessions and health checks refer to a server by its index. So
//! the compile step reserves [`SPARE_SLOTS`] inert slots at the end of every
//! backend whose `balance` allows dynamic servers: nameless, in maintenance,
//! hidden from stats and lookups. `add server` fills a free slot in place
//! (name, address, weight, `id`/`backup`, connection settings, `maxconn`
//! slots, `track`) and leaves it in maintenance; `del server` empties it
//! again. A server's address lives in its shared `ServerState`, so `set
//! server addr` sends new connections and health checks to the new address
//! while open connections stay where they are. A dynamic server added with
//! `check` gets its own health monitor, paused until `enable health`.

use crate::health_link::Core;
use crate::runtime::{Backend, Live, ProxyVersion, Server};
use crate::select::Bounds;
use fulcrum_balance::{AdminState, BalanceAlgo, BalanceOptions};
use fulcrum_config::model::check::TrackTarget;
use fulcrum_config::model::server::SendProxy;
use fulcrum_config::model::Proxy;
use fulcrum_config::rules::TargetName;
use fulcrum_health::{CheckTarget, HealthEvent, HealthHandle, HealthMonitor, HealthSnapshot};
use fulcrum_observe::api::{NO_SUCH_BACKEND, NO_SUCH_SERVER};
use fulcrum_observe::log::TermCause;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

mod args;
use args::{parse_server, server_addr};

/// Spare slots per backend: how many servers `add server` can add to one
/// backend beyond those of the configuration (deleted ones free theirs).
pub(crate) const SPARE_SLOTS: usize = 16;

/// Whether a backend's `balance` lets servers be added at run time
/// (HAProxy's "dynamic" algorithms: not `static-rr`, not map-based hashing).
fn dynamic_algo(algo: &BalanceAlgo, opts: &BalanceOptions) -> bool {
    algo.is_dynamic(&opts.hash_type)
}

/// Compile step: appends the spare slots to `servers` when the backend may
/// get dynamic servers (`dispatch` backends never do: they have no servers).
pub(crate) fn reserve(
    p: &Proxy,
    algo: &BalanceAlgo,
    opts: &BalanceOptions,
    servers: &mut Vec<Server>,
) {
    let dispatch = p.other.iter().any(|(k, _, _)| k == "dispatch");
    if !dynamic_algo(algo, opts) || dispatch {
        return;
    }
    let none = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    servers.extend((0..SPARE_SLOTS).map(|_| Server::new("", none)));
}

/// Compile step, once the balancer exists: spare slots take no traffic.
pub(crate) fn park(be: &Backend) {
    for (si, s) in be.servers.iter().enumerate() {
        if !s.is_present() {
            s.state.set_admin(AdminState::Maint);
            be.server_changed(si);
        }
    }
}

/// One dynamic server's health monitor (`add server … check|agent-check`).
struct Slot {
    monitor: Option<Arc<HealthHandle>>,
    /// Added with `check` (not only `agent-check`).
    checked: bool,
    /// `observe layer7`: connection successes say nothing.
    layer7: bool,
    /// `track`: the backend and server it follows.
    tracks: Option<(usize, usize)>,
}

struct BackendInfo {
    /// The backend's section (check settings and timeouts for `check`).
    proxy: Proxy,
    /// Index of the first spare slot (after the configured servers).
    first_spare: usize,
    /// Configured servers that other elements name (`track`, `use-server`).
    pinned: HashSet<usize>,
    /// Configured servers with `disabled`.
    disabled: HashSet<usize>,
    /// Where each configured server is declared (`file:line`), for the
    /// answer to a duplicate `id`.
    places: Vec<String>,
    /// Configured servers with a check, an agent or `track`: what `track`
    /// may name.
    watched: HashSet<usize>,
}

/// The runtime API's view of dynamic servers, kept in [`Core`].
pub(crate) struct DynServers {
    backends: Vec<BackendInfo>,
    slots: Mutex<HashMap<(usize, usize), Slot>>,
    /// Slots that have held a dynamic server (their counters are not zero).
    used: Mutex<HashSet<(usize, usize)>>,
    global: fulcrum_config::model::Global,
}

impl DynServers {
    /// `backends`: the sections of the runtime's backends, in the same order.
    pub(crate) fn new(backends: &[&Proxy], global: &fulcrum_config::model::Global) -> Self {
        let tracked: HashSet<(String, String)> = backends
            .iter()
            .flat_map(|p| {
                p.servers.iter().filter_map(|s| {
                    let t = s.settings.check.track.as_ref()?;
                    let bk = t.backend.clone().unwrap_or_else(|| p.name.clone());
                    Some((bk, t.server.clone()))
                })
            })
            .collect();
        let infos = backends
            .iter()
            .map(|p| {
                let used: Vec<&str> = p
                    .use_server
                    .iter()
                    .filter_map(|u| match &u.target {
                        TargetName::Static(n) => Some(n.as_str()),
                        TargetName::Dynamic(_) => None,
                    })
                    .collect();
                let pinned = p
                    .servers
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        used.contains(&s.name.as_str())
                            || tracked.contains(&(p.name.clone(), s.name.clone()))
                    })
                    .map(|(i, _)| i)
                    .collect();
                BackendInfo {
                    proxy: Proxy {
                        servers: Vec::new(),
                        ..(*p).clone()
                    },
                    first_spare: p.servers.len(),
                    pinned,
                    disabled: (p.servers.iter().enumerate())
                        .filter(|(_, s)| s.settings.disabled)
                        .map(|(i, _)| i)
                        .collect(),
                    places: p.servers.iter().map(|s| s.span.to_string()).collect(),
                    watched: (p.servers.iter().enumerate())
                        .filter(|(_, s)| {
                            let c = &s.settings.check;
                            c.is_enabled() || c.agent.enabled == Some(true) || c.track.is_some()
                        })
                        .map(|(i, _)| i)
                        .collect(),
                }
            })
            .collect();
        DynServers {
            backends: infos,
            slots: Mutex::new(HashMap::new()),
            used: Mutex::new(HashSet::new()),
            global: global.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, usize), Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The health monitor of a dynamic server added with `check`.
    pub(crate) fn monitor(&self, bi: usize, si: usize) -> Option<Arc<HealthHandle>> {
        self.lock().get(&(bi, si)).and_then(|s| s.monitor.clone())
    }

    /// Health of every dynamic server with `check`.
    pub(crate) fn snapshots(&self) -> Vec<HealthSnapshot> {
        let monitors: Vec<_> = self
            .lock()
            .values()
            .filter_map(|s| s.monitor.clone())
            .collect();
        monitors.iter().flat_map(|m| m.snapshots()).collect()
    }
}

/// A health monitor: the configuration's, or a dynamic server's own.
pub(crate) enum Monitor<'a> {
    Main(&'a HealthHandle),
    Dynamic(Arc<HealthHandle>),
}

impl std::ops::Deref for Monitor<'_> {
    type Target = HealthHandle;
    fn deref(&self) -> &HealthHandle {
        match self {
            Monitor::Main(h) => h,
            Monitor::Dynamic(h) => h,
        }
    }
}

/// `del server` of a server that `track` or `use-server` names.
const PINNED: &str = "This server cannot be removed at runtime due to other configuration \
                      elements pointing to it.";

/// `Server still has connections attached to it, cannot remove it.`
const STILL_USED: &str = "Server still has connections attached to it, cannot remove it.";

impl Core {
    /// The monitor that checks server `si` of backend `bi`, if any.
    pub(crate) fn monitor(&self, bi: usize, si: usize) -> Option<Monitor<'_>> {
        match self.dynsrv.monitor(bi, si) {
            Some(h) => Some(Monitor::Dynamic(h)),
            None => self.health.as_ref().map(Monitor::Main),
        }
    }

    /// A slot reserved for `add server` (its settings are in `dynsrv`).
    fn is_spare(&self, bi: usize, si: usize) -> bool {
        (self.dynsrv.backends.get(bi)).is_some_and(|i| si >= i.first_spare)
    }

    /// Where traffic outcomes of server `si` go (`observe`): only spare
    /// slots look for their own monitor (a lock), so configured servers'
    /// connections take none.
    pub(crate) fn passive_monitor(&self, bi: usize, si: usize) -> Option<Monitor<'_>> {
        if self.is_spare(bi, si) {
            self.dynsrv.monitor(bi, si).map(Monitor::Dynamic)
        } else {
            self.health.as_ref().map(Monitor::Main)
        }
    }

    /// Server `si` of backend `bi` has `observe layer7`.
    pub(crate) fn observes_layer7(&self, bi: usize, si: usize) -> bool {
        self.layer7.contains(&(bi, si))
            || (self.is_spare(bi, si)
                && (self.dynsrv.lock().get(&(bi, si))).is_some_and(|s| s.layer7))
    }

    /// Whether server `si` of backend `bi` has a health check configured.
    pub(crate) fn is_checked(&self, bi: usize, si: usize) -> bool {
        self.checked.get(&(bi, si)).copied().unwrap_or(false)
            || self.dynsrv.lock().get(&(bi, si)).is_some_and(|s| s.checked)
    }

    /// Health of a server, from whichever monitor checks it.
    pub(crate) fn health_of(&self, bi: usize, si: usize) -> Option<HealthSnapshot> {
        self.monitor(bi, si).and_then(|h| h.snapshot(bi, si))
    }

    fn backend_index(&self, b: &str) -> Result<usize, String> {
        self.rt
            .backends
            .iter()
            .position(|x| x.name == b)
            .ok_or_else(|| NO_SUCH_BACKEND.to_string())
    }

    fn server_index(&self, bi: usize, s: &str) -> Option<usize> {
        self.rt.backends[bi]
            .servers
            .iter()
            .position(|x| x.is_present() && x.name == s)
    }

    /// `set server B/S addr IP [port N]`, answered as HAProxy 2.6 does.
    pub(crate) fn set_addr(
        &self,
        b: &str,
        s: &str,
        ip: IpAddr,
        port: Option<u16>,
    ) -> Result<String, String> {
        let bi = self.backend_index(b)?;
        let si = self
            .server_index(bi, s)
            .ok_or_else(|| NO_SUCH_SERVER.to_string())?;
        let srv = &self.rt.backends[bi].servers[si];
        let old = srv.addr();
        let new = SocketAddr::new(ip, port.unwrap_or(old.port()));
        srv.state.set_addr(new);
        // A server started without an address (`init-addr none`) waited in
        // maintenance for one, as HAProxy's resolution maintenance does.
        let waited = old.ip().is_unspecified() && old.port() == 0;
        let disabled = self
            .dynsrv
            .backends
            .get(bi)
            .is_some_and(|i| i.disabled.contains(&si));
        if waited && !disabled && srv.state.admin() == AdminState::Maint {
            let done = self
                .monitor(bi, si)
                .is_some_and(|h| h.set_admin(bi, si, AdminState::Ready));
            if !done {
                srv.state.set_admin(AdminState::Ready);
                self.rt.backends[bi].server_changed(si);
            }
        }
        Ok(addr_change_text(old, new, port.is_some()))
    }

    /// `track [B/]S` of a server added to backend `b`, answered as HAProxy
    /// 2.6 does: a configured server that is checked or tracks another.
    fn track_target(&self, b: &str, t: &TrackTarget) -> Result<(usize, usize), String> {
        let bk = t.backend.as_deref().unwrap_or(b);
        let tbi = (self.backend_index(bk))
            .map_err(|_| format!("unable to find required proxy '{bk}' for tracking."))?;
        let srv = &t.server;
        let tsi = (self.server_index(tbi, srv))
            .ok_or_else(|| format!("unable to find required server '{srv}' for tracking."))?;
        if self.is_spare(tbi, tsi) {
            return Err(format!(
                "unable to use {bk}/{srv} for tracking as it is a dynamic server."
            ));
        }
        let watched = (self.dynsrv.backends.get(tbi)).is_some_and(|i| i.watched.contains(&tsi));
        if !watched {
            return Err(format!(
                "unable to use {bk}/{srv} for tracking as it does not have any check nor agent \
                 enabled."
            ));
        }
        Ok((tbi, tsi))
    }

    /// `add server B/S ADDR [settings…]`.
    pub(crate) fn add_dynamic(&self, b: &str, s: &str, args: &[String]) -> Result<String, String> {
        let bi = self.backend_index(b)?;
        let be = &self.rt.backends[bi];
        let Some(info) = self.dynsrv.backends.get(bi) else {
            return Err(NO_SUCH_BACKEND.into());
        };
        // Spare slots exist only where the algorithm allows dynamic servers.
        if be.servers.len() <= info.first_spare {
            return Err(
                "Backend must use a dynamic load balancing to support dynamic servers.".into(),
            );
        }
        let mut slots = self.dynsrv.lock();
        if self.server_index(bi, s).is_some() {
            return Err("Already exists a server with the same name in backend.".into());
        }
        let parsed = parse_server(s, args, &info.proxy)?;
        let addr = server_addr(&parsed.addr)?;
        // A slot never used first: a reused one keeps its traffic totals.
        let free = || (info.first_spare..be.servers.len()).filter(|&i| !be.servers[i].is_present());
        let mut used = self
            .dynsrv
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let si = free()
            .find(|i| !used.contains(&(bi, *i)))
            .or_else(|| free().next())
            .ok_or_else(|| {
                format!(
                    "No free slot for a new server in backend '{b}': Fulcrum keeps {SPARE_SLOTS} \
                     per backend."
                )
            })?;
        let id = server_id(be, info, si, parsed.settings.id)?;
        let tracks = match &parsed.settings.check.track {
            Some(t) => Some(self.track_target(b, t)?),
            None => None,
        };
        // As for configured servers: `minconn` alone (or above `maxconn`) is
        // the fixed limit; below it, the start of a ramp up to `maxconn`.
        let st = &parsed.settings;
        let (min, max) = match (st.minconn.filter(|m| *m > 0), st.maxconn) {
            (Some(min), Some(max)) if min < max => (Some(min as usize), Some(max as usize)),
            (Some(min), _) => (None, Some(min as usize)),
            (None, max) => (None, max.filter(|m| *m > 0).map(|m| m as usize)),
        };
        be.lb.set_limits(si, Bounds::new(min, max), |i| {
            i == si || be.servers[i].is_present()
        });
        let srv = &be.servers[si];
        let st = &srv.state;
        st.set_admin(AdminState::Maint);
        // Still in maintenance: the balancer places it again on `enable server`.
        be.lb.set_identity(si, id, parsed.settings.backup);
        let source = match &parsed.settings.source {
            Some(a) => Some(server_addr(a)?),
            None => (info.proxy.source.as_ref()).and_then(|a| server_addr(a).ok()),
        };
        srv.live.store(Arc::new(Live {
            send_proxy: match parsed.settings.send_proxy {
                SendProxy::None => None,
                SendProxy::V1 => Some(ProxyVersion::V1),
                SendProxy::V2 => Some(ProxyVersion::V2),
            },
            source,
            maxqueue: parsed
                .settings
                .maxqueue
                .filter(|m| *m > 0)
                .map(|m| m as usize),
        }));
        st.reset_weight(parsed.settings.weight);
        st.set_addr(addr);
        st.set_up(true);
        st.set_ramp(fulcrum_balance::WEIGHT_SCALE);
        let check = &parsed.settings.check;
        let mut slot = Slot {
            monitor: None,
            checked: check.is_enabled(),
            layer7: check.observe == Some(fulcrum_config::model::check::Observe::Layer7),
            tracks,
        };
        if check.is_enabled() || check.agent.enabled == Some(true) {
            let mut proxy = info.proxy.clone();
            proxy.servers = vec![parsed];
            let mut t = CheckTarget::from_config(&proxy, bi, 0, st.clone(), addr)
                .ok_or_else(|| "cannot set up the health check".to_string())?;
            t.server_idx = si;
            slot.monitor = Some(Arc::new(self.start_monitor(bi, si, t)?));
        }
        srv.name.set(s);
        if let Some((tbi, tsi)) = tracks {
            self.rt.backends[tbi].lb.follow(tsi, &be.lb, si, st.clone());
        }
        be.lb.refresh_maxqueue(&be.servers);
        be.server_changed(si);
        slots.insert((bi, si), slot);
        used.insert((bi, si));
        Ok("New server registered.".into())
    }

    fn start_monitor(&self, bi: usize, si: usize, t: CheckTarget) -> Result<HealthHandle, String> {
        let lb = self.rt.backends[bi].lb.clone();
        let logger =
            crate::admin::health_log::global_logger(&self.dynsrv.global, self.rings.as_deref());
        let sessions = self.sessions.clone();
        let states: Vec<_> = (self.rt.backends[bi].servers.iter())
            .map(|s| s.state.clone())
            .collect();
        let sink = move |ev: HealthEvent| {
            tracing::info!("{}", ev.message);
            // `on-marked-down shutdown-sessions`, `on-marked-up
            // shutdown-backup-sessions`: as for configured servers.
            if let (true, Some(si)) = (ev.shutdown_sessions, ev.server_idx) {
                sessions.kill_where(bi, TermCause::Down, |s| s == si);
            }
            if ev.shutdown_backup_sessions {
                let backup = |s: usize| states.get(s).is_some_and(|x| x.is_backup());
                sessions.kill_where(bi, TermCause::Up, backup);
            }
            if let Some(l) = &logger {
                crate::admin::health_log::send(l, &ev);
            }
        };
        let h = HealthMonitor::start(
            vec![t],
            fulcrum_health::MonitorOptions::from_global(&self.dynsrv.global),
            move |_, s| lb.on_server_change(s),
            sink,
        )
        .map_err(|e| format!("health checks: {e}"))?;
        // HAProxy starts a dynamic server's checks only on `enable health`.
        h.set_check_enabled(bi, si, false);
        h.set_agent_enabled(bi, si, false);
        Ok(h)
    }

    /// `del server B/S`.
    pub(crate) fn del_dynamic(&self, b: &str, s: &str) -> Result<String, String> {
        let bi = self.backend_index(b)?;
        let mut slots = self.dynsrv.lock();
        let si = self
            .server_index(bi, s)
            .ok_or_else(|| NO_SUCH_SERVER.to_string())?;
        let be = &self.rt.backends[bi];
        let info = self.dynsrv.backends.get(bi);
        if info.is_some_and(|i| i.pinned.contains(&si)) || be.lb.is_followed(si) {
            return Err(PINNED.into());
        }
        let srv = &be.servers[si];
        if srv.state.admin() != AdminState::Maint {
            return Err("Only servers in maintenance mode can be deleted.".into());
        }
        let attached = self
            .sessions
            .snapshot()
            .iter()
            .any(|e| e.target() == (Some(bi), Some(si)));
        if attached || srv.state.cur_conns() > 0 || srv.state.queue_len() > 0 {
            return Err(STILL_USED.into());
        }
        // A configured server's checks stop; a dynamic one's monitor goes away.
        if let Some(h) = &self.health {
            h.set_check_enabled(bi, si, false);
            h.set_agent_enabled(bi, si, false);
        }
        let gone = slots.remove(&(bi, si));
        if let Some((tbi, _)) = gone.as_ref().and_then(|g| g.tracks) {
            self.rt.backends[tbi].lb.unfollow(&srv.state);
        }
        srv.name.set("");
        (be.lb).set_limits(si, Bounds::new(None, None), |i| be.servers[i].is_present());
        be.lb.refresh_maxqueue(&be.servers);
        be.server_changed(si);
        drop(slots);
        // Dropping the last handle stops the monitor's thread.
        drop(gone);
        Ok("Server deleted.".into())
    }
}

/// The `id` of a server added in slot `si`: its own when not taken (HAProxy's
/// answer otherwise), else the smallest number no other server has.
fn server_id(
    be: &Backend,
    info: &BackendInfo,
    si: usize,
    want: Option<u32>,
) -> Result<u32, String> {
    let others = || (be.servers.iter().enumerate()).filter(|(i, s)| *i != si && s.is_present());
    let Some(id) = want else {
        let taken: HashSet<u32> = others().map(|(_, s)| s.state.id()).collect();
        return Ok((1..).find(|n| !taken.contains(n)).unwrap_or(u32::MAX));
    };
    match others().find(|(_, s)| s.state.id() == id) {
        Some((i, s)) => {
            let place = info.places.get(i).map_or("(null):0", String::as_str);
            Err(format!(
                "'id' : custom id {id} already used at {place} ('server {}').",
                s.name
            ))
        }
        None => Ok(id),
    }
}

/// HAProxy's answer to `set server addr`: what changed, then who changed it.
fn addr_change_text(old: SocketAddr, new: SocketAddr, port_given: bool) -> String {
    let mut msg = if old.ip() == new.ip() {
        "no need to change the addr".to_string()
    } else {
        format!("IP changed from '{}' to '{}'", old.ip(), new.ip())
    };
    if port_given {
        if old.port() == new.port() {
            msg.push_str(", no need to change the port");
        } else {
            msg.push_str(&format!(
                ", port changed from '{}' to '{}'",
                old.port(),
                new.port()
            ));
        }
    }
    msg.push_str(" by 'stats socket command'");
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_change_texts_follow_haproxy() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let b: SocketAddr = "127.0.0.2:81".parse().unwrap();
        assert_eq!(
            addr_change_text(a, b, true),
            "IP changed from '127.0.0.1' to '127.0.0.2', port changed from '80' to '81' \
             by 'stats socket command'"
        );
        assert_eq!(
            addr_change_text(a, a, false),
            "no need to change the addr by 'stats socket command'"
        );
    }
}
