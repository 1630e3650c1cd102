//! [`HealthMonitor`]: every check runs on one dedicated OS thread with its own
//! current-thread tokio runtime, never on the engine's workers, so checks
//! cannot delay traffic. [`HealthHandle`] is how the engine, stats and the
//! runtime API talk to it.

use crate::agent::{self, AgentReply};
use crate::error::HealthError;
use crate::monitor::{lock, BackendRt, Force, HealthEvent, HealthSnapshot, ServerRt, Shared};
use crate::passive::PassiveOutcome;
use crate::proto;
use crate::schedule::{jitter, seed, server_state_value, ServerStateInfo};
use crate::script::{self, ConnectSpec, Deadlines, RunCtx, Script};
use crate::status::{CheckStatus, Outcome};
use crate::target::CheckTarget;
use fulcrum_balance::{AdminState, WEIGHT_SCALE};
use fulcrum_config::model::check::CheckKind;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep, sleep_until, Instant};

/// Global settings of the monitor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorOptions {
    /// `spread-checks PERCENT` (0..=50): random ± jitter on every interval.
    pub spread_checks: u32,
    /// `node` (the host name by default), sent by `http-check send-state`.
    pub node: String,
}

impl MonitorOptions {
    /// The `global` section's `spread-checks`.
    pub fn from_global(g: &fulcrum_config::model::Global) -> Self {
        MonitorOptions {
            spread_checks: g.spread_checks.unwrap_or(0).min(50),
            node: g.node.clone().unwrap_or_default(),
        }
    }
}

enum Cmd {
    Passive(usize, PassiveOutcome),
    Stop,
}

/// Starts health checking.
pub struct HealthMonitor;

