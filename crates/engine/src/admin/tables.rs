//! `show table` / `clear table` over the engine's stick tables, and the
//! small informational commands (`show errors`, `show activity`).

use crate::health_link::Core;
use fulcrum_observe::api::{TableDump, TableEntry, TableFilter};
use fulcrum_persist::{Key, StickTable, Tables};
use std::sync::Arc;

/// HAProxy's answer for an unknown table name.
const NO_SUCH_TABLE: &str = "No such table\n";

impl Core {
    /// Every backend holds the same shared tables; any one gives them.
    pub(super) fn stick_tables(&self) -> Option<&Tables> {
        self.rt.backends.iter().find_map(|b| b.persist.tables())
    }

    fn table(&self, name: &str) -> Result<&Arc<StickTable>, String> {
        self.stick_tables()
            .and_then(|t| t.get(name))
            .ok_or_else(|| NO_SUCH_TABLE.to_string())
    }

    pub(super) fn dump_tables(
        &self,
        name: Option<&str>,
        filters: &[TableFilter],
    ) -> Result<Vec<TableDump>, String> {
        let now = crate::persist::now_ms();
        let Some(name) = name else {
            // Without a name: one header line per table, in name order.
            let Some(all) = self.stick_tables() else {
                return Ok(Vec::new());
            };
            let mut names: Vec<&str> = all.names().collect();
            names.sort_unstable();
            return Ok(names
                .into_iter()
                .filter_map(|n| all.get(n))
                .map(|t| {
                    let mut d = parse_dump(&t.show(now));
                    d.entries.clear();
                    d
                })
                .collect());
        };
        let t = self.table(name)?;
        let mut d = parse_dump(&t.show(now));
        d.entries.retain(|e| filters.iter().all(|f| matches(e, f)));
        Ok(vec![d])
    }

    pub(super) fn clear_entries(
        &self,
        name: &str,
        filters: &[TableFilter],
    ) -> Result<String, String> {
        let t = self.table(name)?;
        if filters.is_empty() {
            t.clear();
            return Ok(String::new());
        }
        let d = parse_dump(&t.show(crate::persist::now_ms()));
        for e in d
            .entries
            .iter()
            .filter(|e| filters.iter().all(|f| matches(e, f)))
        {
            // Entries a session tracks stay, as in HAProxy.
            if let Ok(k) = Key::from_text(t.key_type(), e.key.as_bytes()) {
                t.remove(&k);
            }
        }
        Ok(String::new())
    }
}

