//! `maxconn` at three levels (global, frontend, bind). An accept loop takes one
//! permit of each before calling accept(), so at the limit it simply stops
//! accepting (the kernel backlog holds new clients) and resumes when a
//! connection ends: no error storm.
//!
//! A limit can be resized at run time (`set maxconn frontend|global`): raising
//! adds permits; lowering takes back the free ones now and withholds the rest
//! as connections end, so no live connection is cut.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Permits of a limit without `maxconn`: large enough never to be reached,
/// small enough for `Semaphore` and `acquire_many`.
const UNLIMITED: usize = 1 << 30;

#[derive(Debug)]
struct Inner {
    sem: Arc<Semaphore>,
    /// The limit in force (`UNLIMITED` without one).
    max: Mutex<usize>,
    /// Permits still to withhold after a lowering, taken as connections end.
    debt: AtomicUsize,
}

/// One resizable connection limit; every frontend has one, `maxconn` or not.
#[derive(Clone, Debug)]
pub(crate) struct Limit(Arc<Inner>);

impl Default for Limit {
    fn default() -> Self {
        Limit::new(None)
    }
}

impl Limit {
    pub(crate) fn new(max: Option<usize>) -> Self {
        let max = max.filter(|m| *m > 0).unwrap_or(UNLIMITED).min(UNLIMITED);
        Limit(Arc::new(Inner {
            sem: Arc::new(Semaphore::new(max)),
            max: Mutex::new(max),
            debt: AtomicUsize::new(0),
        }))
    }

    pub(crate) async fn acquire(&self) -> Option<LimitPermit> {
        // The semaphore is never closed, so an error cannot happen; treat it
        // as "no limit" rather than panicking.
        let p = self.0.sem.clone().acquire_owned().await.ok()?;
        Some(LimitPermit {
            limit: self.0.clone(),
            permit: Some(p),
        })
    }

    /// The limit in force; `None` without one.
    #[cfg(test)]
    pub(crate) fn max(&self) -> Option<usize> {
        let m = self.0.max.lock().map(|m| *m).unwrap_or(UNLIMITED);
        (m < UNLIMITED).then_some(m)
    }

    /// Changes the limit; `0` removes it. Live connections stay.
    pub(crate) fn resize(&self, new: usize) {
        let new = if new == 0 {
            UNLIMITED
        } else {
            new.min(UNLIMITED)
        };
        let Ok(mut max) = self.0.max.lock() else {
            return;
        };
        let old = *max;
        *max = new;
        if new > old {
            let mut add = new - old;
            // Cancel withheld permits first: they were never taken.
            let _ = self
                .0
                .debt
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                    let cut = d.min(add);
                    Some(d - cut)
                })
                .map(|d| add -= d.min(add));
            if add > 0 {
                self.0.sem.add_permits(add);
            }
        } else if new < old {
            let mut take = old - new;
            while take > 0 {
                let n = u32::try_from(take).unwrap_or(u32::MAX);
                match self.0.sem.try_acquire_many(n) {
                    Ok(p) => {
                        p.forget();
                        take -= n as usize;
                    }
                    Err(_) => {
                        let free = self.0.sem.available_permits().min(take);
                        if free == 0 {
                            break;
                        }
                        match self.0.sem.try_acquire_many(free as u32) {
                            Ok(p) => {
                                p.forget();
                                take -= free;
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
            self.0.debt.fetch_add(take, Ordering::AcqRel);
        }
    }
}

/// One connection's permit of one limit; its drop pays a pending lowering
/// before giving the slot back.
#[derive(Debug)]
pub(crate) struct LimitPermit {
    limit: Arc<Inner>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        let paid = self
            .limit
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .is_ok();
        if paid {
            if let Some(p) = self.permit.take() {
                p.forget();
            }
        }
    }
}

/// Permits held by one client connection.
#[derive(Default)]
pub(crate) struct Permits(pub(crate) Vec<LimitPermit>);

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

    fn free(l: &Limit) -> usize {
        l.0.sem.available_permits()
    }

    #[tokio::test]
    async fn lowering_withholds_until_connections_end_and_raising_repays() {
        let l = Limit::new(Some(3));
        let a = l.acquire().await;
        let b = l.acquire().await;
        assert_eq!(free(&l), 1);
        l.resize(1);
        // One free permit taken now, one still owed by a live connection.
        assert_eq!(free(&l), 0);
        drop(a);
        assert_eq!(free(&l), 0, "the first end pays the debt");
        drop(b);
        assert_eq!(free(&l), 1);
        l.resize(4);
        assert_eq!(free(&l), 4);
        assert_eq!(l.max(), Some(4));
    }

    #[tokio::test]
    async fn raising_cancels_debt_before_adding() {
        let l = Limit::new(Some(2));
        let a = l.acquire().await;
        let b = l.acquire().await;
        l.resize(1);
        l.resize(2);
        drop(a);
        drop(b);
        assert_eq!(free(&l), 2);
        l.resize(0);
        assert_eq!(l.max(), None);
    }

    proptest::proptest! {
        #[test]
        fn free_permits_match_limit_once_idle(sizes in proptest::collection::vec(1usize..50, 1..10), held in 0usize..10) {
            let l = Limit::new(Some(10));
            let mut permits = Vec::new();
            for _ in 0..held {
                if let Ok(p) = l.0.sem.clone().try_acquire_owned() {
                    permits.push(LimitPermit { limit: l.0.clone(), permit: Some(p) });
                }
            }
            for s in &sizes {
                l.resize(*s);
            }
            permits.clear();
            proptest::prop_assert_eq!(free(&l), *sizes.last().unwrap_or(&10));
        }
    }
}