impl HealthMonitor {
    /// Compiles every target's check, sets each [`fulcrum_balance::ServerState`]
    /// to its initial state (`init-state`, `track`), and starts the health
    /// thread. `on_change(backend_idx, server_idx)` runs after a server's
    /// state or weight changed (re-weight the balancer there); `sink` gets
    /// every log line. Both run on the health thread, or on the thread
    /// calling [`HealthHandle::set_admin`].
    pub fn start(
        targets: Vec<CheckTarget>,
        opts: MonitorOptions,
        on_change: impl Fn(usize, usize) + Send + Sync + 'static,
        sink: impl FnMut(HealthEvent) + Send + 'static,
    ) -> Result<HealthHandle, HealthError> {
        let shared = Arc::new(build(targets, Box::new(on_change), Box::new(sink))?);
        let (tx, rx) = mpsc::unbounded_channel();
        let sh = shared.clone();
        // The runtime is built and dropped on its own thread, so starting or
        // stopping from inside the engine's runtime is safe.
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("fulcrum-health".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match rt {
                    Ok(rt) => {
                        let _ = ready_tx.send(Ok(()));
                        rt.block_on(run(sh, rx, opts));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                return Err(HealthError::Thread(std::io::Error::other(
                    "health thread died",
                )))
            }
        }
        Ok(HealthHandle {
            shared,
            cmd: tx,
            thread: Some(thread),
        })
    }
}

fn compile(t: &CheckTarget) -> Result<Script, HealthError> {
    let s = &t.settings;
    if t.ssl && !matches!(s.effective_kind(), CheckKind::Connect | CheckKind::SslHello) {
        tracing::warn!(
            "{}/{}: TLS health checks are not supported yet; checking the connection only",
            t.backend,
            t.server
        );
        return Ok(Script::connect_only());
    }
    Ok(match s.effective_kind() {
        CheckKind::Http(_) => Script::from_http(s)?,
        CheckKind::TcpCheck => Script::from_tcp_rules(&s.tcp_rules)?,
        CheckKind::Mysql { user, post41 } => proto::mysql::script(user.as_deref(), post41),
        CheckKind::Pgsql { user } => proto::pgsql::script(&user),
        CheckKind::Redis => proto::redis::script(),
        CheckKind::Smtp { hello, domain } => proto::smtp::script(&hello, &domain),
        CheckKind::Ldap => proto::ldap::script(),
        CheckKind::SslHello => proto::ssl_hello::script(),
        // SPOP and external checks are not run: a connect stands in.
        CheckKind::Connect | CheckKind::Spop | CheckKind::External => Script::connect_only(),
    })
}

fn build(
    targets: Vec<CheckTarget>,
    on_change: Box<dyn Fn(usize, usize) + Send + Sync>,
    sink: Box<dyn FnMut(HealthEvent) + Send>,
) -> Result<Shared, HealthError> {
    let n = targets.len();
    let mut index = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        index.insert((t.backend_idx, t.server_idx), i);
    }
    let mut tracks = vec![None; n];
    let mut trackers = vec![Vec::new(); n];
    for (i, t) in targets.iter().enumerate() {
        if let Some(tr) = &t.check.track {
            let bk = tr.backend.as_deref().unwrap_or(&t.backend);
            let found = targets
                .iter()
                .position(|o| o.backend == bk && o.server == tr.server);
            let j =
                found.ok_or_else(|| HealthError::NoSuchServer(format!("{bk}/{}", tr.server)))?;
            if j != i {
                tracks[i] = Some(j);
                trackers[j].push(i);
            }
        }
    }
    let mut scripts = Vec::with_capacity(n);
    let mut rts = Vec::with_capacity(n);
    for (i, t) in targets.iter().enumerate() {
        let checked = t.check.is_enabled() && tracks[i].is_none();
        scripts.push(if checked { Some(compile(t)?) } else { None });
        rts.push(ServerRt::new(t, tracks[i].is_some()));
    }
    // Trackers start in their target's state (followed to the end of a chain).
    for i in 0..n {
        let mut j = i;
        for _ in 0..n {
            match tracks[j] {
                Some(k) => j = k,
                None => break,
            }
        }
        let up = rts[j].op_up(false);
        rts[i].tracked_up = up;
        targets[i].state.set_up(rts[i].op_up(tracks[i].is_some()));
    }
    let mut backends: Vec<BackendRt> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match backends
            .iter_mut()
            .find(|b| targets[b.members[0]].backend_idx == t.backend_idx)
        {
            Some(b) => b.members.push(i),
            None => backends.push(BackendRt {
                members: vec![i],
                available: false,
                name: t.backend.clone(),
                is_listen: t.is_listen,
            }),
        }
    }
    for b in &mut backends {
        b.available = b.members.iter().any(|&m| targets[m].state.is_usable());
    }
    Ok(Shared {
        wake: (0..n).map(|_| Notify::new()).collect(),
        rt: rts.into_iter().map(Mutex::new).collect(),
        backends: Mutex::new(backends),
        targets,
        scripts,
        index,
        tracks,
        trackers,
        sink: Mutex::new(sink),
        on_change,
        requeue: std::sync::RwLock::new(None),
    })
}

async fn run(sh: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Cmd>, opts: MonitorOptions) {
    let checked: Vec<usize> = (0..sh.targets.len())
        .filter(|&i| sh.scripts[i].is_some())
        .collect();
    let nb = checked.len().max(1) as u32;
    for (pos, &i) in checked.iter().enumerate() {
        // Spread the first checks over one interval, as HAProxy does.
        let first = sh.targets[i].check.inter() * pos as u32 / nb;
        tokio::spawn(check_loop(sh.clone(), i, first, opts.clone()));
    }
    for i in 0..sh.targets.len() {
        if let Ok(Some(addr)) = sh.targets[i].agent_addr() {
            tokio::spawn(agent_loop(sh.clone(), i, addr, opts.spread_checks));
        }
        if let Some(ss) = sh.targets[i].check.slowstart.filter(|d| !d.is_zero()) {
            tokio::spawn(ramp_loop(sh.clone(), i, ss));
        }
    }
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Passive(i, p) => sh.apply_passive(i, p),
            Cmd::Stop => break,
        }
    }
}

