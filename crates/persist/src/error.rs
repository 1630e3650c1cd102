//! The crate's one error type.

use thiserror::Error;

/// Why a persistence operation could not be done. None of these is fatal to a
/// session: the caller goes on without persistence (as HAProxy does).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PersistError {
    /// A sample could not become a key of this table (e.g. `abc` for `type ip`).
    #[error("'{value}' is not a valid {ty} key")]
    BadKey { ty: &'static str, value: String },
    /// The table is at `size` and nothing could be evicted (`nopurge`, or every
    /// entry is tracked by a live session).
    #[error("stick-table is full ({size} entries) and no entry can be purged")]
    TableFull { size: u64 },
    /// `table NAME` names no declared table.
    #[error("no stick-table named '{0}'")]
    NoSuchTable(String),
    /// The table does not store this data type (`sc-inc-gpc0` on a table without `gpc0`).
    #[error("stick-table does not store '{0}'")]
    NotStored(&'static str),
    /// A tracking counter number above 2.
    #[error("tracking counter sc{0} does not exist (sc0, sc1 and sc2 do)")]
    NoSuchCounter(u8),
    /// A fetch name this crate does not know.
    #[error("unknown fetch '{0}'")]
    UnknownFetch(String),
}