/// Reads back the text of [`StickTable::show`] into the API's typed dump
/// (the persist crate owns the data layout; this keeps it in one place).
fn parse_dump(text: &str) -> TableDump {
    let mut lines = text.lines();
    let mut d = TableDump::default();
    if let Some(h) = lines.next().and_then(|h| h.strip_prefix("# table: ")) {
        for (i, part) in h.split(", ").enumerate() {
            match (i, part.split_once([':', ' '])) {
                (0, _) => d.name = part.to_string(),
                (_, Some(("type", v))) => d.key_type = v.trim().to_string(),
                (_, Some(("size", v))) => d.size = v.trim().parse().unwrap_or(0),
                (_, Some(("used", v))) => d.used = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    d.entries = lines.filter_map(parse_entry).collect();
    d
}

/// `0x1: key=K use=U exp=E name=value…`; string keys may hold spaces, so
/// the key ends at ` use=`.
fn parse_entry(line: &str) -> Option<TableEntry> {
    let (id, rest) = line.split_once(": key=")?;
    let (key, rest) = rest.split_once(" use=")?;
    let mut words = rest.split(' ');
    let use_count = words.next()?.parse().ok()?;
    let exp_ms = words.next()?.strip_prefix("exp=")?.parse().ok()?;
    Some(TableEntry {
        id: u64::from_str_radix(id.trim_start_matches("0x"), 16).unwrap_or(0),
        key: key.to_string(),
        use_count,
        exp_ms,
        data: words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

/// `key K` selects one key; `data.TYPE OP VALUE` compares a stored value
/// (rates by their name without the period). An entry without the data
/// type does not match.
fn matches(e: &TableEntry, f: &TableFilter) -> bool {
    match f {
        TableFilter::Key(k) => e.key == *k,
        TableFilter::Data { name, op, value } => {
            let name = name.strip_prefix("data.").unwrap_or(name);
            let Some(v) = e
                .data
                .iter()
                .find(|(k, _)| k.split('(').next() == Some(name))
                .and_then(|(_, v)| v.parse::<i64>().ok())
            else {
                return false;
            };
            match op.as_str() {
                "eq" => v == *value,
                "ne" => v != *value,
                "lt" => v < *value,
                "le" => v <= *value,
                "gt" => v > *value,
                "ge" => v >= *value,
                _ => false,
            }
        }
    }
}

/// `show errors` with nothing captured, in HAProxy's layout.
pub(super) fn show_errors_empty() -> String {
    format!("Total events captured on [{}] : 0\n", log_date_now())
}

/// `dd/Mon/yyyy:HH:MM:SS.mmm` in UTC.
fn log_date_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{day:02}/{}/{year:04}:{:02}:{:02}:{:02}.{:03}",
        MON[(month - 1).clamp(0, 11) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_text_round_trips_and_filters() {
        let d = parse_dump(
            "# table: be, type: ip, size:100, used:2\n\
             0x1: key=10.0.0.1 use=0 exp=900 shard=0 server_id=1 conn_rate(10000)=3\n\
             0x2: key=10.0.0.2 use=1 exp=800 shard=0 server_id=2 conn_rate(10000)=0\n",
        );
        assert_eq!(
            (d.name.as_str(), d.key_type.as_str(), d.size, d.used),
            ("be", "ip", 100, 2)
        );
        let mut out = String::new();
        fulcrum_observe::api::write_table(&d, &mut out);
        assert!(out
            .contains("0x1: key=10.0.0.1 use=0 exp=900 shard=0 server_id=1 conn_rate(10000)=3\n"));
        let gt = TableFilter::Data {
            name: "conn_rate".into(),
            op: "gt".into(),
            value: 0,
        };
        assert!(matches(&d.entries[0], &gt));
        assert!(!matches(&d.entries[1], &gt));
        assert!(matches(&d.entries[1], &TableFilter::Key("10.0.0.2".into())));
    }

    #[test]
    fn errors_header_has_haproxys_date_layout() {
        let s = show_errors_empty();
        let date = s
            .strip_prefix("Total events captured on [")
            .and_then(|r| r.strip_suffix("] : 0\n"))
            .unwrap();
        let b = date.as_bytes();
        assert_eq!(date.len(), 24, "{date}");
        assert_eq!(
            (b[2], b[6], b[11], b[14], b[17], b[20]),
            (b'/', b'/', b':', b':', b':', b'.')
        );
        assert!(
            date[3..6].chars().all(|c| c.is_ascii_alphabetic()),
            "{date}"
        );
    }

    proptest::proptest! {
        /// Whatever the key (spaces included), counters and data, the typed
        /// dump printed by the API reads back to the same dump.
        #[test]
        fn written_dumps_read_back(
            key in "[a-zA-Z0-9 .:_-]{1,24}",
            id in 1u64..1 << 40,
            use_count in 0u32..1000,
            exp_ms in 0u64..1 << 32,
            data in proptest::collection::vec(("[a-z_]{1,12}(\\([0-9]{1,6}\\))?", 0u64..1 << 40), 0..6),
            size in 0u64..1 << 30,
        ) {
            let dump = TableDump {
                name: "t".into(),
                key_type: "string".into(),
                size,
                used: 1,
                entries: vec![TableEntry {
                    id,
                    key: key.clone(),
                    use_count,
                    exp_ms,
                    data: data.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
                }],
            };
            let mut out = String::new();
            fulcrum_observe::api::write_table(&dump, &mut out);
            proptest::prop_assert_eq!(parse_dump(&out), dump);
        }
    }
}
