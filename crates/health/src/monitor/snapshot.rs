//! Per-server health as stats and the runtime API show it.

use super::{lock, Shared};
use crate::state::Phase;
use crate::status::CheckStatus;
use fulcrum_balance::AdminState;
use std::time::Duration;

/// One server's health, for stats and the runtime API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthSnapshot {
    pub backend_idx: usize,
    pub server_idx: usize,
    /// Stats `status`: `UP`, `UP 1/3`, `DOWN`, `DOWN 1/2`, `NOLB`, `MAINT`, `DRAIN`, `no check`.
    pub status_text: String,
    pub check_status: CheckStatus,
    pub check_code: Option<u32>,
    pub check_info: String,
    pub check_duration_ms: Option<u64>,
    pub agent_status: Option<CheckStatus>,
    pub agent_info: String,
    /// Health counter and its bounds (stats `check_health`, `check_rise`, `check_fall`).
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
    /// Failed checks (`chkfail`) and UP→DOWN transitions (`chkdown`).
    pub chkfail: u64,
    pub chkdown: u64,
    /// Errors from passive observation that reached `error-limit` (`hanafail`).
    pub hanafail: u64,
    /// Time since the last UP/DOWN change (`lastchg`).
    pub since_change: Duration,
    /// Total time spent DOWN (`downtime`).
    pub downtime: Duration,
    pub check_enabled: bool,
    /// An agent is configured (`agent-check` with a port) / enabled now.
    pub agent_configured: bool,
    pub agent_enabled: bool,
    /// The agent's port (`agent-port`), 0 without an agent.
    pub agent_port: u16,
    /// Up but taking no new traffic (NOLB: `disable-on-404`, `set server … health stopping`).
    pub stopping: bool,
}

impl Shared {
    pub fn snapshot(&self, i: usize) -> HealthSnapshot {
        let rt = lock(&self.rt[i]);
        let t = &self.targets[i];
        let (n, m) = rt.check.progress();
        let status_text = match t.state.admin() {
            AdminState::Maint => "MAINT".to_string(),
            AdminState::Drain => "DRAIN".to_string(),
            AdminState::Ready if !rt.check_enabled && self.tracks[i].is_none() => {
                if rt.op_up(false) {
                    "no check".into()
                } else {
                    "DOWN".into()
                }
            }
            AdminState::Ready => {
                let base = if rt.nolb {
                    "NOLB"
                } else if rt.op_up(self.tracks[i].is_some()) {
                    "UP"
                } else {
                    "DOWN"
                };
                match rt.check.phase() {
                    Phase::GoingDown | Phase::GoingUp if self.tracks[i].is_none() => {
                        format!("{base} {n}/{m}")
                    }
                    _ => base.to_string(),
                }
            }
        };
        let downtime = rt.downtime + rt.down_since.map_or(Duration::ZERO, |s| s.elapsed());
        HealthSnapshot {
            backend_idx: t.backend_idx,
            server_idx: t.server_idx,
            status_text,
            check_status: rt.last.status,
            check_code: rt.last.code,
            check_info: rt.last.info.clone(),
            check_duration_ms: rt.duration_ms,
            agent_status: rt.agent_last.as_ref().map(|o| o.status),
            agent_info: rt
                .agent_last
                .as_ref()
                .map(|o| o.info.clone())
                .unwrap_or_default(),
            health: rt.check.value(),
            rise: rt.check.rise(),
            fall: rt.check.fall(),
            chkfail: rt.chkfail,
            chkdown: rt.chkdown,
            hanafail: rt.hanafail,
            since_change: rt.last_change.elapsed(),
            downtime,
            check_enabled: rt.check_enabled,
            agent_configured: matches!(t.agent_addr(), Ok(Some(_))),
            agent_enabled: rt.agent_enabled,
            agent_port: t.agent_addr().ok().flatten().map_or(0, |a| a.port()),
            stopping: rt.nolb,
        }
    }

    /// `nbsrv()`: usable active servers; when none, the backups in use (all of
    /// them with `option allbackups`, else the first one).
    pub fn nbsrv(&self, backend_idx: usize) -> u32 {
        let mut members = self.targets.iter().filter(|t| t.backend_idx == backend_idx);
        let all_backups = members.clone().any(|t| t.all_backups);
        let (mut act, mut bck) = (0, 0);
        for t in members.by_ref().filter(|t| t.state.is_usable()) {
            if t.state.is_backup() {
                bck += 1;
            } else {
                act += 1;
            }
        }
        match (act, bck) {
            (0, 0) => 0,
            (0, b) if all_backups => b,
            (0, _) => 1,
            (a, _) => a,
        }
    }
}
