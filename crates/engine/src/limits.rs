//! `maxconn` at three levels (global, frontend, bind). An accept loop takes one
//! permit of each before calling accept(), so at the limit it simply stops
//! accepting (the kernel backlog holds new clients) and resumes when a
//! connection ends: no error storm.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone, Debug, Default)]
pub(crate) struct Limit(Option<Arc<Semaphore>>);

impl Limit {
    pub(crate) fn new(max: Option<usize>) -> Self {
        Limit(max.filter(|m| *m > 0).map(|m| Arc::new(Semaphore::new(m))))
    }

    pub(crate) async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        match &self.0 {
            None => None,
            // The semaphore is never closed, so an error cannot happen; treat it
            // as "no limit" rather than panicking.
            Some(s) => s.clone().acquire_owned().await.ok(),
        }
    }
}

/// Permits held by one client connection.
#[derive(Default)]
pub(crate) struct Permits(pub(crate) Vec<OwnedSemaphorePermit>);
