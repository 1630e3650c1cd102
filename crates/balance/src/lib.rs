//! Server selection for Fulcrum: every HAProxy `balance` algorithm, choosing the
//! server HAProxy would choose.
//!
//! - [`ServerState`]: one server's runtime state in atomics (weights, admin and
//!   health state, connections, `maxconn`, queue), shared with the engine,
//!   health checks, stats and the runtime API.
//! - [`BalanceAlgo`] + [`BalanceOptions`]: what `balance`, `hash-type`,
//!   `hash-balance-factor` and `option allbackups` say; the config stage maps
//!   its model onto them.
//! - [`Balancer`]: built once per backend; [`Balancer::select`] takes a
//!   [`SelectKey`] (the engine's view of the request: source, URI, headers,
//!   body, first TCP bytes, `hash` sample, servers to avoid) and returns a server
//!   index.
//!
//! ```
//! use fulcrum_balance::{BalanceAlgo, BalanceOptions, Balancer, RequestKey, ServerState};
//! use std::sync::Arc;
//!
//! let servers = vec![
//!     Arc::new(ServerState::new(1, 1, false)), // id 1, weight 1
//!     Arc::new(ServerState::new(2, 2, false)),
//! ];
//! let b = Balancer::new(BalanceAlgo::RoundRobin, BalanceOptions::default(), servers)?;
//! let order: Vec<usize> = (0..3).filter_map(|_| b.select(&RequestKey::default())).collect();
//! assert_eq!(order, [0, 1, 1]);
//!
//! // The engine counts connections through the balancer (leastconn re-orders)...
//! b.take_conn(1);
//! b.drop_conn(1);
//! // ...and reports state changes made by checks or the runtime API.
//! b.servers()[1].set_up(false);
//! b.on_server_change(1);
//! assert_eq!(b.select(&RequestKey::default()), Some(0));
//! # Ok::<(), fulcrum_balance::BalanceError>(())
//! ```
//!
//! Call [`Balancer::take_conn`] when a request takes a connection slot on a
//! server and [`Balancer::drop_conn`] when it releases it; call
//! [`Balancer::on_server_change`] after changing a server's weight, slowstart
//! ramp, admin or health state (the balancer keeps its structures in step
//! only through these calls).
//!
//! Server states: weight 0, `drain`, maintenance and down servers get no
//! load-balanced traffic (persistence is the engine's business); backups serve
//! only when no active server is usable — the first one, or all with
//! `option allbackups`. A full server (`maxconn`) is passed over by the
//! round-robin, least-connections, `first` and `random` algorithms; `select`
//! then returns `None` while [`Balancer::has_usable`] is true, and the engine
//! queues the request. Hashing returns its server even when full.
//!
//! # Parity with HAProxy
//! Hash functions, the map table (`hash % total weight`), the consistent-hash
//! ring (points at `full_hash(id * 4096 + n)`, nearest point wins) and each
//! algorithm's key extraction follow HAProxy 2.6 (facts from its documentation
//! and behaviour), so a migrated configuration keeps every client on its server.
//! `tests/haproxy_parity.rs` runs 1000 keys through a real haproxy for
//! `source`, `uri` (len, depth, whole, path-only), `url_param` (query and POST
//! body), `hdr` (and `use_domain_only`), `rdp-cookie` and `hash <expr>`, both
//! hash types and several functions, after `set weight` / `disable server`, and
//! with backups (first, or all); it also compares the `static-rr` and
//! `leastconn` orders.
//!
//! Known differences:
//! - `roundrobin` follows the `static-rr` map order, the first declared server
//!   first (1:2 gives `A B B`); HAProxy's dynamic round-robin gives the same
//!   shares and spacing but starts with the heaviest server (`B B A`).
//! - `hdr(...) use_domain_only`: HAProxy also looks at the byte just past the
//!   header value (left over in its buffer); here it is never taken as a dot.
//! - Map-based hashing skips an excluded (already tried) server to the next
//!   slot; HAProxy returns it again.
//!
//! # Threads
//! HAProxy takes a lock per backend. Here:
//! - hashing algorithms and `random` only read the topology (a `RwLock`
//!   written only on a server change), so worker threads never wait for each
//!   other;
//! - `roundrobin` and `leastconn` change state at every pick: a `Mutex` held
//!   for a few O(log n) tree updates (0.1–1 µs, see docs/performance-balance.md),
//!   short enough to stay uncontended with one worker thread per core;
//! - `static-rr` advances an atomic cursor over the read-only table;
//! - counters live in [`ServerState`] atomics.
//!
//! Lock order is always topology, then scheduler, so no deadlock is possible.

mod algo;
mod balancer;
mod bits;
mod hash;
mod key;
mod map;
mod ring;
mod rng;
mod sched;
mod state;
mod topo;

pub use algo::{BalanceAlgo, BalanceOptions, HashFunction, HashMethod, HashType, UriOpts};
pub use balancer::Balancer;
pub use key::{RequestKey, SelectKey};
pub use state::{AdminState, ServerState, MAX_WEIGHT, WEIGHT_SCALE};

/// HAProxy's hash functions, exposed for converters and tests.
pub mod hashes {
    pub use crate::hash::{crc32, djb2, full_hash, hash_key, none, sdbm, wt6};
}

/// The key extraction of each algorithm, exposed for tests and logs.
pub mod keys {
    pub use crate::key::{
        body_param, domain_only, first_header_value, rdp_cookie, source_hash, uri_key, uri_path,
        url_param,
    };
}

// The engine shares one balancer between worker threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Balancer>();
    send_sync::<ServerState>();
};

/// Why a [`Balancer`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BalanceError {
    #[error("two servers share the id {0}")]
    DuplicateId(u32),
    #[error("too many servers ({0})")]
    TooManyServers(usize),
    #[error("hash-balance-factor must be 0 or at least 100 (got {0})")]
    BalanceFactor(u32),
    #[error("random needs at least one draw")]
    NoDraws,
}
