//! Requeueing (`option redispatch` without `option persist`): requests
//! waiting for a slot of a server that goes down (or into maintenance) leave
//! its queue and are balanced again, as HAProxy's `pendconn_redistribute`
//! does. Health checks and the runtime API call [`Requeue::server_down`]
//! through the monitor's requeue hook; a waiter also looks at its server's
//! state every 250 ms, for changes made without the monitor.

use super::ServerState;
use crate::gate::{Gate, GatePermit};
use fulcrum_balance::AdminState;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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

    /// Waits for a permit of server `i`'s gate; `None` when the server
    /// went down meanwhile and requeueing is on.
    pub(crate) async fn acquire(
        &self,
        i: usize,
        state: &ServerState,
        gate: &Arc<Gate>,
    ) -> Option<Option<GatePermit>> {
        let (Some(n), Some(w)) = (self.waiting.get(i), self.down.get(i)) else {
            return Some(gate.acquire().await);
        };
        // The server's queue length, for stats (`qcur`) and health log lines.
        let q = n.fetch_add(1, Ordering::Relaxed) + 1;
        state.set_queue_len(u32::try_from(q).unwrap_or(u32::MAX));
        let _left = Left { n, state };
        let acquire = gate.acquire();
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
