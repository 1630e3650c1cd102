//! The consistent-hashing ring (`hash-type consistent`, and `random`).
//!
//! Each server owns `effective weight` points at `full_hash(id * 4096 + n)`, as
//! HAProxy places them (lb_chash.c's facts), so keys land on the server HAProxy
//! picks. A key goes to the nearest point, the one before it on a tie. A weight
//! or state change adds or removes only that server's points: only its keys move.

use crate::hash::full_hash;
use std::collections::BTreeSet;

/// Points per unit of user weight times the largest user weight: a server's
/// point numbers stay below it, so two servers' points never share an input.
const POINTS_RANGE: u32 = 4096;

/// A point: `(position, server index, point number)`.
pub(crate) type Point = (u32, u32, u32);

#[derive(Clone, Debug, Default)]
pub(crate) struct Ring {
    points: BTreeSet<Point>,
}

impl Ring {
    /// Sets server `idx` (numeric `id`) to own points `0..to`, given it owns
    /// `0..from` now.
    pub(crate) fn resize(&mut self, idx: usize, id: u32, from: u32, to: u32) {
        let idx = u32::try_from(idx).unwrap_or(u32::MAX);
        let key = |n: u32| full_hash(id.wrapping_mul(POINTS_RANGE).wrapping_add(n));
        for n in to..from {
            self.points.remove(&(key(n), idx, n));
        }
        for n in from..to {
            self.points.insert((key(n), idx, n));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    /// The point nearest to `hash` (the earlier one on equal distance).
    pub(crate) fn nearest(&self, hash: u32) -> Option<Point> {
        let next = self
            .points
            .range((hash, 0, 0)..)
            .next()
            .or_else(|| self.points.first())
            .copied()?;
        let prev = self
            .points
            .range(..next)
            .next_back()
            .or_else(|| self.points.last())
            .copied()?;
        let dp = hash.wrapping_sub(prev.0);
        let dn = next.0.wrapping_sub(hash);
        Some(if dp <= dn { prev } else { next })
    }

    /// The point after `p`, wrapping around.
    pub(crate) fn next(&self, p: Point) -> Option<Point> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.points
            .range((Excluded(p), Unbounded))
            .next()
            .or_else(|| self.points.first())
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_adds_and_removes_only_that_server() {
        let mut r = Ring::default();
        r.resize(0, 1, 0, 16);
        r.resize(1, 2, 0, 32);
        assert_eq!(r.len(), 48);
        r.resize(1, 2, 32, 16);
        assert_eq!(r.len(), 32);
        r.resize(0, 1, 16, 0);
        assert_eq!(r.len(), 16);
        assert!(r.points.iter().all(|p| p.1 == 1));
    }

    #[test]
    fn nearest_wraps_and_prefers_previous_on_tie() {
        let mut r = Ring::default();
        r.points.insert((100, 0, 0));
        r.points.insert((200, 1, 0));
        assert_eq!(r.nearest(150).map(|p| p.1), Some(0));
        assert_eq!(r.nearest(151).map(|p| p.1), Some(1));
        assert_eq!(r.nearest(u32::MAX).map(|p| p.1), Some(0));
        assert_eq!(r.next((200, 1, 0)).map(|p| p.1), Some(0));
        assert!(Ring::default().nearest(1).is_none());
    }
}
