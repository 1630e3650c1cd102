//! Typed model → runtime: resolves names and addresses, reads error files,
//! and fixes every default, so the engine never looks at configuration again.

use crate::error::EngineError;
use crate::runtime::{
    Backend, Bind, BindAddr, ConnMode, ErrorPages, ForwardFor, Frontend, HttpOptions, HttpReuse,
    IpNet, Mode, OriginalTo, ProxyVersion, Redispatch, RetryOn, Runtime, Server, TcpOptions,
    Timeouts, Tune,
};
use fulcrum_config::model::{self, Address, Config, Family, Host, Ports, Proxy};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

fn err(p: &Proxy, msg: impl std::fmt::Display) -> EngineError {
    let at = p
        .span
        .as_ref()
        .map(|s| format!("{s}: "))
        .unwrap_or_default();
    EngineError::Config(format!("{at}{} '{}': {msg}", p.kind.word(), p.name))
}

/// Builds the runtime the engine serves from a validated configuration.
pub fn compile(cfg: &Config) -> Result<Runtime, EngineError> {
    let g = &cfg.global;
    let tune = Tune {
        bufsize: g
            .tune_bufsize
            .map_or(16384, |v| v.clamp(1024, 1 << 24) as usize),
        maxrewrite: g.tune_maxrewrite.map_or(1024, |v| v.min(1 << 20) as usize),
    };
    let http_errors = http_errors_sections(cfg);
    let userlists = fulcrum_rules::userlists_from_model(cfg);
    global_vars(cfg)?;
    let mut rules = HashMap::new();
    for p in cfg.proxies.iter().filter(|p| !p.disabled) {
        rules.insert(p.name.clone(), proxy_rules(p, &userlists)?);
    }
    let ids = proxy_ids(cfg);
    let id_of = |p: &Proxy| ids.get(&p.name).copied().unwrap_or(0);
    let tables = crate::persist::SharedTables::from_config(cfg);
    let mut backends = Vec::new();
    let mut by_name = HashMap::new();
    for p in cfg
        .proxies
        .iter()
        .filter(|p| p.kind.is_backend() && !p.disabled)
    {
        by_name.insert(p.name.clone(), backends.len());
        let mut be = backend(cfg, p, &http_errors)?;
        be.id = id_of(p);
        be.rules = rules.get(&p.name).cloned().flatten();
        be.persist = crate::persist::Persist::from_proxy(p, &tables);
        be.persist.resolve_dynamic_cookies(p, &be.servers);
        backends.push(Arc::new(be));
    }
    let mut frontends = Vec::new();
    for p in cfg
        .proxies
        .iter()
        .filter(|p| p.kind.is_frontend() && !p.disabled)
    {
        let default_backend = match &p.default_backend {
            Some((name, _)) => Some(
                *by_name
                    .get(name)
                    .ok_or_else(|| err(p, format!("unknown backend '{name}'")))?,
            ),
            // A `listen` section is its own backend.
            None if p.kind.is_backend() => by_name.get(&p.name).copied(),
            None => None,
        };
        let mut fe = frontend(p, default_backend, &http_errors)?;
        crate::unix::apply_unix_bind(&mut fe, &g.unix_bind).map_err(|e| err(p, e))?;
        fe.id = id_of(p);
        fe.rules = rules.get(&p.name).cloned().flatten();
        frontends.push(fe);
    }
    set_fullconn(cfg, &by_name, &backends);
    Ok(Runtime {
        nbthread: g.threads().map_or(0, |n| n as usize),
        maxconn: g.maxconn.map(|m| m as usize),
        tune,
        frontends,
        backends,
    })
}

/// Proxy numbers as HAProxy gives them: an `id` line wins; the others take the
/// first free number in declaration order, starting at 2 (HAProxy skips 1), and a
/// disabled proxy still uses up its number so enabling it renumbers nothing.
pub(crate) fn proxy_ids(cfg: &Config) -> HashMap<String, u32> {
    let used: std::collections::HashSet<u32> = cfg.proxies.iter().filter_map(|p| p.id).collect();
    let mut next = 2u32;
    let mut out = HashMap::new();
    for p in &cfg.proxies {
        let id = match p.id {
            Some(id) => id,
            None => {
                while used.contains(&next) {
                    next += 1;
                }
                next
            }
        };
        next += 1;
        out.insert(p.name.clone(), id);
    }
    out
}

