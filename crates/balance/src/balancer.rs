//! [`Balancer`]: one backend's server selection, shared by every worker thread.

use crate::algo::{BalanceAlgo, BalanceOptions, HashMethod};
use crate::hash::{full_hash, hash_key};
use crate::key::{self, SelectKey};
use crate::map::weights_gcd;
use crate::ring::Point;
use crate::sched::{lc_key, LeastConn, Verdict, Wrr};
use crate::state::ServerState;
use crate::topo::{Group, Topology};
use crate::BalanceError;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

mod pick;

/// One backend's server selection.
///
/// Built once from the algorithm and the servers (in declaration order); the
/// engine calls [`Balancer::select`] from any thread, and reports changes with
/// [`Balancer::on_server_change`], [`Balancer::take_conn`] and
/// [`Balancer::drop_conn`]. See the crate documentation for the locking.
#[derive(Debug)]
pub struct Balancer {
    algo: BalanceAlgo,
    opts: BalanceOptions,
    servers: Vec<Arc<ServerState>>,
    /// Server indexes by ascending `id` (`balance first`); `add server`
    /// may give a spare slot its own `id`.
    by_id: RwLock<Vec<usize>>,
    /// Map weights are divided by the gcd of the configured weights.
    map_gcd: u32,
    topo: RwLock<Topology>,
    rr: Mutex<Wrr>,
    lc: Mutex<LeastConn>,
    /// Next slot of the map's round-robin (`static-rr`, map-based fallback).
    cursor: AtomicUsize,
    /// Last point of the ring's round-robin (consistent-hash fallback).
    ring_last: Mutex<Option<Point>>,
    /// Connections served by the whole backend (`hash-balance-factor`).
    served: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop selection: the data stays consistent
    // because every update completes before the guard drops.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Balancer {
    /// Builds the selection for `servers` (declaration order).
    pub fn new(
        algo: BalanceAlgo,
        opts: BalanceOptions,
        servers: Vec<Arc<ServerState>>,
    ) -> Result<Self, BalanceError> {
        let mut ids = HashSet::new();
        if let Some(s) = servers.iter().find(|s| !ids.insert(s.id())) {
            return Err(BalanceError::DuplicateId(s.id()));
        }
        if servers.len() > u32::MAX as usize / 2 {
            return Err(BalanceError::TooManyServers(servers.len()));
        }
        if let Some(f) = opts.hash_balance_factor {
            if f != 0 && f < 100 {
                return Err(BalanceError::BalanceFactor(f));
            }
        }
        if let BalanceAlgo::Random { draws: 0 } = algo {
            return Err(BalanceError::NoDraws);
        }
        // `rdp-cookie` without a name reads `mstshash`, as in HAProxy.
        let algo = match algo {
            BalanceAlgo::RdpCookie { name } if name.is_empty() => BalanceAlgo::rdp_cookie_default(),
            a => a,
        };
        let mut by_id: Vec<usize> = (0..servers.len()).collect();
        by_id.sort_by_key(|&i| servers[i].id());
        let n = servers.len();
        let b = Balancer {
            map_gcd: weights_gcd(servers.iter().map(|s| s.initial_weight())),
            algo,
            opts,
            by_id: RwLock::new(by_id),
            topo: RwLock::new(Topology {
                points: vec![0; n],
                ..Topology::default()
            }),
            rr: Mutex::new(Wrr::new(n)),
            lc: Mutex::new(LeastConn::new(n)),
            cursor: AtomicUsize::new(0),
            ring_last: Mutex::new(None),
            served: AtomicU64::new(0),
            servers,
        };
        b.rebuild();
        Ok(b)
    }

    /// The algorithm.
    pub fn algo(&self) -> &BalanceAlgo {
        &self.algo
    }
    /// The options.
    pub fn options(&self) -> &BalanceOptions {
        &self.opts
    }
    /// Whether run-time weights other than 0 and 100% apply: HAProxy refuses
    /// them for `static-rr` and map-based hashing, whose table is fixed.
    pub fn is_dynamic(&self) -> bool {
        self.algo.is_dynamic(&self.opts.hash_type)
    }
    /// The servers, in declaration order; [`Balancer::select`] returns an index.
    pub fn servers(&self) -> &[Arc<ServerState>] {
        &self.servers
    }

