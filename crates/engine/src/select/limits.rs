//! Server connection limits, as HAProxy keeps them: each server has a
//! `minconn` and a `maxconn` (equal for a fixed limit; `maxconn 0`: none).
//!
//! - A server with `minconn` below `maxconn` ramps: it accepts
//!   `max(minconn, beconn × maxconn / fullconn)` connections (at least 1),
//!   `beconn` being the backend's requests, queued ones included; at
//!   `beconn ≥ fullconn` it reaches `maxconn`.
//! - `set maxconn server` and `add server` change the limits at run time.
//!
//! Each limited server's slots are a [`Gate`] sized to its limit now; the
//! backend queue, kept while every server has a limit, is a gate sized to
//! their sum. Shrinking withholds permits as they come back, so a lower limit
//! also holds under a full queue and no live connection is cut.
//!
//! A server that goes from no limit to one gets a fresh gate: connections
//! already open on it do not count against the new limit.

use super::Balancer;
use crate::gate::Gate;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One server's `minconn` and `maxconn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub min: usize,
    /// 0: no limit.
    pub max: usize,
}

impl Bounds {
    /// From the compiled settings: `minconn` is set only when it ramps.
    pub(crate) fn new(minconn: Option<usize>, maxconn: Option<usize>) -> Self {
        let max = maxconn.unwrap_or(0);
        Bounds {
            min: minconn.unwrap_or(max),
            max,
        }
    }

    fn ramps(&self) -> bool {
        self.max > 0 && self.min != self.max
    }
}

/// HAProxy's `srv_dynamic_maxconn`.
pub(crate) fn dynamic_max(min: usize, max: usize, beconn: usize, fullconn: usize) -> usize {
    let m = if fullconn == 0 || beconn >= fullconn || min == max {
        max
    } else {
        min.max(beconn.saturating_mul(max) / fullconn)
    };
    m.max(1)
}

/// The limits of one backend's servers.
#[derive(Debug)]
pub(crate) struct ConnLimits {
    fullconn: AtomicUsize,
    /// The backend's requests, counted while some server ramps.
    beconn: AtomicUsize,
    ramping: AtomicBool,
    bounds: Mutex<Vec<Bounds>>,
}

impl ConnLimits {
    pub(crate) fn new(bounds: Vec<Bounds>) -> Self {
        ConnLimits {
            fullconn: AtomicUsize::new(0),
            beconn: AtomicUsize::new(0),
            ramping: AtomicBool::new(bounds.iter().any(Bounds::ramps)),
            bounds: Mutex::new(bounds),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Bounds>> {
        self.bounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn target(&self, b: Bounds) -> usize {
        dynamic_max(
            b.min,
            b.max,
            self.beconn.load(Ordering::Relaxed),
            self.fullconn.load(Ordering::Relaxed),
        )
    }
}

/// One request counted in the backend's load until dropped.
#[derive(Debug)]
pub(crate) struct Load(Arc<Balancer>);

impl Drop for Load {
    fn drop(&mut self) {
        let l = &self.0.limits;
        let _ = (l.beconn).fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
        self.0.steer();
    }
}

impl Balancer {
    /// Sizes every gate to its server's limit now, and the queue to their sum.
    fn steer(&self) {
        let bounds = self.limits.lock();
        let mut total = 0;
        for (b, slot) in bounds.iter().zip(&self.slots) {
            if let Some(g) = slot.load().as_ref() {
                let t = self.limits.target(*b);
                g.resize(t);
                total += t;
            }
        }
        if let Some(q) = self.queue.load().as_ref() {
            q.resize(total.max(1));
        }
    }

    /// A request enters the backend: ramping limits may grow.
    pub(super) fn enter(self: &Arc<Self>) -> Option<Load> {
        if !self.limits.ramping.load(Ordering::Relaxed) {
            return None;
        }
        self.limits.beconn.fetch_add(1, Ordering::Relaxed);
        self.steer();
        Some(Load(self.clone()))
    }

    /// `fullconn` (computed by compile when unset): where ramping servers
    /// reach their `maxconn`.
    pub fn set_fullconn(&self, n: usize) {
        self.limits.fullconn.store(n, Ordering::Relaxed);
        self.steer();
    }

    /// Server `i`'s connection limit now (`minconn`/`fullconn` make it move);
    /// `None` when unlimited.
    pub fn current_maxconn(&self, i: usize) -> Option<usize> {
        let b = *self.limits.lock().get(i)?;
        (b.max > 0).then(|| self.limits.target(b))
    }

    /// `set maxconn server`, as HAProxy: a fixed limit becomes `v` (0: none);
    /// a ramp keeps its `minconn` and ends at `v`. `present(i)` tells which
    /// slots hold a server.
    pub(crate) fn set_maxconn(&self, i: usize, v: usize, present: impl Fn(usize) -> bool) {
        let Some(old) = self.limits.lock().get(i).copied() else {
            return;
        };
        let new = if old.min == old.max {
            Bounds { min: v, max: v }
        } else {
            Bounds {
                min: old.min,
                max: v,
            }
        };
        self.set_limits(i, new, present);
    }

    /// Gives server `i` new limits, creating or dropping its gate and the
    /// backend queue's as they become needed.
    pub(crate) fn set_limits(&self, i: usize, new: Bounds, present: impl Fn(usize) -> bool) {
        {
            let mut bounds = self.limits.lock();
            let Some(b) = bounds.get_mut(i) else {
                return;
            };
            *b = new;
            let ramping = bounds.iter().any(Bounds::ramps);
            self.limits.ramping.store(ramping, Ordering::Relaxed);
            let slot = &self.slots[i];
            match (new.max > 0, slot.load().is_some()) {
                (false, true) => slot.store(None),
                // Sized by `steer` below.
                (true, false) => slot.store(Some(Gate::new(new.max))),
                _ => {}
            }
            let mut held = (0..self.slots.len()).filter(|&k| present(k));
            let all_limited =
                held.clone().next().is_some() && held.all(|k| self.slots[k].load().is_some());
            match (all_limited, self.queue.load().is_some()) {
                (false, true) => self.queue.store(None),
                (true, false) => self.queue.store(Some(Gate::new(1))),
                _ => {}
            }
        }
        if let Some(st) = self.inner.servers().get(i) {
            st.set_maxconn(u32::try_from(new.max).unwrap_or(u32::MAX));
        }
        self.steer();
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
        // `set maxconn server` below a ramp's minconn: minconn holds.
        assert_eq!(dynamic_max(50, 20, 10, 100), 50);
    }

    #[test]
    fn bounds_from_settings() {
        assert_eq!(Bounds::new(None, Some(5)), Bounds { min: 5, max: 5 });
        assert_eq!(Bounds::new(Some(2), Some(5)), Bounds { min: 2, max: 5 });
        assert_eq!(Bounds::new(None, None), Bounds { min: 0, max: 0 });
        assert!(Bounds::new(Some(2), Some(5)).ramps());
        assert!(!Bounds::new(None, Some(5)).ramps());
    }
}
