//! `show stat` and `;csv` / `;json`: HAProxy's CSV, typed and JSON layouts
//! (management.txt §9.1, §9.2).

use super::fields::{proxy_rows, Field, Row, FIELD_NAMES, FIELD_TAGS};
use super::{ProxyStats, StatFilter};
use std::fmt::Write;

/// The rows `filter` selects, in HAProxy's order. `pid` is the process
/// number HAProxy prints in `pid` (1 for a single process).
pub fn rows(proxies: &[ProxyStats], filter: &StatFilter, pid: u32) -> Vec<Row> {
    proxies
        .iter()
        .filter(|p| filter.keeps_proxy(p))
        .flat_map(|p| {
            let kept = ProxyStats {
                servers: p
                    .servers
                    .iter()
                    .filter(|s| filter.keeps_server(s))
                    .cloned()
                    .collect(),
                ..p.clone()
            };
            proxy_rows(&kept, pid, filter.show_legends)
        })
        .filter(|r| filter.keeps(r.ty, r.sid))
        .collect()
}

/// `# pxname,svname,…,agg_check_status,-,ssl_sess,…,` plus newline.
pub fn csv_header() -> String {
    let mut s = String::from("# ");
    for n in FIELD_NAMES {
        s.push_str(n);
        s.push(',');
    }
    s.push('\n');
    s
}

/// Quotes a value only when a CSV reader could misread it.
fn csv_field(out: &mut String, v: &str) {
    let ambiguous = v.contains([',', '"', '\n', '\r'])
        || v.starts_with(char::is_whitespace)
        || v.ends_with(char::is_whitespace);
    if ambiguous {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// The CSV page: header, one line per row.
pub fn write_csv(proxies: &[ProxyStats], filter: &StatFilter, pid: u32, out: &mut String) {
    out.push_str(&csv_header());
    for row in rows(proxies, filter, pid) {
        for (i, v) in row.values.iter().enumerate() {
            if i == Field::Dash as usize {
                out.push('-');
            } else if let Some(v) = v {
                csv_field(out, &v.to_string());
            }
            out.push(',');
        }
        out.push('\n');
    }
}

/// `show stat typed`: `F.2.0.0.pxname.1:KNS:str:fe`, one value per line and
/// no empty line (the CLI uses one to end a command's output).
pub fn write_typed(proxies: &[ProxyStats], filter: &StatFilter, pid: u32, out: &mut String) {
    for row in rows(proxies, filter, pid) {
        for (i, v) in row.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let _ = writeln!(
                out,
                "{}.{}.{}.{}.{}.{}:{}:{}:{}",
                row.ty.letter(),
                row.iid,
                row.sid,
                i,
                FIELD_NAMES[i],
                pid,
                FIELD_TAGS[i],
                v.type_name(),
                v
            );
        }
    }
}

fn tag_words(tags: &str) -> (&'static str, &'static str, &'static str) {
    let mut c = tags.chars();
    let origin = match c.next() {
        Some('M') => "Metric",
        Some('S') => "Status",
        Some('K') => "Key",
        Some('C') => "Config",
        Some('P') => "Product",
        _ => "Unknown",
    };
    let nature = match c.next() {
        Some('A') => "Age",
        Some('a') => "Avg",
        Some('C') => "Counter",
        Some('D') => "Duration",
        Some('G') => "Gauge",
        Some('L') => "Limit",
        Some('M') => "Max",
        Some('m') => "Min",
        Some('N') => "Name",
        Some('O') => "Output",
        Some('R') => "Rate",
        Some('T') => "Time",
        _ => "Unknown",
    };
    let scope = match c.next() {
        Some('C') => "Cluster",
        Some('P') => "Process",
        Some('S') => "Service",
        Some('s') => "System",
        _ => "Unknown",
    };
    (origin, nature, scope)
}

/// A JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `show stat json` and `;json`: an array per row of one object per field.
pub fn write_json(proxies: &[ProxyStats], filter: &StatFilter, pid: u32, out: &mut String) {
    out.push('[');
    for (n, row) in rows(proxies, filter, pid).iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('[');
        let mut first = true;
        for (i, v) in row.values.iter().enumerate() {
            let Some(v) = v else { continue };
            if !first {
                out.push(',');
            }
            first = false;
            let (origin, nature, scope) = tag_words(FIELD_TAGS[i]);
            let _ = write!(
                out,
                "{{\"objType\":\"{}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{},\"name\":\"{}\"}},\"processNum\":{},\"tags\":{{\"origin\":\"{}\",\"nature\":\"{}\",\"scope\":\"{}\"}},\"value\":{{\"type\":\"{}\",\"value\":",
                row.ty.json_name(),
                row.iid,
                row.sid,
                i,
                FIELD_NAMES[i],
                pid,
                origin,
                nature,
                scope,
                v.type_name()
            );
            match v {
                super::FieldValue::Str(s) => json_str(out, s),
                other => {
                    let _ = write!(out, "{other}");
                }
            }
            out.push_str("}}");
        }
        out.push(']');
    }
    out.push_str("]\n");
}
