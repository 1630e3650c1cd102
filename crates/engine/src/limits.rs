//! `maxconn` at three levels (global, frontend, bind). An accept loop takes one
//! permit of each before calling accept(), so at the limit it simply stops
//! accepting (the kernel backlog holds new clients) and resumes when a
//! connection ends: no error storm.
//!
//! A limit can be resized at run time (`set maxconn frontend|global`): raising
//! adds permits; lowering takes back the free ones now and withholds the rest
//! as connections end, so no live connection is cut.

use crate::gate::{Gate, GatePermit};
use std::sync::Arc;
use tokio::sync::watch;

/// One resizable connection limit; every frontend has one, `maxconn` or not.
#[derive(Clone, Debug)]
pub(crate) struct Limit(Arc<Gate>);

impl Default for Limit {
    fn default() -> Self {
        Limit::new(None)
    }
}

/// One connection's permit of one limit.
pub(crate) type LimitPermit = GatePermit;

impl Limit {
    pub(crate) fn new(max: Option<usize>) -> Self {
        Limit(Gate::new(max.unwrap_or(0)))
    }

    pub(crate) async fn acquire(&self) -> Option<LimitPermit> {
        self.0.acquire().await
    }

    /// The limit in force; `None` without one.
    #[cfg(test)]
    pub(crate) fn max(&self) -> Option<usize> {
        self.0.size()
    }

    /// Changes the limit; `0` removes it. Live connections stay.
    pub(crate) fn resize(&self, new: usize) {
        self.0.resize(new);
    }
}

/// Permits held by one client connection (global, frontend, bind): inline, so
/// a parked connection keeps no allocation made when it was accepted.
#[derive(Default)]
pub(crate) struct Permits(pub(crate) [Option<LimitPermit>; 3]);

/// A frontend's listening state, as `disable|enable|shutdown frontend` set it.
/// Limits are resized and listeners told through `listening`, which the
/// accept loops watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listening {
    Run,
    /// Listeners stop accepting (and refuse); sessions stay.
    Paused,
    /// Listeners are closed for good.
    Shut,
}

/// Run-time controls of the frontends, shared by workers and the runtime API.
pub(crate) struct Controls {
    pub global: Limit,
    pub frontends: Vec<Limit>,
    pub binds: Vec<Vec<Limit>>,
    pub listening: Vec<watch::Sender<Listening>>,
}

impl Controls {
    /// After a resize: accept loops waiting with permits already taken drop
    /// them and take them again under the new limit (one frontend, or all).
    pub(crate) fn retake(&self, frontend: Option<usize>) {
        for (i, l) in self.listening.iter().enumerate() {
            if !matches!(frontend, Some(f) if f != i) {
                l.send_modify(|_| {});
            }
        }
    }

    pub(crate) fn new(rt: &crate::runtime::Runtime) -> Self {
        Controls {
            global: Limit::new(rt.maxconn),
            frontends: rt.frontends.iter().map(|f| Limit::new(f.maxconn)).collect(),
            binds: rt
                .frontends
                .iter()
                .map(|f| f.binds.iter().map(|b| Limit::new(b.maxconn)).collect())
                .collect(),
            listening: rt
                .frontends
                .iter()
                .map(|_| watch::channel(Listening::Run).0)
                .collect(),
        }
    }
}

/// Waits while the frontend is paused, its socket refusing connections as in
/// HAProxy (see [`crate::listener::Listener::pause`]). The socket leaves tokio
/// meanwhile so no stale readiness survives. `None` once the frontend is shut
/// or the engine stops.
pub(crate) async fn await_listening<T>(
    l: crate::listener::Live,
    st: &mut watch::Receiver<Listening>,
    stop: &mut watch::Receiver<T>,
) -> Option<crate::listener::Live> {
    let mut parked: Option<crate::listener::Listener> = None;
    let mut live = Some(l);
    loop {
        let now = *st.borrow_and_update();
        match now {
            Listening::Shut => return None,
            Listening::Run => {
                if let Some(p) = parked.take() {
                    p.resume();
                    return p.into_live().ok();
                }
                return live;
            }
            Listening::Paused => {
                if let Some(l) = live.take() {
                    let p = l.into_std().ok()?;
                    p.pause();
                    parked = Some(p);
                }
                tokio::select! {
                    r = st.changed() => if r.is_err() { return None },
                    _ = stop.changed() => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lowering_withholds_until_connections_end() {
        let l = Limit::new(Some(3));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        l.resize(1);
        assert_eq!(l.0.available(), 0);
        drop(a);
        assert_eq!(l.0.available(), 0, "the first end pays the debt");
        l.resize(0);
        assert_eq!(l.max(), None);
    }
}
