//! What rules' stats fetches (`nbsrv`, `srv_is_up`, `be_conn`, …) read:
//! the live server states and counters of this worker's engine. Before
//! operations start, lookups fail as with `NoStats`.

use crate::health_link::{current, Core};
use fulcrum_rules::view::Stats;

/// A [`Stats`] over the current engine; zero-sized so views can hand out
/// a `&'static` to it.
pub(crate) struct CurrentStats;

fn with<T>(f: impl FnOnce(&Core) -> Option<T>) -> Option<T> {
    let ops = current()?;
    f(&ops.core)
}

fn be_index(core: &Core, name: &str) -> Option<usize> {
    core.rt.backends.iter().position(|b| b.name == name)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Stats for CurrentStats {
    fn nbsrv(&self, backend: &str) -> Option<i64> {
        with(|c| {
            let bi = be_index(c, backend)?;
            Some(match &c.health {
                Some(h) => i64::from(h.nbsrv(bi)),
                None => {
                    let be = &c.rt.backends[bi];
                    be.servers.iter().filter(|s| s.state.is_usable()).count() as i64
                }
            })
        })
    }

    fn be_conn(&self, backend: &str) -> Option<i64> {
        with(|c| {
            let be = &c.rt.backends[be_index(c, backend)?];
            Some(i64_of(
                be.servers
                    .iter()
                    .map(|s| u64::from(s.state.cur_conns()))
                    .sum(),
            ))
        })
    }

    fn fe_conn(&self, frontend: &str) -> Option<i64> {
        with(|c| {
            let fi = c.rt.frontends.iter().position(|f| f.name == frontend)?;
            let mut t = fulcrum_observe::stats::Traffic::default();
            c.counters.fe.get(fi)?.fill(&mut t, true);
            Some(i64::from(t.scur))
        })
    }

    fn connslots(&self, backend: &str) -> Option<i64> {
        with(|c| {
            let be = &c.rt.backends[be_index(c, backend)?];
            let mut free = 0i64;
            for s in be.servers.iter().filter(|s| s.state.is_usable()) {
                // A server without maxconn has unlimited slots: HAProxy answers -1.
                let Some(max) = s.maxconn else {
                    return Some(-1);
                };
                free += i64::try_from(max).unwrap_or(i64::MAX) - i64::from(s.state.cur_conns());
            }
            Some(free.max(0))
        })
    }

    fn srv_conn(&self, backend: &str, server: &str) -> Option<i64> {
        with(|c| {
            let be = &c.rt.backends[be_index(c, backend)?];
            let s = be.servers.iter().find(|s| s.name == server)?;
            Some(i64::from(s.state.cur_conns()))
        })
    }

    fn srv_is_up(&self, backend: &str, server: &str) -> Option<bool> {
        with(|c| {
            let bi = be_index(c, backend)?;
            let s = c.rt.backends[bi]
                .servers
                .iter()
                .find(|s| s.name == server)?;
            Some(s.state.is_up() && s.state.admin() != fulcrum_balance::AdminState::Maint)
        })
    }

    fn queue(&self, backend: &str) -> Option<i64> {
        with(|c| {
            let be = &c.rt.backends[be_index(c, backend)?];
            Some(i64_of(be.lb.queued() as u64))
        })
    }

    fn avg_queue(&self, backend: &str) -> Option<i64> {
        with(|c| {
            let be = &c.rt.backends[be_index(c, backend)?];
            let usable = be.servers.iter().filter(|s| s.state.is_usable()).count();
            let q = i64_of(be.lb.queued() as u64);
            Some(if usable == 0 { q } else { q / usable as i64 })
        })
    }
}
