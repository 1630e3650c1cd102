//! Tracking counters: the `sc0`…`sc2` slots that `track-scN KEY [table T]` fills.
//!
//! A [`Trackers`] belongs to one session (rules `tcp-request connection|session`)
//! or one stream (`tcp-request content`, `http-request`): the engine keeps one of
//! each and calls the `on_*` methods on both as events happen. A tracked entry is
//! pinned in its table until the trackers end, so it neither expires nor gets
//! purged while the client is connected; `conn_cur` counts those pins.

use std::cell::Cell;
use std::sync::Arc;

use crate::data::{Cnt, EntryData, Event, GpcRef};
use crate::error::PersistError;
use crate::key::Key;
use crate::table::StickTable;

/// How many tracking counters a session has (HAProxy's default `tune.stick-counters`).
pub const COUNTERS: usize = 3;

/// Which rule set a `track-scN` comes from: it decides what the tracking counts
/// at once, because the events before it already happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackFrom {
    /// `tcp-request connection|session|content`: only the connection.
    Tcp,
    /// `http-request`: the request being processed too.
    HttpRequest,
    /// `http-response`: the request, and an error when the status is 4xx.
    HttpResponse { status: u16 },
}

/// Which counters a response status feeds, as HAProxy 2.6 counts them: every 4xx
/// is an error (`http_err_*`), every 5xx but 501 and 505 a failure (`http_fail_*`).
pub fn status_counts(status: u16) -> (bool, bool) {
    let class = status / 100;
    (class == 4, class == 5 && status != 501 && status != 505)
}

/// One filled slot: the table and the key it tracks.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub table: Arc<StickTable>,
    pub key: Key,
}

/// The tracking counters of a session or a stream.
#[derive(Debug, Default)]
pub struct Trackers {
    slots: [Option<Tracked>; COUNTERS],
    /// The latest `now` seen, used if the trackers are dropped without [`Trackers::end`].
    last_now: Cell<u64>,
}

fn slot_index(n: u8) -> Result<usize, PersistError> {
    let i = usize::from(n);
    if i < COUNTERS {
        Ok(i)
    } else {
        Err(PersistError::NoSuchCounter(n))
    }
}

impl Trackers {
    pub fn new() -> Self {
        Self::default()
    }

    fn note(&self, now: u64) {
        self.last_now.set(self.last_now.get().max(now));
    }

    /// What `scN` tracks, if anything.
    pub fn get(&self, n: u8) -> Option<&Tracked> {
        self.slots.get(usize::from(n)).and_then(Option::as_ref)
    }

    pub fn is_tracking(&self, n: u8) -> bool {
        self.get(n).is_some()
    }

    /// `track-scN KEY [table T]`. A slot already tracking keeps its first key, as in
    /// HAProxy (returns `Ok(false)`). Starting counts a connection (`conn_cnt`,
    /// `conn_cur`, `conn_rate`); from HTTP rules the request being processed is
    /// counted too, since it arrived before the tracking (see [`TrackFrom`]). A full
    /// table (`Err`) means no tracking, and the request goes on.
    pub fn track(
        &mut self,
        n: u8,
        table: &Arc<StickTable>,
        key: Key,
        now: u64,
        from: TrackFrom,
    ) -> Result<bool, PersistError> {
        let i = slot_index(n)?;
        self.note(now);
        if self.slots[i].is_some() {
            return Ok(false);
        }
        table.acquire(&key, now)?;
        table.update_pinned(&key, now, |d, s| {
            d.apply(s, Event::TrackStart, now);
            if from != TrackFrom::Tcp {
                d.apply(s, Event::HttpReq, now);
            }
            if let TrackFrom::HttpResponse { status } = from {
                if status_counts(status).0 {
                    d.apply(s, Event::HttpErr, now);
                }
            }
        });
        self.slots[i] = Some(Tracked {
            table: Arc::clone(table),
            key,
        });
        Ok(true)
    }

    fn each(&self, now: u64, ev: Event) {
        self.note(now);
        for t in self.slots.iter().flatten() {
            t.table
                .update_pinned(&t.key, now, |d, s| d.apply(s, ev, now));
        }
    }

