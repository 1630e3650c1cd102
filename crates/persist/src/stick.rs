//! `stick on|match|store-request|store-response` on a table storing `server_id`.
//!
//! The rules crate evaluates the rule's expression to a key; the engine then calls
//! these. Server ids are HAProxy's numeric server ids (`id`, or the declaration
//! order default), so tables exported by one configuration keep meaning after a
//! reload that adds servers.

use crate::error::PersistError;
use crate::key::Key;
use crate::table::StickTable;

impl StickTable {
    /// `stick match` (and the match half of `stick on`): the server id `key`
    /// sticks to. A match refreshes the entry's expiry, as HAProxy does.
    pub fn stick_match(&self, key: &Key, now: u64) -> Option<i32> {
        if !self.schema().server_id || !self.contains(key, now) {
            return None;
        }
        self.update(key, now, |d, _| d.server_id).ok().flatten()
    }

    /// `stick store-request` / `store-response` (and the store half of `stick on`):
    /// `key` now sticks to `server_id`. Servers marked `non-stick` must not be
    /// stored (the caller knows them).
    pub fn stick_store(&self, key: &Key, server_id: i32, now: u64) -> Result<(), PersistError> {
        if !self.schema().server_id {
            return Err(PersistError::NotStored("server_id"));
        }
        self.update(key, now, |d, _| d.server_id = Some(server_id))
    }
}

#[cfg(test)]
mod tests {
    use crate::data::Schema;
    use crate::key::{Key, KeyType};
    use crate::table::{StickTable, TableConfig};
    use fulcrum_config::model::persist::StoreData;

    fn table(store: &[StoreData]) -> StickTable {
        StickTable::new(TableConfig {
            name: "be".into(),
            key: KeyType::String(32),
            size: 10,
            expire: Some(60_000),
            nopurge: false,
            schema: Schema::new(store),
        })
    }

    #[test]
    fn store_then_match_and_matching_refreshes() {
        let t = table(&[StoreData::ServerId]);
        let k = Key::from_text(KeyType::String(32), b"user-42").unwrap();
        assert_eq!(t.stick_match(&k, 0), None);
        t.stick_store(&k, 2, 0).unwrap();
        assert_eq!(t.stick_match(&k, 50_000), Some(2));
        // Matched at 50 s: alive until 110 s.
        assert_eq!(t.stick_match(&k, 109_999), Some(2));
        assert_eq!(t.stick_match(&k, 200_000), None);
    }

    #[test]
    fn tables_without_server_id_do_not_stick() {
        let t = table(&[StoreData::Gpc0]);
        let k = Key::from_text(KeyType::String(32), b"x").unwrap();
        assert!(t.stick_store(&k, 1, 0).is_err());
        assert_eq!(t.stick_match(&k, 0), None);
    }
}
