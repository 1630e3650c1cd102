//! Carrying a table's entries over a reload: times become relative to the
//! export's `now`, so the new process may use another clock origin.

use std::sync::atomic::Ordering;

use super::{is_expired, StickTable, SHARDS};
use crate::data::{Cnt, Rt};
use crate::freq::FreqCtr;
use crate::key::Key;

/// An entry as exported for a reload: times are relative to the export's `now`,
/// so the importing process may use another clock origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedEntry {
    pub key: Key,
    /// Milliseconds since the entry was last touched.
    pub idle_ms: u64,
    pub server_id: Option<i32>,
    pub server_key: Option<String>,
    pub counters: Vec<(Cnt, u64)>,
    /// Each rate with its period (ms) and counter, `curr_start` made relative
    /// (milliseconds before the export).
    pub rates: Vec<(Rt, u64, FreqCtr)>,
}

impl StickTable {
    /// Every live entry, for a reload to carry over.
    pub fn export(&self, now: u64) -> Vec<ExportedEntry> {
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        let schema = &self.cfg.schema;
        for i in 0..SHARDS {
            let sh = self.lock(i);
            for &idx in sh.map.values() {
                let Some(s) = sh.slot(idx) else { continue };
                if is_expired(s, self.cfg.expire, now) {
                    continue;
                }
                out.push(ExportedEntry {
                    key: s.key.clone(),
                    idle_ms: now.saturating_sub(s.touched),
                    server_id: s.data.server_id,
                    server_key: s.data.server_key.as_deref().map(str::to_string),
                    counters: schema
                        .counters()
                        .iter()
                        .copied()
                        .zip(s.data.counters.iter().copied())
                        .collect(),
                    rates: schema
                        .rates()
                        .iter()
                        .zip(s.data.rates.iter())
                        .map(|((r, p), f)| {
                            let rel = FreqCtr {
                                curr_start: now.saturating_sub(f.curr_start),
                                ..*f
                            };
                            (*r, *p, rel)
                        })
                        .collect(),
                });
            }
        }
        out
    }

    /// Loads exported entries at `now`: data types this table does not store are
    /// dropped, keys of another type skipped, and nothing is purged to make room.
    /// `conn_cur` starts at 0: those connections stay with the old process.
    /// Returns how many entries were loaded.
    pub fn import(&self, entries: &[ExportedEntry], now: u64) -> usize {
        let mut loaded = 0;
        let schema = &self.cfg.schema;
        // Oldest first, so that each shard's touch order stays right.
        let mut order: Vec<&ExportedEntry> = entries.iter().collect();
        order.sort_by_key(|e| std::cmp::Reverse(e.idle_ms));
        for e in order {
            if !e.key.fits(self.cfg.key) {
                continue;
            }
            let touched = now.saturating_sub(e.idle_ms);
            if self
                .cfg
                .expire
                .is_some_and(|x| now >= touched.saturating_add(x))
            {
                continue;
            }
            let si = self.shard_of(&e.key);
            let mut sh = self.lock(si);
            if sh.map.contains_key(&e.key) {
                continue;
            }
            if self
                .count
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    (c < self.cfg.size).then_some(c + 1)
                })
                .is_err()
            {
                break;
            }
            let mut data = schema.new_data(now);
            if schema.server_id {
                data.server_id = e.server_id;
            }
            if schema.server_key {
                data.server_key = e.server_key.as_deref().map(Into::into);
            }
            for (c, v) in &e.counters {
                if *c != Cnt::ConnCur {
                    data.set_cnt(schema, *c, *v);
                }
            }
            for (r, p, f) in &e.rates {
                if let Some((i, period)) = schema.rate_slot(*r) {
                    if period == *p {
                        data.rates[i] = FreqCtr {
                            curr_start: now.saturating_sub(f.curr_start),
                            ..*f
                        };
                    }
                }
            }
            let i = sh.insert(e.key.clone(), data, touched);
            if let Some(s) = sh.slot_mut(i) {
                s.touched = touched;
            }
            loaded += 1;
        }
        loaded
    }
}
