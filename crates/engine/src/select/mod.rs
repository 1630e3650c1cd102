//! Server selection and queueing. The choice itself is fulcrum-balance's (every
//! `balance` algorithm, server state in atomics shared with health checks and
//! the runtime API); this module adds `maxconn` slots and the FIFO queue bounded
//! by `timeout queue` / `maxqueue`.

use crate::gate::{Gate, GatePermit};
use crate::runtime::Server;
use arc_swap::ArcSwapOption;
pub use fulcrum_balance::{BalanceAlgo, BalanceOptions, SelectKey, ServerState};
use fulcrum_proto::{BodyFraming, Method, RequestHead, Version};
use fulcrum_rules::view::{RequestView, SessionView};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod dynslot;
mod key;
mod limits;
mod requeue;
pub use key::SourceKey;
pub(crate) use key::{hash_expr, HashCtx, HttpKey, TcpKey};
pub(crate) use limits::Bounds;

/// Why no server could be leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoServer {
    /// No server is up (or the backend has none): 503.
    Unavailable,
    /// Waited `timeout queue` without a free slot: 503.
    QueueTimeout,
    /// `maxqueue` reached: 503.
    QueueFull,
    /// The server this request waited for went down and `option redispatch`
    /// sends the request elsewhere (see [`dynconn`]).
    Requeued,
}

/// Per-backend selection state.
#[derive(Debug)]
pub struct Balancer {
    inner: fulcrum_balance::Balancer,
    /// Each limited server's slots, sized by `limits`.
    slots: Vec<ArcSwapOption<Gate>>,
    /// Backend queue, present when every server has a `maxconn`: its permits
    /// are the sum of the servers' slots, so a holder always finds one free.
    queue: ArcSwapOption<Gate>,
    queued: AtomicUsize,
    /// `maxqueue` of the whole backend (0: none), when every server has one.
    maxqueue: AtomicUsize,
    /// `balance hash <expr>`, compiled once with the configuration.
    hash_expr: OnceLock<fulcrum_rules::Expr>,
    /// `minconn`/`maxconn` of each server, and the load that ramps them.
    limits: limits::ConnLimits,
    /// Requests waiting for a server that goes down (`option redispatch`).
    requeue: requeue::Requeue,
    /// Servers added with `track` naming one of this backend's servers.
    followers: std::sync::Mutex<Vec<dynslot::Follower>>,
}

/// A server chosen for one transaction; its slot is released on drop.
#[derive(Debug)]
pub struct Lease {
    pub server: usize,
    lb: Arc<Balancer>,
    slot: Option<GatePermit>,
    queue: Option<GatePermit>,
    /// This request in the backend's load (`minconn`/`fullconn`).
    load: Option<limits::Load>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.lb.inner.drop_conn(self.server);
        // The load drops first: permits above the new limits are withheld.
        drop(self.load.take());
        drop(self.slot.take());
        drop(self.queue.take());
    }
}

impl Lease {
    fn with_load(mut self, load: Option<limits::Load>) -> Self {
        self.load = load;
        self
    }
}

/// A usable server with a `maxconn` (active ones first, then backups) for a
/// request whose candidates are all full; the least queued one.
fn full_candidate(
    servers: &[Server],
    slots: &[ArcSwapOption<Gate>],
    exclude: Option<usize>,
) -> Option<usize> {
    let usable = |i: &usize| {
        servers[*i].state.is_usable() && Some(*i) != exclude && slots[*i].load().is_some()
    };
    let active = (0..servers.len()).filter(|i| usable(i) && !servers[*i].state.is_backup());
    let pick =
        |it: &mut dyn Iterator<Item = usize>| it.min_by_key(|i| servers[*i].state.queue_len());
    pick(&mut active.clone()).or_else(|| pick(&mut (0..servers.len()).filter(|i| usable(i))))
}

/// A key that also avoids one server (retries, redispatch).
struct Avoiding<'a> {
    key: &'a dyn SelectKey,
    exclude: Option<usize>,
}

