//! Server selection and queueing. The choice itself is fulcrum-balance's (every
//! `balance` algorithm, server state in atomics shared with health checks and
//! the runtime API); this module adds `maxconn` slots and the FIFO queue bounded
//! by `timeout queue` / `maxqueue`.

use crate::runtime::Server;
pub use fulcrum_balance::{BalanceAlgo, BalanceOptions, SelectKey, ServerState};
use fulcrum_proto::{BodyFraming, Method, RequestHead, Version};
use fulcrum_rules::view::{RequestView, SessionView};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    inner: fulcrum_balance::Balancer,
    slots: Vec<Option<Arc<Semaphore>>>,
    /// Backend queue, present when every server has a `maxconn`: its permits
    /// are the sum of the servers' slots, so a holder always finds one free.
    queue: Option<Arc<Semaphore>>,
    queued: AtomicUsize,
    maxqueue: Option<usize>,
    /// `balance hash <expr>`, compiled once with the configuration.
    hash_expr: OnceLock<fulcrum_rules::Expr>,
}

/// A server chosen for one transaction; its slot is released on drop.
#[derive(Debug)]
pub struct Lease {
    pub server: usize,
    lb: Arc<Balancer>,
    _slot: Option<OwnedSemaphorePermit>,
    _queue: Option<OwnedSemaphorePermit>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.lb.inner.drop_conn(self.server);
    }
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

/// A key with only the client's address (TCP mode).
pub struct SourceKey(pub IpAddr);

impl SelectKey for SourceKey {
    fn source(&self) -> Option<IpAddr> {
        Some(self.0)
    }
}

/// A TCP connection's key: the client's address and the bytes buffered by
/// `tcp-request content` inspection (`balance rdp-cookie`, `balance hash`).
pub(crate) struct TcpKey<'a> {
    src: IpAddr,
    payload: &'a [u8],
    hash: Option<Vec<u8>>,
}

impl<'a> TcpKey<'a> {
    pub(crate) fn new(lb: &Balancer, ctx: HashCtx<'_>, payload: &'a [u8]) -> Self {
        let hash = lb.hash_expr.get().and_then(|e| {
            let view = HashView {
                ctx,
                req: None,
                body: payload,
                vars: fulcrum_rules::Vars::default(),
            };
            e.eval_session(&view).map(sample_bin)
        });
        TcpKey {
            src: ctx.src.ip(),
            payload,
            hash,
        }
    }
}

impl SelectKey for TcpKey<'_> {
    fn source(&self) -> Option<IpAddr> {
        Some(self.src)
    }
    fn payload(&self) -> Option<&[u8]> {
        Some(self.payload)
    }
    fn hash_input(&self) -> Option<&[u8]> {
        self.hash.as_deref()
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
        s.state = Arc::new(st);
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
        let maxqueue = if !servers.is_empty() && servers.iter().all(|s| s.maxqueue.is_some()) {
            Some(servers.iter().filter_map(|s| s.maxqueue).sum())
        } else {
            None
        };
        Ok(Balancer {
            inner,
            slots,
            queue,
            queued: AtomicUsize::new(0),
            maxqueue,
            hash_expr: OnceLock::new(),
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
    }

    /// Picks a usable server, avoiding `exclude` when another one is usable.
    pub fn pick(&self, key: &dyn SelectKey, exclude: Option<usize>) -> Option<usize> {
        self.inner.select(&Avoiding { key, exclude })
    }

    /// Takes server `i`'s slot whatever the algorithm says (persistence chose
    /// it), waiting in its queue up to `queue_timeout` when it is full.
    pub async fn lease_server(
        self: &Arc<Self>,
        i: usize,
        queue_timeout: Option<Duration>,
    ) -> Result<Lease, NoServer> {
        let sem = match self.slots.get(i) {
            None => return Err(NoServer::Unavailable),
            Some(None) => return Ok(self.make_lease(i, None)),
            Some(Some(s)) => s.clone(),
        };
        let slot = match sem.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let deadline = queue_timeout.map(|t| Instant::now() + t);
                self.wait(&sem, deadline).await?
            }
        };
        Ok(self.make_lease(i, Some(slot)))
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
        let first = self.pick(key, exclude);
        if first.is_none() && !self.inner.has_usable() {
            return Err(NoServer::Unavailable);
        }
        if let Some(queue) = &self.queue {
            let qp = match queue.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => self.wait(queue, deadline).await?,
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
                    lease._queue = Some(qp);
                    return Ok(lease);
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
            return Ok(lease);
        }
        // Some servers are limited and the chosen one is full: queue on it.
        let i = first.ok_or(NoServer::Unavailable)?;
        let sem = self.slots[i].clone().ok_or(NoServer::Unavailable)?;
        let slot = self.wait(&sem, deadline).await?;
        Ok(self.make_lease(i, Some(slot)))
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
                && (!servers[i].state.is_usable() || Some(i) == exclude || servers[i].backup)
            {
                continue;
            }
            match &self.slots[i] {
                None => return Some(self.make_lease(i, None)),
                Some(sem) => {
                    if let Ok(p) = sem.clone().try_acquire_owned() {
                        return Some(self.make_lease(i, Some(p)));
                    }
                }
            }
        }
        None
    }

    fn make_lease(self: &Arc<Self>, i: usize, slot: Option<OwnedSemaphorePermit>) -> Lease {
        self.inner.take_conn(i);
        Lease {
            server: i,
            lb: self.clone(),
            _slot: slot,
            _queue: None,
        }
    }

    /// Requests waiting in this backend's queues.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// The session facts `balance hash <expr>` may fetch besides the request.
