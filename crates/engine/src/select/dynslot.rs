//! What `add server` and `del server` change in a backend's selection besides
//! the limits (see `limits`): servers following another's state (`track`)
//! and the backend's `maxqueue`.

use super::{Balancer, ServerState};
use crate::runtime::Server;
use fulcrum_balance::AdminState;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError, Weak};

/// A server added with `track`: its state follows server `tracked` of the
/// backend whose balancer keeps this.
#[derive(Debug)]
pub(crate) struct Follower {
    tracked: usize,
    state: Arc<ServerState>,
    /// The tracker's backend (maybe this one: weak, so no cycle).
    lb: Weak<Balancer>,
    idx: usize,
}

impl Balancer {
    fn followers(&self) -> MutexGuard<'_, Vec<Follower>> {
        self.followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Server `idx` of `lb` (state `state`) follows this backend's `tracked`.
    pub(crate) fn follow(
        &self,
        tracked: usize,
        lb: &Arc<Balancer>,
        idx: usize,
        state: Arc<ServerState>,
    ) {
        self.followers().push(Follower {
            tracked,
            state,
            lb: Arc::downgrade(lb),
            idx,
        });
        self.pass_on(tracked);
    }

    /// `del server` of a tracker.
    pub(crate) fn unfollow(&self, state: &Arc<ServerState>) {
        self.followers().retain(|f| !Arc::ptr_eq(&f.state, state));
    }

    /// Server `idx` is tracked by an added server (`del server` refuses it).
    pub(crate) fn is_followed(&self, idx: usize) -> bool {
        self.followers().iter().any(|f| f.tracked == idx)
    }

    /// Server `idx` changed: its trackers are up when it is up and not in
    /// maintenance (HAProxy shows them in maintenance "via" it; here DOWN).
    pub(super) fn pass_on(&self, idx: usize) {
        let Some(src) = self.inner.servers().get(idx) else {
            return;
        };
        // Outside the lock: a tracker may be in this very backend.
        let to: Vec<_> = (self.followers().iter())
            .filter(|f| f.tracked == idx)
            .map(|f| (f.state.clone(), f.lb.clone(), f.idx))
            .collect();
        let up = src.is_up() && src.admin() != AdminState::Maint;
        for (st, lb, i) in to {
            st.set_up(up);
            if let Some(lb) = lb.upgrade() {
                lb.on_server_change(i);
            }
        }
    }

    /// After `add server … maxqueue N` or `del server`: the backend's bound
    /// is the sum of its servers' `maxqueue` while every server has one.
    pub(crate) fn refresh_maxqueue(&self, servers: &[Server]) {
        let mut present = servers.iter().filter(|s| s.is_present());
        let all = present.clone().next().is_some() && present.all(|s| s.queue_limit().is_some());
        let total = servers.iter().filter_map(Server::queue_limit).sum();
        self.maxqueue
            .store(if all { total } else { 0 }, Ordering::Relaxed);
    }
}
