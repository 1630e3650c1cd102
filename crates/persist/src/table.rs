//! [`StickTable`]: bounded, expiring, sharded key → data storage.
//!
//! Keys hash to one of [`SHARDS`] shards, each a small map behind its own mutex,
//! so worker threads only meet when they touch keys of the same shard. Each shard
//! keeps its entries in least-recently-touched order. When the table holds `size`
//! entries, creating one first purges a few of the least recently touched entries
//! (HAProxy's "flush a few of the oldest entries"), unless `nopurge` is set: then
//! creation fails until entries expire. Entries tracked by a live session
//! (`refs > 0`) are never purged nor expired.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use fulcrum_config::model::persist::StickTable as TableModel;

use crate::data::{EntryData, Schema};
use crate::error::PersistError;
use crate::key::{Key, KeyType};

/// Number of shards of every table.
pub const SHARDS: usize = 32;
const NIL: u32 = u32::MAX;

/// A table's settings, in the units the table works with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// The proxy (or `peers/table`) name, used by `table NAME` references.
    pub name: String,
    pub key: KeyType,
    /// Maximum number of entries.
    pub size: u64,
    /// Idle time after which an untracked entry is forgotten (ms); `None`: never.
    pub expire: Option<u64>,
    pub nopurge: bool,
    pub schema: Schema,
}

impl TableConfig {
    /// From the parsed `stick-table` line of proxy `name`.
    pub fn from_model(name: &str, t: &TableModel) -> Self {
        TableConfig {
            name: name.to_string(),
            key: t.key.into(),
            size: t.size,
            expire: t
                .expire
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            nopurge: t.nopurge,
            schema: Schema::new(&t.store),
        }
    }
}

struct Slot {
    key: Key,
    data: EntryData,
    /// When the entry was last touched (ms).
    touched: u64,
    refs: u32,
    /// Towards the most recently touched entry.
    newer: u32,
    /// Towards the least recently touched entry.
    older: u32,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Key, u32>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Most recently touched.
    newest: u32,
    /// Least recently touched: the first to purge.
    oldest: u32,
}

impl Shard {
    fn new() -> Self {
        Shard {
            newest: NIL,
            oldest: NIL,
            ..Default::default()
        }
    }

    fn slot(&self, i: u32) -> Option<&Slot> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Slot> {
        self.slots.get_mut(i as usize).and_then(Option::as_mut)
    }

    fn unlink(&mut self, i: u32) {
        let Some((newer, older)) = self.slot(i).map(|s| (s.newer, s.older)) else {
            return;
        };
        match self.slot_mut(newer) {
            Some(n) => n.older = older,
            None => self.newest = older,
        }
        match self.slot_mut(older) {
            Some(o) => o.newer = newer,
            None => self.oldest = newer,
        }
    }

    fn push_newest(&mut self, i: u32) {
        let old_newest = self.newest;
        if let Some(s) = self.slot_mut(i) {
            s.newer = NIL;
            s.older = old_newest;
        }
        match self.slot_mut(old_newest) {
            Some(n) => n.newer = i,
            None => self.oldest = i,
        }
        self.newest = i;
    }

    fn touch(&mut self, i: u32, now: u64) {
        self.unlink(i);
        if let Some(s) = self.slot_mut(i) {
            s.touched = s.touched.max(now);
        }
        self.push_newest(i);
    }

    fn insert(&mut self, key: Key, data: EntryData, now: u64) -> u32 {
        let slot = Slot {
            key: key.clone(),
            data,
            touched: now,
            refs: 0,
            newer: NIL,
            older: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.push_newest(i);
        i
    }

    fn remove(&mut self, i: u32) {
        self.unlink(i);
        if let Some(s) = self.slots.get_mut(i as usize).and_then(Option::take) {
            self.map.remove(&s.key);
            self.free.push(i);
        }
    }

    /// Removes up to `max` unreferenced entries, oldest first; only expired ones
    /// when `only_expired`. Returns how many went.
    fn purge(&mut self, max: usize, only_expired: bool, expire: Option<u64>, now: u64) -> usize {
        let mut removed = 0;
        let mut cur = self.oldest;
        // Bounded by the number of entries: each step moves one entry newer.
        for _ in 0..self.map.len() {
            if removed >= max {
                break;
            }
            let Some(s) = self.slot(cur) else { break };
            let next = s.newer;
            let expired = is_expired(s, expire, now);
            if only_expired && !expired && s.refs == 0 {
                // Entries are in touch order: nothing newer is expired either.
                break;
            }
            if s.refs == 0 && (expired || !only_expired) {
                self.remove(cur);
                removed += 1;
            }
            cur = next;
        }
        removed
    }
}

fn is_expired(s: &Slot, expire: Option<u64>, now: u64) -> bool {
    match expire {
        Some(e) => s.refs == 0 && now >= s.touched.saturating_add(e),
        None => false,
    }
}

/// One stick table, shared by every worker thread (wrap it in an `Arc`).
pub struct StickTable {
    cfg: TableConfig,
    shards: Box<[Mutex<Shard>]>,
    count: AtomicU64,
}

impl std::fmt::Debug for StickTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StickTable")
            .field("cfg", &self.cfg)
            .field("count", &self.len())
            .finish()
    }
}