    /// A session was accepted while these counters track (`sess_cnt`, `sess_rate`).
    pub fn on_session(&self, now: u64) {
        self.each(now, Event::Session);
    }
    /// A new HTTP request on a connection already tracked (`http_req_*`).
    pub fn on_http_request(&self, now: u64) {
        self.each(now, Event::HttpReq);
    }
    /// A request error: invalid request, 4xx response (`http_err_*`).
    pub fn on_http_error(&self, now: u64) {
        self.each(now, Event::HttpErr);
    }
    /// A response failure: 5xx except 501 and 505, server error (`http_fail_*`).
    pub fn on_http_failure(&self, now: u64) {
        self.each(now, Event::HttpFail);
    }
    /// Bytes received from the client (`bytes_in_*`).
    pub fn on_bytes_in(&self, n: u64, now: u64) {
        self.each(now, Event::BytesIn(n));
    }
    /// Bytes sent to the client (`bytes_out_*`).
    pub fn on_bytes_out(&self, n: u64, now: u64) {
        self.each(now, Event::BytesOut(n));
    }

    fn with_slot<R>(
        &self,
        n: u8,
        now: u64,
        f: impl FnOnce(&mut EntryData, &crate::data::Schema) -> R,
    ) -> Option<R> {
        self.note(now);
        let t = self.get(n)?;
        t.table.update_pinned(&t.key, now, f)
    }

    /// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)` / `sc-inc-gpc(I,N)`: the counter and its rate.
    /// `None` when `scN` tracks nothing or the table stores neither.
    pub fn inc_gpc(&self, n: u8, g: GpcRef, now: u64) -> Option<u64> {
        self.with_slot(n, now, |d, s| {
            d.apply(s, Event::IncGpc(g), now);
            EntryData::gpc_slots(s, g).0.and_then(|c| d.cnt(s, c))
        })
        .flatten()
    }

    /// `sc_clr_gpc0(N)`: zeroes the counter, returns its value before.
    pub fn clr_gpc(&self, n: u8, g: GpcRef, now: u64) -> Option<u64> {
        self.with_slot(n, now, |d, s| {
            let c = EntryData::gpc_slots(s, g).0?;
            let before = d.cnt(s, c);
            d.set_cnt(s, c, 0);
            before
        })
        .flatten()
    }

    /// `sc-set-gpt0(N) V` (`idx: None`) or `sc-set-gpt(I,N) V`. Returns whether a
    /// tag was set; `gpt0` falls back to `gpt(0)` like HAProxy ≥ 2.5.
    pub fn set_gpt(&self, n: u8, idx: Option<u32>, v: u64, now: u64) -> bool {
        self.with_slot(n, now, |d, s| match idx {
            None => d.set_cnt(s, Cnt::Gpt0, v) || d.set_cnt(s, Cnt::Gpt(0), v),
            Some(i) => d.set_cnt(s, Cnt::Gpt(i), v),
        })
        .unwrap_or(false)
    }

    /// The session or stream ends: `conn_cur` goes down and the entries are unpinned
    /// (their expiry starts now).
    pub fn end(&mut self, now: u64) {
        self.note(now);
        for slot in self.slots.iter_mut() {
            if let Some(t) = slot.take() {
                t.table
                    .update_pinned(&t.key, now, |d, s| d.apply(s, Event::TrackEnd, now));
                t.table.release(&t.key, now);
            }
        }
    }
}

