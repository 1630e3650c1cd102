//! Engine counters and health → `fulcrum_observe::stats` snapshots, the one
//! source of the stats page, Prometheus and `show stat` / `show servers state`.

use crate::health_link::Core;
use crate::runtime::{Backend, Server};
use fulcrum_balance::AdminState;
use fulcrum_health::HealthSnapshot;
use fulcrum_observe::api::ServerStateLine;
use fulcrum_observe::stats::{
    BackendStats, CheckStats, FrontendStats, FrontendStatus, ProcessInfo, ProxyMode, ProxyStats,
    ServerStats, ServerStatus, Traffic,
};
use std::collections::HashMap;
use std::net::SocketAddr;

/// `Release_date:` of `show info`: hatop refuses an info block without one.
const RELEASE_DATE: &str = "2026/11/21";

/// `show info` / the page header.
pub(crate) fn info(core: &Core) -> ProcessInfo {
    // Client-side totals: the frontends' counters.
    let mut fe = Traffic::default();
    let (mut conns, mut cum, mut reqs) = (0u64, 0u64, 0u64);
    for c in &core.counters.fe {
        c.fill(&mut fe, true);
        conns += u64::from(fe.scur);
        cum += fe.stot;
        reqs += fe.req_tot;
    }
    let maxconn = core.rt.maxconn.map_or(0, |m| m as u64);
    let mut info = ProcessInfo {
        release_date: RELEASE_DATE.into(),
        nbthread: u32::try_from(core.nbthread).unwrap_or(u32::MAX),
        uptime: core.started.elapsed(),
        start_time_sec: core
            .started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        maxconn,
        hard_maxconn: maxconn,
        curr_conns: conns,
        cum_conns: cum,
        cum_req: reqs,
        node: node_name(&core.node),
        description: core.description.clone(),
        listeners: core.rt.frontends.iter().map(|f| f.binds.len() as u64).sum(),
        ..ProcessInfo::default()
    };
    core.rate.fill_info(&mut info);
    info
}

