//! Per-request schedulers whose state moves on every pick: smooth weighted
//! round-robin and least-connections. Both keep their usable servers in an
//! ordered set, so a pick is O(log n) (HAProxy's trees, lb_fwrr.c/lb_fwlc.c).

use crate::bits::LevelSets;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// What a walk does with a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Take,
    /// Excluded by the caller: taken only if nothing else is.
    Avoid,
    /// Full or unusable now: skipped.
    Skip,
}

#[derive(Clone, Copy, Debug, Default)]
struct RrSlot {
    /// Credit at pick `anchor`, before that pick's increment.
    credit: i64,
    anchor: u64,
    weight: u64,
    level: i64,
    event: Option<u64>,
    group: Option<usize>,
}

#[derive(Debug, Default)]
struct RrGroup {
    /// By level, the highest first, then the first declared.
    order: LevelSets,
    /// `(pick number, index)`: when a server's level next rises. Entries are
    /// not removed when a server moves; a stale one (not the server's current
    /// event) is dropped when it surfaces.
    events: BinaryHeap<Reverse<(u64, u32)>>,
    tot: u64,
    picks: u64,
}

/// Smooth weighted round-robin in the order of HAProxy's `static-rr` map
/// (lb_map.c): at every pick each server gains its weight in credit; the pick
/// goes to the highest credit level `⌊credit / total⌋`, the first declared on a
/// tie, and costs the total weight. Weights 1:2 give `A B B`, 5:1:1 give
/// `A A A B A A C`, and each server gets exactly its weight per cycle of total
/// weight picks. HAProxy's dynamic `roundrobin` (lb_fwrr.c) gives the same
/// shares and spacing but starts its cycle with the heaviest server (1:2 →
/// `B B A`); the first declared starting is what Fulcrum's users were promised.
///
/// Credits are kept lazily (value + the pick they date from) and a server moves
/// in the order only when its level changes, an event queued in advance, so a
/// pick is O(log n) amortized.
#[derive(Debug)]
pub(crate) struct Wrr {
    groups: [RrGroup; 2],
    slots: Vec<RrSlot>,
}

// Saturating i64 arithmetic: credits stay within a few times the total weight
// in practice, and an absurd value must not panic (i128 division is slow).
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn credit_at(s: &RrSlot, pick: u64) -> i64 {
    let gap = to_i64(pick.saturating_sub(s.anchor));
    s.credit
        .saturating_add(to_i64(s.weight).saturating_mul(gap))
}

impl Wrr {
    pub(crate) fn new(n: usize) -> Self {
        let group = || RrGroup {
            order: LevelSets::new(n),
            ..RrGroup::default()
        };
        Wrr {
            groups: [group(), group()],
            slots: vec![RrSlot::default(); n],
        }
    }

    /// Sets the members of `group` (0 active, 1 backup) and their weights,
    /// keeping the credit of those that stay. O(n log n), run on server changes.
    pub(crate) fn set_members(&mut self, group: usize, members: &[(usize, u32)]) {
        let g = &mut self.groups[group];
        let pick = g.picks;
        for s in self.slots.iter_mut().filter(|s| s.group == Some(group)) {
            s.credit = credit_at(s, pick);
            s.anchor = pick;
            s.group = None;
        }
        g.order.clear();
        g.events.clear();
        g.tot = members.iter().map(|&(_, w)| u64::from(w)).sum();
        for &(idx, w) in members {
            let Some(s) = self.slots.get_mut(idx) else {
                continue;
            };
            if s.group.is_some() || s.anchor != pick {
                // Newcomer (or listed twice): start without credit.
                s.credit = 0;
                s.anchor = pick;
            }
            s.weight = u64::from(w.max(1));
            s.group = Some(group);
            Self::place(g, s, idx, pick);
        }
    }

