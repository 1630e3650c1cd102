//! `tcp-request connection|session|content` rules and `use_backend` in
//! `mode tcp`: content rules see the first bytes (e.g. `req.ssl_sni` of a TLS
//! ClientHello) and may wait for more, up to `tcp-request inspect-delay`.

use crate::buf::Buf;
use crate::connect::ClientAddrs;
use crate::runtime::{Backend, Frontend, Runtime};
use fulcrum_config::rules::TcpLayer;
use fulcrum_rules::view::{Effect, SessionView, Stats};
use fulcrum_rules::{run_tcp, TcpVerdict, Vars};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What the rules decided for a TCP connection.
pub(crate) enum TcpDecision {
    /// Forward to this backend (index into the runtime's backends).
    Forward(usize),
    /// Close now (`reject`, `silent-drop`, or no backend).
    Close,
}

/// What TCP rules asked of the session beside their verdict.
#[derive(Debug, Default)]
pub(crate) struct TcpFx {
    /// `capture SAMPLE len N` values, in rule order (the log's request captures).
    pub captures: Vec<String>,
    /// `set-log-level`: the last one a rule ran.
    pub level: Option<crate::log::LevelOverride>,
    /// `tcp-request connection expect-proxy layer4`.
    expect_proxy: bool,
    /// The variables the request rules left, for the response rules.
    pub vars: Vars,
}

impl TcpFx {
    /// Hands captures and the log level to the session's log.
    pub(crate) fn hand_to(&mut self, log: &mut crate::log::TxnLog) {
        log.set_vars(&self.vars);
        if let Some(l) = self.level.take() {
            log.set_level(l);
        }
        if !self.captures.is_empty() {
            let caps = std::mem::take(&mut self.captures);
            let slots = &mut log.request_captures.get_or_insert_with(Default::default).0;
            slots.extend(caps.into_iter().map(Some));
        }
    }
}

/// The session as TCP rules see it. `src`/`dst` follow `set-src`/`set-dst`.
pub(crate) struct TcpView<'a> {
    pub fe: &'a Frontend,
    pub be: Option<&'a Backend>,
    /// The server connected to (`tcp-response` rules): name and id.
    pub server: Option<(std::sync::Arc<str>, i64)>,
    pub addrs: ClientAddrs,
    pub payload: &'a [u8],
    pub res_payload: &'a [u8],
    pub ended: bool,
    pub vars: Vars,
    pub track: Option<&'a mut crate::persist::TcpTrack>,
    pub fx: &'a mut TcpFx,
}

impl SessionView for TcpView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.addrs.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.addrs.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.fe.name, i64::from(self.fe.id))
    }
    fn backend(&self) -> Option<(&str, i64)> {
        self.be.map(|b| (b.name.as_str(), i64::from(b.id)))
    }
    fn server(&self) -> Option<(&str, i64)> {
        self.server.as_ref().map(|(n, id)| (&**n, *id))
    }
    fn stats(&self) -> &dyn Stats {
        &crate::stats::CurrentStats
    }
    fn vars(&self) -> &Vars {
        &self.vars
    }
    fn vars_mut(&mut self) -> &mut Vars {
        &mut self.vars
    }
    fn payload(&self) -> &[u8] {
        self.payload
    }
    fn res_payload(&self) -> &[u8] {
        self.res_payload
    }
    fn wait_ended(&self) -> bool {
        self.ended
    }
    fn effect(&mut self, e: Effect<'_>) {
        match e {
            Effect::Capture { value, .. } => self
                .fx
                .captures
                .push(String::from_utf8_lossy(value).into_owned()),
            Effect::SetLogLevel(l) => {
                if let Some(l) = crate::log::LevelOverride::parse(l) {
                    self.fx.level = Some(l);
                }
            }
            // The port stays (configuration.txt "set-src"): only the address changes.
            Effect::SetSrc(ip) => self.addrs.src = SocketAddr::new(ip, self.addrs.src.port()),
            Effect::SetDst(ip) => self.addrs.dst = SocketAddr::new(ip, self.addrs.dst.port()),
            Effect::SetSrcPort(p) => self.addrs.src.set_port(p),
            Effect::SetDstPort(p) => self.addrs.dst.set_port(p),
            Effect::ExpectProxy => self.fx.expect_proxy = true,
            _ => {}
        }
    }
    fn tables(&self) -> Option<&fulcrum_persist::Tables> {
        self.track.as_deref().and_then(|t| t.tables())
    }
    fn session_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
        self.track.as_deref().and_then(|t| t.session_trackers())
    }
    fn stream_trackers(&self) -> Option<&fulcrum_persist::track::Trackers> {
        self.track.as_deref().and_then(|t| t.stream_trackers())
    }
    fn trackers_mut(
        &mut self,
        scope: fulcrum_rules::TrackScope,
    ) -> Option<&mut fulcrum_persist::track::Trackers> {
        self.track
            .as_deref_mut()
            .and_then(|t| t.trackers_mut(scope))
    }
    fn now_ms(&self) -> u64 {
        crate::persist::now_ms()
    }
}

