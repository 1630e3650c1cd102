//! `mode tcp`: `stick on|match|store-request` on the connection's addresses and
//! first bytes, then the same persistent connect as HTTP; the session's
//! tracking counters.

use std::net::SocketAddr;
use std::sync::Arc;

use fulcrum_config::model::persist::StickKind;
use fulcrum_persist::track::Trackers;
use fulcrum_persist::Tables;
use fulcrum_rules::view::{NoStats, SessionView, Stats, TrackScope};
use fulcrum_rules::Vars;

use super::request::{key_of, stick_match};
use super::{now_ms, SessionState, SharedTables};
use crate::connect::{ClientAddrs, ConnectError, Connected};
use crate::runtime::{Backend, Runtime};
use crate::select::SelectKey;

/// A `mode tcp` session's tracking counters (`tcp-request connection|session|
/// content track-scN`), held for the whole connection and ended when dropped.
#[derive(Debug)]
pub(crate) struct TcpTrack {
    shared: Option<Arc<SharedTables>>,
    session: Trackers,
    stream: Trackers,
}

impl TcpTrack {
    /// `None` when the configuration has no stick table (nothing to track).
    pub(crate) fn new(rt: &Runtime) -> Option<Box<TcpTrack>> {
        let shared = rt
            .backends
            .iter()
            .find_map(|b| b.persist.shared.clone())
            .filter(|s| !s.is_empty())?;
        Some(Box::new(TcpTrack {
            shared: Some(shared),
            session: Trackers::new(),
            stream: Trackers::new(),
        }))
    }
    pub(crate) fn tables(&self) -> Option<&Tables> {
        self.shared.as_deref().map(SharedTables::tables)
    }
    pub(crate) fn session_trackers(&self) -> Option<&Trackers> {
        Some(&self.session)
    }
    pub(crate) fn stream_trackers(&self) -> Option<&Trackers> {
        Some(&self.stream)
    }
    pub(crate) fn trackers_mut(&mut self, scope: TrackScope) -> Option<&mut Trackers> {
        Some(match scope {
            TrackScope::Session => &mut self.session,
            TrackScope::Stream => &mut self.stream,
        })
    }
    /// The session passed `tcp-request session` rules (`sess_cnt`, `sess_rate`).
    pub(crate) fn accepted(&self) {
        let now = now_ms();
        if let Some(s) = &self.shared {
            s.maybe_purge(now);
        }
        self.session.on_session(now);
        self.stream.on_session(now);
    }

    /// The bytes the tunnel moved, counted when it ends.
    pub(crate) fn on_bytes(&self, up: u64, down: u64) {
        let now = now_ms();
        for t in [&self.session, &self.stream] {
            if up > 0 {
                t.on_bytes_in(up, now);
            }
            if down > 0 {
                t.on_bytes_out(down, now);
            }
        }
    }
}

impl Drop for TcpTrack {
    fn drop(&mut self) {
        let now = now_ms();
        self.stream.end(now);
        self.session.end(now);
    }
}

/// What `stick` expressions see of a TCP connection.
struct ConnView<'a> {
    be: &'a Backend,
    client: ClientAddrs,
    payload: &'a [u8],
    vars: Vars,
}

impl SessionView for ConnView<'_> {
    fn src(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.client.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        crate::unix::inet(self.client.dst)
    }
    fn frontend(&self) -> (&str, i64) {
        (&self.be.name, 0)
    }
    fn backend(&self) -> Option<(&str, i64)> {
        Some((&self.be.name, 0))
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
}

/// Connects a `mode tcp` session to `be`: a `stick` rule's stored server first
/// (redispatched as in HTTP when it cannot be reached), else the balancer; the
/// server reached is stored. `payload`: bytes already read from the client.
/// Backends without `stick` rules go straight to the balancer.
pub(crate) async fn connect_tcp(
    be: &Backend,
    client: ClientAddrs,
    key: &dyn SelectKey,
    payload: &[u8],
) -> Result<Connected, ConnectError> {
    let rules = be.rules.as_deref().filter(|_| !be.persist.stick.is_empty());
    let Some(rules) = rules else {
        return crate::connect::connect(be, client, key, None, &mut |_, _| None).await;
    };
    if let Some(s) = &be.persist.shared {
        s.maybe_purge(now_ms());
    }
    let st = SessionState::default();
    if let Ok(mut r) = st.req.try_borrow_mut() {
        let view = ConnView {
            be,
            client,
            payload,
            vars: Vars::default(),
        };
        for (i, ((expr, cond), rule)) in rules.stick.iter().zip(&be.persist.stick).enumerate() {
            let Some(table) = &rule.table else { continue };
            if rule.kind == StickKind::StoreResponse
                || cond
                    .as_ref()
                    .is_some_and(|c| !fulcrum_rules::eval_session(c, &view))
            {
                continue;
            }
            if let Some(k) = expr
                .eval_session(&view)
                .and_then(|s| key_of(&s, table.key_type()))
            {
                r.stick_keys.push((i, k));
            }
        }
        r.target = stick_match(be, &r.stick_keys, false, now_ms());
    }
    super::connect(Some(&st), be, client, key, None, &mut |_, _| None).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::reader::MapEnv;
    use std::net::TcpListener;

    fn backend(text: &str) -> std::sync::Arc<Backend> {
        let l = fulcrum_config::load_str("t.cfg", text, &MapEnv::new());
        let cfg = l.config.expect("valid config");
        crate::compile(&cfg).expect("compiles").backends[0].clone()
    }

    struct Src(std::net::IpAddr);
    impl SelectKey for Src {
        fn source(&self) -> Option<std::net::IpAddr> {
            Some(self.0)
        }
    }

    #[test]
    fn stick_on_src_keeps_each_client_on_its_server_in_tcp_mode() {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let b = TcpListener::bind("127.0.0.1:0").unwrap();
        let be = backend(&format!(
            "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
             backend db\n    balance roundrobin\n    stick-table type ip size 10 expire 1m\n    stick on src\n\
             \x20   server a {}\n    server b {}\n",
            a.local_addr().unwrap(),
            b.local_addr().unwrap()
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dst: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let pick = |ip: [u8; 4]| {
            let client = ClientAddrs {
                src: SocketAddr::from((ip, 5000)),
                dst,
            };
            let key = Src(client.src.ip());
            rt.block_on(connect_tcp(&be, client, &key, b""))
                .ok()
                .and_then(|c| c.lease.as_ref().map(|l| l.server))
        };
        let first: Vec<_> = (1..=4).map(|i| pick([10, 0, 0, i])).collect();
        assert!(first.iter().all(Option::is_some));
        // Round robin alone would alternate; stuck clients keep their server.
        for _ in 0..5 {
            let again: Vec<_> = (1..=4).map(|i| pick([10, 0, 0, i])).collect();
            assert_eq!(again, first);
        }
        assert!(first.contains(&Some(0)) && first.contains(&Some(1)));
    }
}