impl Drop for Trackers {
    /// A session dropped on an error path still releases its entries.
    fn drop(&mut self) {
        let now = self.last_now.get();
        self.end(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Rt, Schema};
    use crate::key::KeyType;
    use crate::table::TableConfig;
    use fulcrum_config::model::persist::StoreData;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn table(store: &[StoreData]) -> Arc<StickTable> {
        Arc::new(StickTable::new(TableConfig {
            name: "fe".into(),
            key: KeyType::Ip,
            size: 100,
            expire: Some(30_000),
            nopurge: false,
            schema: Schema::new(store),
        }))
    }

    fn src() -> Key {
        Key::Ip(Ipv4Addr::new(192, 0, 2, 1))
    }

    #[test]
    fn tracking_counts_connections_and_conn_cur_follows_the_session() {
        let t = table(&[
            StoreData::ConnCur,
            StoreData::ConnCnt,
            StoreData::ConnRate(Duration::from_secs(10)),
        ]);
        let mut a = Trackers::new();
        let mut b = Trackers::new();
        assert!(a.track(0, &t, src(), 0, TrackFrom::Tcp).unwrap());
        assert!(b.track(0, &t, src(), 10, TrackFrom::Tcp).unwrap());
        let cur = |now| {
            t.get(&src(), now, |d| d.cnt(t.schema(), Cnt::ConnCur))
                .flatten()
        };
        assert_eq!(cur(10), Some(2));
        a.end(20);
        assert_eq!(cur(20), Some(1));
        drop(b);
        assert_eq!(cur(30), Some(0));
        assert_eq!(
            t.get(&src(), 30, |d| d.cnt(t.schema(), Cnt::ConnCnt))
                .flatten(),
            Some(2)
        );
        assert_eq!(
            t.get(&src(), 30, |d| d.rate(t.schema(), Rt::ConnRate, 30))
                .flatten(),
            Some(2)
        );
    }

    #[test]
    fn http_tracking_counts_the_current_request_and_a_4xx() {
        let t = table(&[StoreData::HttpReqCnt, StoreData::HttpErrCnt]);
        let mut a = Trackers::new();
        a.track(0, &t, src(), 0, TrackFrom::HttpResponse { status: 404 })
            .unwrap();
        let mut b = Trackers::new();
        b.track(0, &t, src(), 0, TrackFrom::Tcp).unwrap();
        let s = t.schema();
        let got = t.get(&src(), 0, |d| {
            (d.cnt(s, Cnt::HttpReqCnt), d.cnt(s, Cnt::HttpErrCnt))
        });
        assert_eq!(got, Some((Some(1), Some(1))));
    }

    #[test]
    fn statuses_feed_err_and_fail_counters() {
        assert_eq!(status_counts(404), (true, false));
        assert_eq!(status_counts(503), (false, true));
        assert_eq!(status_counts(501), (false, false));
        assert_eq!(status_counts(200), (false, false));
    }

    #[test]
    fn a_slot_keeps_its_first_key() {
        let t = table(&[StoreData::HttpReqCnt]);
        let mut a = Trackers::new();
        assert!(a.track(1, &t, src(), 0, TrackFrom::HttpRequest).unwrap());
        assert!(!a
            .track(
                1,
                &t,
                Key::Ip(Ipv4Addr::LOCALHOST),
                0,
                TrackFrom::HttpRequest
            )
            .unwrap());
        assert!(!t.contains(&Key::Ip(Ipv4Addr::LOCALHOST), 0));
        assert_eq!(
            a.track(3, &t, src(), 0, TrackFrom::HttpRequest),
            Err(PersistError::NoSuchCounter(3))
        );
    }

    #[test]
    fn gpc_and_gpt_actions_need_a_tracked_counter() {
        let t = table(&[
            StoreData::Gpc0,
            StoreData::Gpt0,
            StoreData::Gpc0Rate(Duration::from_secs(60)),
        ]);
        let mut a = Trackers::new();
        assert_eq!(a.inc_gpc(0, GpcRef::Gpc0, 0), None);
        a.track(0, &t, src(), 0, TrackFrom::Tcp).unwrap();
        assert_eq!(a.inc_gpc(0, GpcRef::Gpc0, 0), Some(1));
        assert_eq!(a.inc_gpc(0, GpcRef::Gpc0, 0), Some(2));
        assert!(a.set_gpt(0, None, 7, 0));
        assert_eq!(a.clr_gpc(0, GpcRef::Gpc0, 0), Some(2));
        let s = t.schema();
        let got = t.get(&src(), 0, |d| {
            (
                d.cnt(s, Cnt::Gpc0),
                d.cnt(s, Cnt::Gpt0),
                d.rate(s, Rt::Gpc0Rate, 0),
            )
        });
        assert_eq!(got, Some((Some(0), Some(7), Some(2))));
    }

    #[test]
    fn a_tracked_entry_outlives_expire_until_the_session_ends() {
        let t = table(&[StoreData::ConnCur]);
        let mut a = Trackers::new();
        a.track(2, &t, src(), 0, TrackFrom::Tcp).unwrap();
        assert!(t.contains(&src(), 100_000));
        a.end(100_000);
        assert!(t.contains(&src(), 129_999));
        assert!(!t.contains(&src(), 130_000));
    }
}