/// `node` defaults to the host name, as in HAProxy (hatop needs one).
fn node_name(configured: &str) -> String {
    if !configured.is_empty() {
        return configured.to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn addr_text(a: SocketAddr) -> String {
    // The stats' `addr` of a UNIX socket server, as HAProxy writes it.
    if crate::unix::is_unix(&a) {
        return "unix".into();
    }
    a.to_string()
}

fn mode(m: crate::runtime::Mode) -> ProxyMode {
    match m {
        crate::runtime::Mode::Tcp => ProxyMode::Tcp,
        crate::runtime::Mode::Http => ProxyMode::Http,
    }
}

/// A health snapshot's `status` text as the typed status.
fn status_from_text(t: &str) -> ServerStatus {
    let (base, frac) = match t.split_once(' ') {
        Some((b, f)) if f.contains('/') => (b, Some(f)),
        _ => (t, None),
    };
    let nm = frac.and_then(|f| {
        let (n, m) = f.split_once('/')?;
        Some((n.parse().ok()?, m.parse().ok()?))
    });
    match (base, nm) {
        ("UP", Some((n, of))) => ServerStatus::GoingDown { n, of },
        ("DOWN", Some((n, of))) => ServerStatus::GoingUp { n, of },
        ("NOLB", Some((n, of))) => ServerStatus::NoLbGoingDown { n, of },
        ("UP", _) => ServerStatus::Up,
        ("NOLB", _) => ServerStatus::NoLb,
        ("MAINT", _) => ServerStatus::Maint,
        ("DRAIN", _) => ServerStatus::Drain,
        ("no", _) | ("no check", _) => ServerStatus::NoCheck,
        _ => ServerStatus::Down,
    }
}

fn server_status(srv: &Server, h: Option<&HealthSnapshot>) -> ServerStatus {
    // The operator's state wins: it may have been set without the monitor.
    match srv.state.admin() {
        AdminState::Maint => return ServerStatus::Maint,
        AdminState::Drain => return ServerStatus::Drain,
        AdminState::Ready => {}
    }
    match h {
        Some(h) => status_from_text(&h.status_text),
        None if srv.state.is_up() => ServerStatus::NoCheck,
        None => ServerStatus::Down,
    }
}

fn server_stats(srv: &Server, h: Option<&HealthSnapshot>, checked: bool) -> ServerStats {
    let st = &srv.state;
    let traffic = Traffic {
        scur: st.cur_conns(),
        stot: st.total_conns(),
        qcur: st.queue_len(),
        lastsess: None,
        ..Traffic::default()
    };
    let check = h.filter(|_| checked).map(|h| CheckStats {
        status: h.check_status.name().to_string(),
        running: false,
        code: h.check_code,
        duration_ms: h.check_duration_ms,
        desc: h.check_status.description().to_string(),
        last: h.check_info.clone(),
        rise: h.rise,
        fall: h.fall,
        health: h.health,
    });
    ServerStats {
        name: srv.name.to_string(),
        sid: st.id(),
        status: server_status(srv, h.filter(|_| checked)),
        weight: st.weight(),
        uweight: st.initial_weight(),
        backup: st.is_backup(),
        slim: Some(st.maxconn()).filter(|m| *m > 0),
        qlimit: srv
            .queue_limit()
            .map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
        chkfail: h.map_or(0, |h| h.chkfail),
        chkdown: h.map_or(0, |h| h.chkdown),
        lastchg: h.map_or(0, |h| h.since_change.as_secs()),
        downtime: h.map_or(0, |h| h.downtime.as_secs()),
        lbtot: st.total_conns(),
        check,
        addr: addr_text(srv.addr()),
        traffic,
        ..ServerStats::default()
    }
}

fn backend_stats(be: &Backend, servers: &[ServerStats]) -> BackendStats {
    let usable = |s: &&ServerStats| s.status.is_usable();
    let mut t = Traffic::default();
    for s in servers {
        t.scur += s.traffic.scur;
        t.stot += s.traffic.stot;
        t.qcur += s.traffic.qcur;
    }
    t.qcur = t
        .qcur
        .max(u32::try_from(be.lb.queued()).unwrap_or(u32::MAX));
    BackendStats {
        up: servers.iter().any(|s| s.status.is_usable()) || be.dispatch.is_some(),
        weight: servers.iter().filter(usable).map(|s| s.weight).sum(),
        uweight: servers.iter().map(|s| s.uweight).sum(),
        act: servers.iter().filter(usable).filter(|s| !s.backup).count() as u32,
        bck: servers.iter().filter(usable).filter(|s| s.backup).count() as u32,
        chkdown: servers.iter().map(|s| s.chkdown).sum(),
        lbtot: t.stot,
        algo: String::new(),
        traffic: t,
        ..BackendStats::default()
    }
}

fn frontend_stats(fe: &crate::runtime::Frontend, traffic: Traffic) -> FrontendStats {
    let slim = fe
        .maxconn
        .map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX));
    FrontendStats {
        // At its maxconn a frontend stops accepting: HAProxy says FULL.
        status: if slim > 0 && traffic.scur >= slim {
            FrontendStatus::Full
        } else {
            FrontendStatus::Open
        },
        slim,
        traffic,
        ..FrontendStats::default()
    }
}

fn fe_traffic(core: &Core, fi: usize) -> Traffic {
    let mut t = Traffic::default();
    if let Some(c) = core.counters.fe.get(fi) {
        c.fill(&mut t, true);
    }
    t
}