/// `fullconn`, or as HAProxy computes it when unset: 10% (rounded up, at
/// least 1) of the `maxconn` of every frontend that may use the backend
/// (`default_backend`, static `use_backend` names, a `listen` itself); a
/// frontend without `maxconn` counts the global one (4096 when unset).
fn set_fullconn(cfg: &Config, by_name: &HashMap<String, usize>, backends: &[Arc<Backend>]) {
    let global = cfg.global.maxconn.unwrap_or(4096) as u64;
    let mut total = vec![0u64; backends.len()];
    for p in cfg
        .proxies
        .iter()
        .filter(|p| p.kind.is_frontend() && !p.disabled)
    {
        let maxconn = p.maxconn.map_or(global, u64::from);
        let mut targets: Vec<usize> = p
            .backend_refs
            .iter()
            .filter_map(|r| by_name.get(&r.name).copied())
            .collect();
        if let Some(bi) = p.default_backend.as_ref().and_then(|(n, _)| by_name.get(n)) {
            targets.push(*bi);
        } else if p.kind.is_backend() {
            targets.extend(by_name.get(&p.name).copied());
        }
        targets.sort_unstable();
        targets.dedup();
        for bi in targets {
            total[bi] += maxconn;
        }
    }
    for p in cfg
        .proxies
        .iter()
        .filter(|p| p.kind.is_backend() && !p.disabled)
    {
        let Some(&bi) = by_name.get(&p.name) else {
            continue;
        };
        let full = match p.fullconn.filter(|f| *f > 0) {
            Some(f) => u64::from(f),
            None => total[bi].div_ceil(10).max(1),
        };
        backends[bi]
            .lb
            .set_fullconn(usize::try_from(full).unwrap_or(usize::MAX));
    }
}

fn mode(m: model::Mode) -> Mode {
    match m {
        model::Mode::Tcp => Mode::Tcp,
        model::Mode::Http => Mode::Http,
    }
}

fn timeouts(t: &model::Timeouts) -> Timeouts {
    Timeouts {
        client: t.client,
        client_fin: t.client_fin,
        server: t.server,
        server_fin: t.server_fin,
        connect: t.connect,
        tunnel: t.tunnel,
        http_request: t.http_request,
        http_keep_alive: t.http_keep_alive,
        queue: t.queue,
        tarpit: t.tarpit,
    }
}

fn net(n: &model::addr::IpNet) -> IpNet {
    IpNet {
        addr: n.addr,
        prefix: n.prefix,
    }
}

fn http_options(o: &model::Options) -> HttpOptions {
    HttpOptions {
        conn_mode: match o.http_mode {
            model::HttpMode::KeepAlive => ConnMode::KeepAlive,
            model::HttpMode::ServerClose => ConnMode::ServerClose,
            model::HttpMode::Close => ConnMode::Close,
        },
        pretend_keepalive: o.pretend_keepalive,
        forwardfor: o.forwardfor.as_ref().map(|f| ForwardFor {
            except: f.except.as_ref().map(net),
            header: f.header.clone(),
            if_none: f.if_none,
        }),
        originalto: o.originalto.as_ref().map(|f| OriginalTo {
            except: f.except.as_ref().map(net),
            header: f.header.clone(),
        }),
        ignore_probes: o.http_ignore_probes,
        idle_close_on_response: o.idle_close_on_response,
        abortonclose: o.abortonclose,
        buffer_request: o.http_buffer_request,
        accept_invalid_request: o.accept_invalid_http_request,
        accept_invalid_response: o.accept_invalid_http_response,
        captures: Default::default(),
        live: Default::default(),
        unique_id: None,
        log_formats: None,
    }
}

/// `client`: the frontend side (`clitcpka`), else the backend side (`srvtcpka`).
fn tcp_options(o: &model::Options, client: bool) -> TcpOptions {
    let (on, ka) = if client {
        (o.clitcpka, &o.clitcpka_params)
    } else {
        (o.srvtcpka, &o.srvtcpka_params)
    };
    TcpOptions {
        splice_request: o.splice_request || o.splice_auto,
        splice_response: o.splice_response || o.splice_auto,
        nolinger: o.nolinger,
        independent_streams: o.independent_streams,
        health_answer: None,
        keepalive: (on || o.tcpka).then_some(crate::runtime::KeepAlive {
            idle: ka.idle,
            intvl: ka.intvl,
            cnt: ka.cnt,
        }),
        smart_connect: !client && o.tcp_smart_connect,
    }
}