/// `inter` when fully up, `downinter` when fully down, `fastinter` in between.
fn interval(sh: &Shared, i: usize) -> Duration {
    let c = &sh.targets[i].check;
    match lock(&sh.rt[i]).check.phase() {
        crate::state::Phase::Up => c.inter(),
        crate::state::Phase::Down => c.downinter(),
        _ => c.fastinter(),
    }
}

/// `t + d`, capped a day ahead: absurd configured intervals must not panic.
fn later(t: Instant, d: Duration) -> Instant {
    t + d.min(Duration::from_secs(86_400))
}

async fn check_loop(sh: Arc<Shared>, i: usize, first: Duration, opts: MonitorOptions) {
    let spread = opts.spread_checks;
    let mut rng = seed(i);
    let mut next = later(Instant::now(), first);
    let Some(script) = sh.scripts[i].as_ref() else {
        return;
    };
    let t = &sh.targets[i];
    loop {
        tokio::select! {
            _ = sleep_until(next) => {}
            _ = sh.wake[i].notified() => {
                next = next.min(later(Instant::now(), t.check.fastinter()));
                continue;
            }
        }
        if !lock(&sh.rt[i]).check_enabled {
            next = later(Instant::now(), t.check.inter());
            continue;
        }
        let ctx = RunCtx {
            extra_headers: if script.send_state {
                vec![send_state(&sh, i, &opts.node)]
            } else {
                Vec::new()
            },
            server_up: t.state.is_up(),
        };
        let start = Instant::now();
        let (c, total) = t.timeouts();
        let dl = Deadlines {
            connect: later(start, c),
            total: later(start, total),
        };
        let o = script::run(script, &ctx, dl, |spec| dial(t, spec)).await;
        let ms = start.elapsed().as_millis() as u64;
        sh.apply_check(i, o, Some(ms));
        next = later(Instant::now(), jitter(interval(&sh, i), spread, &mut rng));
    }
}

async fn dial(t: &CheckTarget, spec: ConnectSpec) -> io::Result<TcpStream> {
    let (mut s, addrs) = match t.check_unix(&spec) {
        // No addresses to tell: the PROXY line says UNKNOWN, as HAProxy's.
        Some(u) => (connect_unix(u)?, None),
        None => {
            let addr = t
                .check_addr(&spec)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            let addrs = (s.local_addr()?, s.peer_addr()?);
            (s, Some(addrs))
        }
    };
    if spec.send_proxy || (spec == ConnectSpec::default() && t.send_proxy) {
        let mut out = Vec::new();
        fulcrum_proto::proxy_protocol::encode_v1(addrs, &mut out);
        s.write_all(&out).await?;
    }
    Ok(s)
}

/// `http-check send-state`: `X-Haproxy-Server-State` as HAProxy builds it.
fn send_state(sh: &Shared, i: usize, node: &str) -> (String, String) {
    let t = &sh.targets[i];
    let peers = || sh.targets.iter().filter(|o| o.backend_idx == t.backend_idx);
    let (check, nolb, since) = {
        let rt = lock(&sh.rt[i]);
        (rt.check, rt.nolb, rt.last_change.elapsed())
    };
    let warming = t
        .check
        .slowstart
        .filter(|_| t.state.is_up() && t.state.ramp() < WEIGHT_SCALE)
        .map(|ss| (since, ss));
    let info = ServerStateInfo {
        check,
        up: t.state.is_up(),
        nolb,
        address: t.current_addr().ip().to_string(),
        port: t.current_addr().port(),
        backend: &t.backend,
        server: &t.server,
        node,
        weight: t.state.weight(),
        total_weight: peers()
            .filter(|o| o.state.is_usable())
            .map(|o| o.state.weight())
            .sum(),
        scur: t.state.cur_conns(),
        backend_cur: peers().map(|o| o.state.cur_conns()).sum(),
        qcur: t.state.queue_len(),
        warming,
    };
    ("X-Haproxy-Server-State".into(), server_state_value(&info))
}