/// Every proxy, in configuration order (by `iid`).
pub(crate) fn proxies(core: &Core) -> Vec<ProxyStats> {
    let health: HashMap<(usize, usize), HealthSnapshot> = core
        .health
        .as_ref()
        .map(|h| h.snapshots())
        .unwrap_or_default()
        .into_iter()
        .chain(core.dynsrv.snapshots())
        .map(|s| ((s.backend_idx, s.server_idx), s))
        .collect();
    let mut out: Vec<ProxyStats> = Vec::new();
    let iid = |name: &str| core.iids.get(name).copied().unwrap_or(0);
    for (fi, fe) in core.rt.frontends.iter().enumerate() {
        let mut traffic = fe_traffic(core, fi);
        let rate_lim;
        (traffic.rate, traffic.rate_max, rate_lim) = core.rate.frontend(fi);
        out.push(ProxyStats {
            name: fe.name.clone(),
            iid: iid(&fe.name),
            mode: mode(fe.mode),
            frontend: Some(FrontendStats {
                rate_lim,
                ..frontend_stats(fe, traffic)
            }),
            ..ProxyStats::default()
        });
    }
    for (bi, be) in core.rt.backends.iter().enumerate() {
        let servers: Vec<ServerStats> = be
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_present())
            .map(|(si, s)| {
                let checked = core.is_checked(bi, si);
                let mut st = server_stats(s, health.get(&(bi, si)), checked);
                if let Some(c) = core.counters.srv.get(bi).and_then(|v| v.get(si)) {
                    c.fill(&mut st.traffic, false);
                    st.timings = Some(c.timings_snapshot());
                }
                st
            })
            .collect();
        let mut b = backend_stats(be, &servers);
        b.algo = core.algos.get(bi).cloned().unwrap_or_default();
        if let Some(c) = core.counters.be.get(bi) {
            c.fill(&mut b.traffic, false);
            b.timings = Some(c.timings_snapshot());
        }
        match out.iter_mut().find(|p| p.name == be.name) {
            Some(p) => {
                p.servers = servers;
                p.backend = Some(b);
            }
            None => out.push(ProxyStats {
                name: be.name.clone(),
                iid: iid(&be.name),
                mode: mode(be.mode),
                frontend: None,
                servers,
                backend: Some(b),
            }),
        }
    }
    out.sort_by_key(|p| p.iid);
    out
}

/// `show servers state [backend]`.
pub(crate) fn servers_state(
    core: &Core,
    backend: Option<&str>,
) -> Result<Vec<ServerStateLine>, String> {
    if let Some(b) = backend {
        if !core.rt.backends.iter().any(|x| x.name == b) {
            return Err("Can't find backend.".into());
        }
    }
    let mut lines = Vec::new();
    for (bi, be) in core.rt.backends.iter().enumerate() {
        if backend.is_some_and(|b| b != be.name) {
            continue;
        }
        for (si, s) in be.servers.iter().enumerate() {
            if !s.is_present() {
                continue;
            }
            let h = core.health_of(bi, si);
            let st = &s.state;
            // `init-addr none` and no address yet: HAProxy's RMAINT, address `-`.
            let no_addr = s.addr().port() == 0 && s.addr().ip().is_unspecified();
            let admin = admin_bits(st.admin(), core.cfg_disabled.contains(&(bi, si)), no_addr);
            let maint = st.admin() == AdminState::Maint;
            let checked = core.is_checked(bi, si);
            lines.push(ServerStateLine {
                be_id: core.iids.get(&be.name).copied().unwrap_or(0),
                be_name: be.name.clone(),
                srv_id: st.id(),
                srv_name: s.name.to_string(),
                srv_addr: if no_addr {
                    "-".into()
                } else {
                    s.addr().ip().to_string()
                },
                srv_op_state: op_state(st, h.as_ref()),
                srv_admin_state: admin,
                srv_uweight: st.weight(),
                srv_iweight: st.initial_weight(),
                srv_time_since_last_change: h.as_ref().map_or(0, |h| h.since_change.as_secs()),
                srv_check_status: h.as_ref().map_or(1, |h| h.check_status.haproxy_code()),
                srv_check_result: h.as_ref().map_or(0, |h| h.check_status.haproxy_result()),
                // HAProxy zeroes the counter in maintenance.
                srv_check_health: h.as_ref().filter(|_| !maint).map_or(0, |h| h.health),
                srv_check_state: check_state(checked, h.as_ref(), maint && !no_addr),
                srv_agent_state: agent_state(h.as_ref()),
                srv_agent_port: h.as_ref().map_or(0, |h| h.agent_port),
                bk_f_forced_id: 0,
                srv_f_forced_id: u32::from(s.id.is_some()),
                srv_fqdn: None,
                srv_port: s.addr().port(),
                ..ServerStateLine::default()
            });
        }
    }
    Ok(lines)
}