/// `option tcp-smart-accept`: HAProxy turns it on for HTTP frontends unless
/// `no option tcp-smart-accept` says otherwise.
fn smart_accept(p: &Proxy) -> bool {
    p.options.tcp_smart_accept || (p.mode == model::Mode::Http && !p.options.no_tcp_smart_accept)
}

/// `mss N` (a negative N is taken off the default MSS).
fn mss(p: &Proxy, v: &Option<String>) -> Result<Option<i32>, EngineError> {
    v.as_deref()
        .map(|m| {
            m.parse::<i32>()
                .map_err(|_| err(p, format!("bind: bad 'mss' value '{m}'")))
        })
        .transpose()
}

fn frontend(
    p: &Proxy,
    default_backend: Option<usize>,
    sections: &HashMap<String, HashMap<u16, Arc<[u8]>>>,
) -> Result<Frontend, EngineError> {
    let mut binds = Vec::new();
    for b in &p.binds {
        for a in &b.addresses {
            for addr in bind_addrs(p, a)? {
                binds.push(Bind {
                    name: b.name.clone(),
                    addr,
                    backlog: b.backlog.or(p.backlog),
                    maxconn: b.maxconn.map(|m| m as usize),
                    v4v6: b.v4v6,
                    v6only: b.v6only,
                    accept_proxy: b.accept_proxy,
                    interface: b.interface.clone(),
                    unix_perms: crate::unix::perms(b).map_err(|e| err(p, format!("bind: {e}")))?,
                    defer_accept: b.defer_accept,
                    mss: mss(p, &b.mss)?,
                    tfo: b.tfo,
                    smart_accept: smart_accept(p),
                    local: None,
                });
            }
        }
    }
    Ok(Frontend {
        name: p.name.clone(),
        id: 0,
        mode: mode(p.mode),
        binds,
        maxconn: p.maxconn.map(|m| m as usize),
        monitor_net: p.monitor_net.iter().map(net).collect(),
        default_backend,
        timeouts: timeouts(&p.timeouts),
        // The stats page's admin form needs its POST body before answering.
        http: HttpOptions {
            buffer_request: p.options.http_buffer_request || p.stats.admin.is_some(),
            captures: Arc::new(captures(p)),
            unique_id: unique_id(p)?,
            log_formats: Some(Arc::new(crate::log_sample::LogFormats::from_proxy(p)?)),
            ..http_options(&p.options)
        },
        tcp: tcp_options(&p.options, true),
        errors: error_pages(p, sections)?,
        rules: None,
    })
    .map(|mut fe| {
        fe.tcp.health_answer = health_answer(p);
        fe
    })
}

/// 1.x `mode health`: `OK` and a newline, or HTTP's bare 200 with `option httpchk`.
fn health_answer(p: &Proxy) -> Option<&'static [u8]> {
    use fulcrum_config::model::check::CheckKind;
    p.health_mode.then_some(match p.check.kind {
        Some(CheckKind::Http(_)) => b"HTTP/1.0 200 OK\r\n\r\n",
        _ => b"OK\n",
    })
}

/// Compiles `unique-id-format` (with `unique-id-header`) for the request path.
fn unique_id(p: &Proxy) -> Result<Option<Arc<crate::runtime::UniqueId>>, EngineError> {
    let Some(lf) = &p.unique_id_format else {
        return Ok(None);
    };
    let span = p
        .span
        .clone()
        .unwrap_or_else(|| fulcrum_config::diag::Span::new("", 0));
    let env = fulcrum_rules::CompileEnv::new(std::path::PathBuf::new());
    let format = fulcrum_rules::Template::new(lf, &span, &env)
        .map_err(|e| EngineError::Config(format!("'unique-id-format': {e}")))?;
    Ok(Some(Arc::new(crate::runtime::UniqueId {
        format,
        header: p.unique_id_header.clone(),
    })))
}

/// The global section's `set-var`/`set-var-fmt`: `proc.` variables, set before any traffic.
fn global_vars(cfg: &Config) -> Result<(), EngineError> {
    let env = fulcrum_rules::CompileEnv::new(std::path::PathBuf::new());
    let errs = fulcrum_rules::set_global_vars(&cfg.global.set_vars, &env);
    if errs.is_empty() {
        return Ok(());
    }
    let text = errs.iter().map(|e| e.to_string()).collect::<Vec<_>>();
    Err(EngineError::Config(text.join("\n")))
}

