//! [`ServerState`]: one server's runtime state, shared by the engine's worker
//! threads, health checks, stats and the runtime API.
//!
//! Every field is an atomic read with `Relaxed` ordering: selection needs a
//! recent value, not a consistent snapshot across fields (HAProxy reads them the
//! same way). After changing a weight or a state, call
//! [`crate::Balancer::on_server_change`] so the algorithm's structures follow.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{PoisonError, RwLock};

/// The largest user weight (`weight 256`).
pub const MAX_WEIGHT: u32 = 256;
/// Steps of the effective weight per unit of user weight (HAProxy's
/// `BE_WEIGHT_SCALE`): slowstart ramps a server from 1 to this many steps.
pub const WEIGHT_SCALE: u32 = 16;

/// The administrative state set by the operator (`set server ... state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AdminState {
    /// Normal service.
    Ready = 0,
    /// Persistent traffic only: no new load-balanced traffic.
    Drain = 1,
    /// Maintenance: no traffic at all.
    Maint = 2,
}

impl AdminState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => AdminState::Ready,
            1 => AdminState::Drain,
            _ => AdminState::Maint,
        }
    }
}

/// One server's shared runtime state.
#[derive(Debug)]
pub struct ServerState {
    /// Fixed at start, or set once by `add server` in a spare slot
    /// ([`crate::Balancer::set_identity`]).
    id: AtomicU32,
    backup: AtomicBool,
    initial_weight: AtomicU32,
    weight: AtomicU32,
    ramp: AtomicU32,
    admin: AtomicU8,
    up: AtomicBool,
    cur_conns: AtomicU32,
    total_conns: AtomicU64,
    maxconn: AtomicU32,
    queue_len: AtomicU32,
    /// Where connections go; changed by `set server addr` (`None` until set).
    addr: RwLock<Option<SocketAddr>>,
}

impl ServerState {
    /// A server with numeric `id` (HAProxy's `puid`, unique in its backend),
    /// user `weight` (clamped to 0..=256), up, ready, no `maxconn`.
    pub fn new(id: u32, weight: u32, backup: bool) -> Self {
        let weight = weight.min(MAX_WEIGHT);
        ServerState {
            id: AtomicU32::new(id),
            backup: AtomicBool::new(backup),
            initial_weight: AtomicU32::new(weight),
            weight: AtomicU32::new(weight),
            ramp: AtomicU32::new(WEIGHT_SCALE),
            admin: AtomicU8::new(AdminState::Ready as u8),
            up: AtomicBool::new(true),
            cur_conns: AtomicU32::new(0),
            total_conns: AtomicU64::new(0),
            maxconn: AtomicU32::new(0),
            queue_len: AtomicU32::new(0),
            addr: RwLock::new(None),
        }
    }

    /// Same, with a `maxconn` (0: unlimited).
    pub fn with_maxconn(self, maxconn: u32) -> Self {
        self.maxconn.store(maxconn, Ordering::Relaxed);
        self
    }

