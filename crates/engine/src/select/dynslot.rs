//! `add server … maxconn N` and `del server`: a spare slot's connection limit,
//! set while the slot takes no traffic, and the backend queue that follows it
//! (kept only while every server has a `maxconn`, sized by their sum).

use super::{Balancer, ServerState};
use crate::runtime::Server;
use fulcrum_balance::AdminState;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError, Weak};
use tokio::sync::Semaphore;

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

    /// Gives slot `idx` (in maintenance, without connections) `maxconn`
    /// (`None`: unlimited); `present(i)` tells which slots hold a server once
    /// this change is done.
    pub(crate) fn set_slot_maxconn(
        &self,
        idx: usize,
        maxconn: Option<usize>,
        present: impl Fn(usize) -> bool,
    ) -> Result<(), String> {
        if self.dynconn.is_some() && maxconn.is_some() {
            // The `minconn` ramps size their gates once, at start.
            return Err(
                "'maxconn' is not supported yet by Fulcrum for dynamic servers in a \
                        backend whose servers ramp with 'minconn'."
                    .into(),
            );
        }
        let (Some(slot), Some(st)) = (self.slots.get(idx), self.inner.servers().get(idx)) else {
            return Ok(());
        };
        let old = usize::try_from(st.maxconn()).unwrap_or(usize::MAX);
        let new = maxconn.filter(|m| *m > 0);
        slot.store(new.map(|m| Arc::new(Semaphore::new(m))));
        st.set_maxconn(new.map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX)));
        let new = new.unwrap_or(0);
        let servers = self.inner.servers();
        let mut present = (0..servers.len()).filter(|&i| present(i));
        let all_limited =
            present.clone().next().is_some() && present.all(|i| self.slots[i].load().is_some());
        match (all_limited, self.queue.load_full()) {
            (false, _) => self.queue.store(None),
            (true, Some(q)) if new >= old => q.add_permits(new - old),
            // Free permits go now; those in use are simply not refilled.
            (true, Some(q)) => {
                let _ = q.forget_permits(old - new);
            }
            (true, None) => {
                let total = (0..servers.len())
                    .filter(|i| self.slots[*i].load().is_some())
                    .map(|i| servers[i].maxconn() as usize)
                    .sum();
                self.queue.store(Some(Arc::new(Semaphore::new(total))));
            }
        }
        Ok(())
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