    /// Computes the level of `s` at `pick` and queues its next rise.
    fn place(g: &mut RrGroup, s: &mut RrSlot, idx: usize, pick: u64) {
        let tot = to_i64(g.tot.max(1));
        let w = to_i64(s.weight.max(1));
        let after_add = credit_at(s, pick).saturating_add(w);
        s.level = after_add.saturating_add(tot).div_euclid(tot);
        // Level L+1 needs credit ≥ L·tot after the add of pick p.
        let need = s.level.saturating_mul(tot).saturating_sub(s.credit);
        let steps = need.saturating_add(w - 1).div_euclid(w);
        let at = to_i64(s.anchor).saturating_sub(1).saturating_add(steps);
        s.event = Some(u64::try_from(at).unwrap_or(0).max(pick.saturating_add(1)));
        g.order.insert(s.level, idx);
        if let Some(e) = s.event {
            g.events.push(Reverse((e, idx as u32)));
        }
    }

    fn unplace(g: &mut RrGroup, s: &RrSlot, idx: usize) {
        g.order.remove(s.level, idx);
    }

    /// Picks from `group`; `judge` says whether a server may be taken now.
    /// Servers skipped or avoided spend their turn, as HAProxy requeues them.
    pub(crate) fn pick(
        &mut self,
        group: usize,
        mut judge: impl FnMut(usize) -> Verdict,
    ) -> Option<usize> {
        let g = &mut self.groups[group];
        let pick = g.picks;
        // Levels that rose since the last pick.
        while let Some(&Reverse((at, idx))) = g.events.peek() {
            if at > pick {
                break;
            }
            g.events.pop();
            let i = idx as usize;
            let mut s = self.slots[i];
            if s.event != Some(at) || s.group != Some(group) {
                continue; // stale
            }
            Self::unplace(g, &s, i);
            Self::place(g, &mut s, i, pick);
            self.slots[i] = s;
        }
        let mut chosen = None;
        let mut avoided = None;
        // Allocates only when servers are skipped (full, excluded).
        let mut spent = Vec::new();
        g.order.walk(|idx| match judge(idx) {
            Verdict::Take => {
                chosen = Some(idx);
                true
            }
            Verdict::Avoid if avoided.is_none() => {
                avoided = Some(idx);
                false
            }
            _ => {
                spent.push(idx);
                false
            }
        });
        let chosen = chosen.or(avoided);
        if avoided != chosen {
            spent.extend(avoided);
        }
        for i in chosen.into_iter().chain(spent) {
            let mut s = self.slots[i];
            Self::unplace(g, &s, i);
            s.credit = credit_at(&s, pick).saturating_sub(to_i64(g.tot));
            s.anchor = pick;
            Self::place(g, &mut s, i, pick.saturating_add(1));
            self.slots[i] = s;
        }
        g.picks = g.picks.saturating_add(1);
        chosen
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct LcSlot {
    key: u64,
    seq: u64,
    group: Option<usize>,
}

/// Least connections: servers ordered by `(in-flight + 1) / weight` (0 when
/// idle); a server that moves goes behind its equals, so ties rotate.
#[derive(Debug)]
pub(crate) struct LeastConn {
    groups: [BTreeSet<(u64, u64, u32)>; 2],
    slots: Vec<LcSlot>,
    seq: u64,
}

/// HAProxy's largest effective weight: keys are `(inflight + 1) * this / weight`.
const LC_SCALE: u64 = 4096;

/// The ordering key of a server with `inflight` connections and weight `w`.
pub(crate) fn lc_key(inflight: u32, w: u32) -> u64 {
    if inflight == 0 {
        0
    } else {
        (u64::from(inflight) + 1) * LC_SCALE / u64::from(w.max(1))
    }
}

impl LeastConn {
    pub(crate) fn new(n: usize) -> Self {
        LeastConn {
            groups: [BTreeSet::new(), BTreeSet::new()],
            slots: vec![LcSlot::default(); n],
            seq: 0,
        }
    }

    /// Places server `idx` in `group` with ordering `key`, behind its equals.
    pub(crate) fn place(&mut self, idx: usize, group: Option<usize>, key: u64) {
        let Some(s) = self.slots.get(idx).copied() else {
            return;
        };
        if let Some(g) = s.group {
            self.groups[g].remove(&(s.key, s.seq, idx as u32));
        }
        self.seq += 1;
        let s = LcSlot {
            key,
            seq: self.seq,
            group,
        };
        if let Some(g) = group {
            self.groups[g].insert((s.key, s.seq, idx as u32));
        }
        self.slots[idx] = s;
    }

    /// The least loaded server of `group` that `judge` accepts.
    pub(crate) fn pick(
        &self,
        group: usize,
        mut judge: impl FnMut(usize) -> Verdict,
    ) -> Option<usize> {
        let mut avoided = None;
        for &(_, _, idx) in &self.groups[group] {
            match judge(idx as usize) {
                Verdict::Take => return Some(idx as usize),
                Verdict::Avoid if avoided.is_none() => avoided = Some(idx as usize),
                _ => {}
            }
        }
        avoided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(weights: &[u32], n: usize) -> Vec<usize> {
        let mut w = Wrr::new(weights.len());
        let m: Vec<(usize, u32)> = weights.iter().copied().enumerate().collect();
        w.set_members(0, &m);
        (0..n)
            .filter_map(|_| w.pick(0, |_| Verdict::Take))
            .collect()
    }

    #[test]
    fn one_to_two_is_a_b_b() {
        assert_eq!(run(&[1, 2], 6), vec![0, 1, 1, 0, 1, 1]);
    }

    #[test]
    fn five_one_one_spreads_the_light_servers() {
        assert_eq!(
            run(&[5, 1, 1], 14),
            vec![0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 1, 0, 0, 2]
        );
    }

    #[test]
    fn order_matches_the_map_table() {
        for ws in [&[3u32, 5, 2][..], &[1, 1, 1, 7], &[16, 3], &[2, 4, 6]] {
            let m: Vec<(usize, u32)> = ws.iter().copied().enumerate().collect();
            let t = crate::map::MapTable::build(&m);
            let want: Vec<usize> = (0..t.len() * 2).filter_map(|i| t.slot(i)).collect();
            assert_eq!(run(ws, t.len() * 2), want, "weights {ws:?}");
        }
    }

    /// The plain O(n) form of the same rule, for comparison.
    fn reference(weights: &[Vec<u32>], picks_per_phase: usize) -> Vec<usize> {
        let mut credit = vec![0i64; weights[0].len()];
        let mut out = Vec::new();
        for w in weights {
            let tot: i64 = w.iter().map(|&x| i64::from(x)).sum();
            for _ in 0..picks_per_phase {
                let mut best: Option<(usize, i64)> = None;
                for (i, &wi) in w.iter().enumerate() {
                    credit[i] += i64::from(wi);
                    let v = (credit[i] + tot).div_euclid(tot);
                    if !matches!(best, Some((_, m)) if v <= m) {
                        best = Some((i, v));
                    }
                }
                if let Some((i, _)) = best {
                    credit[i] -= tot;
                    out.push(i);
                }
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn lazy_credits_pick_like_the_plain_rule(
            w1 in proptest::collection::vec(1u32..=12, 1..7),
            changes in proptest::collection::vec((0usize..7, 1u32..=12), 0..3),
            picks in 1usize..60,
        ) {
            let mut w2 = w1.clone();
            for (i, w) in changes {
                let n = w2.len();
                w2[i % n] = w;
            }
            let mut rr = Wrr::new(w1.len());
            let mut got = Vec::new();
            for w in [&w1, &w2] {
                let m: Vec<(usize, u32)> = w.iter().copied().enumerate().collect();
                rr.set_members(0, &m);
                got.extend((0..picks).filter_map(|_| rr.pick(0, |_| Verdict::Take)));
            }
            proptest::prop_assert_eq!(got, reference(&[w1, w2], picks));
        }
    }

    #[test]
    fn lc_key_prefers_idle_then_heavier() {
        assert_eq!(lc_key(0, 16), 0);
        assert!(lc_key(1, 32) < lc_key(1, 16));
    }
}
