//! The monitor's shared state: every server's health, and what happens when
//! a check, an agent, passive observation or the operator changes it.
//!
//! Checks, agents and passive reports are applied on the health thread
//! ([`crate::runner`]); the operator's changes on the caller's thread. Events
//! and callbacks are issued after the server locks are released, so a sink or
//! `on_change` may read snapshots; it must not change states itself (the sink
//! is not reentrant).

mod ops;
mod snapshot;

pub use ops::Force;
pub use snapshot::HealthSnapshot;

use crate::message::{self, Counts, Severity, Who};
use crate::passive::Observer;
use crate::script::Script;
use crate::state::Health;
use crate::status::{CheckStatus, Outcome, Verdict};
use crate::target::CheckTarget;
use fulcrum_balance::AdminState;
use fulcrum_config::model::check::{InitState, Observe};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// One log line for the engine/observe to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    pub backend_idx: usize,
    /// `None` for backend-wide lines (`has no server available!`).
    pub server_idx: Option<usize>,
    pub severity: Severity,
    pub message: String,
    /// `on-marked-down shutdown-sessions`: close this server's connections.
    pub shutdown_sessions: bool,
    /// `on-marked-up shutdown-backup-sessions`: close the backup servers' connections.
    pub shutdown_backup_sessions: bool,
}

/// One server's mutable health, behind its own lock.
pub(crate) struct ServerRt {
    pub check: Health,
    pub tracked_up: bool,
    pub nolb: bool,
    pub nolb_weight: u32,
    pub check_enabled: bool,
    pub agent_enabled: bool,
    pub last: Outcome,
    pub duration_ms: Option<u64>,
    pub agent_last: Option<Outcome>,
    /// The agent's own counter (HAProxy: rise 1, fall 1, starting up); only
    /// its moves are logged as `Agent check for server …`.
    pub agent_check: Health,
    pub chkfail: u64,
    pub chkdown: u64,
    pub hanafail: u64,
    pub last_change: Instant,
    pub down_since: Option<Instant>,
    pub downtime: Duration,
    pub observer: Option<Observer>,
}

pub(crate) struct BackendRt {
    pub members: Vec<usize>,
    pub available: bool,
    pub name: String,
    pub is_listen: bool,
}

type Sink = Box<dyn FnMut(HealthEvent) + Send>;

/// The engine's queue hook: `(backend_idx, server_idx, went_up)` →
/// connections it moved. On DOWN (or maintenance) it should redistribute the
/// server's queued requests to other servers; on UP take waiting requests
/// from the backend's queue; and return how many, for the `N requeued` /
/// `N sessions requeued` part of the log line. Called after the server's
/// [`fulcrum_balance::ServerState`] changed, possibly with the monitor's
/// lock on that server held: it must not call back into the `HealthHandle`.
/// NOLB (`disable-on-404`) counts as going down: the server takes no new
/// traffic.
pub type Requeue = Arc<dyn Fn(usize, usize, bool) -> u32 + Send + Sync>;
type OnChange = Box<dyn Fn(usize, usize) + Send + Sync>;

/// What the health thread and the handle share.
pub(crate) struct Shared {
    pub targets: Vec<CheckTarget>,
    pub scripts: Vec<Option<Script>>,
    pub rt: Vec<Mutex<ServerRt>>,
    pub backends: Mutex<Vec<BackendRt>>,
    pub index: HashMap<(usize, usize), usize>,
    pub tracks: Vec<Option<usize>>,
    pub trackers: Vec<Vec<usize>>,
    pub wake: Vec<Notify>,
    pub sink: Mutex<Sink>,
    pub on_change: OnChange,
    /// Unset: `0 requeued` (the queue lives in the engine).
    pub requeue: RwLock<Option<Requeue>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop health checking.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Work decided under a server's lock, done after it is released.
#[derive(Default)]
struct After {
    events: Vec<HealthEvent>,
    changed: Vec<usize>,
    /// (server, went up, cause text).
    transitions: Vec<(usize, bool, String)>,
}

impl ServerRt {
    pub fn new(t: &CheckTarget, tracked: bool) -> Self {
        let c = &t.check;
        // Unchecked servers start at `rise` as in HAProxy ("up, but will fall
        // down at first failure"): `show servers state` prints it.
        let init = if c.is_enabled() {
            c.init_state()
        } else {
            InitState::Up
        };
        let check = Health::new(c.rise(), c.fall(), init);
        let observer = c
            .observe
            .map(|m: Observe| Observer::new(m, c.error_limit(), c.on_error()));
        ServerRt {
            tracked_up: true,
            nolb: false,
            nolb_weight: 0,
            check_enabled: c.is_enabled() && !tracked,
            agent_enabled: c.agent.enabled.unwrap_or(false),
            last: Outcome::new(CheckStatus::Init),
            duration_ms: None,
            agent_last: None,
            agent_check: Health::new(1, 1, InitState::Up),
            chkfail: 0,
            chkdown: 0,
            hanafail: 0,
            last_change: Instant::now(),
            down_since: None,
            downtime: Duration::ZERO,
            observer,
            check,
        }
    }

