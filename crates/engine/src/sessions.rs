//! Registry of live client sessions (HTTP connections and TCP sessions), for
//! `show sess`, `shutdown session`, `shutdown sessions server` and the health
//! actions `on-marked-down shutdown-sessions` / `on-marked-up
//! shutdown-backup-sessions`.
//!
//! Entries live in shards picked by id, so accepts on different threads rarely
//! meet on a lock and never on a global one. Each entry carries its own
//! cancellation: the session's task selects on it and ends (dropping the client
//! socket, so the client sees EOF) when asked.

use fulcrum_observe::log::TermCause;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering,
};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const SHARDS: usize = 16;
/// `be`/`srv` not chosen yet.
const NONE: u32 = u32::MAX;

/// One live session.
pub(crate) struct Entry {
    pub id: u64,
    pub frontend: usize,
    pub src: SocketAddr,
    pub started: Instant,
    backend: AtomicU32,
    server: AtomicU32,
    cancelled: AtomicBool,
    /// The session task's waker, woken by a kill. A waker in the shared entry
    /// rather than a `Notify` waiter in every session's task: idle
    /// connections stay smaller.
    waker: Mutex<Option<Waker>>,
    /// Why it was killed, for its log line (`%ts`): one of [`CAUSES`].
    cause: AtomicU8,
    /// For `show sess`: the `bind` line it came through and the client
    /// socket's descriptor (-1 until known).
    bind: AtomicU16,
    fd: AtomicI32,
    /// The descriptor of the last server connection it used (-1: none yet).
    srv_fd: AtomicI32,
    /// Waiting for a request with nothing received: a soft stop closes it.
    idle: AtomicBool,
    /// The worker thread serving it.
    thread: std::thread::ThreadId,
}

/// The `frontend` of a runtime API connection: HAProxy's `GLOBAL` proxy.
pub(crate) const CLI: usize = usize::MAX;

/// The causes a kill logs with, by index in [`Entry::cause`].
const CAUSES: [TermCause; 3] = [TermCause::Killed, TermCause::Down, TermCause::Up];

impl Entry {
    /// The backend and server chosen so far.
    pub(crate) fn target(&self) -> (Option<usize>, Option<usize>) {
        let get = |a: &AtomicU32| {
            let v = a.load(Ordering::Relaxed);
            (v != NONE).then_some(v as usize)
        };
        (get(&self.backend), get(&self.server))
    }

    /// Records the listener and client descriptor (`show sess`).
    pub(crate) fn set_conn(&self, bind: usize, fd: i32) {
        self.bind
            .store(u16::try_from(bind).unwrap_or(u16::MAX), Ordering::Relaxed);
        self.fd.store(fd, Ordering::Relaxed);
    }

    /// The server connection's descriptor recorded by [`set_server_fd`]; -1 without one.
    pub(crate) fn server_fd(&self) -> i32 {
        self.srv_fd.load(Ordering::Relaxed)
    }

    /// The `bind` index and client descriptor recorded by [`Entry::set_conn`].
    pub(crate) fn conn(&self) -> (usize, i32) {
        (
            usize::from(self.bind.load(Ordering::Relaxed)),
            self.fd.load(Ordering::Relaxed),
        )
    }

    /// Asks the session to end now: killed by an admin (`K` in its log line).
    pub(crate) fn kill(&self) {
        self.kill_for(TermCause::Killed);
    }

    /// Asks the session to end now; its log line shows `cause` (`K`, or `D`/`U`
    /// for the health actions, as HAProxy logs them).
    pub(crate) fn kill_for(&self, cause: TermCause) {
        let i = CAUSES.iter().position(|c| *c == cause).unwrap_or(0);
        self.cause.store(i as u8, Ordering::Relaxed);
        self.cancelled.store(true, Ordering::Release);
        let w = self.waker.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Why the session was killed; `None` while it was not.
    pub(crate) fn kill_cause(&self) -> Option<TermCause> {
        if !self.cancelled.load(Ordering::Acquire) {
            return None;
        }
        CAUSES
            .get(usize::from(self.cause.load(Ordering::Relaxed)))
            .copied()
    }

    /// Whether [`Entry::kill`] was called, registering `cx`'s waker (when it
    /// is not `known` already) to hear of a later kill.
    fn poll_killed(&self, cx: &mut Context<'_>, known: &mut Option<Waker>) -> bool {
        if !known.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let w = cx.waker().clone();
            if let Ok(mut slot) = self.waker.lock() {
                *slot = Some(w.clone());
            }
            *known = Some(w);
        }
        // Checked after registering: a kill in between is not lost.
        self.cancelled.load(Ordering::Acquire)
    }
}

/// Every live session of one engine.
pub(crate) struct Registry {
    next: AtomicU64,
    shards: Vec<Mutex<HashMap<u64, Arc<Entry>>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            // Ids look like HAProxy's session pointers and are never reused.
            next: AtomicU64::new(0x1000),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

/// Removes its session from the registry when the session ends.
pub(crate) struct Registered {
    reg: Arc<Registry>,
    pub entry: Arc<Entry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut s) = self.reg.shard(self.entry.id).lock() {
            s.remove(&self.entry.id);
        }
    }
}

impl Registry {
    fn shard(&self, id: u64) -> &Mutex<HashMap<u64, Arc<Entry>>> {
        // Ids step by 0x10 so the low nibble carries no information.
        &self.shards[((id >> 4) as usize) % SHARDS]
    }