#[derive(Clone, Copy)]
pub(crate) struct HashCtx<'a> {
    pub fe: &'a str,
    pub be: &'a str,
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// What `balance` sees of an HTTP request. The head is copied only for
/// algorithms that look at it, the body start only for `url_param` on a POST,
/// and `balance hash` keeps only its sample's bytes.
pub(crate) struct HttpKey {
    src: IpAddr,
    head: Option<(Vec<u8>, RequestHead)>,
    body: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
}

impl HttpKey {
    /// `head`: the request as forwarded (after rules) and its parse, built only
    /// when [`Balancer::needs_request`]; `buffered`: body bytes received so far.
    pub(crate) fn new(
        lb: &Balancer,
        ctx: HashCtx<'_>,
        head: impl FnOnce() -> (Vec<u8>, RequestHead),
        buffered: &[u8],
    ) -> Self {
        let mut key = HttpKey {
            src: ctx.src.ip(),
            head: None,
            body: None,
            hash: None,
        };
        if !lb.needs_request() {
            return key;
        }
        let (buf, req) = head();
        key.body = post_body(lb.algo(), &req, buffered);
        if let Some(expr) = lb.hash_expr.get() {
            // Only this request's body: pipelined requests may follow it.
            let body = match req.framing {
                BodyFraming::ContentLength(n) => {
                    &buffered[..usize::try_from(n).unwrap_or(usize::MAX).min(buffered.len())]
                }
                BodyFraming::Chunked => buffered,
                BodyFraming::None | BodyFraming::CloseDelimited => &[],
            };
            let view = HashView {
                ctx,
                req: Some((&buf, &req)),
                body,
                vars: fulcrum_rules::Vars::default(),
            };
            key.hash = expr.eval_request(&view).map(sample_bin);
        }
        key.head = Some((buf, req));
        key
    }
}

impl SelectKey for HttpKey {
    fn source(&self) -> Option<IpAddr> {
        Some(self.src)
    }
    fn uri(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|(b, h)| h.target_bytes(b))
    }
    fn header(&self, name: &str) -> Option<&[u8]> {
        let (b, h) = self.head.as_ref()?;
        h.headers_in(b).get(name.as_bytes())
    }
    fn post_body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }
    fn hash_input(&self) -> Option<&[u8]> {
        self.hash.as_deref()
    }
}

/// The body bytes of a POST already buffered (never waited for), decoded from
/// chunks, and cut at `check_post <max_wait>` as HAProxy limits its search.
fn post_body(algo: &BalanceAlgo, req: &RequestHead, buffered: &[u8]) -> Option<Vec<u8>> {
    let BalanceAlgo::UrlParam { check_post, .. } = algo else {
        return None;
    };
    if req.method != Method::Post {
        return None;
    }
    let mut body = match req.framing {
        BodyFraming::ContentLength(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX).min(buffered.len());
            buffered[..n].to_vec()
        }
        BodyFraming::Chunked => {
            let mut out = Vec::new();
            let mut dec = fulcrum_proto::chunked::ChunkedDecoder::new();
            // A malformed body leaves what was decoded before the fault.
            let _ = dec.decode(buffered, |d| out.extend_from_slice(d));
            out
        }
        BodyFraming::None | BodyFraming::CloseDelimited => return None,
    };
    // HAProxy raises a limit below 3 to 3 (`S=3`, the shortest parameter).
    if let Some(max) = check_post.filter(|m| *m > 0) {
        body.truncate(usize::try_from(max.max(3)).unwrap_or(usize::MAX));
    }
    (!body.is_empty()).then_some(body)
}

