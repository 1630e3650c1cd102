//! The walks behind [`Balancer::select`]: map round-robin, ring lookups and
//! round-robin, `first`, `random`.

use super::{lock, Balancer};
use crate::key::SelectKey;
use crate::sched::Verdict;
use crate::topo::{Group, Topology};
use std::sync::atomic::Ordering;
use std::sync::PoisonError;

impl Balancer {
    /// Round-robin over the map table (`static-rr`, and map-based hashing when
    /// the key is absent): the next slot whose server is not full.
    pub(super) fn map_rr(
        &self,
        t: &Topology,
        mut judge: impl FnMut(usize) -> Verdict,
    ) -> Option<usize> {
        let len = t.map.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let mut avoided = None;
        for k in 0..len {
            let idx = t.map.slot(start.wrapping_add(k))?;
            match judge(idx) {
                Verdict::Take => {
                    if k > 0 {
                        // Skipped slots are spent, as HAProxy moves past them.
                        self.cursor.fetch_add(k, Ordering::Relaxed);
                    }
                    return Some(idx);
                }
                Verdict::Avoid => {
                    avoided.get_or_insert(idx);
                }
                Verdict::Skip => {}
            }
        }
        avoided
    }

    /// Round-robin along the ring (consistent hashing when the key is absent).
    pub(super) fn ring_rr(
        &self,
        t: &Topology,
        group: Group,
        mut judge: impl FnMut(usize) -> Verdict,
    ) -> Option<usize> {
        let ring = &t.rings[group.slot()];
        let mut last = lock(&self.ring_last);
        let mut p = match *last {
            Some(p) => ring.next(p)?,
            None => ring.next((0, 0, 0))?,
        };
        let mut avoided = None;
        for _ in 0..ring.len() {
            match judge(p.1 as usize) {
                Verdict::Take => {
                    *last = Some(p);
                    return Some(p.1 as usize);
                }
                Verdict::Avoid => {
                    avoided.get_or_insert(p);
                }
                Verdict::Skip => {}
            }
            p = ring.next(p)?;
        }
        *last = avoided;
        avoided.map(|p| p.1 as usize)
    }

    /// `first`: the lowest `id` of the group with a free slot.
    pub(super) fn first(
        &self,
        t: &Topology,
        group: Group,
        mut judge: impl FnMut(usize) -> Verdict,
    ) -> Option<usize> {
        let mut avoided = None;
        let by_id = self.by_id.read().unwrap_or_else(PoisonError::into_inner);
        for &i in by_id.iter() {
            if !t.in_slot(&self.servers, i, group.slot()) {
                continue;
            }
            match judge(i) {
                Verdict::Take => return Some(i),
                Verdict::Avoid => {
                    avoided.get_or_insert(i);
                }
                Verdict::Skip => {}
            }
        }
        avoided
    }

    /// The server of hash `h`: the map's slot, or the nearest ring point; an
    /// excluded server gives way to the next slot or point.
    pub(super) fn by_hash<K: SelectKey + ?Sized>(
        &self,
        t: &Topology,
        group: Group,
        h: u32,
        key: &K,
    ) -> Option<usize> {
        if !self.uses_map() {
            return self.ring_lookup(t, group, h, key);
        }
        let len = t.map.len();
        let first = (h as usize) % len.max(1);
        let idx = t.map.slot(first)?;
        if !key.is_excluded(idx) {
            return Some(idx);
        }
        (1..len)
            .filter_map(|k| t.map.slot(first + k))
            .find(|&i| !key.is_excluded(i))
            .or(Some(idx))
    }

    /// The ring point nearest `h`, then onwards past excluded servers and,
    /// with `hash-balance-factor`, past overloaded ones.
    pub(super) fn ring_lookup<K: SelectKey + ?Sized>(
        &self,
        t: &Topology,
        group: Group,
        h: u32,
        key: &K,
    ) -> Option<usize> {
        let ring = &t.rings[group.slot()];
        let start = ring.nearest(h)?;
        let factor = self.opts.hash_balance_factor.unwrap_or(0);
        let mut p = start;
        for _ in 0..ring.len() {
            let i = p.1 as usize;
            if !key.is_excluded(i) && (factor == 0 || self.eligible(t, i, factor)) {
                return Some(i);
            }
            p = ring.next(p)?;
        }
        Some(start.1 as usize)
    }

    /// `hash-balance-factor`: whether server `i` serves less than its share of
    /// `factor`% of the backend's load (including this request).
    fn eligible(&self, t: &Topology, i: usize, factor: u32) -> bool {
        let tot = t.tot_weight().max(1);
        let served = self.served.load(Ordering::Relaxed);
        let slots_all = ((served + 1) * u64::from(factor)).div_ceil(100);
        let (per_weight, rem) = (slots_all / tot, slots_all % tot);
        let w = u64::from(t.weight[i]);
        let cum = t.cumulative[i];
        let slots = (w * per_weight + (cum + w) * rem / tot - cum * rem / tot).max(1);
        u64::from(self.servers[i].cur_conns()) < slots
    }

    /// `random(draws)`: the least loaded (connections per weight) of `draws`
    /// random ring points; `None` when it is full, so the request queues.
    pub(super) fn random<K: SelectKey + ?Sized>(
        &self,
        t: &Topology,
        group: Group,
        draws: u32,
        key: &K,
        mut rand: impl FnMut() -> u32,
    ) -> Option<usize> {
        let mut best: Option<usize> = None;
        for _ in 0..draws.max(1) {
            let cur = self.ring_lookup(t, group, rand(), key)?;
            best = match best {
                Some(b) if b != cur && self.busier(t, cur, b) => Some(b),
                _ => Some(cur),
            };
        }
        best.filter(|&b| !self.servers[b].is_full())
    }

    /// Whether `a` carries more connections per unit of weight than `b`.
    fn busier(&self, t: &Topology, a: usize, b: usize) -> bool {
        let load = |i: usize| u64::from(self.servers[i].cur_conns());
        let w = |i: usize| u64::from(t.weight[i]);
        load(a) * w(b) > load(b) * w(a)
    }
}
