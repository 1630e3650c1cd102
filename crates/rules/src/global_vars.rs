//! The global section's `set-var`/`set-var-fmt`: evaluated once when the
//! configuration is compiled, with no connection, into the process's `proc.`
//! variables (HAProxy evaluates them while parsing, the same way).

use crate::error::RuleError;
use crate::fetch::Ctx;
use crate::fetch_build::compile_expr;
use crate::fmt::Template;
use crate::proxy::CompileEnv;
use crate::value::{Sample, Vars};
use crate::view::{NoStats, SessionView, Stats};
use fulcrum_config::rules::{GlobalVar, GlobalVarValue};
use std::net::SocketAddr;

/// What an expression sees at load: no addresses, no proxy, no traffic.
#[derive(Default)]
struct Loading {
    vars: Vars,
}

impl SessionView for Loading {
    fn src(&self) -> Option<SocketAddr> {
        None
    }
    fn dst(&self) -> Option<SocketAddr> {
        None
    }
    fn frontend(&self) -> (&str, i64) {
        ("", 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        None
    }
    fn server(&self) -> Option<(&str, i64)> {
        None
    }
    fn stats(&self) -> &dyn Stats {
        &NoStats
    }
    fn vars(&self) -> &Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.vars
    }
}

/// Sets each `proc.` variable in order (a later line reads an earlier one); an
/// expression without a value leaves its variable unset, as HAProxy does.
pub fn set_global_vars(list: &[GlobalVar], env: &CompileEnv) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let mut view = Loading::default();
    for v in list {
        let value = match &v.value {
            GlobalVarValue::Expr(e) => match compile_expr(e, &v.span, env) {
                Ok(e) => e.one(&Ctx::session(&view)).map(Sample::into_owned),
                Err(err) => {
                    errors.push(err);
                    continue;
                }
            },
            GlobalVarValue::Fmt(f) => match Template::compile(f, &v.span, env) {
                Ok(t) => Some(Sample::owned_str(t.render_vec(&Ctx::session(&view)))),
                Err(err) => {
                    errors.push(err);
                    continue;
                }
            },
        };
        if let Some(value) = value {
            view.vars.set(&v.name, value);
        }
    }
    errors
}