    fn uses_map(&self) -> bool {
        matches!(self.algo, BalanceAlgo::StaticRr)
            || (self.algo.is_hash() && self.opts.hash_type.method == HashMethod::MapBased)
    }
    fn uses_ring(&self) -> bool {
        matches!(self.algo, BalanceAlgo::Random { .. })
            || (self.algo.is_hash() && self.opts.hash_type.method == HashMethod::Consistent)
    }

    /// The weight the algorithm gives server `s` now.
    fn lb_weight(&self, s: &ServerState) -> u32 {
        if self.uses_map() {
            s.weight().div_ceil(self.map_gcd)
        } else {
            s.effective_weight()
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Topology> {
        self.topo.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn rebuild(&self) {
        let mut t = self.topo.write().unwrap_or_else(PoisonError::into_inner);
        t.usable = self.servers.iter().map(|s| s.is_usable()).collect();
        t.weight = self.servers.iter().map(|s| self.lb_weight(s)).collect();
        for i in 0..self.servers.len() {
            t.usable[i] &= t.weight[i] > 0;
        }
        t.recount(&self.servers, self.opts.all_backups);
        if self.uses_map() {
            t.rebuild_map(&self.servers);
        }
        if self.uses_ring() {
            for i in 0..self.servers.len() {
                t.resize_points(&self.servers, i);
            }
        }
        self.resched(&t, None);
    }

    /// Updates the round-robin / least-connections state after a change of
    /// server `only` (or all).
    fn resched(&self, t: &Topology, only: Option<usize>) {
        match self.algo {
            BalanceAlgo::RoundRobin => {
                let mut rr = lock(&self.rr);
                for slot in 0..2 {
                    let concerned = !matches!(only, Some(i) if usize::from(self.servers[i].is_backup()) != slot);
                    if concerned {
                        rr.set_members(slot, &t.members(&self.servers, slot));
                    }
                }
            }
            BalanceAlgo::LeastConn => {
                let mut lc = lock(&self.lc);
                let all = 0..self.servers.len();
                for i in all.filter(|&i| only.is_none() || only == Some(i)) {
                    self.place_lc(&mut lc, t, i);
                }
            }
            _ => {}
        }
    }

    fn place_lc(&self, lc: &mut LeastConn, t: &Topology, i: usize) {
        let s = &self.servers[i];
        let slot = usize::from(s.is_backup());
        let group = t.in_slot(&self.servers, i, slot).then_some(slot);
        lc.place(i, group, lc_key(s.inflight(), t.weight[i]));
    }

    /// Gives server `idx` a new `id` and backup flag (`add server` filling a
    /// spare slot). Only for a server that takes no traffic (in maintenance):
    /// its ring points, groups and `first` order are keyed by both, and are
    /// placed again when it becomes usable.
    pub fn set_identity(&self, idx: usize, id: u32, backup: bool) {
        let Some(s) = self.servers.get(idx) else {
            return;
        };
        let mut by_id = self.by_id.write().unwrap_or_else(PoisonError::into_inner);
        s.set_identity(id, backup);
        by_id.sort_by_key(|&i| self.servers[i].id());
        drop(by_id);
        self.on_server_change(idx);
    }

    /// Call after changing server `idx`'s weight, ramp, admin or up state: only
    /// what depends on that server is updated (its ring points; the map table
    /// and round-robin credits are recomputed, as HAProxy does).
    pub fn on_server_change(&self, idx: usize) {
        let Some(s) = self.servers.get(idx) else {
            return;
        };
        let mut t = self.topo.write().unwrap_or_else(PoisonError::into_inner);
        let w = self.lb_weight(s);
        let usable = s.is_usable() && w > 0;
        if t.usable[idx] == usable && t.weight[idx] == w {
            return;
        }
        t.usable[idx] = usable;
        t.weight[idx] = w;
        t.recount(&self.servers, self.opts.all_backups);
        if self.uses_map() {
            t.rebuild_map(&self.servers);
        }
        if self.uses_ring() {
            t.resize_points(&self.servers, idx);
        }
        self.resched(&t, Some(idx));
    }

    /// A connection to server `idx` starts: counts it and, under `leastconn`,
    /// moves the server behind its equals.
    pub fn take_conn(&self, idx: usize) {
        let Some(s) = self.servers.get(idx) else {
            return;
        };
        s.add_conn();
        self.served.fetch_add(1, Ordering::Relaxed);
        self.on_load_change(idx);
    }

    /// A connection to server `idx` ends.
    pub fn drop_conn(&self, idx: usize) {
        let Some(s) = self.servers.get(idx) else {
            return;
        };
        s.sub_conn();
        let _ = self
            .served
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
        self.on_load_change(idx);
    }

    /// Call after changing server `idx`'s queue length (`leastconn` orders by
    /// connections plus queue).
    pub fn on_load_change(&self, idx: usize) {
        if self.algo == BalanceAlgo::LeastConn && idx < self.servers.len() {
            let t = self.read();
            let mut lc = lock(&self.lc);
            self.place_lc(&mut lc, &t, idx);
        }
    }

    /// Whether any server may take load-balanced traffic. When
    /// [`Balancer::select`] returns `None` while this is true, every candidate
    /// is full: the request waits in the backend's queue.
    pub fn has_usable(&self) -> bool {
        self.read().group().is_some()
    }

    /// Picks a server for one request; `None` when none is usable, or when the
    /// algorithm's candidates are all full (see [`Balancer::has_usable`]).
    /// Hash algorithms return their server even when full (it has a queue);
    /// an excluded server is returned only when nothing else can be.
    pub fn select<K: SelectKey + ?Sized>(&self, key: &K) -> Option<usize> {
        let t = self.read();
        let group = t.group()?;
        if let Group::Only(f) = group {
            return Some(f);
        }
        let judge = |i: usize| self.judge(key, i);
        match &self.algo {
            BalanceAlgo::RoundRobin => lock(&self.rr).pick(group.slot(), judge),
            BalanceAlgo::StaticRr => self.map_rr(&t, judge),
            BalanceAlgo::LeastConn => lock(&self.lc).pick(group.slot(), judge),
            BalanceAlgo::First => self.first(&t, group, judge),
            BalanceAlgo::Random { draws } => {
                self.random(&t, group, *draws, key, crate::rng::next_u32)
            }
            _ => match self.key_hash(key) {
                Some(h) => self.by_hash(&t, group, h, key),
                None if self.uses_map() => self.map_rr(&t, judge),
                None => self.ring_rr(&t, group, judge),
            },
        }
    }

    fn judge<K: SelectKey + ?Sized>(&self, key: &K, i: usize) -> Verdict {
        let s = &self.servers[i];
        if !s.is_usable() || s.is_full() {
            Verdict::Skip
        } else if key.is_excluded(i) {
            Verdict::Avoid
        } else {
            Verdict::Take
        }
    }

    /// The hash of the request's key, `None` when the key is absent (the
    /// algorithm then falls back to round-robin).
    fn key_hash<K: SelectKey + ?Sized>(&self, k: &K) -> Option<u32> {
        let ht = &self.opts.hash_type;
        let bytes = match &self.algo {
            BalanceAlgo::Source => {
                // The address itself is the hash, mixed only by `avalanche`.
                let h = key::source_hash(k.source()?);
                return Some(if ht.avalanche { full_hash(h) } else { h });
            }
            BalanceAlgo::Uri(o) => key::uri_key(k.uri()?, o),
            BalanceAlgo::UrlParam { name, .. } => {
                // HAProxy 2.6 reads a POST body with or without `check_post`.
                match k.uri().and_then(|u| key::url_param(u, name.as_bytes())) {
                    Some(v) => v,
                    None => key::body_param(k.post_body()?, name.as_bytes())?,
                }
            }
            BalanceAlgo::Hdr {
                name,
                use_domain_only,
            } => {
                let v = key::first_header_value(k.header(name)?)?;
                if *use_domain_only {
                    key::domain_only(v)
                } else {
                    v
                }
            }
            BalanceAlgo::RdpCookie { name } => {
                let v = key::rdp_cookie(k.payload()?, name.as_bytes())?;
                if v.is_empty() {
                    return None;
                }
                v
            }
            BalanceAlgo::Hash => k.hash_input()?,
            _ => return None,
        };
        Some(hash_key(ht, bytes))
    }
}
