//! `fulcrum_observe::api::Runtime` over the engine: what the stats socket
//! and the stats page's admin form read and change.

use crate::health_link::Core;
use fulcrum_balance::AdminState;
use fulcrum_health::Force;
use fulcrum_observe::api::{
    HealthForce, RateLimitKind, Runtime, ServerAdminState, ServerStateLine, TableDump, TableFilter,
    WeightSpec, NO_SUCH_BACKEND, NO_SUCH_SERVER,
};
use fulcrum_observe::stats::{ProcessInfo, ProxyStats};

impl Core {
    /// Backend `b` and its server `s`, by name, with HAProxy's messages.
    pub(super) fn find(&self, b: &str, s: &str) -> Result<(usize, usize), String> {
        let bi = self
            .rt
            .backends
            .iter()
            .position(|x| x.name == b)
            .ok_or_else(|| NO_SUCH_BACKEND.to_string())?;
        let si = self.rt.backends[bi]
            .servers
            .iter()
            .position(|x| x.is_present() && x.name == s)
            .ok_or_else(|| NO_SUCH_SERVER.to_string())?;
        Ok((bi, si))
    }

    /// Applies an operator state through the monitor (which logs and
    /// re-weights), or directly when no monitor runs.
    fn admin(&self, bi: usize, si: usize, a: AdminState) {
        let done = self.monitor(bi, si).is_some_and(|h| h.set_admin(bi, si, a));
        if !done {
            self.rt.backends[bi].servers[si].state.set_admin(a);
            self.rt.backends[bi].server_changed(si);
        }
    }
}

impl Runtime for Core {
    fn info(&self) -> ProcessInfo {
        crate::snapshot::info(self)
    }

    fn stats(&self) -> Vec<ProxyStats> {
        crate::snapshot::proxies(self)
    }

    fn servers_state(&self, backend: Option<&str>) -> Result<Vec<ServerStateLine>, String> {
        crate::snapshot::servers_state(self, backend)
    }

    fn backends(&self) -> Vec<String> {
        self.rt.backends.iter().map(|b| b.name.clone()).collect()
    }

