//! What a stick-table entry stores (`store …`), laid out once per table.
//!
//! An entry only holds the data types its table declares: a [`Schema`] maps each
//! declared counter and rate to a slot of the entry's small arrays.

use fulcrum_config::model::persist::StoreData;

use crate::freq::FreqCtr;

/// A cumulative counter or a tag (`gpt`) stored as an unsigned integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cnt {
    Gpc0,
    Gpc1,
    /// `gpc(N)` element.
    Gpc(u32),
    Gpt0,
    /// `gpt(N)` element.
    Gpt(u32),
    ConnCnt,
    ConnCur,
    SessCnt,
    HttpReqCnt,
    HttpErrCnt,
    HttpFailCnt,
    BytesInCnt,
    BytesOutCnt,
}

/// A rate over the period declared in `store`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rt {
    Gpc0Rate,
    Gpc1Rate,
    /// `gpc_rate(N,P)` element.
    GpcRate(u32),
    ConnRate,
    SessRate,
    HttpReqRate,
    HttpErrRate,
    HttpFailRate,
    BytesInRate,
    BytesOutRate,
}

impl Cnt {
    /// HAProxy's name, as `show table` prints it.
    pub fn name(self) -> String {
        match self {
            Cnt::Gpc0 => "gpc0".into(),
            Cnt::Gpc1 => "gpc1".into(),
            Cnt::Gpc(i) => format!("gpc({i})"),
            Cnt::Gpt0 => "gpt0".into(),
            Cnt::Gpt(i) => format!("gpt({i})"),
            Cnt::ConnCnt => "conn_cnt".into(),
            Cnt::ConnCur => "conn_cur".into(),
            Cnt::SessCnt => "sess_cnt".into(),
            Cnt::HttpReqCnt => "http_req_cnt".into(),
            Cnt::HttpErrCnt => "http_err_cnt".into(),
            Cnt::HttpFailCnt => "http_fail_cnt".into(),
            Cnt::BytesInCnt => "bytes_in_cnt".into(),
            Cnt::BytesOutCnt => "bytes_out_cnt".into(),
        }
    }
}

impl Rt {
    /// HAProxy's name without the period.
    pub fn name(self) -> String {
        match self {
            Rt::Gpc0Rate => "gpc0_rate".into(),
            Rt::Gpc1Rate => "gpc1_rate".into(),
            Rt::GpcRate(i) => format!("gpc_rate({i})"),
            Rt::ConnRate => "conn_rate".into(),
            Rt::SessRate => "sess_rate".into(),
            Rt::HttpReqRate => "http_req_rate".into(),
            Rt::HttpErrRate => "http_err_rate".into(),
            Rt::HttpFailRate => "http_fail_rate".into(),
            Rt::BytesInRate => "bytes_in_rate".into(),
            Rt::BytesOutRate => "bytes_out_rate".into(),
        }
    }
}

/// Which data a table stores, and where each lives in an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    pub server_id: bool,
    pub server_key: bool,
    counters: Vec<Cnt>,
    /// Each rate with its period in milliseconds.
    rates: Vec<(Rt, u64)>,
}

impl Schema {
    /// The layout for a table's `store` list; a type written twice is stored once.
    pub fn new(store: &[StoreData]) -> Self {
        let mut s = Schema::default();
        let ms = |d: &std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        for d in store {
            use StoreData as S;
            match d {
                S::ServerId => s.server_id = true,
                S::ServerKey => s.server_key = true,
                S::Gpc0 => s.add_cnt(Cnt::Gpc0),
                S::Gpc1 => s.add_cnt(Cnt::Gpc1),
                S::Gpc(n) => (0..*n).for_each(|i| s.add_cnt(Cnt::Gpc(i))),
                S::Gpt0 => s.add_cnt(Cnt::Gpt0),
                S::Gpt(n) => (0..*n).for_each(|i| s.add_cnt(Cnt::Gpt(i))),
                S::ConnCnt => s.add_cnt(Cnt::ConnCnt),
                S::ConnCur => s.add_cnt(Cnt::ConnCur),
                S::SessCnt => s.add_cnt(Cnt::SessCnt),
                S::HttpReqCnt => s.add_cnt(Cnt::HttpReqCnt),
                S::HttpErrCnt => s.add_cnt(Cnt::HttpErrCnt),
                S::HttpFailCnt => s.add_cnt(Cnt::HttpFailCnt),
                S::BytesInCnt => s.add_cnt(Cnt::BytesInCnt),
                S::BytesOutCnt => s.add_cnt(Cnt::BytesOutCnt),
                S::Gpc0Rate(p) => s.add_rate(Rt::Gpc0Rate, ms(p)),
                S::Gpc1Rate(p) => s.add_rate(Rt::Gpc1Rate, ms(p)),
                S::GpcRate(n, p) => (0..*n).for_each(|i| s.add_rate(Rt::GpcRate(i), ms(p))),
                S::ConnRate(p) => s.add_rate(Rt::ConnRate, ms(p)),
                S::SessRate(p) => s.add_rate(Rt::SessRate, ms(p)),
                S::HttpReqRate(p) => s.add_rate(Rt::HttpReqRate, ms(p)),
                S::HttpErrRate(p) => s.add_rate(Rt::HttpErrRate, ms(p)),
                S::HttpFailRate(p) => s.add_rate(Rt::HttpFailRate, ms(p)),
                S::BytesInRate(p) => s.add_rate(Rt::BytesInRate, ms(p)),
                S::BytesOutRate(p) => s.add_rate(Rt::BytesOutRate, ms(p)),
            }
        }
        s
    }

