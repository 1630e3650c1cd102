//! Whole-configuration checks (names, references, files), all reported in one run.
//! OWNER: config-model helper.

use crate::diag::{closest, Diagnostic, Diagnostics};
use crate::model::proxy::ErrorKind;
use crate::model::{Config, Mode, Proxy, ProxyKind};
use crate::parse::sections::ERRORFILE_CODES;
use std::collections::HashMap;
use std::path::Path;

/// Runs every check; each finding is pushed to `d`.
pub fn validate(cfg: &Config, d: &mut Diagnostics) {
    duplicate_proxies(cfg, d);
    duplicate_ids(
        "proxy",
        cfg.proxies
            .iter()
            .filter_map(|p| Some((p.id?, p.name.as_str(), p.span.as_ref()?))),
        d,
    );
    for p in &cfg.proxies {
        duplicate_servers(p, d);
        duplicate_ids(
            "server",
            p.servers
                .iter()
                .filter_map(|s| Some((s.settings.id?, s.name.as_str(), &s.span))),
            d,
        );
        backend_refs(cfg, p, d);
        timeouts(p, d);
        no_bind(p, d);
        section_refs(cfg, p, d);
        server_refs(cfg, p, d);
        acl_refs(p, d);
    }
    for p in cfg.defaults.iter().chain(cfg.proxies.iter()) {
        files(p, d);
    }
    ring_refs(cfg, d);
}

/// `log ring@NAME` must name a `ring` section (or HAProxy's own `buf0`). HAProxy
/// finds this at start-up; it is reported here so that `-c` sees it too.
fn ring_refs(cfg: &Config, d: &mut Diagnostics) {
    let rings = || {
        cfg.sections
            .iter()
            .filter(|s| s.keyword() == "ring")
            .map(|s| s.name())
    };
    let mut check = |t: &crate::model::log::LogTarget, who: String| {
        let Some(name) = &t.ring else { return };
        if name == "buf0" || rings().any(|r| r == name) {
            return;
        }
        let diag = Diagnostic::alert(&t.span, format!("{who} uses unknown ring named '{name}'"));
        d.push(match closest(name, rings()) {
            Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
            None => diag.with_hint(format!(
                "declare 'ring {name}' with its 'size' and 'format'"
            )),
        });
    };
    for t in &cfg.global.logs {
        check(t, "global log server".into());
    }
    for p in &cfg.proxies {
        for t in &p.logs.targets {
            check(
                t,
                format!("log server declared in proxy section '{}'", p.name),
            );
        }
    }
}

/// Two proxies of overlapping capability may not share a name (a frontend and a
/// backend may, as in HAProxy).
fn duplicate_proxies(cfg: &Config, d: &mut Diagnostics) {
    for (i, p) in cfg.proxies.iter().enumerate() {
        let clash = cfg.proxies[..i].iter().find(|q| {
            q.name == p.name
                && ((p.kind.is_frontend() && q.kind.is_frontend())
                    || (p.kind.is_backend() && q.kind.is_backend()))
        });
        if let (Some(q), Some(span)) = (clash, &p.span) {
            let at = q
                .span
                .as_ref()
                .map(|s| format!(" declared at {s}"))
                .unwrap_or_default();
            d.push(
                Diagnostic::alert(
                    span,
                    format!(
                        "{} '{}' has the same name as {} '{}'{at}",
                        p.kind.word(),
                        p.name,
                        q.kind.word(),
                        q.name
                    ),
                )
                .with_hint("give each proxy a distinct name"),
            );
        }
    }
}

/// Numeric `id`s must be unique (proxies among themselves, servers within a backend).
fn duplicate_ids<'a>(
    what: &str,
    items: impl Iterator<Item = (u32, &'a str, &'a crate::diag::Span)>,
    d: &mut Diagnostics,
) {
    let mut seen: HashMap<u32, (&str, &crate::diag::Span)> = HashMap::new();
    for (id, name, span) in items {
        if let Some((other, at)) = seen.get(&id) {
            d.push(
                Diagnostic::alert(span, format!("{what} '{name}' has the same id {id} as {what} '{other}' declared at {at}"))
                    .with_hint("give each one a distinct 'id', or remove the 'id' lines to number them automatically"),
            );
        } else {
            seen.insert(id, (name, span));
        }
    }
}

/// Every line of a duplicated server name gets an error naming the others.
fn duplicate_servers(p: &Proxy, d: &mut Diagnostics) {
    let mut by_name: HashMap<&str, Vec<&crate::model::Server>> = HashMap::new();
    for s in &p.servers {
        by_name.entry(s.name.as_str()).or_default().push(s);
    }
    for s in &p.servers {
        let same = &by_name[s.name.as_str()];
        if same.len() < 2 {
            continue;
        }
        let others: Vec<String> = same
            .iter()
            .filter(|o| o.span != s.span)
            .map(|o| o.span.to_string())
            .collect();
        d.push(
            Diagnostic::alert(
                &s.span,
                format!(
                    "{} '{}': duplicate server name '{}' (also used at {})",
                    p.kind.word(),
                    p.name,
                    s.name,
                    others.join(", ")
                ),
            )
            .with_hint("give each server a distinct name, e.g. 'server1' and 'server2'"),
        );
    }
}