fn captures(p: &Proxy) -> crate::log::Captures {
    use fulcrum_config::model::proxy::CaptureWhat;
    let mut c = crate::log::Captures::default();
    for cap in &p.captures {
        let entry = (cap.name.clone(), cap.len as usize);
        match cap.what {
            CaptureWhat::RequestHeader => c.request_headers.push(entry),
            CaptureWhat::ResponseHeader => c.response_headers.push(entry),
            CaptureWhat::Cookie => c.cookie = Some(entry),
        }
    }
    c
}

/// Compiles a section's ACLs, `http-request` rules and `use_backend` lines;
/// `None` when it has none, so requests take the rule-less fast path.
fn proxy_rules(
    p: &Proxy,
    userlists: &fulcrum_rules::Userlists,
) -> Result<Option<Arc<fulcrum_rules::CompiledProxy>>, EngineError> {
    if p.http_request.is_empty()
        && p.tcp_request.is_empty()
        && p.tcp_response.is_empty()
        && p.use_backend.is_empty()
        && p.http_response.is_empty()
        && p.http_after_response.is_empty()
        && p.persist.stick_rules.is_empty()
        && p.force_persist.is_empty()
        && p.ignore_persist.is_empty()
        && p.use_server.is_empty()
    {
        return Ok(None);
    }
    let base = p
        .span
        .as_ref()
        .and_then(|s| {
            std::path::Path::new(&*s.file)
                .parent()
                .map(|d| d.to_path_buf())
        })
        .unwrap_or_default();
    let env = fulcrum_rules::CompileEnv::new(base).with_userlists(userlists.clone());
    let input = fulcrum_rules::ProxyInput::from_model(p);
    match fulcrum_rules::compile_proxy(&input, &env) {
        Ok(c) => Ok(Some(Arc::new(c))),
        Err(errs) => Err(EngineError::Config(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

fn bind_addrs(p: &Proxy, a: &Address) -> Result<Vec<BindAddr>, EngineError> {
    match a {
        Address::Fd(n) => Ok(vec![BindAddr::Fd(
            i32::try_from(*n).map_err(|_| err(p, "bad fd"))?,
        )]),
        Address::Inet {
            family,
            host,
            ports,
        } => {
            let ip = match host {
                Host::Wildcard if *family == Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                Host::Wildcard => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Host::Ip(ip) => *ip,
                Host::Name(n) => resolve(n, 0).map_err(|e| err(p, e))?.ip(),
            };
            let ports: Vec<u16> = match ports {
                Ports::One(port) => vec![*port],
                Ports::Range(lo, hi) => (*lo..=*hi).collect(),
                _ => return Err(err(p, "a bind address needs a port")),
            };
            Ok(ports
                .into_iter()
                .map(|port| BindAddr::Socket(SocketAddr::new(ip, port)))
                .collect())
        }
        Address::Unix(path) => Ok(vec![BindAddr::Unix(crate::unix::UnixAddr::Path(
            path.clone(),
        ))]),
        Address::Abns(name) => Ok(vec![BindAddr::Unix(crate::unix::UnixAddr::Abstract(
            name.as_bytes().to_vec(),
        ))]),
        Address::Sockpair(_) => Err(err(
            p,
            "'sockpair@' bind addresses are not supported (they receive connections from a master process Fulcrum does not have)",
        )),
    }
}

fn resolve(name: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (name, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{name}': {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("'{name}' has no address"))
}

/// A server or `dispatch`/`source` address with a single port.
fn inet(p: &Proxy, a: &Address, what: &str) -> Result<SocketAddr, EngineError> {
    match a {
        Address::Inet { host, ports, .. } => {
            let port = match ports {
                Ports::One(port) => *port,
                Ports::None => 0,
                _ => {
                    return Err(err(
                        p,
                        format!("{what}: port ranges and offsets are not supported yet"),
                    ))
                }
            };
            Ok(match host {
                Host::Ip(ip) => SocketAddr::new(*ip, port),
                Host::Wildcard => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
                Host::Name(n) => resolve(n, port).map_err(|e| err(p, format!("{what}: {e}")))?,
            })
        }
        other => Err(err(
            p,
            format!("{what}: address {other:?} is not supported yet"),
        )),
    }
}

fn backend(
    cfg: &Config,
    p: &Proxy,
    sections: &HashMap<String, HashMap<u16, Arc<[u8]>>>,
) -> Result<Backend, EngineError> {
    let mut servers = Vec::new();
    for s in &p.servers {
        let st = &s.settings;
        // A name goes through `init-addr` (`none` leaves the server without address).
        let addr = match crate::init_addr::named(&s.addr) {
            Some((host, port)) => {
                crate::init_addr::resolve(cfg, p, s, host, port).map_err(|e| err(p, e))?
            }
            None => match crate::unix::server_placeholder(&s.addr) {
                Some(a) => a,
                None => inet(p, &s.addr, &format!("server '{}'", s.name))?,
            },
        };
        let mut srv = Server::new(&s.name, addr);
        srv.unix = crate::unix::server_unix(&s.addr);
        srv.weight = st.weight;
        // As HAProxy: `minconn` alone (or above `maxconn`) is the fixed limit;
        // below `maxconn` it starts the dynamic ramp up to `maxconn`.
        let (minconn, maxconn) = match (st.minconn.filter(|m| *m > 0), st.maxconn) {
            (Some(min), Some(max)) if min < max => (Some(min), Some(max)),
            (Some(min), _) => (None, Some(min)),
            (None, max) => (None, max),
        };
        srv.maxconn = maxconn.filter(|m| *m > 0).map(|m| m as usize);
        srv.minconn = minconn.map(|m| m as usize);
        srv.maxqueue = st.maxqueue.filter(|m| *m > 0).map(|m| m as usize);
        srv.backup = st.backup;
        srv.id = st.id;
        srv.source = match &st.source {
            Some(a) => Some(inet(p, a, "source")?),
            None => p
                .source
                .as_ref()
                .map(|a| inet(p, a, "source"))
                .transpose()?,
        };
        srv.send_proxy = match st.send_proxy {
            model::server::SendProxy::None => None,
            model::server::SendProxy::V1 => Some(ProxyVersion::V1),
            model::server::SendProxy::V2 => Some(ProxyVersion::V2),
        };
        srv.shutdown_on_down = st.on_marked_down.as_deref() == Some("shutdown-sessions");
        if st.disabled || addr.port() == 0 && addr.ip().is_unspecified() {
            srv.state.set_up(false);
        }
        servers.push(srv);
    }
    let (algo, opts) = balance(p);
    crate::admin::dynsrv::reserve(p, &algo, &opts, &mut servers);
    let mut be = Backend::with_balance(&p.name, mode(p.mode), servers, algo, opts)?;
    crate::admin::dynsrv::park(&be);
    if let Some(e) = crate::select::hash_expr(p).map_err(|e| err(p, e))? {
        be.lb.set_hash_expr(e);
    }
    be.timeouts = timeouts(&p.timeouts);
    be.retries = p.retries.unwrap_or(3);
    be.redispatch = p.options.redispatch.map(Redispatch);
    be.lb
        .set_requeue_on_down(be.redispatch.is_some() && !p.options.persist);
    if !p.retry_on.is_empty() {
        be.retry_on = RetryOn::parse(&p.retry_on).map_err(|e| err(p, e))?;
    }
    be.http = http_options(&p.options);
    be.tcp = tcp_options(&p.options, false);
    be.reuse = match p.http_reuse {
        model::proxy::HttpReuse::Never => HttpReuse::Never,
        model::proxy::HttpReuse::Safe => HttpReuse::Safe,
        model::proxy::HttpReuse::Aggressive => HttpReuse::Aggressive,
        model::proxy::HttpReuse::Always => HttpReuse::Always,
    };
    be.errors = error_pages(p, sections)?;
    if let Some((_, args, _)) = p.other.iter().find(|(k, _, _)| k == "dispatch") {
        let a = args
            .first()
            .ok_or_else(|| err(p, "dispatch needs an address"))?;
        let (host, port) = a
            .rsplit_once(':')
            .ok_or_else(|| err(p, "dispatch needs ADDR:PORT"))?;
        let port: u16 = port.parse().map_err(|_| err(p, "dispatch: bad port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        be.dispatch = Some(resolve(host, port).map_err(|e| err(p, e))?);
    }
    Ok(be)
}

fn error_pages(
    p: &Proxy,
    sections: &HashMap<String, HashMap<u16, Arc<[u8]>>>,
) -> Result<ErrorPages, EngineError> {
    let mut pages = ErrorPages::default();
    for e in &p.errors {
        match &e.kind {
            model::proxy::ErrorKind::File { status, path } => {
                let bytes = std::fs::read(path)
                    .map_err(|x| err(p, format!("errorfile {}: {x}", path.display())))?;
                pages.by_status.insert(*status, Arc::from(bytes));
            }
            model::proxy::ErrorKind::Location { status, url, code } => {
                let reason = match code {
                    303 => "See Other",
                    _ => "Found",
                };
                let page = format!(
                    "HTTP/1.1 {code} {reason}\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: {url}\r\n\r\n"
                );
                pages
                    .by_status
                    .insert(*status, Arc::from(page.into_bytes()));
            }
            model::proxy::ErrorKind::Section { name, codes } => {
                let set = sections
                    .get(name)
                    .ok_or_else(|| err(p, format!("unknown http-errors section '{name}'")))?;
                for (code, page) in set {
                    if codes.is_empty() || codes.contains(code) {
                        pages.by_status.insert(*code, page.clone());
                    }
                }
            }
        }
    }
    Ok(pages)
}

/// `http-errors NAME` sections, read from their raw lines (`errorfile CODE FILE`).
/// Unreadable files were already reported by validation; they are skipped here.
fn http_errors_sections(cfg: &Config) -> HashMap<String, HashMap<u16, Arc<[u8]>>> {
    let mut out = HashMap::new();
    for s in cfg
        .other_sections
        .iter()
        .filter(|s| s.kind == "http-errors")
    {
        let mut set = HashMap::new();
        for l in &s.lines {
            if let [kw, code, file, ..] = l.words.as_slice() {
                if kw == "errorfile" {
                    if let (Ok(code), Ok(bytes)) = (code.parse::<u16>(), std::fs::read(file)) {
                        set.insert(code, Arc::from(bytes));
                    }
                }
            }
        }
        out.insert(s.name.clone().unwrap_or_default(), set);
    }
    out
}

/// `balance`, `hash-type`, `hash-balance-factor` and `option allbackups`.
fn balance(
    p: &Proxy,
) -> (
    fulcrum_balance::BalanceAlgo,
    fulcrum_balance::BalanceOptions,
) {
    use fulcrum_balance as fb;
    use model::Balance as B;
    let algo = match p.balance.as_ref().unwrap_or(&B::RoundRobin) {
        B::RoundRobin => fb::BalanceAlgo::RoundRobin,
        B::StaticRr => fb::BalanceAlgo::StaticRr,
        B::LeastConn => fb::BalanceAlgo::LeastConn,
        B::First => fb::BalanceAlgo::First,
        B::Source => fb::BalanceAlgo::Source,
        B::Uri {
            whole,
            path_only,
            len,
            depth,
        } => fb::BalanceAlgo::Uri(fb::UriOpts {
            len: *len,
            depth: *depth,
            whole: *whole,
            path_only: *path_only,
        }),
        B::UrlParam { name, check_post } => fb::BalanceAlgo::UrlParam {
            name: name.clone(),
            check_post: *check_post,
        },
        B::Hdr {
            name,
            use_domain_only,
        } => fb::BalanceAlgo::Hdr {
            name: name.clone(),
            use_domain_only: *use_domain_only,
        },
        B::RdpCookie { name } => fb::BalanceAlgo::RdpCookie { name: name.clone() },
        B::Random { draws } => fb::BalanceAlgo::Random {
            draws: (*draws).max(1),
        },
        B::Hash(_) => fb::BalanceAlgo::Hash,
    };
    let ht = &p.hash_type;
    let method = match ht.method {
        model::balance::HashMethod::MapBased => fb::HashMethod::MapBased,
        model::balance::HashMethod::Consistent => fb::HashMethod::Consistent,
    };
    let function = match ht.function {
        model::balance::HashFunction::Sdbm => fb::HashFunction::Sdbm,
        model::balance::HashFunction::Djb2 => fb::HashFunction::Djb2,
        model::balance::HashFunction::Wt6 => fb::HashFunction::Wt6,
        model::balance::HashFunction::Crc32 => fb::HashFunction::Crc32,
        model::balance::HashFunction::None => fb::HashFunction::None,
    };
    let opts = fb::BalanceOptions {
        hash_type: fb::HashType {
            method,
            function,
            avalanche: ht.avalanche,
        },
        hash_balance_factor: p.hash_balance_factor,
        all_backups: p.options.allbackups,
    };
    (algo, opts)
}
