//! Worker threads. Each thread runs a current-thread tokio runtime with its own
//! listening socket per `bind` and its own idle-connection pool; server state is
//! shared through atomics in the runtime.

use crate::error::EngineError;
use crate::limits::{Controls, Permits};
use crate::listener::Listener;
use crate::log::LogSink;
use crate::runtime::{Mode, Runtime};
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Engine start options the binary may set.
#[derive(Clone, Default)]
pub struct EngineOptions {
    /// Overrides `Runtime::nbthread` when set (e.g. from the command line).
    pub nbthread: Option<usize>,
    /// Where traffic log records go; `None` records nothing.
    pub log: Option<Arc<dyn LogSink>>,
    /// `cpu-map` lines of `global`: worker thread N is bound to the CPUs they give it.
    pub cpu_map: Vec<fulcrum_config::model::global::CpuMap>,
    /// Listening sockets taken from the old process (`-x`): binds with the same
    /// address and options accept on them instead of binding new ones.
    pub handover: Option<crate::handover::Inherited>,
    /// The configuration's `ring` sections (`show events`, `log ring@NAME` of health
    /// lines); their forwarders start with the engine.
    pub rings: Option<Arc<fulcrum_observe::log::Rings>>,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("nbthread", &self.nbthread)
            .field("log", &self.log.is_some())
            .field("cpu_map", &self.cpu_map)
            .field("handover", &self.handover)
            .field("rings", &self.rings)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Control {
    Run,
    Graceful,
    Stop,
}

pub(crate) struct Shared {
    pub rt: Runtime,
    pub log: Option<Arc<dyn LogSink>>,
    pub(crate) ops: Arc<crate::health_link::OpsSlot>,
    /// `maxconn` limits and listening states the runtime API changes.
    pub(crate) ctl: Arc<Controls>,
    /// Live sessions, for `show sess` and session shutdowns.
    pub(crate) sessions: Arc<crate::sessions::Registry>,
    /// `maxconnrate`, `maxsessrate`, `rate-limit sessions` and their rates.
    pub(crate) rate: Arc<crate::rate::Rates>,
    /// Listening sockets `_getsocks` hands to a new process (`expose-fd listeners`).
    pub(crate) handover: Arc<crate::handover::Exposed>,
    pub(crate) rings: Option<Arc<fulcrum_observe::log::Rings>>,
}

/// A listening address after binding (port 0 resolved).
#[derive(Clone, Debug)]
pub struct BoundAddr {
    pub frontend: String,
    pub bind: usize,
    pub addr: Option<SocketAddr>,
}

pub struct Engine;

/// Controls a running engine.
pub struct EngineHandle {
    pub(crate) shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    control: Arc<watch::Sender<Control>>,
    bound: Vec<BoundAddr>,
}

impl Engine {
    /// Binds every listener, then starts the worker threads. Returns once all
    /// sockets are bound, so the caller may drop privileges or daemonize.
    pub fn start(rt: Runtime, opts: EngineOptions) -> Result<EngineHandle, EngineError> {
        for fe in &rt.frontends {
            if let Some(i) = fe.default_backend {
                if i >= rt.backends.len() {
                    return Err(EngineError::NoSuchBackend {
                        frontend: fe.name.clone(),
                        index: i,
                    });
                }
            }
        }
        let nb = opts.nbthread.unwrap_or(rt.nbthread);
        let nb = if nb == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            nb
        };
        // per_thread[t] = listeners of thread t: (frontend, bind, socket)
        let mut per_thread: Vec<Vec<(usize, usize, Listener)>> =
            (0..nb).map(|_| Vec::new()).collect();
        let mut rt = rt;
        let mut bound = Vec::new();
        let handover = Arc::new(crate::handover::Exposed::new());
        for (fi, fe) in rt.frontends.iter().enumerate() {
            for (bi, bind) in fe.binds.iter().enumerate() {
                let h = opts.handover.as_ref();
                let socks = crate::handover::bind_all(h, &fe.name, bind, bi + 1, fe.maxconn, nb)?;
                handover.record(fi, bind, &socks);
                bound.push(BoundAddr {
                    frontend: fe.name.clone(),
                    bind: bi,
                    addr: socks.first().and_then(|s| s.local_addr()),
                });
                for (t, s) in socks.into_iter().enumerate() {
                    per_thread[t % nb].push((fi, bi, s));
                }
            }
        }
        // A bind on one IP gives its clients that local address.
        for b in &bound {
            let fixed = b.addr.filter(|a| !a.ip().is_unspecified());
            if let Some(fe) = rt.frontends.iter_mut().find(|f| f.name == b.frontend) {
                if let Some(bind) = fe.binds.get_mut(b.bind) {
                    bind.local = fixed;
                }
            }
        }
        let shared = Arc::new(Shared {
            ctl: Arc::new(Controls::new(&rt)),
            sessions: Arc::default(),
            rate: Arc::new(crate::rate::Rates::new(rt.frontends.len())),
            rt,
            log: opts.log.clone(),
            ops: Arc::default(),
            handover,
            rings: opts.rings.clone(),
        });
        if let Some(r) = &opts.rings {
            r.start_forwarders();
        }
        let (control, rx) = watch::channel(Control::Run);
        let mut threads = Vec::with_capacity(nb);
        let nb32 = u32::try_from(nb).unwrap_or(u32::MAX);
        let affinity = fulcrum_config::model::cpumap::thread_cpus(&opts.cpu_map, nb32);
        for (t, listeners) in per_thread.into_iter().enumerate() {
            let shared = shared.clone();
            let rx = rx.clone();
            let cpus = affinity.get(t).cloned().flatten();
            let h = std::thread::Builder::new()
                .name(format!("fulcrum-{t}"))
                .spawn(move || {
                    if let Some(cpus) = cpus {
                        pin_current_thread(t, &cpus);
                    }
                    worker(shared, listeners, rx)
                })
                .map_err(|source| EngineError::Thread { thread: t, source })?;
            threads.push(h);
        }
        Ok(EngineHandle {
            shared,
            threads,
            control: Arc::new(control),
            bound,
        })
    }
}

