//! [`Tables`]: every stick table of a configuration, by the name rules use.

use std::collections::HashMap;
use std::sync::Arc;

use fulcrum_config::model::proxy::Proxy;
use fulcrum_config::model::sections::ExtraSection;
use fulcrum_config::model::Config;

use crate::appsession::AppSession;
use crate::cookie::CookiePersist;

use crate::error::PersistError;
use crate::table::{ExportedEntry, StickTable};

/// The tables of one configuration: a proxy's `stick-table` is named after the
/// proxy, a `peers P` section's `table T` is `P/T` (HAProxy's names).
#[derive(Debug, Default, Clone)]
pub struct Tables {
    by_name: HashMap<String, Arc<StickTable>>,
}

impl Tables {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every table the configuration declares.
    pub fn from_config(cfg: &Config) -> Self {
        let mut t = Tables::new();
        for p in &cfg.proxies {
            if let Some(st) = &p.persist.stick_table {
                t.insert(Arc::new(StickTable::from_model(&p.name, st)));
            }
        }
        for s in &cfg.sections {
            if let ExtraSection::Peers(peers) = s {
                for (name, st) in &peers.tables {
                    let full = format!("{}/{}", peers.header.0, name);
                    t.insert(Arc::new(StickTable::from_model(&full, st)));
                }
            }
        }
        t
    }

    /// Adds (or replaces) a table under its own name.
    pub fn insert(&mut self, table: Arc<StickTable>) {
        self.by_name.insert(table.name().to_string(), table);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<StickTable>> {
        self.by_name.get(name)
    }

    /// The table `table T` names, or the proxy's own when `name` is `None`.
    pub fn resolve(
        &self,
        name: Option<&str>,
        own_proxy: &str,
    ) -> Result<&Arc<StickTable>, PersistError> {
        let n = name.unwrap_or(own_proxy);
        self.get(n)
            .ok_or_else(|| PersistError::NoSuchTable(n.to_string()))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Calls [`StickTable::purge_expired`] on every table; returns the total removed.
    pub fn purge_expired(&self, now: u64) -> usize {
        self.by_name.values().map(|t| t.purge_expired(now)).sum()
    }

    /// Every table's entries, for a reload.
    pub fn export(&self, now: u64) -> HashMap<String, Vec<ExportedEntry>> {
        self.by_name
            .iter()
            .map(|(n, t)| (n.clone(), t.export(now)))
            .collect()
    }

    /// Loads what [`Tables::export`] gave into the tables of the same name (a table
    /// gone from the new configuration loses its entries); returns entries loaded.
    pub fn import(&self, dump: &HashMap<String, Vec<ExportedEntry>>, now: u64) -> usize {
        dump.iter()
            .filter_map(|(n, entries)| self.get(n).map(|t| t.import(entries, now)))
            .sum()
    }
}

/// A backend's request-routing persistence: its `cookie` and its `appsession`.
#[derive(Debug, Default)]
pub struct BackendPersist {
    pub cookie: Option<CookiePersist>,
    pub appsession: Option<AppSession>,
}

impl BackendPersist {
    pub fn from_proxy(p: &Proxy) -> Self {
        BackendPersist {
            cookie: CookiePersist::from_proxy(p),
            appsession: p
                .persist
                .appsession
                .as_ref()
                .map(|a| AppSession::new(&p.name, a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::reader::Env;

    struct NoEnv;
    impl Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    #[test]
    fn proxies_and_peers_tables_get_haproxy_names() {
        let text = "peers mypeers\n  peer a 127.0.0.1:1024\n  table sessions type string len 32 size 1k\nfrontend fe\n  mode http\n  bind :80\n  stick-table type ip size 100k expire 30s store http_req_rate(10s)\n  default_backend be\nbackend be\n  mode http\n  server s1 127.0.0.1:8080\n";
        let loaded = fulcrum_config::load_str("t.cfg", text, &NoEnv);
        let cfg = loaded.config.expect("valid config");
        let t = Tables::from_config(&cfg);
        assert_eq!(t.get("fe").map(|x| x.config().size), Some(102_400));
        assert!(t.get("mypeers/sessions").is_some());
        assert!(t.resolve(None, "be").is_err());
        assert!(t.resolve(Some("fe"), "be").is_ok());
    }
}