    fn add_cnt(&mut self, c: Cnt) {
        if !self.counters.contains(&c) {
            self.counters.push(c);
        }
    }

    fn add_rate(&mut self, r: Rt, period: u64) {
        if !self.rates.iter().any(|(x, _)| *x == r) {
            self.rates.push((r, period));
        }
    }

    pub fn cnt_slot(&self, c: Cnt) -> Option<usize> {
        self.counters.iter().position(|x| *x == c)
    }

    pub fn rate_slot(&self, r: Rt) -> Option<(usize, u64)> {
        self.rates
            .iter()
            .position(|(x, _)| *x == r)
            .map(|i| (i, self.rates[i].1))
    }

    /// The declared counters, in slot order.
    pub fn counters(&self) -> &[Cnt] {
        &self.counters
    }

    /// The declared rates with their periods (ms), in slot order.
    pub fn rates(&self) -> &[(Rt, u64)] {
        &self.rates
    }

    /// A fresh entry's data at `now`.
    pub fn new_data(&self, now: u64) -> EntryData {
        EntryData {
            server_id: None,
            server_key: None,
            counters: vec![0; self.counters.len()].into(),
            rates: vec![FreqCtr::new(now); self.rates.len()].into(),
        }
    }
}

/// One entry's stored data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryData {
    /// `server_id`: the server's numeric id (HAProxy's `puid`).
    pub server_id: Option<i32>,
    /// `server_key`: the server's name or address (`srvkey`).
    pub server_key: Option<Box<str>>,
    pub counters: Box<[u64]>,
    pub rates: Box<[FreqCtr]>,
}

/// Something that happened, applied to every data type it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A tracking starts: `conn_cnt`, `conn_cur`, `conn_rate`.
    TrackStart,
    /// A tracking ends: `conn_cur` goes down.
    TrackEnd,
    /// A session is accepted: `sess_cnt`, `sess_rate`.
    Session,
    HttpReq,
    HttpErr,
    HttpFail,
    BytesIn(u64),
    BytesOut(u64),
    /// `sc-inc-gpc0` / `sc-inc-gpc1` / `sc-inc-gpc(N)`: the counter and its rate.
    IncGpc(GpcRef),
    /// `sc-add-gpc(N) V`.
    AddGpc(GpcRef, u64),
}

/// Which general purpose counter: the legacy `gpc0`/`gpc1` or an array element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpcRef {
    Gpc0,
    Gpc1,
    Idx(u32),
}

impl EntryData {
    // Slots are looked up with `get` so that data read with another table's
    // schema gives "not stored" rather than a panic.
    fn cnt_mut(&mut self, s: &Schema, c: Cnt) -> Option<&mut u64> {
        s.cnt_slot(c).and_then(|i| self.counters.get_mut(i))
    }

    pub fn cnt(&self, s: &Schema, c: Cnt) -> Option<u64> {
        s.cnt_slot(c).and_then(|i| self.counters.get(i).copied())
    }

    pub fn set_cnt(&mut self, s: &Schema, c: Cnt, v: u64) -> bool {
        self.cnt_mut(s, c).map(|x| *x = v).is_some()
    }

    fn add_cnt(&mut self, s: &Schema, c: Cnt, n: u64) -> bool {
        self.cnt_mut(s, c)
            .map(|x| *x = x.saturating_add(n))
            .is_some()
    }

    fn add_rate(&mut self, s: &Schema, r: Rt, now: u64, n: u64) -> bool {
        match s.rate_slot(r) {
            Some((i, p)) => self.rates.get_mut(i).map(|f| f.add(p, now, n)).is_some(),
            None => false,
        }
    }

    pub fn rate(&self, s: &Schema, r: Rt, now: u64) -> Option<u64> {
        s.rate_slot(r)
            .and_then(|(i, p)| self.rates.get(i).map(|f| f.rate(p, now)))
    }