    /// The numeric id (`id` keyword, or the declaration-order default).
    pub fn id(&self) -> u32 {
        self.id.load(Ordering::Relaxed)
    }
    /// A `backup` server.
    pub fn is_backup(&self) -> bool {
        self.backup.load(Ordering::Relaxed)
    }
    /// Only while the server takes no traffic: the algorithm's structures
    /// are keyed by both.
    pub(crate) fn set_identity(&self, id: u32, backup: bool) {
        self.id.store(id, Ordering::Relaxed);
        self.backup.store(backup, Ordering::Relaxed);
    }
    /// The weight from the configuration (the 100% of `set weight N%`).
    pub fn initial_weight(&self) -> u32 {
        self.initial_weight.load(Ordering::Relaxed)
    }
    /// A server added at run time (`add server`) into a spare slot: its
    /// configured weight becomes both the initial and the current weight.
    pub fn reset_weight(&self, w: u32) {
        let w = w.min(MAX_WEIGHT);
        self.initial_weight.store(w, Ordering::Relaxed);
        self.weight.store(w, Ordering::Relaxed);
    }
    /// The server's address, when the engine gave one (health checks follow it).
    pub fn addr(&self) -> Option<SocketAddr> {
        *self.addr.read().unwrap_or_else(PoisonError::into_inner)
    }
    /// Sets the address new connections and checks use (`set server addr`).
    pub fn set_addr(&self, a: SocketAddr) {
        *self.addr.write().unwrap_or_else(PoisonError::into_inner) = Some(a);
    }
    /// The current user weight, 0..=256.
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }
    /// Sets the user weight (runtime API, agent checks); clamped to 0..=256.
    pub fn set_weight(&self, w: u32) {
        self.weight.store(w.min(MAX_WEIGHT), Ordering::Relaxed);
    }
    /// `set weight <server> N%`: a percentage of the configured weight, as
    /// HAProxy computes it (truncated, at most 256). Returns the new weight.
    pub fn set_weight_percent(&self, pct: u32) -> u32 {
        let w = u64::from(self.initial_weight()) * u64::from(pct.min(25_600)) / 100;
        let w = u32::try_from(w).unwrap_or(MAX_WEIGHT).min(MAX_WEIGHT);
        self.set_weight(w);
        w
    }
    /// The slowstart step, 1..=[`WEIGHT_SCALE`] (full weight).
    pub fn ramp(&self) -> u32 {
        self.ramp.load(Ordering::Relaxed)
    }
    /// Sets the slowstart step (clamped to 1..=[`WEIGHT_SCALE`]); the checks
    /// compute it from the time since the server came up.
    pub fn set_ramp(&self, step: u32) {
        self.ramp
            .store(step.clamp(1, WEIGHT_SCALE), Ordering::Relaxed);
    }
    /// The effective weight of dynamic algorithms: weight × ramp (0..=4096).
    pub fn effective_weight(&self) -> u32 {
        self.weight() * self.ramp()
    }
    /// The operator's state.
    pub fn admin(&self) -> AdminState {
        AdminState::from_u8(self.admin.load(Ordering::Relaxed))
    }
    /// Sets the operator's state.
    pub fn set_admin(&self, s: AdminState) {
        self.admin.store(s as u8, Ordering::Relaxed);
    }
    /// The health checks' verdict.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
    /// Sets the health checks' verdict.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
    /// Connections being served now.
    pub fn cur_conns(&self) -> u32 {
        self.cur_conns.load(Ordering::Relaxed)
    }
    /// Connections served since start (stats' `stot`).
    pub fn total_conns(&self) -> u64 {
        self.total_conns.load(Ordering::Relaxed)
    }
    pub(crate) fn add_conn(&self) {
        self.cur_conns.fetch_add(1, Ordering::Relaxed);
        self.total_conns.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn sub_conn(&self) {
        // Saturating: an unbalanced release must not wrap to 4 billion.
        let _ = self
            .cur_conns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
    }
    /// `maxconn`, 0 when unlimited.
    pub fn maxconn(&self) -> u32 {
        self.maxconn.load(Ordering::Relaxed)
    }
    /// Sets `maxconn` (runtime API `set maxconn server`).
    pub fn set_maxconn(&self, m: u32) {
        self.maxconn.store(m, Ordering::Relaxed);
    }
    /// Requests waiting in this server's queue.
    pub fn queue_len(&self) -> u32 {
        self.queue_len.load(Ordering::Relaxed)
    }
    /// Sets the queue length (the engine owns the queue); follow with
    /// [`crate::Balancer::on_load_change`] under `leastconn`.
    pub fn set_queue_len(&self, n: u32) {
        self.queue_len.store(n, Ordering::Relaxed);
    }

    /// May receive load-balanced traffic: up, ready, weight above 0.
    pub fn is_usable(&self) -> bool {
        self.weight() > 0 && self.is_up() && self.admin() == AdminState::Ready
    }

    /// No free `maxconn` slot, or others already wait for one.
    pub fn is_full(&self) -> bool {
        let max = self.maxconn();
        max != 0 && (self.queue_len() > 0 || self.cur_conns() >= max)
    }

    /// Connections plus queued requests: what `leastconn` and `random` compare.
    pub fn inflight(&self) -> u32 {
        self.cur_conns().saturating_add(self.queue_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_maint_down_and_weight_zero_are_unusable() {
        let s = ServerState::new(1, 10, false);
        assert!(s.is_usable());
        s.set_admin(AdminState::Drain);
        assert!(!s.is_usable());
        s.set_admin(AdminState::Ready);
        s.set_up(false);
        assert!(!s.is_usable());
        s.set_up(true);
        s.set_weight(0);
        assert!(!s.is_usable());
    }

    #[test]
    fn full_when_maxconn_reached_or_queue_waits() {
        let s = ServerState::new(1, 1, false).with_maxconn(1);
        assert!(!s.is_full());
        s.add_conn();
        assert!(s.is_full());
        s.sub_conn();
        s.sub_conn();
        assert_eq!(s.cur_conns(), 0);
        s.set_queue_len(1);
        assert!(s.is_full());
    }

    #[test]
    fn weight_percent_is_relative_to_the_configured_weight() {
        let s = ServerState::new(1, 10, false);
        assert_eq!(s.set_weight_percent(50), 5);
        assert_eq!(s.set_weight_percent(15), 1);
        assert_eq!(s.set_weight_percent(100_000), 256);
        assert_eq!(s.weight(), 256);
        s.add_conn();
        s.sub_conn();
        assert_eq!(s.total_conns(), 1);
    }

    #[test]
    fn weights_are_clamped() {
        let s = ServerState::new(1, 1000, false);
        assert_eq!(s.weight(), 256);
        s.set_ramp(0);
        assert_eq!(s.ramp(), 1);
        assert_eq!(s.effective_weight(), 256);
    }
}
