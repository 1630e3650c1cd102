//! Which servers take part in selection, as of the last server change: the
//! active/backup groups, their weights, and the structures built from them
//! (map table, consistent-hash rings). Changed only by
//! [`crate::Balancer::on_server_change`], under the balancer's write lock.

use crate::map::MapTable;
use crate::ring::Ring;
use crate::state::ServerState;
use std::sync::Arc;

/// The servers a selection draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// The usable active servers.
    Active,
    /// No active server: every usable backup (`option allbackups`).
    Backup,
    /// No active server: only the first usable backup.
    Only(usize),
}

impl Group {
    /// The scheduler slot of the group (0 active, 1 backup).
    pub(crate) fn slot(self) -> usize {
        match self {
            Group::Active => 0,
            Group::Backup | Group::Only(_) => 1,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Topology {
    /// Usable for load-balanced traffic.
    pub usable: Vec<bool>,
    /// The weight the algorithm uses (effective, or gcd-reduced for maps).
    pub weight: Vec<u32>,
    /// Weight of the usable servers declared before, in the same group.
    pub cumulative: Vec<u64>,
    pub srv_act: usize,
    pub srv_bck: usize,
    pub tot_wact: u64,
    pub tot_wbck: u64,
    /// The first usable backup, unless `option allbackups`.
    pub fbck: Option<usize>,
    /// Map-based algorithms: the table of the current group.
    pub map: MapTable,
    /// Consistent hashing and `random`: active and backup rings.
    pub rings: [Ring; 2],
    /// Points each server owns on its ring.
    pub points: Vec<u32>,
}

impl Topology {
    /// Where selection draws from now, `None` when no server is usable.
    pub(crate) fn group(&self) -> Option<Group> {
        if self.srv_act > 0 {
            Some(Group::Active)
        } else if let Some(f) = self.fbck {
            Some(Group::Only(f))
        } else if self.srv_bck > 0 {
            Some(Group::Backup)
        } else {
            None
        }
    }

    /// The total weight of the current group (HAProxy's `tot_weight`).
    pub(crate) fn tot_weight(&self) -> u64 {
        match self.group() {
            Some(Group::Active) => self.tot_wact,
            Some(Group::Only(f)) => self.weight.get(f).map_or(0, |&w| u64::from(w)),
            Some(Group::Backup) => self.tot_wbck,
            None => 0,
        }
    }

    /// Whether server `idx` belongs to the group `slot` selection uses.
    pub(crate) fn in_slot(&self, servers: &[Arc<ServerState>], idx: usize, slot: usize) -> bool {
        self.usable.get(idx).copied().unwrap_or(false)
            && servers
                .get(idx)
                .is_some_and(|s| usize::from(s.is_backup()) == slot)
    }

    /// `(index, weight)` of the usable servers of `slot`, in declaration order.
    pub(crate) fn members(&self, servers: &[Arc<ServerState>], slot: usize) -> Vec<(usize, u32)> {
        (0..servers.len())
            .filter(|&i| self.in_slot(servers, i, slot))
            .map(|i| (i, self.weight[i]))
            .collect()
    }

    /// Recounts groups and weights (HAProxy's `recount_servers`), O(n).
    pub(crate) fn recount(&mut self, servers: &[Arc<ServerState>], all_backups: bool) {
        self.srv_act = 0;
        self.srv_bck = 0;
        self.tot_wact = 0;
        self.tot_wbck = 0;
        self.fbck = None;
        self.cumulative.resize(servers.len(), 0);
        for (i, s) in servers.iter().enumerate() {
            if !self.usable[i] {
                continue;
            }
            let w = u64::from(self.weight[i]);
            if s.is_backup() {
                if self.srv_bck == 0 && !all_backups {
                    self.fbck = Some(i);
                }
                self.srv_bck += 1;
                self.cumulative[i] = self.tot_wbck;
                self.tot_wbck += w;
            } else {
                self.srv_act += 1;
                self.cumulative[i] = self.tot_wact;
                self.tot_wact += w;
            }
        }
    }

    /// Rebuilds the map table for the current group.
    pub(crate) fn rebuild_map(&mut self, servers: &[Arc<ServerState>]) {
        let members = match self.group() {
            Some(Group::Only(f)) => vec![(f, self.weight[f])],
            Some(g) => self.members(servers, g.slot()),
            None => Vec::new(),
        };
        self.map = MapTable::build(&members);
    }

    /// Gives server `idx` its due number of ring points.
    pub(crate) fn resize_points(&mut self, servers: &[Arc<ServerState>], idx: usize) {
        let Some(s) = servers.get(idx) else {
            return;
        };
        let want = if self.usable[idx] {
            self.weight[idx]
        } else {
            0
        };
        let have = self.points[idx];
        self.rings[usize::from(s.is_backup())].resize(idx, s.id(), have, want);
        self.points[idx] = want;
    }
}