    /// Applies an event; returns whether any stored data changed.
    pub fn apply(&mut self, s: &Schema, ev: Event, now: u64) -> bool {
        let pair = |d: &mut Self, c: Cnt, r: Rt, n: u64| {
            let a = d.add_cnt(s, c, n);
            d.add_rate(s, r, now, n) | a
        };
        match ev {
            Event::TrackStart => {
                pair(self, Cnt::ConnCnt, Rt::ConnRate, 1) | self.add_cnt(s, Cnt::ConnCur, 1)
            }
            Event::TrackEnd => self
                .cnt_mut(s, Cnt::ConnCur)
                .map(|x| *x = x.saturating_sub(1))
                .is_some(),
            Event::Session => pair(self, Cnt::SessCnt, Rt::SessRate, 1),
            Event::HttpReq => pair(self, Cnt::HttpReqCnt, Rt::HttpReqRate, 1),
            Event::HttpErr => pair(self, Cnt::HttpErrCnt, Rt::HttpErrRate, 1),
            Event::HttpFail => pair(self, Cnt::HttpFailCnt, Rt::HttpFailRate, 1),
            Event::BytesIn(n) => pair(self, Cnt::BytesInCnt, Rt::BytesInRate, n),
            Event::BytesOut(n) => pair(self, Cnt::BytesOutCnt, Rt::BytesOutRate, n),
            Event::IncGpc(g) => self.add_gpc(s, g, 1, now),
            Event::AddGpc(g, n) => self.add_gpc(s, g, n, now),
        }
    }

    /// The counter and rate a `GpcRef` names; the legacy `gpc0`/`gpc1` fall back to
    /// `gpc(0)`/`gpc(1)` when only the array is stored, as HAProxy ≥ 2.5 does.
    pub fn gpc_slots(s: &Schema, g: GpcRef) -> (Option<Cnt>, Option<Rt>) {
        let (legacy_c, legacy_r, idx) = match g {
            GpcRef::Gpc0 => (Some(Cnt::Gpc0), Some(Rt::Gpc0Rate), 0),
            GpcRef::Gpc1 => (Some(Cnt::Gpc1), Some(Rt::Gpc1Rate), 1),
            GpcRef::Idx(i) => (None, None, i),
        };
        let c = legacy_c
            .filter(|c| s.cnt_slot(*c).is_some())
            .or(Some(Cnt::Gpc(idx)).filter(|c| s.cnt_slot(*c).is_some()));
        let r = legacy_r
            .filter(|r| s.rate_slot(*r).is_some())
            .or(Some(Rt::GpcRate(idx)).filter(|r| s.rate_slot(*r).is_some()));
        (c, r)
    }

    fn add_gpc(&mut self, s: &Schema, g: GpcRef, n: u64, now: u64) -> bool {
        let (c, r) = Self::gpc_slots(s, g);
        let a = c.is_some_and(|c| self.add_cnt(s, c, n));
        let b = r.is_some_and(|r| self.add_rate(s, r, now, n));
        a | b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_declared_types_are_stored() {
        let s = Schema::new(&[
            StoreData::HttpReqRate(Duration::from_secs(10)),
            StoreData::Gpc0,
        ]);
        let mut d = s.new_data(0);
        assert!(d.apply(&s, Event::HttpReq, 5));
        assert!(!d.apply(&s, Event::Session, 5));
        assert_eq!(d.rate(&s, Rt::HttpReqRate, 5), Some(1));
        assert_eq!(d.cnt(&s, Cnt::SessCnt), None);
        assert!(d.apply(&s, Event::IncGpc(GpcRef::Gpc0), 5));
        assert_eq!(d.cnt(&s, Cnt::Gpc0), Some(1));
    }

    #[test]
    fn legacy_gpc0_falls_back_to_the_array() {
        let s = Schema::new(&[
            StoreData::Gpc(2),
            StoreData::GpcRate(2, Duration::from_secs(1)),
        ]);
        let mut d = s.new_data(0);
        d.apply(&s, Event::IncGpc(GpcRef::Gpc0), 0);
        d.apply(&s, Event::IncGpc(GpcRef::Gpc1), 0);
        d.apply(&s, Event::IncGpc(GpcRef::Gpc1), 0);
        assert_eq!(d.cnt(&s, Cnt::Gpc(0)), Some(1));
        assert_eq!(d.cnt(&s, Cnt::Gpc(1)), Some(2));
        assert_eq!(d.rate(&s, Rt::GpcRate(1), 0), Some(2));
    }

    #[test]
    fn conn_cur_never_goes_below_zero() {
        let s = Schema::new(&[StoreData::ConnCur, StoreData::ConnCnt]);
        let mut d = s.new_data(0);
        d.apply(&s, Event::TrackStart, 0);
        d.apply(&s, Event::TrackEnd, 0);
        d.apply(&s, Event::TrackEnd, 0);
        assert_eq!(d.cnt(&s, Cnt::ConnCur), Some(0));
        assert_eq!(d.cnt(&s, Cnt::ConnCnt), Some(1));
    }
}