/// `srv_op_state`: 0 stopped (also in maintenance), 1 starting (slowstart
/// ramp), 2 running, 3 stopping (NOLB).
fn op_state(st: &fulcrum_balance::ServerState, h: Option<&HealthSnapshot>) -> u32 {
    match (st.admin(), st.is_up(), h.is_some_and(|h| h.stopping)) {
        (AdminState::Maint, ..) | (_, false, _) => 0,
        (_, true, true) => 3,
        _ if st.ramp() < fulcrum_balance::WEIGHT_SCALE => 1,
        _ => 2,
    }
}

/// `srv_admin_state` as HAProxy 2.6 sets it: FMAINT (0x01) or, without an
/// address, RMAINT (0x20) in maintenance; DRAIN (0x08); and CMAINT (0x04) for
/// a server `disabled` in the configuration, kept after `state ready` as HAProxy does.
fn admin_bits(a: AdminState, cfg_disabled: bool, no_addr: bool) -> u32 {
    let op = match a {
        AdminState::Ready => 0,
        AdminState::Drain => 0x08,
        AdminState::Maint if no_addr => 0x20,
        AdminState::Maint => 0x01,
    };
    op | if cfg_disabled { 0x04 } else { 0 }
}

/// `srv_check_state`: HAProxy's CHK_ST_CONFIGURED (2) | ENABLED (4) for a
/// `check` server, | PAUSED (8) in maintenance (set without `check` too).
fn check_state(checked: bool, h: Option<&HealthSnapshot>, paused: bool) -> u32 {
    let paused = if paused { 8 } else { 0 };
    if !checked {
        return paused;
    }
    let enabled = if h.is_some_and(|h| h.check_enabled) {
        4
    } else {
        0
    };
    2 | enabled | paused
}

/// `srv_agent_state`: CHK_ST_AGENT (0x10) | CONFIGURED | ENABLED for an agent.
fn agent_state(h: Option<&HealthSnapshot>) -> u32 {
    match h {
        Some(h) if h.agent_configured => 0x12 | if h.agent_enabled { 4 } else { 0 },
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_status_text_reads_back(n in 0u32..1000, of in 1u32..1000, k in 0usize..8) {
            let st = [
                ServerStatus::Up,
                ServerStatus::Down,
                ServerStatus::NoLb,
                ServerStatus::Maint,
                ServerStatus::Drain,
                ServerStatus::GoingDown { n, of },
                ServerStatus::GoingUp { n, of },
                ServerStatus::NoLbGoingDown { n, of },
            ][k];
            prop_assert_eq!(status_from_text(&st.as_string()), st);
        }

        #[test]
        fn any_text_gives_some_status(t in ".{0,24}") {
            let _ = status_from_text(&t);
        }
    }

    #[test]
    fn status_texts_map_to_typed_states() {
        assert_eq!(status_from_text("UP"), ServerStatus::Up);
        assert_eq!(status_from_text("DOWN"), ServerStatus::Down);
        assert_eq!(
            status_from_text("UP 1/3"),
            ServerStatus::GoingDown { n: 1, of: 3 }
        );
        assert_eq!(
            status_from_text("DOWN 1/2"),
            ServerStatus::GoingUp { n: 1, of: 2 }
        );
        assert_eq!(status_from_text("no check"), ServerStatus::NoCheck);
        assert_eq!(status_from_text("MAINT"), ServerStatus::Maint);
    }
}
