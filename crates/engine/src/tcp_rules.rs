//! `tcp-request connection|session|content` rules and `use_backend` in
//! `mode tcp`: content rules see the first bytes (e.g. `req.ssl_sni` of a TLS
//! ClientHello) and may wait for more, up to `tcp-request inspect-delay`.

use crate::buf::Buf;
use crate::runtime::{Frontend, Runtime};
use fulcrum_config::rules::TcpLayer;
use fulcrum_rules::view::{NoStats, SessionView, Stats};
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

struct TcpView<'a> {
    fe: &'a Frontend,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &'a [u8],
    ended: bool,
    vars: Vars,
    track: Option<&'a mut crate::persist::TcpTrack>,
}

impl SessionView for TcpView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        Some(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        Some(self.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.fe.name, 0)
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
    fn payload(&self) -> &[u8] {
        self.payload
    }
    fn wait_ended(&self) -> bool {
        self.ended
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

fn stops(v: &TcpVerdict) -> bool {
    matches!(
        v,
        TcpVerdict::Reject | TcpVerdict::SilentDrop | TcpVerdict::Close
    )
}

/// `tcp-request connection` then `session` rules, before any byte is read: in TCP mode
/// ahead of content inspection, in HTTP mode ahead of the request (IP blocking, connection
/// tracking). `None` when the connection must be closed; else the variables they set.
pub(crate) fn connection_rules(
    fe: &Frontend,
    src: SocketAddr,
    dst: SocketAddr,
    mut track: Option<&mut crate::persist::TcpTrack>,
) -> Option<Vars> {
    let mut vars = Vars::default();
    let Some(rules) = fe.rules.as_ref() else {
        return Some(vars);
    };
    for layer in [TcpLayer::Connection, TcpLayer::Session] {
        let mut view = TcpView {
            fe,
            src,
            dst,
            payload: &[],
            ended: true,
            vars,
            track: track.as_deref_mut(),
        };
        let v = run_tcp(&rules.tcp, layer, &mut view);
        vars = view.vars;
        if stops(&v) {
            return None;
        }
    }
    Some(vars)
}

/// Runs the frontend's TCP rules and chooses the backend. Bytes read while
/// inspecting stay in `buf` and are forwarded first.
pub(crate) async fn decide(
    rt: &Runtime,
    fe: &Frontend,
    client: &mut TcpStream,
    buf: &mut Buf,
    src: SocketAddr,
    dst: SocketAddr,
    mut track: Option<&mut crate::persist::TcpTrack>,
) -> TcpDecision {
    let default = fe.default_backend.filter(|i| *i < rt.backends.len());
    let Some(rules) = fe.rules.as_ref() else {
        return default.map_or(TcpDecision::Close, TcpDecision::Forward);
    };
    let Some(mut vars) = connection_rules(fe, src, dst, track.as_deref_mut()) else {
        return TcpDecision::Close;
    };
    let delay = Duration::from_millis(rules.tcp.inspect_delay_ms.unwrap_or(0));
    let deadline = Instant::now() + delay;
    // Bounded: each round either reads bytes, or the deadline passes.
    for _ in 0..4096 {
        let ended = Instant::now() >= deadline || buf.is_full();
        let mut view = TcpView {
            fe,
            src,
            dst,
            payload: buf.readable(),
            ended,
            vars,
            track: track.as_deref_mut(),
        };
        let v = run_tcp(&rules.tcp, TcpLayer::Content, &mut view);
        vars = view.vars;
        match v {
            TcpVerdict::Wait if !ended => {
                match tokio::time::timeout_at(deadline, buf.fill_from(client)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    Ok(_) => return TcpDecision::Close,
                    Err(_) => {} // delay over: run once more with WAIT_END
                }
            }
            v if stops(&v) => return TcpDecision::Close,
            _ => break,
        }
    }
    let view = TcpView {
        fe,
        src,
        dst,
        payload: buf.readable(),
        ended: true,
        vars,
        track,
    };
    let exists = |n: &str| rt.backends.iter().any(|b| b.name == n);
    let chosen = rules
        .routing
        .backend_tcp(&view, &exists)
        .and_then(|n| rt.backends.iter().position(|b| b.name == n));
    chosen
        .or(default)
        .map_or(TcpDecision::Close, TcpDecision::Forward)
}