impl StickTable {
    pub fn new(cfg: TableConfig) -> Self {
        StickTable {
            cfg,
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            count: AtomicU64::new(0),
        }
    }

    /// The table of proxy `name` as its `stick-table` line declares it.
    pub fn from_model(name: &str, t: &TableModel) -> Self {
        Self::new(TableConfig::from_model(name, t))
    }

    pub fn config(&self) -> &TableConfig {
        &self.cfg
    }
    pub fn name(&self) -> &str {
        &self.cfg.name
    }
    pub fn key_type(&self) -> KeyType {
        self.cfg.key
    }
    pub fn schema(&self) -> &Schema {
        &self.cfg.schema
    }
    /// Entries stored now, expired ones not yet purged included (`table_cnt`).
    pub fn len(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Free entries (`table_avl`).
    pub fn available(&self) -> u64 {
        self.cfg.size.saturating_sub(self.len())
    }

    fn shard_of(&self, key: &Key) -> usize {
        (key.shard_hash() % SHARDS as u64) as usize
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave it inconsistent enough to
        // matter more than losing persistence: keep serving.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live entry of `key` in a locked shard; an expired one is removed.
    fn find(&self, sh: &mut Shard, key: &Key, now: u64) -> Option<u32> {
        let i = *sh.map.get(key)?;
        let expired = sh
            .slot(i)
            .is_some_and(|s| is_expired(s, self.cfg.expire, now));
        if expired {
            sh.remove(i);
            self.count.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(i)
    }

    /// Reads the data of `key` without touching it (fetches like `src_conn_cur`).
    pub fn get<R>(&self, key: &Key, now: u64, f: impl FnOnce(&EntryData) -> R) -> Option<R> {
        let mut sh = self.lock(self.shard_of(key));
        let i = self.find(&mut sh, key, now)?;
        sh.slot(i).map(|s| f(&s.data))
    }

    /// How many sessions track the entry of `key` (`sc_trackers`); 0 when absent.
    pub fn refs(&self, key: &Key) -> u32 {
        let sh = self.lock(self.shard_of(key));
        sh.map
            .get(key)
            .and_then(|&i| sh.slot(i))
            .map_or(0, |s| s.refs)
    }

    /// Whether `key` has a live entry.
    pub fn contains(&self, key: &Key, now: u64) -> bool {
        self.get(key, now, |_| ()).is_some()
    }

    /// Reserves room for one more entry, purging as HAProxy does when full.
    /// `own` is the locked shard of the new key.
    fn reserve(&self, own: &mut Shard, now: u64) -> bool {
        let size = self.cfg.size;
        for _ in 0..2 {
            if self
                .count
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    (c < size).then_some(c + 1)
                })
                .is_ok()
            {
                return true;
            }
            let n = if self.cfg.nopurge {
                own.purge(usize::MAX, true, self.cfg.expire, now)
            } else {
                let batch = usize::try_from((size >> 8) + 1).unwrap_or(usize::MAX);
                let expired = own.purge(usize::MAX, true, self.cfg.expire, now);
                expired
                    + if expired == 0 {
                        own.purge(batch, false, self.cfg.expire, now)
                    } else {
                        0
                    }
            };
            if n == 0 {
                return false;
            }
            self.count.fetch_sub(n as u64, Ordering::Relaxed);
        }
        false
    }

    /// Purges other shards to make room (never holding two shard locks). On
    /// success one freed place stays counted: it is the caller's reservation.
    fn make_room_elsewhere(&self, skip: usize, now: u64) -> bool {
        let batch = usize::try_from((self.cfg.size >> 8) + 1).unwrap_or(usize::MAX);
        for k in 1..SHARDS {
            let i = (skip + k) % SHARDS;
            let n = {
                let mut sh = self.lock(i);
                let expired = sh.purge(usize::MAX, true, self.cfg.expire, now);
                if expired > 0 || self.cfg.nopurge {
                    expired
                } else {
                    sh.purge(batch, false, self.cfg.expire, now)
                }
            };
            if n > 0 {
                self.count.fetch_sub(n as u64 - 1, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// Runs `f` on the entry of `key` in its locked shard, creating the entry when
    /// missing and touching it (refreshing its expiry and LRU place).
    fn with_entry<R>(
        &self,
        key: &Key,
        now: u64,
        f: impl FnOnce(&mut Slot, &Schema) -> R,
    ) -> Result<R, PersistError> {
        if !key.fits(self.cfg.key) {
            return Err(PersistError::BadKey {
                ty: self.cfg.key.name(),
                value: key.to_string(),
            });
        }
        let si = self.shard_of(key);
        let mut f = Some(f);
        let mut reserved = false;
        for attempt in 0..2 {
            let mut sh = self.lock(si);
            let i = match self.find(&mut sh, key, now) {
                Some(i) => {
                    if reserved {
                        // Another thread created the key meanwhile: give the place back.
                        self.count.fetch_sub(1, Ordering::Relaxed);
                    }
                    i
                }
                None => {
                    if !reserved && !self.reserve(&mut sh, now) {
                        // `nopurge` tables may still drop expired entries.
                        if attempt == 0 && (!self.cfg.nopurge || self.cfg.expire.is_some()) {
                            drop(sh);
                            reserved = self.make_room_elsewhere(si, now);
                            if reserved {
                                continue;
                            }
                        }
                        return Err(PersistError::TableFull {
                            size: self.cfg.size,
                        });
                    }
                    sh.insert(key.clone(), self.cfg.schema.new_data(now), now)
                }
            };
            sh.touch(i, now);
            let schema = &self.cfg.schema;
            return match (sh.slot_mut(i), f.take()) {
                (Some(s), Some(f)) => Ok(f(s, schema)),
                _ => Err(PersistError::TableFull {
                    size: self.cfg.size,
                }),
            };
        }
        if reserved {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        Err(PersistError::TableFull {
            size: self.cfg.size,
        })
    }

    /// Creates or touches the entry of `key` and changes its data.
    pub fn update<R>(
        &self,
        key: &Key,
        now: u64,
        f: impl FnOnce(&mut EntryData, &Schema) -> R,
    ) -> Result<R, PersistError> {
        self.with_entry(key, now, |s, schema| f(&mut s.data, schema))
    }

    /// Creates or touches the entry of `key` and pins it for a tracking session.
    pub fn acquire(&self, key: &Key, now: u64) -> Result<(), PersistError> {
        self.with_entry(key, now, |s, _| s.refs = s.refs.saturating_add(1))
    }

    /// Unpins an entry pinned by [`StickTable::acquire`]; its idle time starts now.
    pub fn release(&self, key: &Key, now: u64) {
        let mut sh = self.lock(self.shard_of(key));
        if let Some(&i) = sh.map.get(key) {
            if let Some(s) = sh.slot_mut(i) {
                s.refs = s.refs.saturating_sub(1);
            }
            sh.touch(i, now);
        }
    }

    /// Changes the data of a pinned (tracked) entry without creating one.
    pub fn update_pinned<R>(
        &self,
        key: &Key,
        now: u64,
        f: impl FnOnce(&mut EntryData, &Schema) -> R,
    ) -> Option<R> {
        let mut sh = self.lock(self.shard_of(key));
        let i = *sh.map.get(key)?;
        sh.touch(i, now);
        let schema = &self.cfg.schema;
        sh.slot_mut(i).map(|s| f(&mut s.data, schema))
    }

    /// Removes the entry of `key` unless a session tracks it (`clear table … key`).
    pub fn remove(&self, key: &Key) -> bool {
        let mut sh = self.lock(self.shard_of(key));
        let Some(&i) = sh.map.get(key) else {
            return false;
        };
        if sh.slot(i).is_some_and(|s| s.refs > 0) {
            return false;
        }
        sh.remove(i);
        self.count.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Removes every untracked entry (`clear table`); returns how many.
    pub fn clear(&self) -> usize {
        let mut total = 0;
        for i in 0..SHARDS {
            let n = self.lock(i).purge(usize::MAX, false, None, 0);
            self.count.fetch_sub(n as u64, Ordering::Relaxed);
            total += n;
        }
        total
    }

    /// Removes expired entries; the engine calls this now and then (HAProxy's
    /// expiry task). Returns how many went.
    pub fn purge_expired(&self, now: u64) -> usize {
        if self.cfg.expire.is_none() {
            return 0;
        }
        let mut total = 0;
        for i in 0..SHARDS {
            let n = self.lock(i).purge(usize::MAX, true, self.cfg.expire, now);
            self.count.fetch_sub(n as u64, Ordering::Relaxed);
            total += n;
        }
        total
    }

    /// Visits every live entry: key, data, milliseconds until expiry (`None`:
    /// never or tracked) and the number of sessions tracking it.
    pub fn for_each(&self, now: u64, mut f: impl FnMut(&Key, &EntryData, Option<u64>, u32)) {
        for i in 0..SHARDS {
            let sh = self.lock(i);
            for &idx in sh.map.values() {
                if let Some(s) = sh.slot(idx) {
                    if is_expired(s, self.cfg.expire, now) {
                        continue;
                    }
                    let exp = match (self.cfg.expire, s.refs) {
                        (Some(e), 0) => Some(s.touched.saturating_add(e).saturating_sub(now)),
                        _ => None,
                    };
                    f(&s.key, &s.data, exp, s.refs);
                }
            }
        }
    }
}

mod reload;
mod show;
#[cfg(test)]
mod tests;

pub use reload::ExportedEntry;
