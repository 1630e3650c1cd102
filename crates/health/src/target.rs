//! [`CheckTarget`]: one server to check, with everything the monitor needs.

use crate::error::HealthError;
use crate::script::ConnectSpec;
use fulcrum_balance::ServerState;
use fulcrum_config::model::check::{CheckSettings, ServerCheck};
use fulcrum_config::model::proxy::{Proxy, ProxyKind};
use fulcrum_config::model::server::SendProxy;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// One server with its check settings. Build it with
/// [`CheckTarget::from_config`] or by hand (tests).
#[derive(Clone, Debug)]
pub struct CheckTarget {
    pub backend: String,
    /// The engine's index of the backend (given back in callbacks and events).
    pub backend_idx: usize,
    /// A `listen` section: logs say `proxy NAME` instead of `backend NAME`.
    pub is_listen: bool,
    pub server: String,
    /// The server's index in its backend.
    pub server_idx: usize,
    pub state: Arc<ServerState>,
    /// The server's resolved address (the engine resolves names).
    pub addr: SocketAddr,
    /// A UNIX socket server (`/path`, `abns@`): checks connect there unless
    /// `addr`/`port` send them elsewhere.
    pub unix: Option<socket2::SockAddr>,
    /// `check`, `inter`, `rise`, … after `default-server`.
    pub check: ServerCheck,
    /// The backend's `option httpchk`, `tcp-check` rules, ….
    pub settings: CheckSettings,
    pub timeout_connect: Option<Duration>,
    pub timeout_check: Option<Duration>,
    /// `option log-health-checks`.
    pub log_health_checks: bool,
    /// `option allbackups` (what `nbsrv()` counts when only backups are left).
    pub all_backups: bool,
    /// Send a PROXY v1 line first (`check-send-proxy`, or the server's `send-proxy`).
    pub send_proxy: bool,
    /// Checks over TLS (`check-ssl`, or the server's `ssl` without
    /// `no-check-ssl`): Fulcrum has no TLS client yet, so these servers get a
    /// plain connect check rather than a request their port cannot read.
    pub ssl: bool,
}

impl CheckTarget {
    /// The target for `proxy.servers[server_idx]`, resolved at `addr`.
    pub fn from_config(
        proxy: &Proxy,
        backend_idx: usize,
        server_idx: usize,
        state: Arc<ServerState>,
        addr: SocketAddr,
    ) -> Option<Self> {
        let srv = proxy.servers.get(server_idx)?;
        let check = srv.settings.check.clone();
        let ssl = check.ssl.unwrap_or(srv.settings.ssl);
        let send_proxy =
            check.send_proxy.unwrap_or(false) || srv.settings.send_proxy != SendProxy::None;
        Some(CheckTarget {
            backend: proxy.name.clone(),
            backend_idx,
            is_listen: proxy.kind == ProxyKind::Listen,
            server: srv.name.clone(),
            server_idx,
            state,
            addr,
            unix: None,
            check,
            settings: proxy.check.clone(),
            timeout_connect: proxy.timeouts.connect,
            timeout_check: proxy.timeouts.check,
            log_health_checks: proxy.options.log_health_checks,
            all_backups: proxy.options.allbackups,
            send_proxy,
            ssl,
        })
    }

    /// `timeout check` set: connect within min(`timeout connect`, `inter`),
    /// then `timeout check` more. Unset: `inter` bounds the whole check.
    pub fn timeouts(&self) -> (Duration, Duration) {
        let inter = self.check.inter();
        let connect = self.timeout_connect.map_or(inter, |c| c.min(inter));
        match self.timeout_check {
            Some(tc) => (connect, connect.saturating_add(tc)),
            None => (connect, inter),
        }
    }

    /// The UNIX socket a `connect` step goes to: the server's, unless the step
    /// or the server's check settings name an address or port.
    pub fn check_unix(&self, spec: &ConnectSpec) -> Option<&socket2::SockAddr> {
        let moved = spec.addr.is_some()
            || spec.port.is_some()
            || self.check.addr.is_some()
            || self.check.port.is_some();
        self.unix.as_ref().filter(|_| !moved)
    }

    /// The server's address now: `set server addr` moves checks along with
    /// traffic (the engine keeps it in the shared state).
    pub fn current_addr(&self) -> SocketAddr {
        self.state.addr().unwrap_or(self.addr)
    }

    /// Where a `connect` step goes: its own `addr`/`port`, else the server's
    /// `addr`/`port` check settings, else the server's address.
    pub fn check_addr(&self, spec: &ConnectSpec) -> Result<SocketAddr, HealthError> {
        let mut a = self.current_addr();
        if let Some(s) = spec.addr.as_deref().or(self.check.addr.as_deref()) {
            a = parse_addr(s, a.port())?;
        }
        if let Some(p) = spec.port.or(self.check.port) {
            a.set_port(p);
        }
        Ok(a)
    }

    /// The agent's address: `agent-addr` (else the check address) and `agent-port`.
    pub fn agent_addr(&self) -> Result<Option<SocketAddr>, HealthError> {
        let ag = &self.check.agent;
        let Some(port) = ag.port else { return Ok(None) };
        if !ag.enabled.unwrap_or(false) {
            return Ok(None);
        }
        let mut a = match ag.addr.as_deref() {
            Some(s) => parse_addr(s, port)?,
            None => self.check_addr(&ConnectSpec::default())?,
        };
        a.set_port(port);
        Ok(Some(a))
    }
}

fn parse_addr(s: &str, default_port: u16) -> Result<SocketAddr, HealthError> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let host = s.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| HealthError::Address(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> CheckTarget {
        CheckTarget {
            backend: "bk".into(),
            backend_idx: 0,
            is_listen: false,
            server: "s1".into(),
            server_idx: 0,
            state: Arc::new(ServerState::new(1, 1, false)),
            addr: "10.0.0.1:80".parse().unwrap(),
            unix: None,
            check: ServerCheck::default(),
            settings: CheckSettings::default(),
            timeout_connect: Some(Duration::from_secs(5)),
            timeout_check: None,
            log_health_checks: false,
            all_backups: false,
            send_proxy: false,
            ssl: false,
        }
    }

    #[test]
    fn check_port_and_addr_override_the_server_address() {
        let mut t = target();
        t.check.port = Some(8080);
        assert_eq!(
            t.check_addr(&ConnectSpec::default()).unwrap(),
            "10.0.0.1:8080".parse().unwrap()
        );
        t.check.addr = Some("127.0.0.2".into());
        let spec = ConnectSpec {
            port: Some(9),
            ..Default::default()
        };
        assert_eq!(t.check_addr(&spec).unwrap(), "127.0.0.2:9".parse().unwrap());
    }

    #[test]
    fn timeouts_follow_the_manual() {
        let mut t = target();
        assert_eq!(
            t.timeouts(),
            (Duration::from_secs(2), Duration::from_secs(2))
        );
        t.timeout_check = Some(Duration::from_secs(1));
        t.timeout_connect = Some(Duration::from_millis(500));
        assert_eq!(
            t.timeouts(),
            (Duration::from_millis(500), Duration::from_millis(1500))
        );
    }
}