impl SelectKey for Avoiding<'_> {
    fn source(&self) -> Option<IpAddr> {
        self.key.source()
    }
    fn uri(&self) -> Option<&[u8]> {
        self.key.uri()
    }
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.key.header(name)
    }
    fn post_body(&self) -> Option<&[u8]> {
        self.key.post_body()
    }
    fn payload(&self) -> Option<&[u8]> {
        self.key.payload()
    }
    fn hash_input(&self) -> Option<&[u8]> {
        self.key.hash_input()
    }
    fn is_excluded(&self, server: usize) -> bool {
        Some(server) == self.exclude || self.key.is_excluded(server)
    }
}

/// Builds the shared state of each server from its settings, keeping whether it
/// is up, and giving servers without `id` the next free number as HAProxy does.
pub(crate) fn server_states(servers: &mut [Server]) {
    let mut used: Vec<u32> = servers.iter().filter_map(|s| s.id).collect();
    let mut next = 1;
    for s in servers.iter_mut() {
        let id = match s.id {
            Some(id) => id,
            None => {
                while used.contains(&next) {
                    next += 1;
                }
                used.push(next);
                next
            }
        };
        let maxconn = s
            .maxconn
            .map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX));
        let st = ServerState::new(id, s.weight, s.backup).with_maxconn(maxconn);
        st.set_up(s.state.is_up());
        if let Some(a) = s.state.addr() {
            st.set_addr(a);
        }
        s.state = Arc::new(st);
        s.live = Arc::new(arc_swap::ArcSwap::from_pointee(crate::runtime::Live {
            send_proxy: s.send_proxy,
            source: s.source,
            maxqueue: s.maxqueue.filter(|m| *m > 0),
        }));
    }
}

impl Balancer {
    /// Selection for `servers` (whose states come from [`server_states`]).
    pub fn new(
        servers: &[Server],
        algo: BalanceAlgo,
        opts: BalanceOptions,
    ) -> Result<Self, String> {
        let states = servers.iter().map(|s| s.state.clone()).collect();
        let inner =
            fulcrum_balance::Balancer::new(algo, opts, states).map_err(|e| e.to_string())?;
        let bounds: Vec<_> = (servers.iter())
            .map(|s| limits::Bounds::new(s.minconn, s.maxconn.filter(|m| *m > 0)))
            .collect();
        let slots: Vec<_> = (bounds.iter())
            .map(|b| (b.max > 0).then(|| Gate::new(b.max)))
            .collect();
        // Spare slots (nameless, for `add server`) do not count here.
        let present = || servers.iter().zip(&slots).filter(|(s, _)| s.is_present());
        let all_limited = present().next().is_some() && present().all(|(_, x)| x.is_some());
        let queue = all_limited.then(|| {
            let total: usize = servers.iter().filter_map(|s| s.maxconn).sum();
            Gate::new(total)
        });
        let maxqueue = if present().next().is_some() && present().all(|(s, _)| s.maxqueue.is_some())
        {
            Some(servers.iter().filter_map(|s| s.maxqueue).sum())
        } else {
            None
        };
        Ok(Balancer {
            inner,
            slots: slots.into_iter().map(ArcSwapOption::new).collect(),
            queue: ArcSwapOption::new(queue),
            queued: AtomicUsize::new(0),
            maxqueue: AtomicUsize::new(maxqueue.unwrap_or(0)),
            hash_expr: OnceLock::new(),
            limits: limits::ConnLimits::new(bounds),
            requeue: requeue::Requeue::new(servers.len()),
            followers: Default::default(),
        })
    }

    /// Whether selection looks at the request (URI, headers): the engine then
    /// keeps a copy of the head for it.
    pub fn needs_request(&self) -> bool {
        matches!(
            self.inner.algo(),
            BalanceAlgo::Uri(_)
                | BalanceAlgo::UrlParam { .. }
                | BalanceAlgo::Hdr { .. }
                | BalanceAlgo::Hash
        )
    }

    /// Sets the expression of `balance hash <expr>` (once, at compile time).
    pub fn set_hash_expr(&self, expr: fulcrum_rules::Expr) {
        // A second call keeps the first expression: compile sets it once.
        let _ = self.hash_expr.set(expr);
    }

    /// The algorithm, for callers building a key.
    pub fn algo(&self) -> &BalanceAlgo {
        self.inner.algo()
    }

    /// Tell the algorithm that server `idx` changed (weight, up/down, admin state).
    pub fn on_server_change(&self, idx: usize) {
        self.inner.on_server_change(idx);
        self.pass_on(idx);
    }

