//! Latency histograms: atomics the engine bumps, snapshots the renderers read.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket upper bounds in milliseconds; a last `+Inf` bucket is implied.
pub const DEFAULT_BOUNDS_MS: &[u64] = &[
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
];

/// A snapshot: per-bucket counts (not cumulative), the last one for `+Inf`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    pub bounds_ms: Vec<u64>,
    pub counts: Vec<u64>,
    pub sum_ms: u64,
}

impl Histogram {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
    /// Cumulative counts per bound, then the total for `+Inf`.
    pub fn cumulative(&self) -> Vec<u64> {
        let mut acc = 0;
        self.counts
            .iter()
            .map(|c| {
                acc += c;
                acc
            })
            .collect()
    }
}

/// Lock-free histogram shared by worker threads.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds_ms: &'static [u64],
    counts: Box<[AtomicU64]>,
    sum_ms: AtomicU64,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        Self::new(DEFAULT_BOUNDS_MS)
    }
}

impl AtomicHistogram {
    pub fn new(bounds_ms: &'static [u64]) -> Self {
        AtomicHistogram {
            bounds_ms,
            counts: (0..=bounds_ms.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ms: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, ms: u64) {
        let i = self.bounds_ms.partition_point(|b| *b < ms);
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Histogram {
        Histogram {
            bounds_ms: self.bounds_ms.to_vec(),
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum_ms: self.sum_ms.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observe_lands_in_the_first_bucket_at_or_above() {
        let h = AtomicHistogram::new(&[10, 100]);
        for ms in [0, 10, 11, 100, 101, 5000] {
            h.observe(ms);
        }
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 2, 2]);
        assert_eq!(s.cumulative(), vec![2, 4, 6]);
        assert_eq!(s.sum_ms, 5222);
    }
}