async fn agent_loop(sh: Arc<Shared>, i: usize, addr: std::net::SocketAddr, spread: u32) {
    let mut rng = seed(i ^ 0x5a5a);
    let t = &sh.targets[i];
    let inter = t.check.agent_inter();
    loop {
        sleep(jitter(inter, spread, &mut rng)).await;
        if !lock(&sh.rt[i]).agent_enabled {
            continue;
        }
        let start = Instant::now();
        let r = agent_once(addr, t.check.agent.send.as_deref(), inter).await;
        sh.apply_agent(i, r, start.elapsed().as_millis() as u64);
    }
}

/// One non-blocking connect to a UNIX stream socket: it completes at once or
/// fails (`EAGAIN` when its backlog is full). The connected socket is carried
/// as a `TcpStream`: reads, writes and shutdown are the same syscalls, and no
/// caller asks it for addresses.
pub fn connect_unix(a: &socket2::SockAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    sock.connect(a)?;
    TcpStream::from_std(std::net::TcpStream::from(std::os::fd::OwnedFd::from(sock)))
}

/// One agent exchange: connect, send `agent-send`, read one line.
pub async fn agent_once(
    addr: std::net::SocketAddr,
    send: Option<&str>,
    limit: Duration,
) -> Result<AgentReply, Outcome> {
    let deadline = later(Instant::now(), limit);
    let mut s = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Outcome::with_info(CheckStatus::L4Con, script::os_text(&e))),
        Err(_) => return Err(Outcome::new(CheckStatus::L4Tout)),
    };
    if let Some(m) = send {
        if let Err(e) = s.write_all(m.as_bytes()).await {
            return Err(Outcome::with_info(CheckStatus::L4Con, script::os_text(&e)));
        }
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while buf.len() < 1024 && !buf.contains(&b'\n') {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(Outcome::with_info(CheckStatus::L7Rsp, script::os_text(&e))),
            Err(_) => return Err(Outcome::new(CheckStatus::L7Tout)),
        }
    }
    if buf.is_empty() {
        return Err(Outcome::with_info(CheckStatus::L7Rsp, "empty agent reply"));
    }
    Ok(agent::parse(&String::from_utf8_lossy(&buf)))
}

/// `slowstart`: after coming up, the weight ramps from 1/16 to full.
async fn ramp_loop(sh: Arc<Shared>, i: usize, ss: Duration) {
    let t = &sh.targets[i];
    let tick = (ss / WEIGHT_SCALE).max(Duration::from_millis(20));
    loop {
        sleep(tick).await;
        if !t.state.is_up() || t.state.ramp() >= WEIGHT_SCALE {
            continue;
        }
        let since = lock(&sh.rt[i]).last_change.elapsed();
        let step =
            ((since.as_millis() * u128::from(WEIGHT_SCALE)).div_ceil(ss.as_millis().max(1))) as u32;
        if step != t.state.ramp() {
            t.state.set_ramp(step);
            (sh.on_change)(t.backend_idx, t.server_idx);
        }
    }
}

/// The running monitor. Dropping it stops the health thread.
pub struct HealthHandle {
    shared: Arc<Shared>,
    cmd: mpsc::UnboundedSender<Cmd>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HealthHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthHandle")
            .field("servers", &self.shared.targets.len())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl HealthHandle {
    fn find(&self, backend_idx: usize, server_idx: usize) -> Option<usize> {
        self.shared.index.get(&(backend_idx, server_idx)).copied()
    }

    /// What the engine saw on live traffic (`observe`). Never blocks.
    pub fn report_passive(&self, backend_idx: usize, server_idx: usize, outcome: PassiveOutcome) {
        if let Some(i) = self.find(backend_idx, server_idx) {
            // Servers without `observe` cost the data path one lookup, no message.
            if self.shared.targets[i].check.observe.is_some() {
                // The health thread may be gone at shutdown: nothing to do then.
                let _ = self.cmd.send(Cmd::Passive(i, outcome));
            }
        }
    }

    /// Installs the engine's queue hook (see [`crate::monitor::Requeue`]):
    /// from then on DOWN/UP/maintenance lines report the count it returns
    /// instead of 0. It runs on the health thread (or the `set_admin`
    /// caller's) and must not call back into this handle.
    pub fn set_requeue(&self, f: impl Fn(usize, usize, bool) -> u32 + Send + Sync + 'static) {
        *self
            .shared
            .requeue
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(f));
    }