    /// `add server` in spare slot `idx` (still in maintenance): its `id` and
    /// `backup` flag.
    pub(crate) fn set_identity(&self, idx: usize, id: u32, backup: bool) {
        self.inner.set_identity(idx, id, backup);
    }

    /// Picks a usable server, avoiding `exclude` when another one is usable.
    pub fn pick(&self, key: &dyn SelectKey, exclude: Option<usize>) -> Option<usize> {
        self.inner.select(&Avoiding { key, exclude })
    }

    /// `option redispatch` without `option persist`: requests queued on a
    /// server that goes down are balanced again.
    pub fn set_requeue_on_down(&self, on: bool) {
        self.requeue.set_enabled(on);
    }

    /// Server `i` went down or into maintenance: its queued requests leave
    /// (when requeueing is on); returns how many, for health log lines.
    pub fn requeue_down(&self, i: usize) -> u32 {
        let n = self.requeue.server_down(i);
        if n > 0 {
            // They are leaving: the log line says what remains after them.
            if let Some(st) = self.inner.servers().get(i) {
                st.set_queue_len(0);
            }
        }
        n
    }

    /// Takes server `i`'s slot whatever the algorithm says (persistence chose
    /// it), waiting in its queue up to `queue_timeout` when it is full.
    pub async fn lease_server(
        self: &Arc<Self>,
        i: usize,
        queue_timeout: Option<Duration>,
    ) -> Result<Lease, NoServer> {
        let load = self.enter();
        let sem = match self.slots.get(i).map(ArcSwapOption::load_full) {
            None => return Err(NoServer::Unavailable),
            Some(None) => return Ok(self.make_lease(i, None).with_load(load)),
            Some(Some(s)) => s,
        };
        let slot = match sem.try_acquire() {
            Some(p) => p,
            None => {
                let deadline = queue_timeout.map(|t| Instant::now() + t);
                self.wait(&sem, deadline, Some(i)).await?
            }
        };
        Ok(self.make_lease(i, Some(slot)).with_load(load))
    }

    /// Chooses a server and takes one of its slots, waiting in the queue (in
    /// arrival order) up to `queue_timeout` when every slot is taken.
    pub async fn lease(
        self: &Arc<Self>,
        servers: &[Server],
        key: &dyn SelectKey,
        exclude: Option<usize>,
        queue_timeout: Option<Duration>,
    ) -> Result<Lease, NoServer> {
        let deadline = queue_timeout.map(|t| Instant::now() + t);
        let load = self.enter();
        let first = self.pick(key, exclude);
        if first.is_none() && !self.inner.has_usable() {
            return Err(NoServer::Unavailable);
        }
        if let Some(queue) = self.queue.load_full() {
            let qp = match queue.try_acquire() {
                Some(p) => p,
                None => self.wait(&queue, deadline, None).await?,
            };
            // A holder of a queue permit finds a free slot unless servers went
            // down meanwhile; bounded polling covers that rare case.
            // The first try uses the choice already made: picking again would move
            // round-robin twice per request (with two servers, always the same one).
            let mut choice = first;
            for attempt in 0..1000 {
                if attempt > 0 {
                    choice = self.pick(key, exclude);
                }
                if let Some(mut lease) = self.try_slots(servers, exclude, choice) {
                    lease.queue = Some(qp);
                    return Ok(lease.with_load(load));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(NoServer::QueueTimeout);
                }
                if !self.inner.has_usable() {
                    return Err(NoServer::Unavailable);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            return Err(NoServer::QueueTimeout);
        }
        if let Some(lease) = self.try_slots(servers, exclude, first) {
            return Ok(lease.with_load(load));
        }
        // Some servers are limited and the chosen one is full: queue on it. When
        // every candidate is full the algorithm chose none: queue on a limited
        // one, as HAProxy's backend queue would feed it.
        let i = match first {
            Some(i) => i,
            None => full_candidate(servers, &self.slots, exclude).ok_or(NoServer::Unavailable)?,
        };
        let sem = self.slots[i].load_full().ok_or(NoServer::Unavailable)?;
        match self.wait(&sem, deadline, Some(i)).await {
            Ok(slot) => Ok(self.make_lease(i, Some(slot)).with_load(load)),
            // Its server went down: balanced again, within the same deadline.
            Err(NoServer::Requeued) => {
                drop(load);
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                Box::pin(self.lease(servers, key, exclude, left)).await
            }
            Err(e) => Err(e),
        }
    }

    /// Waits for a permit of `sem` (server `server`'s slots, or the backend
    /// queue when `None`), in arrival order, until `deadline`.
    async fn wait(
        &self,
        sem: &Arc<Gate>,
        deadline: Option<Instant>,
        server: Option<usize>,
    ) -> Result<GatePermit, NoServer> {
        let max = self.maxqueue.load(Ordering::Relaxed);
        if max > 0 && self.queued.load(Ordering::Relaxed) >= max {
            return Err(NoServer::QueueFull);
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        let state = server.and_then(|i| Some((i, self.inner.servers().get(i)?.clone())));
        let acquire = async {
            match &state {
                Some((i, st)) => self.requeue.acquire(*i, st, sem).await,
                None => Some(sem.acquire().await),
            }
        };
        let res = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), acquire).await.ok(),
            None => Some(acquire.await),
        };
        self.queued.fetch_sub(1, Ordering::Relaxed);
        match res {
            Some(Some(Some(p))) => Ok(p),
            Some(None) => Err(NoServer::Requeued),
            _ => Err(NoServer::QueueTimeout),
        }
    }

