//! `show table NAME` text, as HAProxy's runtime API prints it.

use std::fmt::Write;

use super::StickTable;
use crate::data::{Cnt, EntryData, Rt, Schema};

/// Data types in HAProxy's order (its `STKTABLE_DT_*` numbering), which `show
/// table` follows whatever the order of `store`.
enum Item {
    ServerId,
    ServerKey,
    C(Cnt),
    R(Rt),
    GptArr,
    GpcArr,
    GpcRateArr,
}

const ORDER: [Item; 25] = [
    Item::ServerId,
    Item::C(Cnt::Gpt0),
    Item::C(Cnt::Gpc0),
    Item::R(Rt::Gpc0Rate),
    Item::C(Cnt::ConnCnt),
    Item::R(Rt::ConnRate),
    Item::C(Cnt::ConnCur),
    Item::C(Cnt::SessCnt),
    Item::R(Rt::SessRate),
    Item::C(Cnt::HttpReqCnt),
    Item::R(Rt::HttpReqRate),
    Item::C(Cnt::HttpErrCnt),
    Item::R(Rt::HttpErrRate),
    Item::C(Cnt::BytesInCnt),
    Item::R(Rt::BytesInRate),
    Item::C(Cnt::BytesOutCnt),
    Item::R(Rt::BytesOutRate),
    Item::C(Cnt::Gpc1),
    Item::R(Rt::Gpc1Rate),
    Item::ServerKey,
    Item::C(Cnt::HttpFailCnt),
    Item::R(Rt::HttpFailRate),
    Item::GptArr,
    Item::GpcArr,
    Item::GpcRateArr,
];

fn data_text(out: &mut String, s: &Schema, d: &EntryData, now: u64) {
    for item in &ORDER {
        match item {
            Item::ServerId if s.server_id => {
                let _ = write!(out, " server_id={}", d.server_id.unwrap_or(0));
            }
            Item::ServerKey if s.server_key => {
                let _ = write!(out, " server_key={}", d.server_key.as_deref().unwrap_or(""));
            }
            Item::C(c) => {
                if let Some(v) = d.cnt(s, *c) {
                    let _ = write!(out, " {}={v}", c.name());
                }
            }
            Item::R(r) => {
                if let (Some((_, p)), Some(v)) = (s.rate_slot(*r), d.rate(s, *r, now)) {
                    let _ = write!(out, " {}({p})={v}", r.name());
                }
            }
            Item::GptArr | Item::GpcArr => {
                let gpt = matches!(item, Item::GptArr);
                for c in s.counters() {
                    let v = match (c, gpt) {
                        (Cnt::Gpt(_), true) | (Cnt::Gpc(_), false) => d.cnt(s, *c),
                        _ => None,
                    };
                    if let Some(v) = v {
                        let _ = write!(out, " {}={v}", c.name());
                    }
                }
            }
            Item::GpcRateArr => {
                for (r, p) in s.rates() {
                    if let (Rt::GpcRate(_), Some(v)) = (r, d.rate(s, *r, now)) {
                        let _ = write!(out, " {}({p})={v}", r.name());
                    }
                }
            }
            _ => {}
        }
    }
}

impl StickTable {
    /// The `show table` text: a header line, then one line per live entry
    /// (`key=… use=… exp=…` then the stored data), sorted by key.
    pub fn show(&self, now: u64) -> String {
        let mut rows = Vec::new();
        self.for_each(now, |k, d, exp, refs| {
            let mut line = String::new();
            data_text(&mut line, self.schema(), d, now);
            rows.push((k.clone(), refs, exp.unwrap_or(0), line));
        });
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = format!(
            "# table: {}, type: {}, size:{}, used:{}\n",
            self.name(),
            self.key_type().name(),
            self.config().size,
            rows.len()
        );
        for (i, (k, refs, exp, data)) in rows.iter().enumerate() {
            // No real address to show: a stable per-dump entry number instead.
            let _ = writeln!(
                out,
                "{:#x}: key={k} use={refs} exp={exp} shard=0{data}",
                i + 1
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{Event, Schema};
    use crate::key::{Key, KeyType};
    use crate::table::{StickTable, TableConfig};
    use fulcrum_config::model::persist::StoreData;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    #[test]
    fn show_prints_haproxys_layout_in_data_type_order() {
        let t = StickTable::new(TableConfig {
            name: "http_proxy".into(),
            key: KeyType::Ip,
            size: 204_800,
            expire: Some(3_600_000),
            nopurge: false,
            // Declared out of HAProxy's order on purpose.
            schema: Schema::new(&[
                StoreData::BytesOutRate(Duration::from_secs(60)),
                StoreData::ConnRate(Duration::from_secs(30)),
                StoreData::Gpc0,
            ]),
        });
        let k = Key::Ip(Ipv4Addr::LOCALHOST);
        t.update(&k, 0, |d, s| {
            d.apply(s, Event::TrackStart, 0);
            d.apply(s, Event::BytesOut(187), 0);
        })
        .unwrap();
        assert_eq!(
            t.show(5_271),
            "# table: http_proxy, type: ip, size:204800, used:1\n\
             0x1: key=127.0.0.1 use=0 exp=3594729 shard=0 gpc0=0 conn_rate(30000)=1 bytes_out_rate(60000)=187\n"
        );
    }
}
