//! Fulcrum's persistence stage: what keeps a client on one server and what counts
//! a client's activity.
//!
//! - [`table`]: HAProxy's `stick-table`: typed keys, per-entry data (`server_id`,
//!   `gpc0`, `http_req_rate(10s)`, …), bounded size with LRU eviction and expiry,
//!   sharded so worker threads rarely meet on one lock; entries export and import
//!   for reloads.
//! - [`track`]: the tracking counters `sc0`…`sc2` a session attaches with
//!   `track-scN`, the `sc-inc-gpc0`/`sc-set-gpt0` actions, and [`fetch`] evaluates
//!   the `sc_*`, `src_*` and `table_*` sample fetches over them.
//! - [`cookie`]: the `cookie` keyword: reading the persistence cookie from requests,
//!   the request edits (`indirect`, `prefix`) and the response `Set-Cookie` exactly as
//!   HAProxy writes it.
//! - [`appsession`]: HAProxy 1.5's `appsession`, on the stick-table machinery.
//! - [`stick`]: `stick on|match|store-*` over a table's `server_id`; [`convert`]: the
//!   `in_table`/`table_*` converters.
//!
//! Nothing here reads a clock or opens a socket: every call that depends on time
//! takes `now` — milliseconds on any monotonic clock for tables and trackers,
//! seconds since the epoch for cookie dates — so tests replay exactly.
//! `LIFECYCLE.md` beside this crate lists what the engine calls, and when.

pub mod appsession;
pub mod convert;
pub mod cookie;
pub mod data;
pub mod dyncookie;
pub mod error;
pub mod fetch;
pub mod freq;
pub mod key;
pub mod registry;
pub mod stick;
pub mod table;
pub mod track;

pub use error::PersistError;
pub use key::{Key, KeyType};
pub use registry::{BackendPersist, Tables};
pub use table::StickTable;
