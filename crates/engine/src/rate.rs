//! Accept-rate limits as HAProxy applies them: global `maxconnrate` and
//! `maxsessrate` (changed at run time by `set rate-limit connections|sessions
//! global N`) and a frontend's `rate-limit sessions N`. An accept loop over a
//! limit waits before calling accept(): excess clients stay in the kernel's
//! backlog, never refused, and are taken as soon as the rate allows one more.
//!
//! Rates are HAProxy's `freq_ctr`: the events of the current second plus
//! those of the previous second weighted by the part of it still inside the
//! sliding one-second window. A session is counted when its connection is
//! accepted (HAProxy counts it after `tcp-request connection` rules; a
//! connection those rules reject still counts here).

use fulcrum_config::model::Config;
use fulcrum_observe::api::RateLimitKind;
use fulcrum_observe::stats::ProcessInfo;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Milliseconds on a process-wide monotonic clock.
fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    u64::try_from(BASE.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Events per second over a sliding second, shared by every thread.
#[derive(Debug, Default)]
pub(crate) struct FreqCtr {
    /// `(second << 32) | events of that second`, updated in one step.
    cur: AtomicU64,
    /// Events of the second before `cur`'s.
    prev: AtomicU32,
    /// Highest rate seen (`MaxConnRate`, `rate_max`).
    max: AtomicU32,
}

impl FreqCtr {
    fn add(&self, now: u64) {
        let sec = u32::try_from(now / 1000).unwrap_or(u32::MAX);
        let mut v = self.cur.load(Ordering::Acquire);
        loop {
            let (s, c) = ((v >> 32) as u32, v as u32);
            let next = if s == sec {
                v + 1
            } else {
                (u64::from(sec) << 32) | 1
            };
            match self
                .cur
                .compare_exchange_weak(v, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if s != sec {
                        // The second just ended becomes the previous one; an older
                        // one no longer counts.
                        let p = if s.wrapping_add(1) == sec { c } else { 0 };
                        self.prev.store(p, Ordering::Release);
                    }
                    break;
                }
                Err(x) => v = x,
            }
        }
        self.max.fetch_max(self.rate_at(now), Ordering::Relaxed);
    }

    /// Events in the window, in thousandths: `curr × 1000 + prev × ms left`.
    fn total(&self, now: u64) -> u64 {
        let sec = now / 1000;
        let left = 1000 - now % 1000;
        let v = self.cur.load(Ordering::Acquire);
        let (s, c) = (v >> 32, v & 0xffff_ffff);
        if s == sec {
            c * 1000 + u64::from(self.prev.load(Ordering::Acquire)) * left
        } else if s + 1 == sec {
            c * left
        } else {
            0
        }
    }

    fn rate_at(&self, now: u64) -> u32 {
        u32::try_from(self.total(now) / 1000).unwrap_or(u32::MAX)
    }

    pub(crate) fn rate(&self) -> u32 {
        self.rate_at(now_ms())
    }

    pub(crate) fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }

    /// How long before one more event fits under `limit` events per second;
    /// `None` when it fits now or `limit` is 0 (no limit).
    fn wait(&self, limit: u32, now: u64) -> Option<Duration> {
        if limit == 0 {
            return None;
        }
        let (total, cap) = (self.total(now), u64::from(limit) * 1000);
        // As HAProxy's next_event_delay: each event takes 1000/limit ms.
        (total >= cap)
            .then(|| Duration::from_millis(((total - cap) / u64::from(limit)).clamp(1, 1000)))
    }
}

/// Every accept-rate limit and counter of the process.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    conn_limit: AtomicU32,
    sess_limit: AtomicU32,
    /// `set rate-limit http-compression`, kB/s: shown, not applied (Fulcrum
    /// does not compress).
    comp_limit: AtomicU32,
    conns: FreqCtr,
    sessions: FreqCtr,
    /// Per frontend index: `rate-limit sessions` and its session rate.
    fe_limit: Vec<AtomicU32>,
    fe: Vec<FreqCtr>,
}

impl Rates {
    pub(crate) fn new(frontends: usize) -> Self {
        Rates {
            fe_limit: (0..frontends).map(|_| AtomicU32::new(0)).collect(),
            fe: (0..frontends).map(|_| FreqCtr::default()).collect(),
            ..Rates::default()
        }
    }

