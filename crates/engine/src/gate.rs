//! A counting gate whose size changes while permits are out: every `maxconn`
//! of Fulcrum (global, frontend, bind, server, the backend queue) is one.
//!
//! Growing adds permits at once. Shrinking takes the free permits now and
//! records the rest as debt, paid by the next permits that come back, so no
//! live connection is cut and the size in force is reached as they end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Semaphore;

/// The size of a gate without a limit: never reached, and small enough for
/// `Semaphore` and `try_acquire_many`.
const UNLIMITED: usize = 1 << 30;

#[derive(Debug)]
pub(crate) struct Gate {
    sem: Semaphore,
    /// The size in force (`UNLIMITED` without a limit).
    size: Mutex<usize>,
    /// Permits to withhold as they come back, after a shrink.
    debt: AtomicUsize,
}

/// One permit of a gate, given back (or withheld to pay a shrink) on drop.
#[derive(Debug)]
pub(crate) struct GatePermit(Arc<Gate>);

fn clamp(size: usize) -> usize {
    if size == 0 {
        UNLIMITED
    } else {
        size.min(UNLIMITED)
    }
}

impl Gate {
    /// A gate of `size` permits; `0` means no limit.
    pub(crate) fn new(size: usize) -> Arc<Self> {
        let size = clamp(size);
        Arc::new(Gate {
            sem: Semaphore::new(size),
            size: Mutex::new(size),
            debt: AtomicUsize::new(0),
        })
    }

    /// The size in force; `None` without a limit.
    #[cfg(test)]
    pub(crate) fn size(&self) -> Option<usize> {
        let s = *self.size.lock().unwrap_or_else(PoisonError::into_inner);
        (s < UNLIMITED).then_some(s)
    }

    /// Permits free now.
    #[cfg(test)]
    pub(crate) fn available(&self) -> usize {
        self.sem.available_permits()
    }

    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<GatePermit> {
        self.sem.try_acquire().ok()?.forget();
        Some(GatePermit(self.clone()))
    }

    /// Waits for a permit, in arrival order. `None` cannot happen (the
    /// semaphore is never closed) but is not worth a panic.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Option<GatePermit> {
        // No await between taking the permit and wrapping it: cancelling
        // this future never loses one.
        self.sem.acquire().await.ok()?.forget();
        Some(GatePermit(self.clone()))
    }

    /// Changes the size; `0` removes the limit. Permits out stay out.
    pub(crate) fn resize(&self, new: usize) {
        let new = clamp(new);
        let mut size = self.size.lock().unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(&mut *size, new);
        if new > old {
            let mut add = new - old;
            // Cancel debt first: those permits were never withheld yet.
            if let Ok(d) = (self.debt).fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                Some(d - d.min(add))
            }) {
                add -= d.min(add);
            }
            if add > 0 {
                self.sem.add_permits(add);
            }
        } else if new < old {
            let mut take = old - new;
            // Free permits go now; a few tries cover permits coming and going
            // meanwhile, whatever is left is owed by those out.
            for _ in 0..8 {
                let free = self.sem.available_permits().min(take);
                if free == 0 {
                    break;
                }
                if let Ok(p) = self
                    .sem
                    .try_acquire_many(u32::try_from(free).unwrap_or(u32::MAX))
                {
                    take -= p.num_permits();
                    p.forget();
                }
            }
            self.debt.fetch_add(take, Ordering::AcqRel);
        }
    }
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let paid = (self.0.debt)
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .is_ok();
        if !paid {
            self.0.sem.add_permits(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_withholds_until_permits_return_and_growing_repays() {
        let g = Gate::new(3);
        let a = g.try_acquire();
        let b = g.try_acquire();
        assert_eq!(g.available(), 1);
        g.resize(1);
        // The free permit is taken now, one more is owed by those out.
        assert_eq!(g.available(), 0);
        drop(a);
        assert_eq!(g.available(), 0, "the first one back pays the debt");
        drop(b);
        assert_eq!(g.available(), 1);
        g.resize(4);
        assert_eq!((g.available(), g.size()), (4, Some(4)));
    }

    #[test]
    fn growing_cancels_debt_before_adding() {
        let g = Gate::new(2);
        let a = g.try_acquire();
        let b = g.try_acquire();
        g.resize(1);
        g.resize(2);
        drop((a, b));
        assert_eq!(g.available(), 2);
        g.resize(0);
        assert_eq!(g.size(), None);
    }

    #[tokio::test]
    async fn a_waiter_gets_a_permit_when_the_gate_grows() {
        let g = Gate::new(1);
        let _held = g.try_acquire();
        let g2 = g.clone();
        let waiter = tokio::spawn(async move { g2.acquire().await.is_some() });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        g.resize(2);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await;
        assert!(matches!(got, Ok(Ok(true))));
    }

    proptest::proptest! {
        #[test]
        fn free_permits_match_the_size_once_all_are_back(
            sizes in proptest::collection::vec(1usize..50, 1..10),
            held in 0usize..12,
        ) {
            let g = Gate::new(10);
            let mut out: Vec<_> = (0..held).filter_map(|_| g.try_acquire()).collect();
            for (k, s) in sizes.iter().enumerate() {
                g.resize(*s);
                // Some permits come back between resizes.
                if k % 2 == 1 {
                    out.pop();
                }
            }
            out.clear();
            proptest::prop_assert_eq!(g.available(), *sizes.last().unwrap_or(&10));
        }
    }
}
