//! Ordered sets of server indexes for the round-robin's credit levels: a
//! hierarchical bitmap per level (64-way, so 3 words deep for 260 000 servers)
//! gives the first member, and the next one after a given index, in
//! O(log₆₄ n) without allocating or rebalancing.

/// A set of indexes below a fixed bound.
#[derive(Clone, Debug)]
pub(crate) struct BitTree {
    /// `layers[0]` holds one bit per index; each upper layer one bit per
    /// non-zero word of the layer below; the last layer is one word.
    layers: Vec<Vec<u64>>,
}

impl BitTree {
    pub(crate) fn new(n: usize) -> Self {
        let mut layers = Vec::new();
        let mut words = n.div_ceil(64).max(1);
        loop {
            layers.push(vec![0u64; words]);
            if words == 1 {
                break;
            }
            words = words.div_ceil(64);
        }
        BitTree { layers }
    }

    pub(crate) fn insert(&mut self, i: usize) {
        let mut pos = i;
        for layer in &mut self.layers {
            let Some(w) = layer.get_mut(pos / 64) else {
                return;
            };
            let was_empty = *w == 0;
            *w |= 1 << (pos % 64);
            if !was_empty {
                return;
            }
            pos /= 64;
        }
    }

    pub(crate) fn remove(&mut self, i: usize) {
        let mut pos = i;
        for layer in &mut self.layers {
            let Some(w) = layer.get_mut(pos / 64) else {
                return;
            };
            *w &= !(1 << (pos % 64));
            if *w != 0 {
                return;
            }
            pos /= 64;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self.layers.last() {
            Some(top) => top.iter().all(|&w| w == 0),
            None => true,
        }
    }

    /// The smallest member ≥ `from`.
    pub(crate) fn next_from(&self, from: usize) -> Option<usize> {
        let mut level = 0;
        let mut pos = from;
        // Climb until a word holds a member at or after `pos`.
        let found = loop {
            let layer = self.layers.get(level)?;
            let word = pos / 64;
            let bits = layer.get(word).map_or(0, |w| w & (!0u64 << (pos % 64)));
            if bits != 0 {
                break word * 64 + bits.trailing_zeros() as usize;
            }
            level += 1;
            pos = word + 1;
        };
        // Descend to the first member under that bit.
        let mut b = found;
        while level > 0 {
            level -= 1;
            let w = self.layers[level].get(b).copied().unwrap_or(0);
            b = b * 64 + w.trailing_zeros() as usize;
        }
        Some(b)
    }
}

/// Indexes grouped by an `i64` level: iteration goes from the highest level
/// down, ascending indexes within a level. Few distinct levels exist at once,
/// so they are a short sorted list; emptied bitmaps are kept for reuse.
#[derive(Clone, Debug, Default)]
pub(crate) struct LevelSets {
    n: usize,
    /// Descending by level.
    levels: Vec<(i64, BitTree)>,
    spare: Vec<BitTree>,
}

impl LevelSets {
    pub(crate) fn new(n: usize) -> Self {
        LevelSets {
            n,
            levels: Vec::new(),
            spare: Vec::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        for (_, mut t) in self.levels.drain(..) {
            for l in &mut t.layers {
                l.fill(0);
            }
            self.spare.push(t);
        }
    }

    pub(crate) fn insert(&mut self, level: i64, i: usize) {
        let at = self.levels.partition_point(|(l, _)| *l > level);
        if !matches!(self.levels.get(at), Some((l, _)) if *l == level) {
            let t = self.spare.pop().unwrap_or_else(|| BitTree::new(self.n));
            self.levels.insert(at, (level, t));
        }
        self.levels[at].1.insert(i);
    }

    pub(crate) fn remove(&mut self, level: i64, i: usize) {
        let at = self.levels.partition_point(|(l, _)| *l > level);
        if let Some((l, t)) = self.levels.get_mut(at) {
            if *l == level {
                t.remove(i);
                if t.is_empty() {
                    let (_, t) = self.levels.remove(at);
                    self.spare.push(t);
                }
            }
        }
    }

    /// Members in order; `visit` returns `true` to stop.
    pub(crate) fn walk(&self, mut visit: impl FnMut(usize) -> bool) {
        for (_, t) in &self.levels {
            let mut from = 0;
            while let Some(i) = t.next_from(from) {
                if visit(i) {
                    return;
                }
                from = i + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn bit_tree_behaves_like_an_ordered_set(
            n in 1usize..5000,
            ops in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 0..200),
            probes in prop::collection::vec(any::<prop::sample::Index>(), 1..20),
        ) {
            let mut t = BitTree::new(n);
            let mut s = BTreeSet::new();
            for (add, i) in ops {
                let i = i.index(n);
                if add { t.insert(i); s.insert(i); } else { t.remove(i); s.remove(&i); }
            }
            prop_assert_eq!(t.is_empty(), s.is_empty());
            for p in probes {
                let p = p.index(n + 1);
                prop_assert_eq!(t.next_from(p), s.range(p..).next().copied());
            }
        }

        #[test]
        fn level_sets_walk_high_levels_first(
            items in prop::collection::btree_map(0usize..300, -3i64..4, 0..40),
            drop in prop::collection::vec(0usize..300, 0..10),
        ) {
            let mut ls = LevelSets::new(300);
            let mut want = BTreeSet::new();
            for (&i, &l) in &items {
                ls.insert(l, i);
                want.insert((-l, i));
            }
            for i in drop {
                if let Some(&l) = items.get(&i) {
                    ls.remove(l, i);
                    want.remove(&(-l, i));
                }
            }
            let mut got = Vec::new();
            ls.walk(|i| { got.push(i); false });
            let want: Vec<usize> = want.into_iter().map(|(_, i)| i).collect();
            prop_assert_eq!(got, want);
        }
    }
}