    /// The configured limits; `names` are the runtime's frontends in order.
    pub(crate) fn configure<'a>(&self, cfg: &Config, names: impl Iterator<Item = &'a str>) {
        let g = &cfg.global;
        self.conn_limit
            .store(g.maxconnrate.unwrap_or(0), Ordering::Relaxed);
        self.sess_limit
            .store(g.maxsessrate.unwrap_or(0), Ordering::Relaxed);
        for (lim, name) in self.fe_limit.iter().zip(names) {
            let v = cfg
                .proxies
                .iter()
                .find(|p| p.name == name && p.kind.is_frontend())
                .and_then(|p| p.rate_limit_sessions)
                .unwrap_or(0);
            lim.store(v, Ordering::Relaxed);
        }
    }

    /// `set rate-limit KIND global VALUE` (0 lifts the limit).
    pub(crate) fn set(&self, kind: RateLimitKind, v: u32) {
        let slot = match kind {
            RateLimitKind::Connections => &self.conn_limit,
            RateLimitKind::Sessions => &self.sess_limit,
            RateLimitKind::HttpCompression => &self.comp_limit,
        };
        slot.store(v, Ordering::Relaxed);
    }

    /// How long frontend `fi`'s accept loop must wait before accepting.
    pub(crate) fn delay(&self, fi: usize) -> Option<Duration> {
        let now = now_ms();
        let fe = self.fe.get(fi).zip(self.fe_limit.get(fi));
        [
            self.conns
                .wait(self.conn_limit.load(Ordering::Relaxed), now),
            self.sessions
                .wait(self.sess_limit.load(Ordering::Relaxed), now),
            fe.and_then(|(c, l)| c.wait(l.load(Ordering::Relaxed), now)),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// A connection (and its session) was accepted on frontend `fi`.
    pub(crate) fn accepted(&self, fi: usize) {
        let now = now_ms();
        self.conns.add(now);
        self.sessions.add(now);
        if let Some(c) = self.fe.get(fi) {
            c.add(now);
        }
    }

    /// Frontend `fi`: `(rate, rate_max, rate_lim)`, `rate_lim` `None` without one.
    pub(crate) fn frontend(&self, fi: usize) -> (u32, u32, Option<u32>) {
        let lim = self
            .fe_limit
            .get(fi)
            .map(|l| l.load(Ordering::Relaxed))
            .filter(|l| *l > 0);
        self.fe
            .get(fi)
            .map_or((0, 0, lim), |c| (c.rate(), c.max(), lim))
    }

    /// The `show info` rate fields.
    pub(crate) fn fill_info(&self, info: &mut ProcessInfo) {
        info.conn_rate = u64::from(self.conns.rate());
        info.max_conn_rate = u64::from(self.conns.max());
        info.conn_rate_limit = u64::from(self.conn_limit.load(Ordering::Relaxed));
        info.sess_rate = u64::from(self.sessions.rate());
        info.max_sess_rate = u64::from(self.sessions.max());
        info.sess_rate_limit = u64::from(self.sess_limit.load(Ordering::Relaxed));
        info.comp_rate_limit = u64::from(self.comp_limit.load(Ordering::Relaxed)) * 1024;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_second_waits_and_the_previous_second_fades_out() {
        let c = FreqCtr::default();
        // Second 5: three events, limit 3.
        for _ in 0..3 {
            c.add(5_000);
        }
        assert_eq!(c.rate_at(5_500), 3);
        assert!(c.wait(3, 5_500).is_some());
        assert_eq!(c.wait(4, 5_500), None);
        assert_eq!(c.wait(0, 5_500), None, "0 is no limit");
        // Second 6: the previous three weigh 3 × 0.9 at 6.100.
        assert_eq!(c.rate_at(6_100), 2);
        let w = c.wait(3, 6_000).unwrap_or_default();
        assert!(w >= Duration::from_millis(1) && w <= Duration::from_millis(1000));
        assert_eq!(c.wait(3, 6_400), None);
        c.add(6_400);
        assert_eq!(c.rate_at(6_400), 2);
        // Two seconds later nothing is left.
        assert_eq!(c.rate_at(8_100), 0);
        assert_eq!(c.max(), 3);
    }

    #[test]
    fn a_limit_spreads_a_burst_over_time() {
        // Greedy: at every millisecond, take every event the limit allows.
        let c = FreqCtr::default();
        let mut taken = 0;
        let mut now = 10_000;
        while now < 13_000 {
            while c.wait(5, now).is_none() {
                c.add(now);
                taken += 1;
            }
            now += 1;
        }
        // Five per second, give or take the sliding window's rounding.
        assert!((14..=17).contains(&taken), "{taken}");
    }
}
