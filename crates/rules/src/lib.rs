//! fulcrum-rules: the rule language at run time.
//!
//! [`compile_proxy`] turns one proxy's syntax tree (from `fulcrum_config::rules`) into
//! runtime structures once at load: regexes compiled, map and pattern files read,
//! fetches and converters resolved to enums, ACL names bound. Evaluation is pure and
//! goes through the view traits in [`view`] that the engine implements:
//! [`eval`] decides a condition, [`run_http_request`] / [`run_http_response`] /
//! [`run_tcp`] run rule lists and return a [`Verdict`] saying what the engine must do.

mod acl;
mod auth;
mod conv;
mod error;
mod fetch;
mod fetch_build;
mod fmt;
mod hash;
mod http;
mod legacy;
mod map;
mod pattern;
mod proxy;
mod regex_util;
mod reply;
mod target;
mod tcp;
mod uri;
mod value;
pub mod view;

pub use acl::{eval, eval_response, eval_session, AclScope, Cond};
pub use auth::{Password, Userlist, Userlists};
pub use error::RuleError;
pub use fetch::Expr;
pub use fmt::Template;
pub use http::{run_http_after_response, run_http_request, run_http_response, HttpRules};
pub use proxy::{compile_proxy, CompileEnv, CompiledProxy, ProxyInput, Routing};
pub use reply::{reason, Answer, Response, Verdict};
pub use tcp::{run_tcp, run_tcp_http, TcpRules, TcpVerdict};
pub use value::{Sample, Vars};
pub use view::{Effect, RequestView, ResponseView, SessionView, Stats};