    /// Whether the engine should report outcomes for this server (`observe`).
    pub fn observes(&self, backend_idx: usize, server_idx: usize) -> bool {
        self.find(backend_idx, server_idx)
            .is_some_and(|i| self.shared.targets[i].check.observe.is_some())
    }

    /// `set server B/S state ready|drain|maint`: logs and calls back at once.
    pub fn set_admin(&self, backend_idx: usize, server_idx: usize, a: AdminState) -> bool {
        self.find(backend_idx, server_idx)
            .map(|i| self.shared.set_admin(i, a))
            .is_some()
    }

    /// `enable|disable health B/S`.
    /// `false` when the server is unknown or has no health check.
    pub fn set_check_enabled(&self, backend_idx: usize, server_idx: usize, on: bool) -> bool {
        match self.find(backend_idx, server_idx) {
            Some(i) if self.shared.scripts[i].is_some() => {
                self.shared.set_enabled(i, false, on);
                true
            }
            _ => false,
        }
    }

    /// `set server B/S health up|stopping|down`: forces the check counter
    /// fully up or down, as HAProxy does; the next checks go on from there.
    pub fn set_health(&self, backend_idx: usize, server_idx: usize, f: Force) -> bool {
        self.find(backend_idx, server_idx)
            .map(|i| self.shared.force_health(i, f))
            .is_some()
    }

    /// Whether the server follows another one (`track`): its health cannot
    /// be forced then (`set server … health`).
    pub fn is_tracking(&self, backend_idx: usize, server_idx: usize) -> bool {
        self.find(backend_idx, server_idx)
            .is_some_and(|i| self.shared.tracks[i].is_some())
    }

    /// `set server B/S agent up|down`; `false` when the server is unknown or
    /// its agent is not enabled.
    pub fn set_agent(&self, backend_idx: usize, server_idx: usize, up: bool) -> bool {
        self.find(backend_idx, server_idx)
            .is_some_and(|i| self.shared.force_agent(i, up))
    }

    /// `enable|disable agent B/S`.
    /// `false` when the server is unknown or has no agent.
    pub fn set_agent_enabled(&self, backend_idx: usize, server_idx: usize, on: bool) -> bool {
        match self.find(backend_idx, server_idx) {
            Some(i) if matches!(self.shared.targets[i].agent_addr(), Ok(Some(_))) => {
                self.shared.set_enabled(i, true, on);
                true
            }
            _ => false,
        }
    }

    pub fn snapshot(&self, backend_idx: usize, server_idx: usize) -> Option<HealthSnapshot> {
        self.find(backend_idx, server_idx)
            .map(|i| self.shared.snapshot(i))
    }

    /// Every server, in the order the targets were given.
    pub fn snapshots(&self) -> Vec<HealthSnapshot> {
        (0..self.shared.targets.len())
            .map(|i| self.shared.snapshot(i))
            .collect()
    }

    /// `nbsrv(backend)`: usable servers of a backend.
    pub fn nbsrv(&self, backend_idx: usize) -> u32 {
        self.shared.nbsrv(backend_idx)
    }

    /// `srv_is_up(backend/server)`.
    pub fn srv_is_up(&self, backend_idx: usize, server_idx: usize) -> Option<bool> {
        self.find(backend_idx, server_idx)
            .map(|i| self.shared.targets[i].state.is_up())
    }

    /// Stops the health thread and waits for it (checks in flight are dropped).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.cmd.send(Cmd::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for HealthHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