/// A sample as HAProxy hashes it: cast to binary (integers as 8 big-endian
/// bytes, addresses in network order, strings as they are).
fn sample_bin(s: fulcrum_rules::Sample<'_>) -> Vec<u8> {
    use fulcrum_rules::Sample;
    match s {
        Sample::Bool(b) => i64::from(b).to_be_bytes().to_vec(),
        Sample::Int(i) => i.to_be_bytes().to_vec(),
        Sample::Ip(IpAddr::V4(a)) => a.octets().to_vec(),
        Sample::Ip(IpAddr::V6(a)) => a.octets().to_vec(),
        Sample::Str(b) | Sample::Bin(b) => b.into_owned(),
    }
}

/// Compiles `balance hash <expr>` of proxy `p`; `None` for other algorithms.
pub(crate) fn hash_expr(
    p: &fulcrum_config::model::Proxy,
) -> Result<Option<fulcrum_rules::Expr>, String> {
    let Some(fulcrum_config::model::Balance::Hash(e)) = &p.balance else {
        return Ok(None);
    };
    let span = p
        .span
        .clone()
        .unwrap_or_else(|| fulcrum_config::diag::Span::new("", 0));
    let base = std::path::Path::new(&*span.file)
        .parent()
        .map(|d| d.to_path_buf())
        .unwrap_or_default();
    let env = fulcrum_rules::CompileEnv::new(base);
    fulcrum_rules::compile_expr(e, &span, &env)
        .map(Some)
        .map_err(|e| format!("balance hash: {e}"))
}

/// The request (or in TCP mode the inspected payload) as `balance hash`
/// fetches see it (read-only).
struct HashView<'a> {
    ctx: HashCtx<'a>,
    req: Option<(&'a [u8], &'a RequestHead)>,
    /// The request body, or the TCP payload when there is no request.
    body: &'a [u8],
    vars: fulcrum_rules::Vars,
}

impl SessionView for HashView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        Some(self.ctx.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        Some(self.ctx.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (self.ctx.fe, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        Some((self.ctx.be, 0))
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn fulcrum_rules::Stats {
        &crate::stats::CurrentStats
    }
    fn vars(&self) -> &fulcrum_rules::Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut fulcrum_rules::Vars {
        &mut self.vars
    }
    fn payload(&self) -> &[u8] {
        if self.req.is_some() {
            &[]
        } else {
            self.body
        }
    }
    // Selection happens once inspection is over: samples are final.
    fn wait_ended(&self) -> bool {
        true
    }
}

impl RequestView for HashView<'_> {
    fn method(&self) -> &[u8] {
        self.req.map_or(&[], |(b, r)| r.method_bytes(b))
    }
    fn uri(&self) -> &[u8] {
        self.req.map_or(&[], |(b, r)| r.target_bytes(b))
    }
    fn version(&self) -> &[u8] {
        match self.req.map(|(_, r)| r.version) {
            Some(Version::Http10) => b"HTTP/1.0",
            _ => b"HTTP/1.1",
        }
    }
    fn header_count(&self) -> usize {
        self.req.map_or(0, |(_, r)| r.headers.len())
    }
    fn header(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let (b, r) = self.req?;
        let h = r.headers.get(i)?;
        Some((h.name.get(b), h.value.get(b)))
    }
    fn body(&self) -> &[u8] {
        self.body
    }
    // Selection does not edit the request.
    fn set_method(&mut self, _: &[u8]) {}
    fn set_uri(&mut self, _: &[u8]) {}
    fn add_header(&mut self, _: &[u8], _: &[u8]) {}
    fn set_header_value(&mut self, _: usize, _: &[u8]) {}
    fn remove_header(&mut self, _: usize) {}
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
