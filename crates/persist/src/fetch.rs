//! The sample fetches over stick tables: `sc_*`/`scN_*` (tracked counters),
//! `src_*` (the client address looked up in a table) and `table_cnt`/`table_avl`.
//!
//! [`CounterFetch::parse`] turns a fetch name and its arguments into a value the
//! rules crate keeps; [`CounterFetch::eval`] runs it. As in HAProxy, an `sc_*`
//! fetch on a counter that tracks nothing gives no sample (an ACL on it does not
//! match), a data type the table does not store gives no sample, and a `src_*`
//! fetch for an address not in the table gives 0.

use std::net::IpAddr;
use std::sync::Arc;

use crate::data::{Cnt, EntryData, Event, GpcRef, Rt, Schema};
use crate::error::PersistError;
use crate::key::Key;
use crate::registry::Tables;
use crate::table::StickTable;
use crate::track::Trackers;

/// Whose entry a fetch reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The entry tracked by `scN`.
    Sc(u8),
    /// The entry of the client's source address.
    Src,
}

/// What a fetch reads (or, for `inc_*`/`clr_*`, changes) in the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    Cnt(Cnt),
    Rate(Rt),
    /// `kbytes_in` / `kbytes_out`: the byte counters in kilobytes.
    KBytes(Cnt),
    GetGpc(GpcRef),
    GpcRate(GpcRef),
    IncGpc(GpcRef),
    ClrGpc(GpcRef),
    /// `get_gpt0` (`None`) or `get_gpt(I)`.
    GetGpt(Option<u32>),
    /// `src_updt_conn_cnt`: counts a connection and returns `conn_cnt`.
    UpdtConnCnt,
    /// `sc_tracked`: a boolean.
    Tracked,
    /// `sc_trackers`: how many sessions track the entry.
    Trackers,
}

/// A parsed stick-table fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterFetch {
    Entry {
        subject: Subject,
        what: What,
        /// `table` argument; `None`: the tracked table (`sc_*`) or the proxy's (`src_*`).
        table: Option<String>,
    },
    /// `table_cnt([table])`: entries in use.
    TableCnt(Option<String>),
    /// `table_avl([table])`: free entries.
    TableAvl(Option<String>),
}

/// What a fetch gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sample {
    Int(i64),
    Bool(bool),
}

/// What the fetches need from the engine.
pub struct FetchCtx<'a> {
    pub tables: &'a Tables,
    /// The proxy whose rule runs: its table is the default of `src_*` and `table_*`.
    pub proxy: &'a str,
    /// Counters tracked by the stream (`http-request`, `tcp-request content`).
    pub stream: Option<&'a Trackers>,
    /// Counters tracked by the session (`tcp-request connection|session`).
    pub session: Option<&'a Trackers>,
    /// The client's address (`src`).
    pub src: Option<IpAddr>,
}

pub(crate) fn what_of(name: &str) -> Option<What> {
    use What as W;
    Some(match name {
        "conn_cnt" => W::Cnt(Cnt::ConnCnt),
        "conn_cur" => W::Cnt(Cnt::ConnCur),
        "conn_rate" => W::Rate(Rt::ConnRate),
        "sess_cnt" => W::Cnt(Cnt::SessCnt),
        "sess_rate" => W::Rate(Rt::SessRate),
        "http_req_cnt" => W::Cnt(Cnt::HttpReqCnt),
        "http_req_rate" => W::Rate(Rt::HttpReqRate),
        "http_err_cnt" => W::Cnt(Cnt::HttpErrCnt),
        "http_err_rate" => W::Rate(Rt::HttpErrRate),
        "http_fail_cnt" => W::Cnt(Cnt::HttpFailCnt),
        "http_fail_rate" => W::Rate(Rt::HttpFailRate),
        "bytes_in_rate" => W::Rate(Rt::BytesInRate),
        "bytes_out_rate" => W::Rate(Rt::BytesOutRate),
        "kbytes_in" => W::KBytes(Cnt::BytesInCnt),
        "kbytes_out" => W::KBytes(Cnt::BytesOutCnt),
        "get_gpc0" => W::GetGpc(GpcRef::Gpc0),
        "get_gpc1" => W::GetGpc(GpcRef::Gpc1),
        "gpc0_rate" => W::GpcRate(GpcRef::Gpc0),
        "gpc1_rate" => W::GpcRate(GpcRef::Gpc1),
        "inc_gpc0" => W::IncGpc(GpcRef::Gpc0),
        "inc_gpc1" => W::IncGpc(GpcRef::Gpc1),
        "clr_gpc0" => W::ClrGpc(GpcRef::Gpc0),
        "clr_gpc1" => W::ClrGpc(GpcRef::Gpc1),
        "get_gpt0" => W::GetGpt(None),
        "updt_conn_cnt" => W::UpdtConnCnt,
        "tracked" => W::Tracked,
        "trackers" => W::Trackers,
        _ => return None,
    })
}

