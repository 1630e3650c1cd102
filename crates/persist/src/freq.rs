//! Event rates over a sliding period, with HAProxy's `freq_ctr` semantics.
//!
//! A counter keeps the events of the current period and of the previous one. The
//! rate read at `now` is the current count plus the previous count weighted by the
//! part of the previous period still inside the sliding window
//! (`prev × remaining / period`), which approximates a true sliding window without
//! keeping timestamps. A period starts at the first event after an idle gap, and
//! two idle periods forget everything.

/// One rate counter. `period` is passed in by the caller (it is a table setting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreqCtr {
    /// Start of the current period, in the caller's milliseconds.
    pub curr_start: u64,
    /// Events in the current period.
    pub curr: u64,
    /// Events in the previous period.
    pub prev: u64,
}

impl FreqCtr {
    /// A counter whose first period starts at `now`.
    pub fn new(now: u64) -> Self {
        FreqCtr {
            curr_start: now,
            curr: 0,
            prev: 0,
        }
    }

    /// Moves the window so that `now` falls in the current period.
    fn rotate(&mut self, period: u64, now: u64) {
        let period = period.max(1);
        // A clock going backwards (a restored entry) counts as "still current".
        let elapsed = now.saturating_sub(self.curr_start);
        if elapsed < period {
            return;
        }
        if elapsed >= 2 * period {
            // Two periods or more without events: the new period starts now.
            self.prev = 0;
            self.curr_start = now;
        } else {
            self.prev = self.curr;
            self.curr_start += period;
        }
        self.curr = 0;
    }

    /// Adds `n` events at `now`.
    pub fn add(&mut self, period: u64, now: u64, n: u64) {
        self.rotate(period, now);
        self.curr = self.curr.saturating_add(n);
    }

    /// Events per `period` at `now`, rounded down (HAProxy's `read_freq_ctr_period`).
    pub fn rate(&self, period: u64, now: u64) -> u64 {
        let period = period.max(1);
        let (mut curr, mut past) = (self.curr, self.prev);
        let end = self.curr_start.saturating_add(period);
        let mut remain = end as i128 - now as i128;
        if remain < 0 {
            remain += period as i128;
            past = if remain >= 0 { curr } else { 0 };
            curr = 0;
        }
        let remain = remain.clamp(0, period as i128) as u128;
        // Low rates do not flap between 0 and 1 as the window slides.
        if curr == 0 && past <= 1 {
            return past;
        }
        let total = past as u128 * remain + curr as u128 * period as u128;
        u64::try_from(total / period as u128).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: u64 = 10_000;

    #[test]
    fn counts_events_within_the_period() {
        let mut f = FreqCtr::new(0);
        for i in 0..21 {
            f.add(P, i * 100, 1);
        }
        assert_eq!(f.rate(P, 2_100), 21);
    }

    #[test]
    fn previous_period_fades_linearly_then_vanishes() {
        let mut f = FreqCtr::new(0);
        f.add(P, 0, 20);
        // Half-way through the next period, half of the old events still count.
        assert_eq!(f.rate(P, 15_000), 10);
        assert_eq!(f.rate(P, 19_999), 0);
        assert_eq!(f.rate(P, 20_000), 0);
        assert_eq!(f.rate(P, 1_000_000), 0);
    }

    #[test]
    fn rotation_keeps_previous_and_current() {
        let mut f = FreqCtr::new(0);
        f.add(P, 1_000, 10);
        f.add(P, 12_000, 4);
        // 8 s left of the window over the previous period: 10 × 0.8 + 4.
        assert_eq!(f.rate(P, 12_000), 12);
    }

    #[test]
    fn a_long_gap_forgets_everything() {
        let mut f = FreqCtr::new(0);
        f.add(P, 0, 50);
        f.add(P, 35_000, 1);
        assert_eq!(f.rate(P, 35_000), 1);
    }

    proptest! {
        /// The rate never exceeds the events of the last two periods and, inside
        /// one period from the first event, equals the exact count.
        #[test]
        fn rate_is_bounded(events in proptest::collection::vec((0u64..5_000, 1u64..5), 1..50)) {
            let mut f = FreqCtr::new(0);
            let mut now = 0;
            let mut total = 0;
            let mut times = Vec::new();
            for (dt, n) in events {
                now += dt;
                f.add(P, now, n);
                total += n;
                times.push((now, n));
            }
            let r = f.rate(P, now);
            prop_assert!(r <= total);
            let recent: u64 = times.iter().filter(|(t, _)| now - t < 2 * P).map(|(_, n)| n).sum();
            prop_assert!(r <= recent);
            if now < P {
                prop_assert_eq!(r, total);
            }
        }
    }
}