    pub fn op_up(&self, tracking: bool) -> bool {
        if tracking {
            self.tracked_up
        } else {
            self.check.is_up()
        }
    }
}

impl Shared {
    fn who(&self, i: usize) -> Who<'_> {
        let t = &self.targets[i];
        Who {
            backend: &t.backend,
            server: &t.server,
            backup: t.state.is_backup(),
        }
    }

    /// Usable active and backup servers of `i`'s backend, and `i`'s traffic.
    fn counts(&self, i: usize) -> Counts {
        let t = &self.targets[i];
        let (mut active, mut backup) = (0, 0);
        for o in self
            .targets
            .iter()
            .filter(|o| o.backend_idx == t.backend_idx)
        {
            if o.state.is_usable() {
                if o.state.is_backup() {
                    backup += 1;
                } else {
                    active += 1;
                }
            }
        }
        Counts {
            active,
            backup,
            sessions: t.state.cur_conns(),
            requeued: 0,
            queued: t.state.queue_len(),
        }
    }

    /// [`Self::counts`] with the engine's requeue count for a server that
    /// just went up or down (or in/out of maintenance).
    pub(crate) fn counts_requeued(&self, i: usize, up: bool) -> Counts {
        let hook = self
            .requeue
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let t = &self.targets[i];
        let requeued = hook.map_or(0, |f| f(t.backend_idx, t.server_idx, up));
        Counts {
            requeued,
            ..self.counts(i)
        }
    }

    fn event(&self, i: usize, severity: Severity, message: String) -> HealthEvent {
        HealthEvent {
            backend_idx: self.targets[i].backend_idx,
            server_idx: Some(self.targets[i].server_idx),
            severity,
            message,
            shutdown_sessions: false,
            shutdown_backup_sessions: false,
        }
    }

    /// Records a check result and acts on it.
    pub fn apply_check(&self, i: usize, o: Outcome, duration_ms: Option<u64>) {
        let now = Instant::now();
        let mut after = After::default();
        {
            let mut rt = lock(&self.rt[i]);
            let tracking = self.tracks[i].is_some();
            let was_up = rt.op_up(tracking);
            let verdict = o.status.verdict();
            let step = rt.check.record(verdict, now);
            if verdict == Verdict::Failed && step.moved {
                rt.chkfail += 1;
            }
            if matches!(verdict, Verdict::Passed | Verdict::CondPassed) {
                if let Some(ob) = rt.observer.as_mut() {
                    ob.reset();
                }
            }
            if self.targets[i].log_health_checks && step.moved {
                let st = &self.targets[i].state;
                // HAProxy says DRAIN for a zero user weight too.
                let drain = st.admin() == AdminState::Drain || st.weight() == 0;
                let msg =
                    message::check_result(&self.who(i), false, &o, duration_ms, &rt.check, drain);
                after.events.push(self.event(i, Severity::Notice, msg));
            }
            let cause = message::reason(&o, duration_ms);
            self.update_nolb(i, &mut rt, verdict, &cause, &mut after);
            rt.last = o;
            rt.duration_ms = duration_ms;
            let up = rt.op_up(tracking);
            if up != was_up {
                self.flip(i, &mut rt, up, now, cause, &mut after);
            }
        }
        self.finish(after);
    }