/// The array forms whose first argument is an index: `get_gpc(I,…)`.
fn indexed_what(name: &str, idx: u32) -> Option<What> {
    Some(match name {
        "get_gpc" => What::GetGpc(GpcRef::Idx(idx)),
        "gpc_rate" => What::GpcRate(GpcRef::Idx(idx)),
        "inc_gpc" => What::IncGpc(GpcRef::Idx(idx)),
        "clr_gpc" => What::ClrGpc(GpcRef::Idx(idx)),
        "get_gpt" => What::GetGpt(Some(idx)),
        _ => return None,
    })
}

fn bad(name: &str, why: &str) -> PersistError {
    PersistError::UnknownFetch(format!("{name}: {why}"))
}

impl CounterFetch {
    /// `Ok(None)` when `name` is not a stick-table fetch; an error when it is one
    /// with wrong arguments.
    pub fn parse(name: &str, args: &[&str]) -> Result<Option<CounterFetch>, PersistError> {
        let table_arg = |a: &[&str]| -> Result<Option<String>, PersistError> {
            match a {
                [] => Ok(None),
                [t] => Ok(Some(t.to_string())),
                _ => Err(bad(name, "too many arguments")),
            }
        };
        match name {
            "table_cnt" => return Ok(Some(CounterFetch::TableCnt(table_arg(args)?))),
            "table_avl" => return Ok(Some(CounterFetch::TableAvl(table_arg(args)?))),
            _ => {}
        }
        let num = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| bad(name, "expects a number"))
        };
        let (subject, rest, args) = if let Some(rest) = name.strip_prefix("src_") {
            (Subject::Src, rest, args)
        } else if let Some(rest) = name.strip_prefix("sc_") {
            // The counter number is the first argument after an array index.
            let indexed = indexed_what(rest, 0).is_some();
            let ctr_pos = usize::from(indexed);
            let ctr = args
                .get(ctr_pos)
                .ok_or_else(|| bad(name, "expects a counter number"))?;
            let n = u8::try_from(num(ctr)?).map_err(|_| PersistError::NoSuchCounter(u8::MAX))?;
            if usize::from(n) >= crate::track::COUNTERS {
                return Err(PersistError::NoSuchCounter(n));
            }
            let mut kept: Vec<&str> = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if i != ctr_pos {
                    kept.push(a);
                }
            }
            return Self::finish(name, Subject::Sc(n), rest, &kept);
        } else {
            let mut ch = name.chars();
            match (ch.next(), ch.next(), ch.next(), ch.next()) {
                (Some('s'), Some('c'), Some(d @ '0'..='9'), Some('_')) => {
                    let n = d as u8 - b'0';
                    if usize::from(n) >= crate::track::COUNTERS {
                        return Err(PersistError::NoSuchCounter(n));
                    }
                    (Subject::Sc(n), &name[4..], args)
                }
                _ => return Ok(None),
            }
        };
        Self::finish(name, subject, rest, args)
    }

    fn finish(
        name: &str,
        subject: Subject,
        rest: &str,
        args: &[&str],
    ) -> Result<Option<CounterFetch>, PersistError> {
        let (what, args) = match what_of(rest) {
            Some(w) => (w, args),
            None => {
                let Some(first) = args.first() else {
                    return if indexed_what(rest, 0).is_some() {
                        Err(bad(name, "expects an index"))
                    } else {
                        Ok(None)
                    };
                };
                let idx = first
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| bad(name, "expects an index"))?;
                match indexed_what(rest, idx) {
                    Some(w) => (w, &args[1..]),
                    None => return Ok(None),
                }
            }
        };
        if matches!(what, What::Tracked | What::Trackers) && subject == Subject::Src {
            return Ok(None);
        }
        let table = match args {
            [] => None,
            [t] => Some(t.to_string()),
            _ => return Err(bad(name, "too many arguments")),
        };
        Ok(Some(CounterFetch::Entry {
            subject,
            what,
            table,
        }))
    }

    /// Whether the fetch gives a boolean (`sc_tracked`).
    pub fn is_bool(&self) -> bool {
        matches!(
            self,
            CounterFetch::Entry {
                what: What::Tracked,
                ..
            }
        )
    }

    /// Runs the fetch at `now`. `None`: no sample.
    pub fn eval(&self, ctx: &FetchCtx<'_>, now: u64) -> Option<Sample> {
        match self {
            CounterFetch::TableCnt(t) => {
                let t = ctx.tables.resolve(t.as_deref(), ctx.proxy).ok()?;
                Some(Sample::Int(i64::try_from(t.len()).unwrap_or(i64::MAX)))
            }
            CounterFetch::TableAvl(t) => {
                let t = ctx.tables.resolve(t.as_deref(), ctx.proxy).ok()?;
                Some(Sample::Int(
                    i64::try_from(t.available()).unwrap_or(i64::MAX),
                ))
            }
            CounterFetch::Entry {
                subject: Subject::Sc(n),
                what,
                table,
            } => {
                // The stream's counter first, then the session's (HAProxy's order).
                let tracked = ctx
                    .stream
                    .and_then(|t| t.get(*n).map(|x| (t, x)))
                    .or_else(|| ctx.session.and_then(|t| t.get(*n).map(|x| (t, x))));
                let Some((trackers, tr)) = tracked else {
                    return match what {
                        What::Tracked => Some(Sample::Bool(false)),
                        _ => None,
                    };
                };
                match what {
                    What::Tracked => return Some(Sample::Bool(true)),
                    What::IncGpc(g) if table.is_none() => {
                        return trackers.inc_gpc(*n, *g, now).map(int);
                    }
                    What::ClrGpc(g) if table.is_none() => {
                        return trackers.clr_gpc(*n, *g, now).map(int);
                    }
                    _ => {}
                }
                let t = match table {
                    Some(name) => ctx.tables.get(name)?,
                    None => &tr.table,
                };
                if *what == What::Trackers {
                    return Some(int(u64::from(t.refs(&tr.key))));
                }
                read(t, &tr.key, *what, now)
            }
            CounterFetch::Entry {
                subject: Subject::Src,
                what,
                table,
            } => {
                let t = ctx.tables.resolve(table.as_deref(), ctx.proxy).ok()?;
                let key = Key::from_ip(t.key_type(), ctx.src?).ok()?;
                src_entry(t, &key, *what, now)
            }
        }
    }
}

