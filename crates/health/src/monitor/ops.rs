//! What passive observation, agents and the operator do to a server.

use super::{lock, After, Shared};
use crate::agent::{self, AgentAdmin, AgentOp, AgentReply};
use crate::message::{self, Severity};
use crate::passive::{PassiveAction, PassiveOutcome};
use crate::status::{CheckStatus, Outcome, Verdict};

/// What `set server … health` forces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Force {
    Up,
    Stopping,
    Down,
}
use fulcrum_balance::AdminState;
use std::time::Instant;

impl Shared {
    /// Passive observation of live traffic.
    pub fn apply_passive(&self, i: usize, p: PassiveOutcome) {
        let action = {
            let mut rt = lock(&self.rt[i]);
            match rt.observer.as_mut() {
                Some(ob) => ob.report(p),
                None => return,
            }
        };
        let info = match action {
            PassiveAction::None => return,
            PassiveAction::FastInter => None,
            PassiveAction::FailCheck { info } => Some(info),
            PassiveAction::SuddenDeath { info } => {
                lock(&self.rt[i]).check.sudden_death();
                Some(info)
            }
            PassiveAction::MarkDown { info } => {
                lock(&self.rt[i]).check.next_failure_is_fatal();
                Some(info)
            }
        };
        if let Some(info) = info {
            lock(&self.rt[i]).hanafail += 1;
            let dur = lock(&self.rt[i]).duration_ms;
            self.apply_check(i, Outcome::with_info(CheckStatus::Hana, info), dur);
        }
        // Every mode checks again soon.
        self.wake[i].notify_one();
    }

    /// An agent's reply (`Err` when it could not be reached), as HAProxy
    /// applies it: admin state first, then weight and maxconn, then health
    /// (`up` sets the server's check fully up, `down`/`stopped`/`fail` fully down).
    pub fn apply_agent(&self, i: usize, reply: Result<AgentReply, Outcome>, duration_ms: u64) {
        let r = match reply {
            Ok(r) => r,
            Err(o) => {
                // An unreachable agent never changes the server's state.
                lock(&self.rt[i]).agent_last = Some(o);
                return;
            }
        };
        if let Some(a) = r.admin {
            self.set_admin(
                i,
                match a {
                    AgentAdmin::Ready => AdminState::Ready,
                    AgentAdmin::Drain => AdminState::Drain,
                    AgentAdmin::Maint => AdminState::Maint,
                },
            );
        }
        let st = self.targets[i].state.clone();
        let mut after = After::default();
        if let Some(p) = r.weight_pct {
            st.set_weight(agent::weight_for(st.initial_weight(), p));
            after.changed.push(i);
        }
        if let Some(m) = r.maxconn {
            st.set_maxconn(m);
        }
        {
            let mut rt = lock(&self.rt[i]);
            let Some(op) = r.op else {
                rt.agent_last = Some(Outcome::new(CheckStatus::L7Ok));
                drop(rt);
                self.finish(after);
                return;
            };
            let desc = r
                .desc
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let info = format!("via agent : {}{desc}", op.word());
            let now = Instant::now();
            let tracking = self.tracks[i].is_some();
            let was = rt.op_up(tracking);
            let o = if op == AgentOp::Up {
                rt.check.force_up(now);
                Outcome::with_info(CheckStatus::L7Ok, info).code(0)
            } else {
                rt.check.force_down(now);
                Outcome::with_info(CheckStatus::L7Sts, info).code(0)
            };
            rt.agent_last = Some(o.clone());
            let step = rt.agent_check.record(o.status.verdict(), now);
            if self.targets[i].log_health_checks && step.moved {
                let drain = st.admin() == AdminState::Drain || st.weight() == 0;
                let msg = message::check_result(
                    &self.who(i),
                    true,
                    &o,
                    Some(duration_ms),
                    &rt.agent_check,
                    drain,
                );
                after.events.push(self.event(i, Severity::Notice, msg));
            }
            let up = rt.op_up(tracking);
            if was != up {
                let cause = message::reason(&o, Some(duration_ms));
                self.flip(i, &mut rt, up, now, cause, &mut after);
            }
        }
        self.finish(after);
    }

    /// The operator's (or an agent's) administrative state.
    pub fn set_admin(&self, i: usize, a: AdminState) {
        let st = &self.targets[i].state;
        let old = st.admin();
        if old == a {
            return;
        }
        st.set_admin(a);
        let c = match (old, a) {
            (_, AdminState::Maint) => self.counts_requeued(i, false),
            (AdminState::Maint, _) => self.counts_requeued(i, st.is_up()),
            _ => self.counts(i),
        };
        let w = self.who(i);
        let msg = match (old, a) {
            (_, AdminState::Maint) => Some((Severity::Alert, message::maint_enter(&w, &c))),
            (AdminState::Maint, _) => {
                Some((Severity::Notice, message::maint_leave(&w, st.is_up(), &c)))
            }
            (_, AdminState::Drain) => Some((Severity::Notice, message::drain_enter(&w, &c))),
            _ => None,
        };
        let mut after = After::default();
        if let Some((sev, m)) = msg {
            after.events.push(self.event(i, sev, m));
        }
        after.changed.push(i);
        self.finish(after);
    }

    /// The operator forces the health state (`set server … health
    /// up|stopping|down`): the counter goes fully up (also for `stopping`,
    /// which then takes the server out of load balancing like a 404 with
    /// `disable-on-404`, until a check passes normally) or fully down.
    pub fn force_health(&self, i: usize, f: Force) {
        let mut after = After::default();
        {
            let mut rt = lock(&self.rt[i]);
            let tracking = self.tracks[i].is_some();
            let was = rt.op_up(tracking);
            let now = Instant::now();
            const CAUSE: &str = ", changed from CLI";
            match f {
                Force::Up | Force::Stopping => {
                    rt.check.force_up(now);
                }
                Force::Down => {
                    rt.check.force_down(now);
                }
            }
            let v = match f {
                Force::Stopping => Verdict::CondPassed,
                Force::Up => Verdict::Passed,
                Force::Down => Verdict::Failed,
            };
            self.update_nolb(i, &mut rt, v, CAUSE, &mut after);
            let is = rt.op_up(tracking);
            if was != is {
                self.flip(i, &mut rt, is, now, CAUSE.to_string(), &mut after);
            }
        }
        self.finish(after);
    }

    /// `set server … agent up|down`: as an agent's own `up`/`down` reply.
    /// `false` when the server has no enabled agent.
    pub fn force_agent(&self, i: usize, up: bool) -> bool {
        if !lock(&self.rt[i]).agent_enabled {
            return false;
        }
        let mut after = After::default();
        {
            let mut rt = lock(&self.rt[i]);
            let tracking = self.tracks[i].is_some();
            let was = rt.op_up(tracking);
            let now = Instant::now();
            if up {
                rt.check.force_up(now);
                rt.agent_check.force_up(now);
            } else {
                rt.check.force_down(now);
                rt.agent_check.force_down(now);
            }
            let is = rt.op_up(tracking);
            if was != is {
                self.flip(i, &mut rt, is, now, ", changed from CLI".into(), &mut after);
            }
        }
        self.finish(after);
        true
    }

    pub fn set_enabled(&self, i: usize, agent: bool, on: bool) {
        let mut rt = lock(&self.rt[i]);
        if agent {
            rt.agent_enabled = on;
        } else {
            rt.check_enabled = on && self.tracks[i].is_none();
        }
    }
}