/// Server `i` of `be` as `srv_name`/`srv_id` read it: its name now and its number.
pub(crate) fn server_ident(be: &Backend, i: usize) -> Option<(std::sync::Arc<str>, i64)> {
    let s = be.servers.get(i)?;
    Some((s.name.to_string().into(), i64::from(s.state.id())))
}

pub(crate) fn stops(v: &TcpVerdict) -> bool {
    matches!(
        v,
        TcpVerdict::Reject | TcpVerdict::SilentDrop | TcpVerdict::Close
    )
}

/// Runs one rule set that needs no data (`connection` or `session`).
fn run_layer(
    fe: &Frontend,
    layer: TcpLayer,
    addrs: &mut ClientAddrs,
    track: Option<&mut crate::persist::TcpTrack>,
    fx: &mut TcpFx,
    vars: Vars,
) -> Option<Vars> {
    let Some(rules) = fe.rules.as_ref().filter(|r| r.tcp.has(layer)) else {
        return Some(vars);
    };
    let mut view = TcpView {
        fe,
        be: None,
        server: None,
        addrs: *addrs,
        payload: &[],
        res_payload: &[],
        ended: true,
        vars,
        track,
        fx,
    };
    let v = run_tcp(&rules.tcp, layer, &mut view);
    *addrs = view.addrs;
    (!stops(&v)).then_some(view.vars)
}

/// `tcp-request connection` rules, right after accept: before the PROXY header
/// of `accept-proxy` is read (HAProxy runs them before any handshake, so they
/// see the connection's own addresses). `None`: close the connection (with a
/// reset, as HAProxy); else the variables they set.
pub(crate) fn connection_rules(
    fe: &Frontend,
    addrs: &mut ClientAddrs,
    track: Option<&mut crate::persist::TcpTrack>,
    fx: &mut TcpFx,
) -> Option<Vars> {
    run_layer(fe, TcpLayer::Connection, addrs, track, fx, Vars::default())
}

/// The PROXY header `expect-proxy layer4` asked for (a missing or bad one
/// closes the connection, as with `accept-proxy`), then `session` rules.
/// `None` when the connection must be closed.
pub(crate) async fn session_rules(
    fe: &Frontend,
    client: &mut TcpStream,
    cbuf: &mut Buf,
    addrs: &mut ClientAddrs,
    track: Option<&mut crate::persist::TcpTrack>,
    fx: &mut TcpFx,
    vars: Vars,
) -> Option<Vars> {
    if std::mem::take(&mut fx.expect_proxy) {
        match crate::tcp::read_proxy_header(client, cbuf, fe).await {
            Ok(Some((src, dst))) => *addrs = ClientAddrs { src, dst },
            Ok(None) => {} // `PROXY UNKNOWN` / LOCAL: the connection's own addresses
            Err(_) => return None,
        }
    }
    run_layer(fe, TcpLayer::Session, addrs, track, fx, vars)
}

/// [`connection_rules`] for an HTTP session (whose log is per request):
/// `None` to close, else whether `expect-proxy layer4` asked for a header.
/// Their `sess.` variables go to the connection's store, `sess`, which every
/// request's rules and log read.
pub(crate) fn connection_http(
    fe: &Frontend,
    addrs: &mut ClientAddrs,
    track: Option<&mut crate::persist::TcpTrack>,
    sess: &fulcrum_rules::SessionVars,
) -> Option<bool> {
    let mut fx = TcpFx::default();
    let vars = Vars::with_session(sess.clone());
    let layer = TcpLayer::Connection;
    run_layer(fe, layer, addrs, track, &mut fx, vars).map(|_| fx.expect_proxy)
}

/// [`session_rules`] for an HTTP session: `false` when the connection must be closed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn session_http(
    fe: &Frontend,
    client: &mut TcpStream,
    cbuf: &mut Buf,
    addrs: &mut ClientAddrs,
    track: Option<&mut crate::persist::TcpTrack>,
    expect_proxy: bool,
    sess: &fulcrum_rules::SessionVars,
) -> bool {
    let mut fx = TcpFx {
        expect_proxy,
        ..TcpFx::default()
    };
    let vars = Vars::with_session(sess.clone());
    session_rules(fe, client, cbuf, addrs, track, &mut fx, vars)
        .await
        .is_some()
}