impl EngineHandle {
    /// The runtime being served: backends, servers' shared state (for health
    /// checks, stats and the runtime API; call `Backend::server_changed` after
    /// changing a server), queue lengths.
    pub fn runtime(&self) -> &Runtime {
        &self.shared.rt
    }

    /// Worker threads started.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Addresses actually bound, in configuration order.
    pub fn bound(&self) -> &[BoundAddr] {
        &self.bound
    }

    /// The address of the first bind of `frontend`.
    pub fn local_addr(&self, frontend: &str) -> Option<SocketAddr> {
        self.bound
            .iter()
            .filter(|b| b.frontend == frontend)
            .find_map(|b| b.addr)
    }

    /// A cloneable stop switch, for a signal-handling thread while another
    /// thread blocks in [`EngineHandle::wait`].
    pub fn control(&self) -> EngineControl {
        EngineControl {
            control: self.control.clone(),
        }
    }

    /// Closes listeners and every connection now.
    pub fn stop_now(&self) {
        let _ = self.control.send(Control::Stop);
    }

    /// Closes listeners; threads exit when their last connection ends (SIGUSR1).
    pub fn graceful_stop(&self) {
        let _ = self.control.send(Control::Graceful);
    }

    /// Waits for every worker thread to exit.
    pub fn wait(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Stops a running engine from any thread (see [`EngineHandle::control`]).
#[derive(Clone)]
pub struct EngineControl {
    control: Arc<watch::Sender<Control>>,
}

impl EngineControl {
    /// Closes listeners and every connection now (SIGTERM, SIGINT).
    pub fn stop_now(&self) {
        let _ = self.control.send(Control::Stop);
    }

    /// Closes listeners; threads exit when their last connection ends (SIGUSR1).
    pub fn graceful_stop(&self) {
        let _ = self.control.send(Control::Graceful);
    }
}

/// Counts this thread's live connections, for graceful stop. One pointer:
/// every connection, parked ones included, holds a copy.
#[derive(Clone, Default)]
struct Active(Rc<ActiveCount>);

#[derive(Default)]
struct ActiveCount {
    count: Cell<usize>,
    idle: Notify,
}

impl std::ops::Deref for Active {
    type Target = ActiveCount;
    fn deref(&self) -> &ActiveCount {
        &self.0
    }
}

struct ActiveGuard(Active);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let c = &self.0.count;
        c.set(c.get().saturating_sub(1));
        if c.get() == 0 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Binds the calling thread to `cpus` (`cpu-map`); a refusal (a CPU that does not exist
/// here) is logged and the thread runs unbound, as HAProxy does.
fn pin_current_thread(thread: usize, cpus: &[usize]) {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write into our own value and
    // sched_setaffinity(0, …) applies to the calling thread only.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    if !ok {
        tracing::warn!(
            "cpu-map: cannot bind thread {} to CPUs {cpus:?}: {}",
            thread + 1,
            std::io::Error::last_os_error()
        );
    }
}

fn worker(
    shared: Arc<Shared>,
    listeners: Vec<(usize, usize, Listener)>,
    mut rx: watch::Receiver<Control>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start worker runtime: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    crate::health_link::enter(&shared.ops);
    local.block_on(&rt, async move {
        let active = Active::default();
        tokio::task::spawn_local(async {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                crate::buf::trim_if_needed();
            }
        });
        let for_parker = shared.clone();
        tokio::task::spawn_local(crate::park::run(move |p| spawn_resumed(&for_parker, p)));
        for (fi, bi, l) in listeners {
            let l = match l.into_live() {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("cannot register listener: {e}");
                    continue;
                }
            };
            tokio::task::spawn_local(accept_loop(
                shared.clone(),
                fi,
                bi,
                l,
                rx.clone(),
                active.clone(),
            ));
        }
        loop {
            match *rx.borrow_and_update() {
                Control::Stop => return,
                Control::Graceful => break,
                Control::Run => {}
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
        // Graceful: accept loops have seen the change and dropped their sockets;
        // the copies kept for a reload go too, or their backlogs would wait forever.
        shared.handover.close();
        // Idle connections end now, parked or waiting in their task, as HAProxy
        // closes idle connections on a soft stop; busy ones end after their
        // response, which says `Connection: close`.
        // `option idle-close-on-response` keeps them until their next response.
        crate::park::soft_stop(|p| {
            let fe = shared.rt.frontends.get(p.held.fi as usize);
            fe.is_some_and(|f| f.http.idle_close_on_response)
        });
        shared.sessions.close_idle_here();
        loop {
            let notified = active.idle.notified();
            if active.count.get() == 0 {
                return;
            }
            tokio::select! {
                _ = notified => {}
                _ = rx.changed() => {
                    if *rx.borrow() == Control::Stop { return; }
                }
            }
        }
    });
}

async fn accept_loop(
    shared: Arc<Shared>,
    fi: usize,
    bi: usize,
    listener: crate::listener::Live,
    mut rx: watch::Receiver<Control>,
    active: Active,
) {
    let Some(listener) = accept_until_stop(&shared, fi, bi, listener, &mut rx, &active).await
    else {
        return;
    };
    // A graceful stop after the sockets went to a process that keeps one per
    // bind: the clients still queued on this one are served, not reset with it.
    if matches!(*rx.borrow(), Control::Graceful) {
        for (stream, peer) in crate::handover::drain(&shared.handover, listener) {
            spawn_session(&shared, fi, bi, stream, peer, Permits::default(), &active);
        }
    }
}

/// Accepts until the engine stops: the listener back on a graceful stop.
async fn accept_until_stop(
    shared: &Arc<Shared>,
    fi: usize,
    bi: usize,
    mut listener: crate::listener::Live,
    rx: &mut watch::Receiver<Control>,
    active: &Active,
) -> Option<crate::listener::Live> {
    let mut listening = shared.ctl.listening[fi].subscribe();
    loop {
        listener = crate::limits::await_listening(listener, &mut listening, rx).await?;
        // Over an accept-rate limit: clients wait in the backlog meanwhile.
        if let Some(wait) = shared.rate.delay(fi) {
            tokio::select! {
                biased;
                _ = rx.changed() => return Some(listener),
                _ = listening.changed() => continue,
                _ = tokio::time::sleep(wait) => continue,
            }
        }
        // `biased`: a stop or a pause must win over a connection already waiting.
        let accepted = tokio::select! {
            biased;
            _ = rx.changed() => return Some(listener),
            _ = listening.changed() => continue,
            a = listener.accept() => a,
        };
        // The maxconn permits are taken after the accept, not before: a loop waiting
        // on an empty socket while holding a permit would starve the other accept
        // loops (threads x binds) of a frontend at a small limit. At the limit, a loop
        // holds at most the one client it accepted, unserved, until a permit frees;
        // the limit is read then, so a lowered one applies to that very client.
        // A graceful stop while the client waits serves it anyway (the process
        // finishes its clients before exiting); a hard stop drops it.
        let mut stopping = false;
        let permits = match &accepted {
            Ok(_) => tokio::select! {
                biased;
                _ = rx.changed() => {
                    if !matches!(*rx.borrow(), Control::Graceful) {
                        return None;
                    }
                    stopping = true;
                    Permits::default()
                }
                p = take_permits(shared, fi, bi) => p,
            },
            Err(_) => Permits::default(),
        };
        match accepted {
            Ok((stream, peer)) => {
                spawn_session(shared, fi, bi, stream, peer, permits, active);
                if stopping {
                    return Some(listener);
                }
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning on the error.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Serves one accepted client on this thread, holding its `permits`.
fn spawn_session(
    shared: &Arc<Shared>,
    fi: usize,
    bi: usize,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    permits: Permits,
    active: &Active,
) {
    shared.rate.accepted(fi);
    active.count.set(active.count.get() + 1);
    let held = Held {
        fi: fi as u32,
        bi: bi as u32,
        _permits: permits,
        _active: ActiveGuard(active.clone()),
        counted: None,
    };
    // The task's future is `serve`'s own: wrapping it in a closure would store
    // its arguments twice in every connection's task.
    tokio::task::spawn_local(serve(shared.clone(), held, stream, peer));
}

/// What a client connection holds for its whole life, parked or not: its
/// frontend and bind, its `maxconn` permits, its place in the thread's count
/// of live connections and in the frontend's current sessions.
pub(crate) struct Held {
    pub fi: u32,
    pub bi: u32,
    _permits: Permits,
    _active: ActiveGuard,
    counted: Option<crate::stats::counters::SessionGuard>,
}

#[cfg(test)]
impl Held {
    /// What a connection served outside a worker holds (unit tests).
    pub(crate) fn detached() -> Held {
        Held {
            fi: 0,
            bi: 0,
            _permits: Permits::default(),
            _active: ActiveGuard(Active::default()),
            counted: None,
        }
    }
}

/// Goes on with a parked HTTP connection whose client spoke again, in a new task.
fn spawn_resumed(shared: &Arc<Shared>, p: crate::park::Parked) {
    // The task's future is `resumed`'s own, its arguments stored once.
    let crate::park::Parked {
        client, held, http, ..
    } = p;
    tokio::task::spawn_local(resumed(shared.clone(), client, held, http));
}

async fn resumed(
    shared: Arc<Shared>,
    client: std::net::TcpStream,
    held: Held,
    http: crate::http::ParkedHttp,
) {
    let Ok(stream) = tokio::net::TcpStream::from_std(client) else {
        return;
    };
    let (fi, bi) = (held.fi as usize, held.bi as usize);
    if shared
        .rt
        .frontends
        .get(fi)
        .is_none_or(|fe| fe.binds.get(bi).is_none())
    {
        return;
    }
    let fe = &shared.rt.frontends[fi];
    let reg = shared.sessions.register(fi, http.client_addr());
    reg.entry
        .set_conn(bi, std::os::fd::AsRawFd::as_raw_fd(&stream));
    let entry = reg.entry.clone();
    let fut: crate::sessions::SessionFuture<'_> =
        Box::pin(crate::http::resume(&shared.rt, fe, stream, http, held));
    if let Some(Err(e)) = crate::sessions::run(entry, fut).await {
        tracing::debug!("resumed connection ended: {e}");
    }
}

async fn take_permits(shared: &Shared, fi: usize, bi: usize) -> Permits {
    let mut p = Permits::default();
    let c = &shared.ctl;
    for (i, limit) in [&c.global, &c.frontends[fi], &c.binds[fi][bi]]
        .into_iter()
        .enumerate()
    {
        p.0[i] = limit.acquire().await;
    }
    p
}

async fn serve(
    shared: Arc<Shared>,
    mut held: Held,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let (fi, bi) = (held.fi as usize, held.bi as usize);
    let _ = stream.set_nodelay(true);
    let fe = &shared.rt.frontends[fi];
    crate::sockopt::client_accepted(&stream, &fe.tcp);
    if let Some(answer) = fe.tcp.health_answer {
        // Boxed: rare, and it would otherwise size every connection's task.
        Box::pin(health_answer(stream, answer)).await;
        return;
    }
    if fe.monitor_net.iter().any(|n| n.contains(peer.ip())) {
        // Boxed, as above.
        Box::pin(monitor_net_answer(stream, fe.mode)).await;
        return;
    }
    held.counted = crate::stats::counters::session_start(fi);
    let reg = shared.sessions.register(fi, peer);
    reg.entry
        .set_conn(bi, std::os::fd::AsRawFd::as_raw_fd(&stream));
    let entry = reg.entry.clone();
    // The mode's future is boxed once and passed down as a pointer: futures
    // passed by value are copied into each wrapper's state, and the task of an
    // idle connection would carry every copy.
    let fut = serve_mode(&shared, held, stream, peer);
    if let Some(Err(e)) = crate::sessions::run(entry, fut).await {
        tracing::debug!("connection from {peer} ended: {e}");
    }
}

/// `monitor-net` as HAProxy 1.x answered it: before reading anything, `HTTP/1.0 200 OK`
/// and close in HTTP mode, a plain close in TCP mode; not counted, not logged.
/// 1.x `mode health`, as HAProxy answered it: what the client sent is drained
/// (so closing sends no RST), the fixed answer, a close; not counted, not logged.
async fn health_answer(mut stream: tokio::net::TcpStream, answer: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let mut sink = [0u8; 1024];
    while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
    let _ = stream.write_all(answer).await;
    let _ = stream.shutdown().await;
}

async fn monitor_net_answer(mut stream: tokio::net::TcpStream, mode: Mode) {
    use tokio::io::AsyncWriteExt;
    if mode == Mode::Http {
        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await;
    }
    let _ = stream.shutdown().await;
}

/// The session future of the frontend's mode, boxed: only the mode in use takes
/// memory, sized for that mode.
fn serve_mode(
    shared: &Shared,
    held: Held,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) -> crate::sessions::SessionFuture<'_> {
    let fe = &shared.rt.frontends[held.fi as usize];
    let bind = &fe.binds[held.bi as usize];
    let (rt, log) = (&shared.rt, shared.log.clone());
    match fe.mode {
        Mode::Tcp => Box::pin(async move {
            let _held = held;
            crate::tcp::serve(rt, fe, bind, stream, peer, log).await
        }),
        Mode::Http => Box::pin(crate::http::serve(rt, fe, bind, stream, peer, log, held)),
    }
}
