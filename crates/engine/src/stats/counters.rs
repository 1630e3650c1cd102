//! Traffic counters the snapshots need beyond `ServerState` (sessions of
//! frontends, requests, status classes, bytes, latency histograms), bumped
//! by the workers through relaxed atomics once operations are started.

use crate::health_link::current;
use crate::runtime::Runtime;
use fulcrum_observe::stats::{AtomicHistogram, Timings, Traffic};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// The `hrsp_*` slot of a status: 1xx … 5xx, then other.
fn class_of(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100) - 1,
        _ => 5,
    }
}

#[derive(Debug, Default)]
pub(crate) struct ProxyCounters {
    scur: AtomicU32,
    smax: AtomicU32,
    stot: AtomicU64,
    req_tot: AtomicU64,
    hrsp: [AtomicU64; 6],
    bin: AtomicU64,
    bout: AtomicU64,
    eresp: AtomicU64,
    econ: AtomicU64,
    dreq: AtomicU64,
    ereq: AtomicU64,
    queue: AtomicHistogram,
    connect: AtomicHistogram,
    response: AtomicHistogram,
    total: AtomicHistogram,
}

impl ProxyCounters {
    fn response(&self, x: &Exchange) {
        self.req_tot.fetch_add(1, Relaxed);
        match x.status {
            Some(s) => {
                self.hrsp[class_of(s)].fetch_add(1, Relaxed);
            }
            None => {
                self.eresp.fetch_add(1, Relaxed);
            }
        }
        self.bin.fetch_add(x.bytes_in, Relaxed);
        self.bout.fetch_add(x.bytes_out, Relaxed);
    }

    fn timings(&self, x: &Exchange, now: Instant) {
        let ms = |a: Instant, b: Instant| {
            u64::try_from(b.saturating_duration_since(a).as_millis()).unwrap_or(u64::MAX)
        };
        self.queue.observe(0);
        self.connect.observe(0);
        if let Some(at) = x.resp_at {
            self.response.observe(ms(x.connected, at));
        }
        self.total.observe(ms(x.connected, now));
    }

    /// Adds these counters to a snapshot's traffic.
    pub(crate) fn fill(&self, t: &mut Traffic, sessions: bool) {
        if sessions {
            t.scur = self.scur.load(Relaxed);
            t.smax = self.smax.load(Relaxed);
            t.stot = self.stot.load(Relaxed);
        }
        t.req_tot = self.req_tot.load(Relaxed);
        for (d, s) in t.hrsp.iter_mut().zip(&self.hrsp) {
            *d = s.load(Relaxed);
        }
        t.bin = self.bin.load(Relaxed);
        t.bout = self.bout.load(Relaxed);
        t.eresp = self.eresp.load(Relaxed);
        t.econ = self.econ.load(Relaxed);
        t.dreq = self.dreq.load(Relaxed);
        t.ereq = self.ereq.load(Relaxed);
    }

    pub(crate) fn timings_snapshot(&self) -> Timings {
        Timings {
            queue: self.queue.snapshot(),
            connect: self.connect.snapshot(),
            response: self.response.snapshot(),
            total: self.total.snapshot(),
        }
    }
}

/// Every proxy's and server's counters, indexed as the runtime.
#[derive(Debug)]
pub(crate) struct Counters {
    pub fe: Vec<ProxyCounters>,
    pub be: Vec<ProxyCounters>,
    pub srv: Vec<Vec<ProxyCounters>>,
}

impl Counters {
    pub(crate) fn new(rt: &Runtime) -> Self {
        Counters {
            fe: rt
                .frontends
                .iter()
                .map(|_| ProxyCounters::default())
                .collect(),
            be: rt
                .backends
                .iter()
                .map(|_| ProxyCounters::default())
                .collect(),
            srv: rt
                .backends
                .iter()
                .map(|b| b.servers.iter().map(|_| ProxyCounters::default()).collect())
                .collect(),
        }
    }
}

/// A frontend session being counted; uncounted on drop.
pub(crate) struct SessionGuard {
    core: Arc<crate::health_link::Core>,
    fe: usize,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Some(c) = self.core.counters.fe.get(self.fe) {
            c.scur.fetch_sub(1, Relaxed);
        }
    }
}

/// A client connection accepted on frontend `fe` (its index).
pub(crate) fn session_start(fe: usize) -> Option<SessionGuard> {
    let ops = current()?;
    let c = ops.core.counters.fe.get(fe)?;
    let cur = c.scur.fetch_add(1, Relaxed) + 1;
    c.smax.fetch_max(cur, Relaxed);
    c.stot.fetch_add(1, Relaxed);
    Some(SessionGuard {
        core: ops.core.clone(),
        fe,
    })
}