/// Runs `view` (one rule set) over `buf`, reading more from `peer` while a rule
/// waits for data, up to `delay` (`inspect-delay`). Once the peer closed or the
/// delay expired the rules run a last time with what is there (HAProxy's final
/// evaluation). Returns the verdict and the variables; an I/O error is `Reject`.
pub(crate) async fn inspect(
    delay: Option<u64>,
    peer: &mut TcpStream,
    buf: &mut Buf,
    mut view: impl FnMut(&[u8], bool, Vars) -> (TcpVerdict, Vars),
    mut vars: Vars,
) -> (TcpVerdict, Vars) {
    let deadline = Instant::now() + Duration::from_millis(delay.unwrap_or(0));
    let mut eof = false;
    // Bounded: each round either reads bytes, sees the end, or the deadline passes.
    for _ in 0..4096 {
        let ended = eof || Instant::now() >= deadline || buf.is_full();
        let (v, back) = view(buf.readable(), ended, vars);
        vars = back;
        match v {
            TcpVerdict::Wait if !ended => {
                match tokio::time::timeout_at(deadline, buf.fill_from(peer)).await {
                    Ok(Ok(0)) => eof = true,
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return (TcpVerdict::Reject, vars),
                    Err(_) => {} // delay over: run once more with WAIT_END
                }
            }
            v => return (v, vars),
        }
    }
    (TcpVerdict::Continue, vars)
}

/// Runs the frontend's `session` and `content` rules (after its `connection`
/// rules gave `vars`) and chooses the backend, then runs that
/// backend's `tcp-request content` rules (HAProxy runs them once the backend
/// is known). Bytes read while inspecting stay in `buf` and are forwarded first.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide(
    rt: &Runtime,
    fe: &Frontend,
    client: &mut TcpStream,
    buf: &mut Buf,
    addrs: &mut ClientAddrs,
    mut track: Option<&mut crate::persist::TcpTrack>,
    fx: &mut TcpFx,
    vars: Vars,
) -> TcpDecision {
    let default = fe.default_backend.filter(|i| *i < rt.backends.len());
    let t = track.as_deref_mut();
    let Some(mut vars) = session_rules(fe, client, buf, addrs, t, fx, vars).await else {
        return TcpDecision::Close;
    };
    let mut chosen = None;
    if let Some(rules) = fe.rules.as_ref() {
        let v = std::mem::take(&mut vars);
        let ran = content(fe, None, client, buf, addrs, track.as_deref_mut(), fx, v).await;
        let Some(v) = ran else {
            return TcpDecision::Close;
        };
        let view = TcpView {
            fe,
            be: None,
            server: None,
            addrs: *addrs,
            payload: buf.readable(),
            res_payload: &[],
            ended: true,
            vars: v,
            track: track.as_deref_mut(),
            fx: &mut *fx,
        };
        let exists = |n: &str| rt.backends.iter().any(|b| b.name == n);
        chosen = rules
            .routing
            .backend_tcp(&view, &exists)
            .and_then(|n| rt.backends.iter().position(|b| b.name == n));
        vars = view.vars;
    }
    let Some(bi) = chosen.or(default) else {
        return TcpDecision::Close;
    };
    let be = &rt.backends[bi];
    // A `listen` section is its own backend: its rules already ran.
    if be.name != fe.name
        && be
            .rules
            .as_ref()
            .is_some_and(|r| r.tcp.has(TcpLayer::Content))
    {
        let ran = content(fe, Some(be), client, buf, addrs, track, fx, vars).await;
        let Some(v) = ran else {
            return TcpDecision::Close;
        };
        vars = v;
    }
    fx.vars = vars;
    TcpDecision::Forward(bi)
}

/// `tcp-request content` rules of the frontend (`be` = `None`) or of the
/// backend; `None` when they close the connection.
#[allow(clippy::too_many_arguments)]
async fn content(
    fe: &Frontend,
    be: Option<&Backend>,
    client: &mut TcpStream,
    buf: &mut Buf,
    addrs: &mut ClientAddrs,
    mut track: Option<&mut crate::persist::TcpTrack>,
    fx: &mut TcpFx,
    vars: Vars,
) -> Option<Vars> {
    let rules = match be {
        Some(b) => b.rules.as_ref(),
        None => fe.rules.as_ref(),
    };
    let Some(rules) = rules.filter(|r| r.tcp.has(TcpLayer::Content)) else {
        return Some(vars);
    };
    let delay = rules.tcp.inspect_delay_ms;
    let run = |payload: &[u8], ended: bool, vars: Vars| {
        let mut view = TcpView {
            fe,
            be,
            server: None,
            addrs: *addrs,
            payload,
            res_payload: &[],
            ended,
            vars,
            track: track.as_deref_mut(),
            fx: &mut *fx,
        };
        let v = run_tcp(&rules.tcp, TcpLayer::Content, &mut view);
        *addrs = view.addrs;
        (v, view.vars)
    };
    let (v, vars) = inspect(delay, client, buf, run, vars).await;
    (!stops(&v)).then_some(vars)
}