    /// `disable-on-404`: a 404 from an UP server takes it out of load
    /// balancing (NOLB, weight 0) until a normal pass.
    fn update_nolb(&self, i: usize, rt: &mut ServerRt, v: Verdict, cause: &str, after: &mut After) {
        let st = &self.targets[i].state;
        let want = v == Verdict::CondPassed && rt.check.is_up();
        if want && !rt.nolb {
            rt.nolb = true;
            rt.nolb_weight = st.weight();
            st.set_weight(0);
            let msg = message::stopping(&self.who(i), cause, &self.counts_requeued(i, false));
            after.events.push(self.event(i, Severity::Notice, msg));
            after.changed.push(i);
        } else if !want && rt.nolb && v != Verdict::Neutral {
            rt.nolb = false;
            st.set_weight(rt.nolb_weight);
            after.changed.push(i);
        }
    }

    /// The server changed side: set the shared state now, log after.
    fn flip(
        &self,
        i: usize,
        rt: &mut ServerRt,
        up: bool,
        now: Instant,
        cause: String,
        after: &mut After,
    ) {
        self.targets[i].state.set_up(up);
        rt.last_change = now;
        if up {
            if let Some(since) = rt.down_since.take() {
                rt.downtime += now.saturating_duration_since(since);
            }
            if self.targets[i]
                .check
                .slowstart
                .is_some_and(|d| !d.is_zero())
            {
                self.targets[i].state.set_ramp(1);
            }
        } else {
            rt.chkdown += 1;
            rt.down_since = Some(now);
        }
        after.transitions.push((i, up, cause));
        after.changed.push(i);
    }

    /// Logs transitions (counting servers after the change), follows
    /// trackers, notices empty backends, then calls back.
    fn finish(&self, mut after: After) {
        let mut k = 0;
        // Bounded: each tracker is reached once per transition of its target.
        while k < after.transitions.len() && k < 4 * self.targets.len() + 4 {
            let (i, up, cause) = after.transitions[k].clone();
            k += 1;
            let c = self.counts_requeued(i, up);
            let t = &self.targets[i];
            let mut ev = if up {
                self.event(i, Severity::Notice, message::up(&self.who(i), &cause, &c))
            } else {
                // A draining server going down is no surprise: no alert then.
                let sev = if t.state.admin() == AdminState::Drain {
                    Severity::Notice
                } else {
                    Severity::Alert
                };
                self.event(i, sev, message::down(&self.who(i), &cause, &c))
            };
            ev.shutdown_sessions = !up && t.check.shutdown_sessions_on_down.unwrap_or(false);
            ev.shutdown_backup_sessions = up
                && !t.state.is_backup()
                && t.check.shutdown_backup_sessions_on_up.unwrap_or(false);
            // A server in maintenance changes state silently; leaving
            // maintenance says where it stands.
            if t.state.admin() != AdminState::Maint {
                after.events.push(ev);
            }
            for &tr in &self.trackers[i] {
                let mut rt = lock(&self.rt[tr]);
                if rt.tracked_up != up {
                    rt.tracked_up = up;
                    let via = format!(" via {}/{}", t.backend, t.server);
                    self.flip(tr, &mut rt, up, Instant::now(), via, &mut after);
                }
            }
        }
        self.check_backends(&after.changed, &mut after.events);
        {
            let mut sink = lock(&self.sink);
            for e in after.events {
                tracing::debug!(message = %e.message, "health");
                sink(e);
            }
        }
        let mut seen = Vec::new();
        for i in after.changed {
            if !seen.contains(&i) {
                seen.push(i);
                (self.on_change)(self.targets[i].backend_idx, self.targets[i].server_idx);
            }
        }
    }

    fn check_backends(&self, changed: &[usize], events: &mut Vec<HealthEvent>) {
        let mut bks = lock(&self.backends);
        for &i in changed {
            let b = self.targets[i].backend_idx;
            let Some(bk) = bks
                .iter_mut()
                .find(|x| x.members.first().map(|&m| self.targets[m].backend_idx) == Some(b))
            else {
                continue;
            };
            let any = bk
                .members
                .iter()
                .any(|&m| self.targets[m].state.is_usable());
            if bk.available && !any {
                events.push(HealthEvent {
                    backend_idx: b,
                    server_idx: None,
                    severity: Severity::Emerg,
                    message: message::no_server(&bk.name, bk.is_listen),
                    shutdown_sessions: false,
                    shutdown_backup_sessions: false,
                });
            }
            bk.available = any;
        }
    }
}
