//! Two queue behaviours of HAProxy on top of the `maxconn` slots:
//!
//! - **Dynamic limits** (`minconn` + `fullconn`): a server with `minconn`
//!   below `maxconn` accepts `max(minconn, beconn × maxconn / fullconn)`
//!   connections (at least 1), `beconn` being the backend's requests, queued
//!   ones included; at `beconn ≥ fullconn` it reaches `maxconn`. The slots
//!   are semaphores sized for `maxconn`: permits above the current limit are
//!   withheld (forgotten) and given back as the load grows. A permit released
//!   while the server is above its limit is withheld instead of being handed
//!   to the next waiter, so the limit also shrinks under a full queue.
//! - **Requeueing** (`option redispatch` without `option persist`): requests
//!   waiting for a slot of a server that goes down (or into maintenance)
//!   leave its queue and are balanced again, as HAProxy's
//!   `pendconn_redistribute` does. Health checks and the runtime API call
//!   [`Requeue::server_down`] through the monitor's requeue hook; a waiter
//!   also looks at its server's state every 250 ms, for changes made without
//!   the monitor.

use super::ServerState;
use fulcrum_balance::AdminState;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// One semaphore whose usable size follows a target below its full size.
#[derive(Debug)]
struct Gate {
    sem: Arc<Semaphore>,
    /// Full size: `maxconn` (or their sum for the backend queue).
    max: usize,
    /// Permits taken out of circulation.
    withheld: usize,
}

impl Gate {
    fn in_use(&self) -> usize {
        self.max
            .saturating_sub(self.withheld)
            .saturating_sub(self.sem.available_permits())
    }

    /// Moves the usable size toward `target`: grows at once, shrinks by what
    /// is free now (the rest when permits come back).
    fn steer(&mut self, target: usize) {
        let usable = self.max - self.withheld;
        if target > usable {
            let n = (target - usable).min(self.withheld);
            self.withheld -= n;
            self.sem.add_permits(n);
        } else if target < usable {
            self.withheld += self.sem.forget_permits(usable - target);
        }
    }

    /// Gives back one permit, or withholds it when the gate is above `target`.
    fn release(&mut self, p: OwnedSemaphorePermit, target: usize) {
        if self.in_use() > target {
            p.forget();
            self.withheld += 1;
        } else {
            drop(p);
        }
    }
}

/// A server's ramp: `minconn` to `maxconn`.
#[derive(Debug, Clone, Copy)]
struct Ramp {
    min: usize,
    max: usize,
}

/// The dynamic limits of one backend.
#[derive(Debug)]
pub(crate) struct DynConn {
    fullconn: AtomicUsize,
    beconn: AtomicUsize,
    ramps: Vec<Option<Ramp>>,
    /// Fixed `maxconn` of servers without a ramp (for the backend queue's size).
    fixed: Vec<usize>,
    gates: Mutex<(Vec<Option<Gate>>, Option<Gate>)>,
}

/// HAProxy's `srv_dynamic_maxconn`.
pub(crate) fn dynamic_max(min: usize, max: usize, beconn: usize, fullconn: usize) -> usize {
    let m = if fullconn == 0 || beconn >= fullconn || min >= max {
        max
    } else {
        min.max(beconn.saturating_mul(max) / fullconn)
    };
    m.max(1)
}

impl DynConn {
    /// `None` unless some server ramps (`minconn` below `maxconn`).
    pub(crate) fn new(
        limits: &[(Option<usize>, Option<usize>)],
        slots: &[Option<Arc<Semaphore>>],
        queue: Option<&Arc<Semaphore>>,
    ) -> Option<Self> {
        let ramps: Vec<Option<Ramp>> = limits
            .iter()
            .map(|&(min, max)| match (min, max) {
                (Some(min), Some(max)) if min < max => Some(Ramp { min, max }),
                _ => None,
            })
            .collect();
        if ramps.iter().all(Option::is_none) {
            return None;
        }
        let fixed = limits.iter().map(|&(_, max)| max.unwrap_or(0)).collect();
        let gates = slots
            .iter()
            .zip(&ramps)
            .map(|(s, r)| match (s, r) {
                (Some(sem), Some(r)) => Some(Gate {
                    sem: sem.clone(),
                    max: r.max,
                    withheld: 0,
                }),
                _ => None,
            })
            .collect();
        let qgate = queue.map(|q| Gate {
            sem: q.clone(),
            max: q.available_permits(),
            withheld: 0,
        });
        let d = DynConn {
            fullconn: AtomicUsize::new(0),
            beconn: AtomicUsize::new(0),
            ramps,
            fixed,
            gates: Mutex::new((gates, qgate)),
        };
        d.steer_all();
        Some(d)
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<Option<Gate>>, Option<Gate>)> {
        self.gates.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn target(&self, i: usize, beconn: usize, fullconn: usize) -> usize {
        match self.ramps.get(i).copied().flatten() {
            Some(r) => dynamic_max(r.min, r.max, beconn, fullconn),
            None => self.fixed.get(i).copied().unwrap_or(0),
        }
    }

    fn queue_target(&self, beconn: usize, fullconn: usize) -> usize {
        (0..self.ramps.len())
            .map(|i| self.target(i, beconn, fullconn))
            .sum()
    }

    fn steer_all(&self) {
        let (b, f) = (
            self.beconn.load(Ordering::Relaxed),
            self.fullconn.load(Ordering::Relaxed),
        );
        let mut g = self.lock();
        for (i, gate) in g.0.iter_mut().enumerate() {
            if let Some(gate) = gate {
                gate.steer(self.target(i, b, f));
            }
        }
        let qt = self.queue_target(b, f);
        if let Some(q) = g.1.as_mut() {
            q.steer(qt);
        }
    }

    pub(crate) fn set_fullconn(&self, n: usize) {
        self.fullconn.store(n, Ordering::Relaxed);
        self.steer_all();
    }

    /// The server's limit now, for tests and stats.
    pub(crate) fn current_max(&self, i: usize) -> usize {
        self.target(
            i,
            self.beconn.load(Ordering::Relaxed),
            self.fullconn.load(Ordering::Relaxed),
        )
    }

    /// A request enters the backend: the limits may grow.
    pub(crate) fn enter(self: &Arc<Self>) -> Load {
        self.beconn.fetch_add(1, Ordering::Relaxed);
        self.steer_all();
        Load(self.clone())
    }

    /// Gives back a lease's permits (server `i`'s slot, the backend queue's),
    /// withholding those above the current limits.
    pub(crate) fn release(
        &self,
        i: usize,
        slot: Option<OwnedSemaphorePermit>,
        queue: Option<OwnedSemaphorePermit>,
    ) {
        let (b, f) = (
            self.beconn.load(Ordering::Relaxed),
            self.fullconn.load(Ordering::Relaxed),
        );
        let t = self.target(i, b, f);
        let qt = self.queue_target(b, f);
        let mut g = self.lock();
        if let Some(p) = slot {
            match g.0.get_mut(i).and_then(Option::as_mut) {
                Some(gate) => gate.release(p, t),
                None => drop(p),
            }
        }
        if let Some(p) = queue {
            match g.1.as_mut() {
                Some(gate) => gate.release(p, qt),
                None => drop(p),
            }
        }
    }
}

/// One request counted in `beconn` until dropped.
#[derive(Debug)]
pub(crate) struct Load(Arc<DynConn>);

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self
            .0
            .beconn
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
    }
}

