//! One proxy's rules compiled together: ACL scope, rule lists, routing.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fulcrum_config::diag::Span;
use fulcrum_config::rules::{AclDef, Condition, HttpRule, TargetName, TcpRule, UseTarget};

use crate::acl::{holds, AclScope, Cond};
use crate::auth::Userlists;
use crate::error::RuleError;
use crate::fetch::{Ctx, Expr};
use crate::fetch_build::compile_expr;
use crate::fmt::Template;
use crate::http::{compile_rules, HttpRules};
use crate::map::{MapFile, MapKind};
use crate::tcp::TcpRules;
use crate::view::{RequestView, SessionView};

/// What compilation needs from outside the proxy: where relative files live, the userlists.
#[derive(Debug, Default)]
pub struct CompileEnv {
    /// Relative `-f`, map, `file`, `errorfile` paths are read from here (the config's directory).
    pub base_dir: PathBuf,
    pub userlists: Userlists,
    /// Maps already loaded, shared by every converter naming them.
    maps: RefCell<HashMap<(PathBuf, MapKind), Arc<MapFile>>>,
    /// Every stick table's name, when known: then a rule naming another is an error.
    tables: Option<HashSet<String>>,
    /// The proxy being compiled: the default table of `track-sc*` and `src_*`.
    proxy: RefCell<Option<String>>,
}

impl CompileEnv {
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        CompileEnv {
            base_dir: base_dir.into(),
            ..Default::default()
        }
    }

    pub fn with_userlists(mut self, userlists: Userlists) -> Self {
        self.userlists = userlists;
        self
    }

    /// The stick tables rules may name (a proxy's table is named after the proxy,
    /// a `peers P` table `T` is `P/T`); without this, names are not checked.
    pub fn with_tables(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.tables = Some(names.into_iter().collect());
        self
    }

    pub(crate) fn table_names(&self) -> Option<&HashSet<String>> {
        self.tables.as_ref()
    }

    pub(crate) fn proxy_name(&self) -> Option<String> {
        self.proxy.borrow().clone()
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub(crate) fn read_file(&self, p: &str, span: &Span) -> Result<String, RuleError> {
        let path = self.resolve(p);
        std::fs::read_to_string(&path)
            .map_err(|e| RuleError::new(span, format!("cannot read '{}': {e}", path.display())))
    }

    pub(crate) fn load_map(
        &self,
        p: &str,
        kind: MapKind,
        span: &Span,
    ) -> Result<Arc<MapFile>, RuleError> {
        let key = (self.resolve(p), kind);
        if let Some(m) = self.maps.borrow().get(&key) {
            return Ok(m.clone());
        }
        let text = self.read_file(p, span)?;
        let map = Arc::new(
            MapFile::parse(&text, kind)
                .map_err(|e| RuleError::new(span, format!("map '{p}': {e}")))?,
        );
        self.maps.borrow_mut().insert(key, map.clone());
        Ok(map)
    }
}

/// One proxy's rule-language input, as the config model holds it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProxyInput<'a> {
    pub name: &'a str,
    pub acls: &'a [AclDef],
    /// `http-request` rules plus the legacy request lines (`block`, `req*`, `redirect`) in file order.
    pub http_request: &'a [HttpRule],
    /// `http-response` rules plus `rsp*` lines.
    pub http_response: &'a [HttpRule],
    pub http_after_response: &'a [HttpRule],
    pub tcp_request: &'a [TcpRule],
    pub tcp_response: &'a [TcpRule],
    pub use_backend: &'a [UseTarget],
    pub default_backend: Option<&'a str>,
    pub use_server: &'a [UseTarget],
    pub force_persist: &'a [Condition],
    pub ignore_persist: &'a [Condition],
    /// `monitor fail if|unless COND`.
    pub monitor_fail: Option<&'a Condition>,
    /// `stats admin if|unless COND`.
    pub stats_admin: Option<&'a Condition>,
    /// Other conditions of the proxy, compiled in order into [`CompiledProxy::extra`].
    pub extra: &'a [Condition],
    /// `stick on|match|store-request|store-response EXPR [if COND]`, in order.
    pub stick_rules: &'a [fulcrum_config::model::persist::StickRule],
}

impl<'a> ProxyInput<'a> {
    /// Everything the configuration model holds for one proxy.
    pub fn from_model(p: &'a fulcrum_config::model::Proxy) -> Self {
        ProxyInput {
            name: &p.name,
            acls: &p.acls,
            http_request: &p.http_request,
            http_response: &p.http_response,
            http_after_response: &p.http_after_response,
            tcp_request: &p.tcp_request,
            tcp_response: &p.tcp_response,
            use_backend: &p.use_backend,
            default_backend: p.default_backend.as_ref().map(|(n, _)| n.as_str()),
            use_server: &p.use_server,
            force_persist: &p.force_persist,
            ignore_persist: &p.ignore_persist,
            monitor_fail: p.monitor_fail.as_ref(),
            stats_admin: p.stats.admin.as_ref(),
            stick_rules: &p.persist.stick_rules,
            ..Default::default()
        }
    }
}