/// One request/response exchange with a server, as the counters see it.
pub(crate) struct Exchange {
    pub backend: usize,
    pub server: Option<usize>,
    /// The response status; `None` when no response head arrived.
    pub status: Option<u16>,
    pub connected: Instant,
    pub resp_at: Option<Instant>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The response went on to the client (else the proxy answers an error
    /// itself, counted for the frontend by [`local_answer`]).
    pub forwarded: bool,
}

/// Counts one exchange for the frontend named `fe`, its backend and server,
/// and reports the status to passive health (`observe layer7`).
pub(crate) fn exchange(fe: &str, x: Exchange) {
    let Some(ops) = current() else { return };
    let core = &ops.core;
    let now = Instant::now();
    if x.forwarded {
        if let Some(c) = fe_counters(core, fe) {
            c.response(&x);
        }
    }
    if let Some(c) = core.counters.be.get(x.backend) {
        c.response(&x);
        c.timings(&x, now);
    }
    if let Some(si) = x.server {
        if let Some(c) = core.counters.srv.get(x.backend).and_then(|v| v.get(si)) {
            c.response(&x);
            c.timings(&x, now);
        }
        if let (Some(h), Some(st)) = (core.passive_monitor(x.backend, si), x.status) {
            h.report_passive(
                x.backend,
                si,
                fulcrum_health::PassiveOutcome::HttpStatus(st),
            );
        }
    }
}

fn fe_counters<'a>(core: &'a crate::health_link::Core, fe: &str) -> Option<&'a ProxyCounters> {
    let i = core.rt.frontends.iter().position(|f| f.name == fe)?;
    core.counters.fe.get(i)
}

/// A response the proxy gave itself (errors, `return`, redirects, denials,
/// the stats page): counted as a request and its status for the frontend.
pub(crate) fn local_answer(fe: &str, status: u16) {
    let Some(ops) = current() else { return };
    if let Some(c) = fe_counters(&ops.core, fe) {
        c.req_tot.fetch_add(1, Relaxed);
        c.hrsp[class_of(status)].fetch_add(1, Relaxed);
    }
}

/// A request that could not be read (bad head, `timeout http-request`).
pub(crate) fn request_error(fe: &str) {
    let Some(ops) = current() else { return };
    if let Some(c) = fe_counters(&ops.core, fe) {
        c.ereq.fetch_add(1, Relaxed);
    }
}

/// A request denied by `http-request deny|reject|tarpit|silent-drop`, in
/// the frontend's rules or (when named) the backend's.
pub(crate) fn denied(fe: &str, be: Option<&str>) {
    let Some(ops) = current() else { return };
    let core = &ops.core;
    if let Some(i) = core.rt.frontends.iter().position(|f| f.name == fe) {
        if let Some(c) = core.counters.fe.get(i) {
            c.dreq.fetch_add(1, Relaxed);
        }
    }
    if let Some(i) = be.and_then(|b| core.rt.backends.iter().position(|x| x.name == b)) {
        if let Some(c) = core.counters.be.get(i) {
            c.dreq.fetch_add(1, Relaxed);
        }
    }
}

fn backend_index(core: &crate::health_link::Core, be: &crate::runtime::Backend) -> Option<usize> {
    // The runtime the operations read shares its `Arc<Backend>`s with the workers'.
    core.rt
        .backends
        .iter()
        .position(|b| std::ptr::eq(Arc::as_ptr(b), be))
}

/// A connect attempt to server `si` of `be` ended: passive health
/// (`observe layer4`) and the `econ` counters.
pub(crate) fn connect_result(
    be: &crate::runtime::Backend,
    si: usize,
    r: Result<(), &std::io::Error>,
) {
    use fulcrum_health::PassiveOutcome as P;
    let Some(ops) = current() else { return };
    let core = &ops.core;
    let Some(bi) = backend_index(core, be) else {
        return;
    };
    let outcome = match r {
        Ok(()) => P::ConnectOk,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => P::ConnectTimeout,
        Err(_) => P::ConnectError,
    };
    if outcome != P::ConnectOk {
        for c in [
            core.counters.be.get(bi),
            core.counters.srv.get(bi).and_then(|v| v.get(si)),
        ]
        .into_iter()
        .flatten()
        {
            c.econ.fetch_add(1, Relaxed);
        }
    }
    // HAProxy's layer7 observation ignores connection successes, or every
    // new connection would reset the count of bad responses.
    let ignored = outcome == P::ConnectOk && core.observes_layer7(bi, si);
    if let Some(h) = core.passive_monitor(bi, si).filter(|_| !ignored) {
        h.report_passive(bi, si, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_land_in_their_class_and_missing_ones_count_as_errors() {
        let c = ProxyCounters::default();
        let t0 = Instant::now();
        for status in [Some(200), Some(204), Some(404), Some(503), Some(101), None] {
            let x = Exchange {
                backend: 0,
                server: None,
                status,
                connected: t0,
                resp_at: Some(t0),
                bytes_in: 10,
                bytes_out: 5,
                forwarded: true,
            };
            c.response(&x);
            c.timings(&x, t0);
        }
        let mut t = Traffic::default();
        c.fill(&mut t, false);
        assert_eq!(t.hrsp, [1, 2, 0, 1, 1, 0]);
        assert_eq!((t.req_tot, t.eresp, t.bin, t.bout), (6, 1, 60, 30));
        assert_eq!(c.timings_snapshot().total.count(), 6);
        assert_eq!(c.timings_snapshot().response.count(), 6);
    }
}
