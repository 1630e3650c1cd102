//! The stick-table converters: `in_table(T)` and `table_*(T)`, which look the
//! input sample up as a key of table `T` (e.g. `src,table_http_req_rate(fe)`).
//! A key not in the table gives 0 (`in_table`: false); a sample that cannot be a
//! key of the table, or a data type the table does not store, gives no sample.

use crate::data::GpcRef;
use crate::error::PersistError;
use crate::fetch::{int, read, what_of, Sample, What};
use crate::key::Key;
use crate::registry::Tables;

/// A parsed stick-table converter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableConverter {
    InTable(String),
    ServerId(String),
    Trackers(String),
    Read { what: What, table: String },
}

impl TableConverter {
    /// `Ok(None)`: not a stick-table converter.
    pub fn parse(name: &str, args: &[&str]) -> Result<Option<Self>, PersistError> {
        let err = |why: &str| PersistError::UnknownFetch(format!("{name}: {why}"));
        let table = |a: &[&str]| match a {
            [t] => Ok(t.to_string()),
            _ => Err(err("expects a table name")),
        };
        if name == "in_table" {
            return table(args).map(|t| Some(TableConverter::InTable(t)));
        }
        let Some(rest) = name.strip_prefix("table_") else {
            return Ok(None);
        };
        let (what, args) = match rest {
            "server_id" => return table(args).map(|t| Some(TableConverter::ServerId(t))),
            "trackers" => return table(args).map(|t| Some(TableConverter::Trackers(t))),
            "gpc0" => (What::GetGpc(GpcRef::Gpc0), args),
            "gpc1" => (What::GetGpc(GpcRef::Gpc1), args),
            "gpt0" => (What::GetGpt(None), args),
            "gpc" | "gpc_rate" | "gpt" => {
                let (idx, rest_args) = args.split_first().ok_or_else(|| err("expects an index"))?;
                let i = idx
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| err("expects an index"))?;
                let w = match rest {
                    "gpc" => What::GetGpc(GpcRef::Idx(i)),
                    "gpc_rate" => What::GpcRate(GpcRef::Idx(i)),
                    _ => What::GetGpt(Some(i)),
                };
                (w, rest_args)
            }
            other => match what_of(other) {
                Some(w @ (What::Cnt(_) | What::Rate(_) | What::KBytes(_) | What::GpcRate(_))) => {
                    (w, args)
                }
                _ => return Ok(None),
            },
        };
        table(args).map(|table| Some(TableConverter::Read { what, table }))
    }

    /// Applies the converter to `input` (the sample as text or bytes) at `now`.
    pub fn eval(&self, tables: &Tables, input: &[u8], now: u64) -> Option<Sample> {
        let name = match self {
            TableConverter::InTable(t)
            | TableConverter::ServerId(t)
            | TableConverter::Trackers(t) => t,
            TableConverter::Read { table, .. } => table,
        };
        let t = tables.get(name)?;
        let key = Key::from_text(t.key_type(), input).ok()?;
        match self {
            TableConverter::InTable(_) => Some(Sample::Bool(t.contains(&key, now))),
            TableConverter::Trackers(_) => Some(int(u64::from(t.refs(&key)))),
            TableConverter::ServerId(_) => {
                if !t.schema().server_id {
                    return None;
                }
                let id = t.get(&key, now, |d| d.server_id).flatten().unwrap_or(0);
                Some(Sample::Int(i64::from(id)))
            }
            TableConverter::Read { what, .. } => read(t, &key, *what, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Event, Schema};
    use crate::key::KeyType;
    use crate::table::{StickTable, TableConfig};
    use fulcrum_config::model::persist::StoreData;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn converters_read_the_input_as_a_key() {
        let t = Arc::new(StickTable::new(TableConfig {
            name: "fe".into(),
            key: KeyType::Ip,
            size: 10,
            expire: None,
            nopurge: false,
            schema: Schema::new(&[
                StoreData::HttpReqRate(Duration::from_secs(10)),
                StoreData::ServerId,
            ]),
        }));
        let mut ts = Tables::new();
        ts.insert(Arc::clone(&t));
        let k = Key::from_text(KeyType::Ip, b"10.1.1.1").unwrap();
        t.update(&k, 0, |d, s| {
            d.apply(s, Event::HttpReq, 0);
            d.apply(s, Event::HttpReq, 0);
            d.server_id = Some(4);
        })
        .unwrap();
        let conv = |n: &str, a: &[&str]| TableConverter::parse(n, a).unwrap().unwrap();
        assert_eq!(
            conv("table_http_req_rate", &["fe"]).eval(&ts, b"10.1.1.1", 1),
            Some(Sample::Int(2))
        );
        assert_eq!(
            conv("table_http_req_rate", &["fe"]).eval(&ts, b"10.9.9.9", 1),
            Some(Sample::Int(0))
        );
        assert_eq!(
            conv("in_table", &["fe"]).eval(&ts, b"10.1.1.1", 1),
            Some(Sample::Bool(true))
        );
        assert_eq!(conv("in_table", &["fe"]).eval(&ts, b"nonsense", 1), None);
        assert_eq!(
            conv("table_server_id", &["fe"]).eval(&ts, b"10.1.1.1", 1),
            Some(Sample::Int(4))
        );
        assert_eq!(
            conv("table_conn_cur", &["fe"]).eval(&ts, b"10.1.1.1", 1),
            None
        );
        assert_eq!(TableConverter::parse("lower", &[]), Ok(None));
        assert!(TableConverter::parse("table_gpc0", &[]).is_err());
    }
}
