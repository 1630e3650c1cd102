//! Fulcrum's health checks: whether each server may get traffic, decided as
//! HAProxy decides it, and said in HAProxy's words.
//!
//! Pure parts (no I/O, tested without sockets):
//! - [`state`]: the rise/fall counter of one server (UP, going down, DOWN,
//!   going up), transitions taking the verdict and `now`;
//! - [`status`]: check status codes (`L4OK`, `L7STS`, …) and their texts;
//! - [`expect`]: `http-check expect` / `tcp-check expect` matchers;
//! - [`script`]: a check as steps (connect, send, expect) and the
//!   interpreter running them over any byte stream; [`http`] builds requests
//!   and reads responses; [`proto`] has the built-in kinds (`mysql-check`,
//!   `pgsql-check`, `redis-check`, `smtpchk`, `ldap-check`, `ssl-hello-chk`);
//! - [`agent`]: agent replies (`up`, `down`, `drain`, `maint`, `ready`, `N%`,
//!   `maxconn:N`); [`passive`]: `observe` / `error-limit` / `on-error`;
//! - [`message`]: the log lines (`Server bk/srv is DOWN, reason: …`).
//!
//! I/O: [`runner::HealthMonitor::start`] runs every check on one dedicated OS
//! thread with its own current-thread runtime, never on the engine's workers,
//! and drives each server's [`fulcrum_balance::ServerState`] (up/down,
//! weight for agents and `disable-on-404`, slowstart ramp, admin state). The
//! returned [`runner::HealthHandle`] takes passive reports from the data
//! path (a non-blocking channel send), answers stats snapshots, `nbsrv()`
//! and `srv_is_up()`, and applies the operator's `set server … state`.
//!
//! # Wiring (engine)
//! 1. For every server of every backend, checked or not (log lines count
//!    them, `track` may name them): `CheckTarget::from_config(proxy,
//!    backend_idx, server_idx, state, resolved_addr)` with the balancer's
//!    `Arc<ServerState>`. Servers without `check` are never contacted.
//! 2. `HealthMonitor::start(targets, MonitorOptions::from_global(&cfg.global),
//!    on_change, sink)`: `on_change(backend_idx, server_idx)` must call the
//!    backend's `Balancer::on_server_change`; `sink` turns each
//!    [`monitor::HealthEvent`] into a log line of its severity, and honours
//!    `shutdown_sessions` / `shutdown_backup_sessions`.
//! 3. With `observe`, report each connection/response outcome with
//!    `HealthHandle::report_passive` (connect successes may be reported for
//!    `layer7` too: they are ignored there, as in HAProxy).
//! 4. Optionally `HealthHandle::set_requeue(|backend_idx, server_idx,
//!    went_up| n)`: the engine moves queued requests when a server goes
//!    DOWN/UP/into maintenance and returns how many, for the `N requeued`
//!    part of the log lines (0 without it).
//!
//! # nginx `max_fails` / `fail_timeout`
//! nginx's `server a max_fails=3 fail_timeout=30s` is written
//! `server a … check inter 30s rise 1 observe layer4 error-limit 3 on-error mark-down`
//! (layer7 to count 5xx answers too): three consecutive failed connections
//! mark the server down, the next good check (within `inter`) brings it back.
//!
//! # Not (yet) done
//! Log-format strings in checks (`send-lf`, `string-lf`, `uri-lf`) are sent and
//! matched as written; `check-ssl`, `via-socks4`, SPOP and external checks
//! fall back to a plain connect; `set-var` rules are ignored.

pub mod agent;
pub mod error;
pub mod expect;
pub mod http;
pub mod message;
pub mod monitor;
pub mod passive;
pub mod proto;
pub mod runner;
pub mod schedule;
pub mod script;
pub mod state;
pub mod status;
pub mod target;

pub use error::HealthError;
pub use monitor::{Force, HealthEvent, HealthSnapshot, Requeue};
pub use passive::PassiveOutcome;
pub use runner::{HealthHandle, HealthMonitor, MonitorOptions};
pub use status::{CheckStatus, Outcome};
pub use target::CheckTarget;