    /// Tries the chosen server, then every other usable one in order.
    fn try_slots(
        self: &Arc<Self>,
        servers: &[Server],
        exclude: Option<usize>,
        first: Option<usize>,
    ) -> Option<Lease> {
        let n = servers.len();
        let start = first.unwrap_or(0);
        for k in 0..n {
            let i = (start + k) % n;
            if Some(i) != first
                && (!servers[i].state.is_usable()
                    || Some(i) == exclude
                    || servers[i].state.is_backup())
            {
                continue;
            }
            match self.slots[i].load_full() {
                None => return Some(self.make_lease(i, None)),
                Some(sem) => {
                    if let Some(p) = sem.try_acquire() {
                        return Some(self.make_lease(i, Some(p)));
                    }
                }
            }
        }
        None
    }

    fn make_lease(self: &Arc<Self>, i: usize, slot: Option<GatePermit>) -> Lease {
        self.inner.take_conn(i);
        Lease {
            server: i,
            lb: self.clone(),
            slot,
            queue: None,
            load: None,
        }
    }

    /// Requests waiting in this backend's queues.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(weights: &[u32]) -> Vec<Server> {
        let mut v: Vec<Server> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut s = Server::new(&format!("s{i}"), ([127, 0, 0, 1], 1).into());
                s.weight = *w;
                s
            })
            .collect();
        server_states(&mut v);
        v
    }

    #[test]
    fn weights_down_servers_and_backups() {
        let mut sv = servers(&[3, 1, 1]);
        sv[2].backup = true;
        server_states(&mut sv);
        let b = Balancer::new(&sv, BalanceAlgo::RoundRobin, BalanceOptions::default()).unwrap();
        let key = SourceKey([10, 0, 0, 1].into());
        let mut hits = [0; 3];
        for _ in 0..40 {
            hits[b.pick(&key, None).unwrap()] += 1;
        }
        assert_eq!(hits, [30, 10, 0]);
        sv[0].state.set_up(false);
        b.on_server_change(0);
        sv[1].state.set_up(false);
        b.on_server_change(1);
        assert_eq!(b.pick(&key, None), Some(2));
        sv[2].state.set_up(false);
        b.on_server_change(2);
        assert_eq!(b.pick(&key, None), None);
    }

    #[test]
    fn exclude_is_avoided_when_possible() {
        let sv = servers(&[1, 1]);
        let b = Balancer::new(&sv, BalanceAlgo::RoundRobin, BalanceOptions::default()).unwrap();
        let key = SourceKey([10, 0, 0, 1].into());
        for _ in 0..4 {
            assert_eq!(b.pick(&key, Some(0)), Some(1));
        }
    }

    #[test]
    fn ids_are_assigned_like_haproxy() {
        let mut sv = servers(&[1, 1, 1]);
        sv[0].id = Some(2);
        server_states(&mut sv);
        let ids: Vec<u32> = sv.iter().map(|s| s.state.id()).collect();
        assert_eq!(ids, [2, 1, 3]);
    }
}