fn backend_refs(cfg: &Config, p: &Proxy, d: &mut Diagnostics) {
    // Only frontends switch to backends (a `default_backend` copied from `defaults` into a backend is unused).
    if !p.kind.is_frontend() {
        return;
    }
    for r in &p.backend_refs {
        match cfg.backend(&r.name) {
            None => {
                let names = cfg
                    .proxies
                    .iter()
                    .filter(|b| b.kind.is_backend())
                    .map(|b| b.name.as_str());
                let diag = Diagnostic::alert(
                    &r.span,
                    format!(
                        "{} '{}': unable to find required backend '{}'",
                        p.kind.word(),
                        p.name,
                        r.name
                    ),
                );
                d.push(match closest(&r.name, names) {
                    Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
                    None => diag.with_hint(format!("declare 'backend {}'", r.name)),
                });
            }
            // An HTTP frontend cannot hand its streams to a TCP backend (the reverse is an upgrade).
            Some(b) if p.mode == Mode::Http && b.mode == Mode::Tcp => d.push(
                Diagnostic::alert(
                    &r.span,
                    format!(
                        "{} '{}' (mode http) cannot use backend '{}' (mode tcp)",
                        p.kind.word(),
                        p.name,
                        b.name
                    ),
                )
                .with_hint(format!(
                    "set 'mode http' in backend '{}', or 'mode tcp' here",
                    b.name
                )),
            ),
            Some(_) => {}
        }
    }
}

/// `errorfiles NAME` and `resolvers NAME` must name sections of that kind.
fn section_refs(cfg: &Config, p: &Proxy, d: &mut Diagnostics) {
    let mut need = |kw: &str, name: &str, span: &crate::diag::Span, what: String| {
        if cfg.section(kw, name).is_none() {
            let names = cfg
                .sections
                .iter()
                .filter(|s| s.keyword() == kw)
                .map(|s| s.name());
            let diag = Diagnostic::alert(span, format!("{what}: no '{kw}' section named '{name}'"));
            d.push(match closest(name, names) {
                Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
                None => diag.with_hint(format!("declare '{kw} {name}'")),
            });
        }
    };
    for e in &p.errors {
        if let ErrorKind::Section { name, .. } = &e.kind {
            need(
                "http-errors",
                name,
                &e.span,
                format!("{} '{}': 'errorfiles {name}'", p.kind.word(), p.name),
            );
        }
    }
    for s in &p.servers {
        if let Some(r) = &s.settings.resolvers {
            need(
                "resolvers",
                r,
                &s.span,
                format!("server '{}/{}'", p.name, s.name),
            );
        }
    }
}

/// `track [BACKEND/]SERVER` and static `use-server NAME` must name existing servers.
fn server_refs(cfg: &Config, p: &Proxy, d: &mut Diagnostics) {
    for s in &p.servers {
        let Some(t) = &s.settings.check.track else {
            continue;
        };
        let be_name = t.backend.as_deref().unwrap_or(&p.name);
        let found = cfg
            .backend(be_name)
            .map(|b| b.servers.iter().any(|x| x.name == t.server));
        let msg = match found {
            None => format!(
                "server '{}/{}': 'track' names backend '{be_name}', which does not exist",
                p.name, s.name
            ),
            Some(false) => format!(
                "server '{}/{}': 'track' names server '{be_name}/{}', which does not exist",
                p.name, s.name, t.server
            ),
            Some(true) => continue,
        };
        d.push(
            Diagnostic::alert(&s.span, msg)
                .with_hint("write 'track BACKEND/SERVER' with an existing server"),
        );
    }
    for u in &p.use_server {
        if let crate::rules::TargetName::Static(name) = &u.target {
            if !p.servers.iter().any(|s| &s.name == name) {
                let diag = Diagnostic::alert(
                    &u.span,
                    format!(
                        "{} '{}': 'use-server' names server '{name}', which is not in this backend",
                        p.kind.word(),
                        p.name
                    ),
                );
                d.push(
                    match closest(name, p.servers.iter().map(|s| s.name.as_str())) {
                        Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
                        None => diag,
                    },
                );
            }
        }
    }
}

/// ACLs every proxy knows (configuration.txt §7.4).
const PREDEFINED_ACLS: &[&str] = &[
    "TRUE",
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_3.0",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "LOCALHOST",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
    "RDP_COOKIE",
    "REQ_CONTENT",
    "WAIT_END",
];