/// The `userlist` sections of a configuration, for [`CompileEnv::with_userlists`].
pub fn userlists_from_model(config: &fulcrum_config::model::Config) -> Userlists {
    config
        .sections
        .iter()
        .filter_map(|s| match s {
            fulcrum_config::model::sections::ExtraSection::Userlist(u) => Some((
                u.header.0.clone(),
                Arc::new(crate::auth::Userlist::from_model(u)),
            )),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Name {
    Static(String),
    Dynamic(Template),
}

#[derive(Clone, Debug)]
struct UseRule {
    cond: Option<Cond>,
    name: Name,
}

/// `use_backend` / `default_backend` / `use-server` decisions.
#[derive(Clone, Debug, Default)]
pub struct Routing {
    use_backend: Vec<UseRule>,
    default_backend: Option<String>,
    use_server: Vec<UseRule>,
}

impl Routing {
    fn choose<'r>(
        rules: &'r [UseRule],
        ctx: &Ctx<'_>,
        exists: &dyn Fn(&str) -> bool,
    ) -> Option<Cow<'r, str>> {
        for r in rules {
            if !holds(&r.cond, ctx) {
                continue;
            }
            match &r.name {
                Name::Static(n) => return Some(Cow::Borrowed(n)),
                Name::Dynamic(t) => {
                    let n = String::from_utf8_lossy(&t.render_vec(ctx)).into_owned();
                    // A name that resolves to no backend lets the next rules decide.
                    if exists(&n) {
                        return Some(Cow::Owned(n));
                    }
                }
            }
        }
        None
    }

    /// The backend for this request: the first matching `use_backend`, else
    /// `default_backend`; `None` means 503. `exists` checks dynamic names.
    pub fn backend<V: RequestView>(
        &self,
        view: &V,
        exists: &dyn Fn(&str) -> bool,
    ) -> Option<Cow<'_, str>> {
        Self::choose(&self.use_backend, &Ctx::request(view), exists)
            .or_else(|| self.default_backend.as_deref().map(Cow::Borrowed))
    }

    /// The backend for a TCP-mode stream (request fetches do not match).
    pub fn backend_tcp<V: SessionView>(
        &self,
        view: &V,
        exists: &dyn Fn(&str) -> bool,
    ) -> Option<Cow<'_, str>> {
        Self::choose(&self.use_backend, &Ctx::session(view), exists)
            .or_else(|| self.default_backend.as_deref().map(Cow::Borrowed))
    }

    /// The first matching `use-server`, if any (then load balancing is skipped).
    pub fn server<V: RequestView>(
        &self,
        view: &V,
        exists: &dyn Fn(&str) -> bool,
    ) -> Option<Cow<'_, str>> {
        Self::choose(&self.use_server, &Ctx::request(view), exists)
    }

    pub fn default_backend(&self) -> Option<&str> {
        self.default_backend.as_deref()
    }

    /// Static backend names referenced by `use_backend`, for reference checks.
    pub fn static_backends(&self) -> impl Iterator<Item = &str> {
        self.use_backend.iter().filter_map(|r| match &r.name {
            Name::Static(n) => Some(n.as_str()),
            Name::Dynamic(_) => None,
        })
    }
}

/// Everything of one proxy, ready to run.
#[derive(Debug)]
pub struct CompiledProxy {
    pub acls: AclScope,
    pub http_request: HttpRules,
    pub http_response: HttpRules,
    pub http_after_response: HttpRules,
    pub tcp: TcpRules,
    pub routing: Routing,
    pub force_persist: Vec<Cond>,
    pub ignore_persist: Vec<Cond>,
    pub monitor_fail: Option<Cond>,
    pub stats_admin: Option<Cond>,
    /// [`ProxyInput::extra`], in the same order.
    pub extra: Vec<Cond>,
    /// [`ProxyInput::stick_rules`]' expressions and conditions, in the same order.
    pub stick: Vec<(Expr, Option<Cond>)>,
}

fn use_rules(
    list: &[UseTarget],
    scope: &AclScope,
    env: &CompileEnv,
    errors: &mut Vec<RuleError>,
) -> Vec<UseRule> {
    let mut out = Vec::with_capacity(list.len());
    for u in list {
        let r = (|| -> Result<UseRule, RuleError> {
            let cond = u
                .cond
                .as_ref()
                .map(|c| scope.compile_cond(c, env))
                .transpose()?;
            let name = match &u.target {
                TargetName::Static(n) => Name::Static(n.clone()),
                TargetName::Dynamic(lf) => Name::Dynamic(Template::compile(lf, &u.span, env)?),
            };
            Ok(UseRule { cond, name })
        })();
        match r {
            Ok(r) => out.push(r),
            Err(e) => errors.push(e),
        }
    }
    out
}

