//! fulcrum-rules: the rule language at run time.
//!
//! [`compile_proxy`] turns one proxy's syntax tree (from `fulcrum_config::rules`) into
//! runtime structures once at load: regexes compiled, map and pattern files read
//! (relative to [`CompileEnv::base_dir`]), fetches and converters resolved to enums,
//! ACL names bound (an unknown name is an error at its line). Evaluation is pure and
//! goes through the view traits in [`view`] that the engine implements.
//!
//! The order the engine calls things in, as HAProxy does:
//! 1. [`run_tcp`] with `TcpLayer::Connection` on accept, then `Session`;
//! 2. `Content` each time data arrives, until it answers something other than
//!    [`TcpVerdict::Wait`] or `inspect_delay_ms` expires ([`run_tcp_http`] in HTTP mode);
//! 3. frontend [`run_http_request`] (legacy `block` first, then `http-request`, then
//!    `req*`, then `redirect`, already ordered at compile time); a final [`Verdict`]
//!    stops processing, [`Verdict::UseBackend`] picks the backend;
//! 4. [`Routing::backend`] (`use_backend`, then `default_backend`; `None` = 503);
//! 5. the backend's `tcp-request content` and [`run_http_request`], then [`Routing::server`];
//! 6. on the response: backend then frontend [`run_http_response`], then
//!    [`run_http_after_response`] (also on generated responses).
//!
//! Side effects that do not stop processing (captures, timeouts, early hints) arrive
//! through [`SessionView::effect`]. Stick tables are used directly: a view that lends
//! [`SessionView::tables`], its trackers and [`SessionView::now_ms`] gets `track-scN`,
//! `sc-inc-gpc*`, `sc-set-gpt0` applied and `sc_*`/`src_*`/`table_*` read through
//! `fulcrum_persist`.

mod acl;
mod auth;
mod conv;
mod conv_text;
mod error;
mod fetch;
mod fetch_build;
mod fetch_util;
mod fmt;
mod global_vars;
mod hash;
mod http;
mod legacy;
mod map;
mod pattern;
mod proxy;
mod regex_util;
mod reply;
mod stick;
mod target;
mod tcp;
mod time_fmt;
mod tls;
mod uri;
mod value;
pub mod view;

pub use acl::{eval, eval_response, eval_session, AclScope, Cond};
pub use auth::{Password, Userlist, Userlists};
pub use error::RuleError;
pub use fetch::Expr;
pub use fetch_build::compile_expr;
pub use fmt::Template;
/// The persistence crate the view traits lend tables and trackers of.
pub use fulcrum_persist;
pub use global_vars::set_global_vars;
pub use http::{
    run_http_after_response, run_http_request, run_http_request_from, run_http_response,
    run_http_response_from, HttpRules,
};
pub use proxy::{
    compile_config, compile_proxy, table_names, userlists_from_model, CompileEnv, CompiledProxy,
    ProxyInput, Routing,
};
pub use reply::{reason, Answer, Response, Verdict};
pub use tcp::{run_tcp, run_tcp_http, run_tcp_http_response, TcpRules, TcpVerdict};
pub use value::{Sample, SessionVars, Vars};
pub use view::{Effect, RequestView, ResponseView, SessionView, Stats, StickQuery, TrackScope};