/// Every named ACL a condition uses must be declared in the section above that line,
/// as HAProxy resolves names while it reads.
fn acl_refs(p: &Proxy, d: &mut Diagnostics) {
    use crate::rules::{AclRef, Condition, TcpRuleKind};
    let mut conds: Vec<&Condition> = Vec::new();
    let rules = p
        .http_request
        .iter()
        .chain(&p.http_response)
        .chain(&p.http_after_response);
    conds.extend(
        rules
            .chain(&p.stats.http_request)
            .filter_map(|r| r.cond.as_ref()),
    );
    conds.extend(
        p.tcp_request
            .iter()
            .chain(&p.tcp_response)
            .filter_map(|r| match &r.kind {
                TcpRuleKind::Rule { cond, .. } => cond.as_ref(),
                TcpRuleKind::InspectDelay { .. } => None,
            }),
    );
    conds.extend(
        p.use_backend
            .iter()
            .chain(&p.use_server)
            .filter_map(|u| u.cond.as_ref()),
    );
    conds.extend(p.persist.stick_rules.iter().filter_map(|r| r.cond.as_ref()));
    conds.extend(p.monitor_fail.iter().chain(&p.stats.admin));
    for c in conds {
        for term in c.groups.iter().flatten() {
            let AclRef::Named(name) = &term.acl else {
                continue;
            };
            if PREDEFINED_ACLS.contains(&name.as_str()) {
                continue;
            }
            let mut same = p.acls.iter().filter(|a| &a.name == name);
            let before =
                |a: &&crate::rules::AclDef| a.span.file != c.span.file || a.span.line < c.span.line;
            match same.clone().find(before) {
                Some(_) => {}
                None => {
                    let diag = match same.next() {
                        Some(later) => Diagnostic::alert(
                            &c.span,
                            format!(
                                "ACL '{name}' is used before its declaration at {}",
                                later.span
                            ),
                        )
                        .with_hint(format!("move the 'acl {name} …' line above this one")),
                        None => {
                            let known = p
                                .acls
                                .iter()
                                .map(|a| a.name.as_str())
                                .chain(PREDEFINED_ACLS.iter().copied());
                            let diag = Diagnostic::alert(&c.span, format!("no such ACL: '{name}'"));
                            match closest(name, known) {
                                Some(s) => diag.with_hint(format!("did you mean '{s}'?")),
                                None => diag.with_hint(format!(
                                    "declare it first: 'acl {name} FETCH PATTERN'"
                                )),
                            }
                        }
                    };
                    d.push(diag);
                }
            }
        }
    }
}

fn timeouts(p: &Proxy, d: &mut Diagnostics) {
    if p.disabled {
        return;
    }
    let t = &p.timeouts;
    // As in HAProxy, a zero timeout is no timeout.
    let unset = |x: Option<std::time::Duration>| !matches!(x, Some(v) if !v.is_zero());
    let missing = (p.kind.is_frontend() && unset(t.client))
        || (p.kind.is_backend() && (unset(t.connect) || unset(t.server)));
    if let (true, Some(span)) = (missing, &p.span) {
        let which = match p.kind {
            ProxyKind::Frontend => "'timeout client'",
            ProxyKind::Backend => "'timeout connect' and 'timeout server'",
            _ => "'timeout client', 'timeout connect' and 'timeout server'",
        };
        d.push(
            Diagnostic::warning(
                span,
                format!(
                    "missing timeouts for {} '{}'; connections may then stay open forever",
                    p.kind.word(),
                    p.name
                ),
            )
            .with_hint(format!(
                "set {which} to non-zero values, e.g. in 'defaults'"
            )),
        );
    }
}

fn no_bind(p: &Proxy, d: &mut Diagnostics) {
    if let (true, Some(span)) = (
        p.kind.is_frontend() && p.binds.is_empty() && !p.disabled,
        &p.span,
    ) {
        d.push(
            Diagnostic::warning(
                span,
                format!("{} '{}' has no 'bind' directive", p.kind.word(), p.name),
            )
            .with_hint("add 'bind ADDRESS:PORT', or declare it as a backend if this was intended"),
        );
    }
}

/// Files the configuration names must be readable now, as HAProxy reads them at load.
fn files(p: &Proxy, d: &mut Diagnostics) {
    for e in &p.errors {
        if let ErrorKind::File { status, path } = &e.kind {
            if !ERRORFILE_CODES.contains(status) {
                // HAProxy warns and ignores the line.
                d.push(
                    Diagnostic::warning(&e.span, format!("status code '{status}' not handled, error customization will be ignored"))
                        .with_hint(format!("statuses that can be replaced: {}", codes_list())),
                );
                continue;
            }
            // The same reading and checks as an `http-errors` section's `errorfile`.
            let args = [status.to_string(), path.display().to_string()];
            if let Err(err) = crate::parse::sections::read_errorfile(&args, &e.span) {
                d.push(err);
            }
        }
    }
    for f in &p.files {
        if let Err(err) = readable(&f.path) {
            d.push(
                Diagnostic::alert(
                    &f.span,
                    format!("cannot read {} file '{}': {err}", f.what, f.path.display()),
                )
                .with_hint("create the file, or fix the path"),
            );
        }
    }
}

fn codes_list() -> String {
    ERRORFILE_CODES
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn readable(path: &Path) -> Result<(), String> {
    match std::fs::File::open(path) {
        Ok(f) => match f.metadata() {
            Ok(m) if m.is_dir() => Err("it is a directory".into()),
            _ => Ok(()),
        },
        Err(e) => Err(io_reason(&e)),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