    pub(crate) fn register(self: &Arc<Self>, frontend: usize, src: SocketAddr) -> Registered {
        let id = self.next.fetch_add(0x10, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            id,
            frontend,
            src,
            started: Instant::now(),
            backend: AtomicU32::new(NONE),
            server: AtomicU32::new(NONE),
            cancelled: AtomicBool::new(false),
            waker: Mutex::new(None),
            cause: AtomicU8::new(0),
            bind: AtomicU16::new(0),
            fd: AtomicI32::new(-1),
            srv_fd: AtomicI32::new(-1),
            idle: AtomicBool::new(false),
            thread: std::thread::current().id(),
        });
        if let Ok(mut s) = self.shard(id).lock() {
            s.insert(id, entry.clone());
        }
        Registered {
            reg: self.clone(),
            entry,
        }
    }

    /// Every live session, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Entry>> {
        let mut all: Vec<Arc<Entry>> = self
            .shards
            .iter()
            .filter_map(|s| {
                s.lock()
                    .ok()
                    .map(|s| s.values().cloned().collect::<Vec<_>>())
            })
            .flatten()
            .collect();
        all.sort_by_key(|e| e.id);
        all
    }

    /// Ends one session; false when it does not exist (any more).
    pub(crate) fn kill(&self, id: u64) -> bool {
        let e = self.shard(id).lock().ok().and_then(|s| s.get(&id).cloned());
        e.map(|e| e.kill()).is_some()
    }

    /// A soft stop: ends this thread's sessions that wait for a request with
    /// nothing received, as HAProxy closes idle connections when it stops;
    /// returns how many.
    pub(crate) fn close_idle_here(&self) -> usize {
        let me = std::thread::current().id();
        let idle = self.snapshot().into_iter();
        idle.filter(|e| e.thread == me && e.idle.load(Ordering::Relaxed))
            .map(|e| e.kill())
            .count()
    }

    /// Ends the sessions using a server of `backend` that `which` selects,
    /// logging them with `cause`; returns how many.
    pub(crate) fn kill_where(
        &self,
        backend: usize,
        cause: TermCause,
        which: impl Fn(usize) -> bool,
    ) -> usize {
        let mut n = 0;
        for e in self.snapshot() {
            if let (Some(b), Some(s)) = e.target() {
                if b == backend && which(s) {
                    e.kill_for(cause);
                    n += 1;
                }
            }
        }
        n
    }
}

tokio::task_local! {
    static CURRENT: Arc<Entry>;
}

/// A session's future, boxed: wrapping it then costs a pointer, where a future
/// passed by value is copied into every wrapper's state (and so into the task
/// of every idle connection).
pub(crate) type SessionFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + 'a>>;

/// Runs a session's future with its entry reachable by [`set_server`]; a kill
/// ends it early, with `None`.
pub(crate) fn run<'a>(
    entry: Arc<Entry>,
    mut fut: SessionFuture<'a>,
) -> impl std::future::Future<Output = Option<std::io::Result<()>>> + 'a {
    let e = entry.clone();
    let mut known: Option<Waker> = None;
    CURRENT.scope(
        entry,
        std::future::poll_fn(move |cx| {
            if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(r));
            }
            if e.poll_killed(cx, &mut known) {
                return Poll::Ready(None);
            }
            Poll::Pending
        }),
    )
}

/// The entry of the session running this task, if it is a registered one.
pub(crate) fn current() -> Option<Arc<Entry>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Marks the current session as waiting for a request with nothing received
/// (or not any more).
pub(crate) fn set_idle(idle: bool) {
    let _ = CURRENT.try_with(|e| e.idle.store(idle, Ordering::Relaxed));
}

/// Records the server connection the current session uses now (`show sess`).
pub(crate) fn set_server_fd(fd: i32) {
    let _ = CURRENT.try_with(|e| e.srv_fd.store(fd, Ordering::Relaxed));
}

/// Records the backend and server the current session uses (outside a
/// registered session, nothing happens).
pub(crate) fn set_server(backend: usize, server: Option<usize>) {
    let _ = CURRENT.try_with(|e| {
        let v = |x: usize| u32::try_from(x).unwrap_or(NONE);
        e.backend.store(v(backend), Ordering::Relaxed);
        e.server.store(server.map_or(NONE, v), Ordering::Relaxed);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    #[tokio::test]
    async fn killed_session_future_ends_and_entry_leaves() {
        let reg = Arc::new(Registry::default());
        let r = reg.register(0, addr());
        let id = r.entry.id;
        assert_eq!(reg.snapshot().len(), 1);
        assert!(reg.kill(id));
        let entry = r.entry.clone();
        let ended = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            run(entry, Box::pin(std::future::pending())),
        )
        .await;
        assert!(ended.is_ok(), "a killed session must end");
        drop(r);
        assert!(reg.snapshot().is_empty());
        assert!(!reg.kill(id));
    }

    #[tokio::test]
    async fn kill_where_picks_sessions_of_the_server() {
        let reg = Arc::new(Registry::default());
        let a = reg.register(0, addr());
        let b = reg.register(0, addr());
        run(
            a.entry.clone(),
            Box::pin(async {
                set_server(1, Some(2));
                Ok(())
            }),
        )
        .await;
        run(
            b.entry.clone(),
            Box::pin(async {
                set_server(1, Some(3));
                Ok(())
            }),
        )
        .await;
        assert_eq!(reg.kill_where(1, TermCause::Down, |s| s == 2), 1);
        assert_eq!(a.entry.kill_cause(), Some(TermCause::Down));
        assert_eq!(b.entry.kill_cause(), None);
        assert!(a.entry.cancelled.load(Ordering::Acquire));
        assert!(!b.entry.cancelled.load(Ordering::Acquire));
        assert_eq!(b.entry.target(), (Some(1), Some(3)));
    }
}