/// Compiles one proxy; every error found is returned, each at its line.
pub fn compile_proxy(
    input: &ProxyInput<'_>,
    env: &CompileEnv,
) -> Result<CompiledProxy, Vec<RuleError>> {
    let previous = env.proxy.replace(Some(input.name.to_string()));
    let out = compile_proxy_in(input, env);
    env.proxy.replace(previous);
    out
}

fn compile_proxy_in(
    input: &ProxyInput<'_>,
    env: &CompileEnv,
) -> Result<CompiledProxy, Vec<RuleError>> {
    let acls = AclScope::new(input.acls, env)?;
    let mut errors = Vec::new();
    let rules = |list: &[HttpRule], errors: &mut Vec<RuleError>| match compile_rules(
        list, &acls, env, input.name,
    ) {
        Ok(r) => r,
        Err(e) => {
            errors.extend(e);
            HttpRules::default()
        }
    };
    let http_request = rules(input.http_request, &mut errors);
    let http_response = rules(input.http_response, &mut errors);
    let http_after_response = rules(input.http_after_response, &mut errors);
    let mut tcp_list = input.tcp_request.to_vec();
    tcp_list.extend_from_slice(input.tcp_response);
    let tcp = TcpRules::compile(&tcp_list, &acls, env).unwrap_or_else(|e| {
        errors.extend(e);
        TcpRules::default()
    });
    let routing = Routing {
        use_backend: use_rules(input.use_backend, &acls, env, &mut errors),
        default_backend: input.default_backend.map(str::to_string),
        use_server: use_rules(input.use_server, &acls, env, &mut errors),
    };
    let mut conds = |list: &[Condition]| -> Vec<Cond> {
        list.iter()
            .filter_map(|c| acls.compile_cond(c, env).map_err(|e| errors.push(e)).ok())
            .collect()
    };
    let force_persist = conds(input.force_persist);
    let ignore_persist = conds(input.ignore_persist);
    let extra = conds(input.extra);
    let monitor_fail = conds(
        input
            .monitor_fail
            .map(std::slice::from_ref)
            .unwrap_or_default(),
    )
    .pop();
    let stats_admin = conds(
        input
            .stats_admin
            .map(std::slice::from_ref)
            .unwrap_or_default(),
    )
    .pop();
    let mut stick = Vec::with_capacity(input.stick_rules.len());
    for r in input.stick_rules {
        let compiled = compile_expr(&r.expr, &r.span, env).and_then(|e| {
            let c = r
                .cond
                .as_ref()
                .map(|c| acls.compile_cond(c, env))
                .transpose()?;
            Ok((e, c))
        });
        match compiled {
            Ok(x) => stick.push(x),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CompiledProxy {
        acls,
        http_request,
        http_response,
        http_after_response,
        tcp,
        routing,
        force_persist,
        ignore_persist,
        monitor_fail,
        stats_admin,
        extra,
        stick,
    })
}

/// The names `fulcrum_persist::Tables::from_config` gives the configuration's tables.
pub fn table_names(config: &fulcrum_config::model::Config) -> Vec<String> {
    let mut out: Vec<String> = config
        .proxies
        .iter()
        .filter(|p| p.persist.stick_table.is_some())
        .map(|p| p.name.clone())
        .collect();
    for s in &config.sections {
        if let fulcrum_config::model::sections::ExtraSection::Peers(peers) = s {
            out.extend(
                peers
                    .tables
                    .iter()
                    .map(|(t, _)| format!("{}/{}", peers.header.0, t)),
            );
        }
    }
    out
}

/// Compiles every proxy of a configuration (index `i` is `config.proxies[i]`);
/// relative files are read from `base_dir`. All errors are returned, each as an
/// `[ALERT]` at its line, for `fulcrum -c` and for startup.
pub fn compile_config(
    config: &fulcrum_config::model::Config,
    base_dir: &Path,
) -> Result<Vec<CompiledProxy>, Vec<fulcrum_config::Diagnostic>> {
    let env = CompileEnv::new(base_dir)
        .with_userlists(userlists_from_model(config))
        .with_tables(table_names(config));
    let mut out = Vec::with_capacity(config.proxies.len());
    let mut errors = Vec::new();
    for p in &config.proxies {
        match compile_proxy(&ProxyInput::from_model(p), &env) {
            Ok(c) => out.push(c),
            Err(e) => errors.extend(e.iter().map(RuleError::to_diagnostic)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