pub(crate) fn int(v: u64) -> Sample {
    Sample::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// A read of `what` in data `d` of schema `s`; `None` when not stored.
fn value(d: &EntryData, s: &Schema, what: What, now: u64) -> Option<u64> {
    match what {
        What::Cnt(c) => d.cnt(s, c),
        What::Rate(r) => d.rate(s, r, now),
        What::KBytes(c) => d.cnt(s, c).map(|v| v >> 10),
        What::GetGpc(g) => EntryData::gpc_slots(s, g).0.and_then(|c| d.cnt(s, c)),
        What::GpcRate(g) => EntryData::gpc_slots(s, g).1.and_then(|r| d.rate(s, r, now)),
        What::GetGpt(None) => d.cnt(s, Cnt::Gpt0).or_else(|| d.cnt(s, Cnt::Gpt(0))),
        What::GetGpt(Some(i)) => d.cnt(s, Cnt::Gpt(i)),
        _ => None,
    }
}

/// Whether a table stores what a read needs (HAProxy fails the fetch otherwise).
fn stored(s: &Schema, what: What) -> bool {
    match what {
        What::Cnt(c) | What::KBytes(c) => s.cnt_slot(c).is_some(),
        What::Rate(r) => s.rate_slot(r).is_some(),
        What::GetGpc(g) => EntryData::gpc_slots(s, g).0.is_some(),
        What::GpcRate(g) => EntryData::gpc_slots(s, g).1.is_some(),
        What::GetGpt(None) => s.cnt_slot(Cnt::Gpt0).or(s.cnt_slot(Cnt::Gpt(0))).is_some(),
        What::GetGpt(Some(i)) => s.cnt_slot(Cnt::Gpt(i)).is_some(),
        _ => false,
    }
}

pub(crate) fn read(t: &StickTable, key: &Key, what: What, now: u64) -> Option<Sample> {
    if !stored(t.schema(), what) {
        return None;
    }
    let v = t
        .get(key, now, |d| value(d, t.schema(), what, now))
        .flatten();
    Some(int(v.unwrap_or(0)))
}

fn src_entry(t: &Arc<StickTable>, key: &Key, what: What, now: u64) -> Option<Sample> {
    match what {
        // These create the entry when missing, as HAProxy's src_inc_gpc0 does.
        What::IncGpc(g) => t
            .update(key, now, |d, s| {
                d.apply(s, Event::IncGpc(g), now);
                EntryData::gpc_slots(s, g).0.and_then(|c| d.cnt(s, c))
            })
            .ok()
            .flatten()
            .map(int),
        What::ClrGpc(g) => t
            .update(key, now, |d, s| {
                let c = EntryData::gpc_slots(s, g).0?;
                let before = d.cnt(s, c);
                d.set_cnt(s, c, 0);
                before
            })
            .ok()
            .flatten()
            .map(int),
        What::UpdtConnCnt => t
            .update(key, now, |d, s| {
                d.apply(s, Event::TrackStart, now);
                d.apply(s, Event::TrackEnd, now);
                d.cnt(s, Cnt::ConnCnt)
            })
            .ok()
            .flatten()
            .map(int),
        _ => read(t, key, what, now),
    }
}

#[cfg(test)]
mod tests;
