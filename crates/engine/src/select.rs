//! Server selection and queueing, kept small until `fulcrum-balance` lands:
//! smooth weighted round-robin over usable servers, backups only when no active
//! server is up, and `maxconn` slots with a FIFO queue bounded by `timeout queue`.

use crate::runtime::Server;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Live state of one server, shared by every worker thread.
#[derive(Debug)]
pub struct ServerState {
    up: AtomicBool,
    cur_conns: AtomicUsize,
    total_conns: AtomicU64,
    conn_errors: AtomicU64,
}

impl ServerState {
    pub fn new(up: bool) -> Self {
        ServerState {
            up: AtomicBool::new(up),
            cur_conns: AtomicUsize::new(0),
            total_conns: AtomicU64::new(0),
            conn_errors: AtomicU64::new(0),
        }
    }
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
    pub fn cur_conns(&self) -> usize {
        self.cur_conns.load(Ordering::Relaxed)
    }
    pub fn total_conns(&self) -> u64 {
        self.total_conns.load(Ordering::Relaxed)
    }
    pub fn conn_errors(&self) -> u64 {
        self.conn_errors.load(Ordering::Relaxed)
    }
    pub(crate) fn note_conn_error(&self) {
        self.conn_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why no server could be leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoServer {
    /// No server is up (or the backend has none): 503.
    Unavailable,
    /// Waited `timeout queue` without a free slot: 503.
    QueueTimeout,
    /// `maxqueue` reached: 503.
    QueueFull,
}

/// Per-backend selection state.
#[derive(Debug)]
pub struct Balancer {
    rr: AtomicUsize,
    /// Server indexes in smooth weighted round-robin order.
    sequence: Vec<usize>,
    slots: Vec<Option<Arc<Semaphore>>>,
    /// Backend queue, present when every server has a `maxconn`: its permits
    /// are the sum of the servers' slots, so a holder always finds one free.
    queue: Option<Arc<Semaphore>>,
    queued: AtomicUsize,
    maxqueue: Option<usize>,
}

/// A server chosen for one transaction; its slot is released on drop.
#[derive(Debug)]
pub struct Lease {
    pub server: usize,
    state: Arc<ServerState>,
    _slot: Option<OwnedSemaphorePermit>,
    _queue: Option<OwnedSemaphorePermit>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.state.cur_conns.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Balancer {
    pub fn new(servers: &[Server]) -> Self {
        let slots: Vec<_> = servers
            .iter()
            .map(|s| {
                s.maxconn
                    .filter(|m| *m > 0)
                    .map(|m| Arc::new(Semaphore::new(m)))
            })
            .collect();
        let all_limited = !servers.is_empty() && slots.iter().all(Option::is_some);
        let queue = all_limited.then(|| {
            let total: usize = servers.iter().filter_map(|s| s.maxconn).sum();
            Arc::new(Semaphore::new(total))
        });
        let maxqueue = if servers.iter().all(|s| s.maxqueue.is_some()) && !servers.is_empty() {
            Some(servers.iter().filter_map(|s| s.maxqueue).sum())
        } else {
            None
        };
        Balancer {
            rr: AtomicUsize::new(0),
            sequence: wrr_sequence(servers),
            slots,
            queue,
            queued: AtomicUsize::new(0),
            maxqueue,
        }
    }

    /// Picks a usable server, avoiding `exclude` when another one is usable.
    pub fn pick(&self, servers: &[Server], exclude: Option<usize>) -> Option<usize> {
        let usable = |i: usize, backup: bool| {
            servers[i].backup == backup && servers[i].state.is_up() && Some(i) != exclude
        };
        if !self.sequence.is_empty() {
            let start = self.rr.fetch_add(1, Ordering::Relaxed);
            let n = self.sequence.len();
            for k in 0..n {
                let i = self.sequence[(start + k) % n];
                if usable(i, false) {
                    return Some(i);
                }
            }
        }
        // HAProxy uses the first usable backup unless `allbackups`.
        if let Some(i) = (0..servers.len()).find(|&i| usable(i, true)) {
            return Some(i);
        }
        match exclude {
            Some(e) if e < servers.len() && servers[e].state.is_up() => Some(e),
            _ => None,
        }
    }

    /// Chooses a server and takes one of its slots, waiting in the queue (in
    /// arrival order) up to `queue_timeout` when every slot is taken.
    pub async fn lease(
        &self,
        servers: &[Server],
        exclude: Option<usize>,
        queue_timeout: Option<Duration>,
    ) -> Result<Lease, NoServer> {
        let first = self.pick(servers, exclude).ok_or(NoServer::Unavailable)?;
        let deadline = queue_timeout.map(|t| Instant::now() + t);
        if let Some(queue) = &self.queue {
            let qp = match queue.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => self.wait(queue, deadline).await?,
            };
            // Every holder of a queue permit finds a free slot unless servers went
            // down meanwhile; bounded polling covers that rare case.
            for _ in 0..1000 {
                if let Some(lease) = self.try_slots(servers, exclude, first) {
                    let mut lease = lease;
                    lease._queue = Some(qp);
                    return Ok(lease);
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(NoServer::QueueTimeout);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                if self.pick(servers, exclude).is_none() {
                    return Err(NoServer::Unavailable);
                }
            }
            return Err(NoServer::QueueTimeout);
        }
        if let Some(lease) = self.try_slots(servers, exclude, first) {
            return Ok(lease);
        }
        // Some servers are limited, and the chosen one is full: queue on it.
        let sem = self.slots[first].clone().ok_or(NoServer::Unavailable)?;
        let slot = self.wait(&sem, deadline).await?;
        Ok(self.make_lease(servers, first, Some(slot)))
    }

    async fn wait(
        &self,
        sem: &Arc<Semaphore>,
        deadline: Option<Instant>,
    ) -> Result<OwnedSemaphorePermit, NoServer> {
        if let Some(max) = self.maxqueue {
            if self.queued.load(Ordering::Relaxed) >= max {
                return Err(NoServer::QueueFull);
            }
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        let acquire = sem.clone().acquire_owned();
        let res = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), acquire).await.ok(),
            None => Some(acquire.await),
        };
        self.queued.fetch_sub(1, Ordering::Relaxed);
        match res {
            Some(Ok(p)) => Ok(p),
            _ => Err(NoServer::QueueTimeout),
        }
    }

    /// Tries `first`, then every other usable server in round-robin order.
    fn try_slots(&self, servers: &[Server], exclude: Option<usize>, first: usize) -> Option<Lease> {
        let n = servers.len();
        let order = std::iter::once(first).chain((1..n).map(|k| (first + k) % n));
        for i in order {
            if i != first && (!servers[i].state.is_up() || Some(i) == exclude || servers[i].backup)
            {
                continue;
            }
            match &self.slots[i] {
                None => return Some(self.make_lease(servers, i, None)),
                Some(sem) => {
                    if let Ok(p) = sem.clone().try_acquire_owned() {
                        return Some(self.make_lease(servers, i, Some(p)));
                    }
                }
            }
        }
        None
    }

    fn make_lease(
        &self,
        servers: &[Server],
        i: usize,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Lease {
        let state = servers[i].state.clone();
        state.cur_conns.fetch_add(1, Ordering::Relaxed);
        state.total_conns.fetch_add(1, Ordering::Relaxed);
        Lease {
            server: i,
            state,
            _slot: slot,
            _queue: None,
        }
    }

    /// Requests waiting in this backend's queues.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// Smooth weighted round-robin (as nginx spreads weights) over active servers.
fn wrr_sequence(servers: &[Server]) -> Vec<usize> {
    let active: Vec<(usize, i64)> = servers
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.backup && s.weight > 0)
        .map(|(i, s)| (i, i64::from(s.weight.min(256))))
        .collect();
    let total: i64 = active.iter().map(|(_, w)| w).sum();
    let mut current = vec![0i64; active.len()];
    let mut seq = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best = 0;
        for (k, (_, w)) in active.iter().enumerate() {
            current[k] += w;
            if current[k] > current[best] {
                best = k;
            }
        }
        current[best] -= total;
        seq.push(active[best].0);
    }
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn servers(weights: &[u32]) -> Vec<Server> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut s = Server::new(&format!("s{i}"), ([127, 0, 0, 1], 1).into());
                s.weight = *w;
                s
            })
            .collect()
    }

    proptest! {
        #[test]
        fn wrr_honours_weights(weights in proptest::collection::vec(0u32..20, 1..6)) {
            let sv = servers(&weights);
            let seq = wrr_sequence(&sv);
            for (i, w) in weights.iter().enumerate() {
                prop_assert_eq!(seq.iter().filter(|&&x| x == i).count(), *w as usize);
            }
        }
    }

    #[test]
    fn down_servers_are_skipped_and_backup_used_last() {
        let mut sv = servers(&[1, 1, 1]);
        sv[2].backup = true;
        let b = Balancer::new(&sv);
        sv[0].state.set_up(false);
        for _ in 0..5 {
            assert_eq!(b.pick(&sv, None), Some(1));
        }
        sv[1].state.set_up(false);
        assert_eq!(b.pick(&sv, None), Some(2));
        sv[2].state.set_up(false);
        assert_eq!(b.pick(&sv, None), None);
    }

    #[test]
    fn exclude_is_avoided_when_possible() {
        let sv = servers(&[1, 1]);
        let b = Balancer::new(&sv);
        for _ in 0..4 {
            assert_eq!(b.pick(&sv, Some(0)), Some(1));
        }
        let one = servers(&[1]);
        let b1 = Balancer::new(&one);
        assert_eq!(b1.pick(&one, Some(0)), Some(0));
    }
}
