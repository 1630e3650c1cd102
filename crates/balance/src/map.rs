//! The weighted server table of `static-rr` and map-based hashing.
//!
//! Built as HAProxy builds it (lb_map.c's facts): one slot per unit of weight,
//! filled by repeatedly taking the server whose accumulated score is highest,
//! the first declared winning ties. Map-based hashing then picks
//! `slots[hash % slots.len()]`, so the same weights give HAProxy's server for
//! every key. Rebuilt on every server change, as HAProxy does.

/// One slot per unit of (gcd-reduced) weight, holding a server index.
#[derive(Clone, Debug, Default)]
pub(crate) struct MapTable {
    slots: Vec<u32>,
}

impl MapTable {
    /// `members`: `(server index, weight > 0)` in declaration order.
    pub(crate) fn build(members: &[(usize, u32)]) -> Self {
        let tot: i64 = members.iter().map(|&(_, w)| i64::from(w)).sum();
        let mut score = vec![0i64; members.len()];
        let mut slots = Vec::with_capacity(usize::try_from(tot).unwrap_or(0));
        for _ in 0..tot {
            let mut best: Option<(usize, i64)> = None;
            for (m, &(_, w)) in members.iter().enumerate() {
                score[m] += i64::from(w);
                let v = (score[m] + tot) / tot;
                if !matches!(best, Some((_, max)) if v <= max) {
                    best = Some((m, v));
                }
            }
            if let Some((m, _)) = best {
                score[m] -= tot;
                slots.push(u32::try_from(members[m].0).unwrap_or(u32::MAX));
            }
        }
        MapTable { slots }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The server in slot `i` (taken modulo the table size).
    pub(crate) fn slot(&self, i: usize) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        Some(self.slots[i % self.slots.len()] as usize)
    }

    /// The server map-based hashing gives `hash`.
    #[cfg(test)]
    pub(crate) fn by_hash(&self, hash: u32) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        self.slot((hash as usize) % self.slots.len())
    }
}

/// Greatest common divisor of the non-zero weights (1 if none): HAProxy divides
/// map weights by it to keep the table small.
pub(crate) fn weights_gcd(weights: impl Iterator<Item = u32>) -> u32 {
    let mut g = 0u32;
    for w in weights.filter(|&w| w > 0) {
        let (mut a, mut b) = (g, w);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        g = a;
    }
    g.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &MapTable) -> Vec<usize> {
        (0..t.len()).filter_map(|i| t.slot(i)).collect()
    }

    #[test]
    fn one_to_two_interleaves_first_declared_first() {
        let t = MapTable::build(&[(0, 1), (1, 2)]);
        assert_eq!(names(&t), vec![0, 1, 1]);
    }

    #[test]
    fn equal_weights_follow_declaration_order() {
        let t = MapTable::build(&[(0, 1), (1, 1), (2, 1)]);
        assert_eq!(names(&t), vec![0, 1, 2]);
        assert_eq!(t.by_hash(4), Some(1));
    }

    #[test]
    fn gcd_ignores_zero_weights() {
        assert_eq!(weights_gcd([0, 4, 6].into_iter()), 2);
        assert_eq!(weights_gcd([0, 0].into_iter()), 1);
    }
}