    fn set_server_state(&self, b: &str, s: &str, st: ServerAdminState) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        let a = match st {
            ServerAdminState::Ready => AdminState::Ready,
            ServerAdminState::Drain => AdminState::Drain,
            ServerAdminState::Maint => AdminState::Maint,
        };
        self.admin(bi, si, a);
        Ok(String::new())
    }

    fn set_server_weight(&self, b: &str, s: &str, w: WeightSpec) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        let st = &self.rt.backends[bi].servers[si].state;
        match w {
            WeightSpec::Absolute(w) if w > 256 => {
                return Err("Absolute weight can only be between 0 and 256 inclusive.".into())
            }
            WeightSpec::Absolute(w) => st.set_weight(w),
            WeightSpec::Percent(p) => {
                st.set_weight_percent(p);
            }
        }
        self.rt.backends[bi].server_changed(si);
        Ok(String::new())
    }

    fn get_weight(&self, b: &str, s: &str) -> Result<(u32, u32), String> {
        let (bi, si) = self.find(b, s)?;
        let st = &self.rt.backends[bi].servers[si].state;
        Ok((st.weight(), st.initial_weight()))
    }

    fn set_server_health(&self, b: &str, s: &str, f: HealthForce) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        if self.monitor(bi, si).is_some_and(|h| h.is_tracking(bi, si)) {
            return Err("cannot change health on a tracking server.\n".into());
        }
        let force = match f {
            HealthForce::Up => Force::Up,
            HealthForce::Stopping => Force::Stopping,
            HealthForce::Down => Force::Down,
        };
        let done = self
            .monitor(bi, si)
            .is_some_and(|h| h.set_health(bi, si, force));
        if !done {
            let up = force != Force::Down;
            self.rt.backends[bi].servers[si].state.set_up(up);
            self.rt.backends[bi].server_changed(si);
        }
        Ok(String::new())
    }

    fn set_server_precheck(&self, b: &str, s: &str, sub: &str) -> Result<(), String> {
        let (bi, si) = self.find(b, s)?;
        match sub {
            "agent" if !self.health_of(bi, si).is_some_and(|h| h.agent_enabled) => {
                Err("agent checks are not enabled on this server.\n".into())
            }
            "health" if self.monitor(bi, si).is_some_and(|h| h.is_tracking(bi, si)) => {
                Err("cannot change health on a tracking server.\n".into())
            }
            _ => Ok(()),
        }
    }

    fn set_server_agent(&self, b: &str, s: &str, f: HealthForce) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        // The parser lets only `up` and `down` through.
        let up = f == HealthForce::Up;
        match self.monitor(bi, si) {
            Some(h) if h.set_agent(bi, si, up) => Ok(String::new()),
            _ => Err("agent checks are not enabled on this server.\n".into()),
        }
    }

    fn set_health_checks(&self, b: &str, s: &str, on: bool) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        match self.monitor(bi, si) {
            Some(h) if h.set_check_enabled(bi, si, on) => Ok(String::new()),
            _ => Err("Health checks are not configured on this server, cannot enable.".into()),
        }
    }

    fn set_agent_checks(&self, b: &str, s: &str, on: bool) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        match self.monitor(bi, si) {
            Some(h) if h.set_agent_enabled(bi, si, on) => Ok(String::new()),
            _ => Err("Agent was not configured on this server, cannot enable.".into()),
        }
    }

    fn set_server_addr(
        &self,
        b: &str,
        s: &str,
        a: std::net::IpAddr,
        p: Option<u16>,
    ) -> Result<String, String> {
        self.set_addr(b, s, a, p)
    }

    fn add_server(&self, b: &str, s: &str, args: &[String]) -> Result<String, String> {
        self.add_dynamic(b, s, args)
    }

    fn del_server(&self, b: &str, s: &str) -> Result<String, String> {
        self.del_dynamic(b, s)
    }

    fn set_maxconn_server(
        &self,
        b: &str,
        s: &str,
        v: Result<u32, String>,
    ) -> Result<String, String> {
        let (bi, si) = self.find(b, s)?;
        let v = v?;
        let be = &self.rt.backends[bi];
        let v = usize::try_from(v).unwrap_or(usize::MAX);
        be.lb.set_maxconn(si, v, |i| be.servers[i].is_present());
        be.server_changed(si);
        Ok(String::new())
    }

    fn set_maxconn_frontend(&self, f: &str, v: u32) -> Result<String, String> {
        self.fe_maxconn(f, v)
    }

    fn set_maxconn_global(&self, v: u32) -> Result<String, String> {
        self.global_maxconn(v)
    }

    fn set_rate_limit(&self, k: RateLimitKind, v: u32) -> Result<String, String> {
        self.rate.set(k, v);
        // Accept loops waiting for the old rate look again now.
        self.ctl.retake(None);
        Ok(String::new())
    }

    fn set_frontend_enabled(&self, f: &str, enabled: bool) -> Result<String, String> {
        self.fe_enable(f, enabled)
    }

    fn shutdown_frontend(&self, f: &str) -> Result<String, String> {
        self.fe_shutdown(f)
    }

    fn shutdown_server_sessions(&self, b: &str, s: &str) -> Result<String, String> {
        self.sess_kill_server(b, s)
    }

    fn shutdown_session(&self, id: &str) -> Result<String, String> {
        self.sess_kill(id)
    }

    fn show_sess(&self, target: Option<&str>) -> Result<String, String> {
        self.sess_show(target)
    }

    fn tables(
        &self,
        name: Option<&str>,
        filters: &[TableFilter],
    ) -> Result<Vec<TableDump>, String> {
        self.dump_tables(name, filters)
    }

    fn clear_table(&self, name: &str, filters: &[TableFilter]) -> Result<String, String> {
        self.clear_entries(name, filters)
    }

    fn show_errors(&self, _proxy: Option<&str>, _side: Option<&str>) -> Result<String, String> {
        // No capture of invalid messages yet: the empty list.
        Ok(super::tables::show_errors_empty())
    }

    fn rings(&self) -> Option<std::sync::Arc<fulcrum_observe::log::Rings>> {
        self.rings.clone()
    }

    fn show_activity(&self) -> Result<String, String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let up = self.started.elapsed();
        Ok(format!(
            "thread_id: 1 (1..{})\ndate_now: {}.{:06}\nuptime_now: {}.{:06}\n",
            self.nbthread.max(1),
            now.as_secs(),
            now.subsec_micros(),
            up.as_secs(),
            up.subsec_micros()
        ))
    }
}