/// Requeueing of one backend's per-server waiters.
#[derive(Debug)]
pub(crate) struct Requeue {
    /// `option redispatch` without `option persist`.
    enabled: AtomicBool,
    waiting: Vec<AtomicUsize>,
    down: Vec<Notify>,
}

/// Whether a queued request must leave server `s`'s queue.
fn gone(s: &ServerState) -> bool {
    !s.is_up() || s.admin() == AdminState::Maint
}

impl Requeue {
    pub(crate) fn new(servers: usize) -> Self {
        Requeue {
            enabled: AtomicBool::new(false),
            waiting: (0..servers).map(|_| AtomicUsize::new(0)).collect(),
            down: (0..servers).map(|_| Notify::new()).collect(),
        }
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Server `i` went down: wakes its waiters, returns how many leave.
    pub(crate) fn server_down(&self, i: usize) -> u32 {
        if !self.enabled.load(Ordering::Relaxed) {
            return 0;
        }
        let (Some(n), Some(w)) = (self.waiting.get(i), self.down.get(i)) else {
            return 0;
        };
        w.notify_waiters();
        u32::try_from(n.load(Ordering::Relaxed)).unwrap_or(u32::MAX)
    }

    /// Waits for a permit of server `i`'s semaphore; `None` when the server
    /// went down meanwhile and requeueing is on.
    pub(crate) async fn acquire(
        &self,
        i: usize,
        state: &ServerState,
        sem: &Arc<Semaphore>,
    ) -> Option<Result<OwnedSemaphorePermit, tokio::sync::AcquireError>> {
        let (Some(n), Some(w)) = (self.waiting.get(i), self.down.get(i)) else {
            return Some(sem.clone().acquire_owned().await);
        };
        // The server's queue length, for stats (`qcur`) and health log lines.
        let q = n.fetch_add(1, Ordering::Relaxed) + 1;
        state.set_queue_len(u32::try_from(q).unwrap_or(u32::MAX));
        let _left = Left { n, state };
        let acquire = sem.clone().acquire_owned();
        if !self.enabled.load(Ordering::Relaxed) {
            return Some(acquire.await);
        }
        tokio::pin!(acquire);
        loop {
            if gone(state) {
                return None;
            }
            tokio::select! {
                p = &mut acquire => return Some(p),
                _ = w.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}

/// Leaves a server's queue, also when the wait is cancelled (queue timeout).
struct Left<'a> {
    n: &'a AtomicUsize,
    state: &'a ServerState,
}

impl Drop for Left<'_> {
    fn drop(&mut self) {
        let q = self.n.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        self.state
            .set_queue_len(u32::try_from(q).unwrap_or(u32::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_max_follows_haproxy() {
        // minconn 100, maxconn 1000, fullconn 10000 (the manual's example).
        assert_eq!(dynamic_max(100, 1000, 0, 10000), 100);
        assert_eq!(dynamic_max(100, 1000, 5000, 10000), 500);
        assert_eq!(dynamic_max(100, 1000, 10000, 10000), 1000);
        assert_eq!(dynamic_max(100, 1000, 20000, 10000), 1000);
        assert_eq!(dynamic_max(0, 10, 1, 100), 1);
    }

    #[test]
    fn a_gate_shrinks_on_release_and_grows_at_once() {
        let sem = Arc::new(Semaphore::new(4));
        let mut g = Gate {
            sem: sem.clone(),
            max: 4,
            withheld: 0,
        };
        g.steer(1);
        assert_eq!(sem.available_permits(), 1);
        g.steer(3);
        assert_eq!(sem.available_permits(), 3);
        let a = sem.clone().try_acquire_owned().unwrap();
        let b = sem.clone().try_acquire_owned().unwrap();
        g.steer(1);
        assert_eq!(sem.available_permits(), 0);
        // Two in use, limit 1: the first one back is withheld.
        g.release(a, 1);
        assert_eq!(sem.available_permits(), 0);
        g.release(b, 1);
        assert_eq!(sem.available_permits(), 1);
    }
}
