//! Keep-alive connections idle for a while are parked outside any task: the
//! session's state shrinks to a small record, the socket leaves tokio's
//! registration for this thread's own epoll set, and the task ends. When the
//! client speaks again, the record becomes a new session task; when
//! `timeout http-keep-alive` runs out, the record is dropped (closing the
//! socket quietly, as an idle keep-alive connection ends).
//!
//! A task, a boxed session future and a tokio registration cost about 2 KiB
//! per connection; a parked record costs under 200 bytes. Parking happens
//! after [`PARK_AFTER`] of silence, so a busy keep-alive connection never pays
//! the few extra system calls of a park and resume.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// How long a keep-alive connection waits in its task before it is parked.
/// Its server connection goes back to the pool at the same moment.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// A parked client connection: everything its session needs to go on.
pub(crate) struct Parked {
    pub client: std::net::TcpStream,
    pub held: crate::engine::Held,
    pub http: crate::http::ParkedHttp,
    /// When `timeout http-keep-alive` ends it; `None`: never.
    pub deadline: Option<Instant>,
}

struct Slot {
    /// Bumped each time the slot is reused, so a stale event or timer
    /// naming an earlier occupant is ignored.
    gen: u32,
    rec: Option<Parked>,
}

#[derive(Default)]
struct Slots {
    v: Vec<Slot>,
    free: Vec<u32>,
}

impl Slots {
    fn insert(&mut self, p: Parked) -> u64 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.v.push(Slot { gen: 0, rec: None });
                (self.v.len() - 1) as u32
            }
        };
        let s = &mut self.v[i as usize];
        s.gen = s.gen.wrapping_add(1);
        s.rec = Some(p);
        key(i, s.gen)
    }

    fn take(&mut self, k: u64) -> Option<Parked> {
        let (i, gen) = ((k & 0xffff_ffff) as u32, (k >> 32) as u32);
        let s = self.v.get_mut(i as usize).filter(|s| s.gen == gen)?;
        let p = s.rec.take()?;
        self.free.push(i);
        Some(p)
    }

    /// The record under `k` if its deadline is `d` (else the timer is stale).
    fn take_if_due(&mut self, k: u64, d: Instant) -> Option<Parked> {
        let (i, gen) = ((k & 0xffff_ffff) as u32, (k >> 32) as u32);
        let s = self.v.get(i as usize)?;
        if s.gen != gen || s.rec.as_ref().and_then(|r| r.deadline) != Some(d) {
            return None;
        }
        self.take(k)
    }

    fn drain(&mut self) -> Vec<Parked> {
        self.free.clear();
        let all = self.v.drain(..).filter_map(|s| s.rec).collect();
        self.v.shrink_to_fit();
        self.free.shrink_to_fit();
        all
    }
}

fn key(i: u32, gen: u32) -> u64 {
    (u64::from(gen) << 32) | u64::from(i)
}

/// One worker thread's parked connections.
struct Parker {
    ep: AsyncFd<OwnedFd>,
    slots: RefCell<Slots>,
    /// Keep-alive deadlines, earliest first. One contiguous heap (not a tree
    /// of small nodes scattered through memory); entries of connections that
    /// resumed stay until they come up or the heap is rebuilt.
    timers: RefCell<BinaryHeap<Reverse<(Instant, u64)>>>,
    /// How many entries of `timers` are stale.
    stale: Cell<usize>,
    /// Wakes the parker's task when a deadline earlier than those it waits for comes.
    earlier: tokio::sync::Notify,
    /// A graceful stop began: idle connections are closed, not parked.
    closing: Cell<bool>,
}

thread_local! {
    static PARKER: RefCell<Option<Rc<Parker>>> = const { RefCell::new(None) };
    /// This worker thread is stopping softly (graceful stop or reload).
    static STOPPING: Cell<bool> = const { Cell::new(false) };
    /// Connections parked since the last heap trim.
    static PARKED_SINCE_TRIM: Cell<usize> = const { Cell::new(0) };
}

fn parker() -> Option<Rc<Parker>> {
    PARKER.try_with(|p| p.borrow().clone()).ok().flatten()
}

/// Whether this thread parks idle connections (worker threads do, until a
/// graceful stop).
pub(crate) fn available() -> bool {
    parker().is_some_and(|p| !p.closing.get())
}

/// How many connections were parked since the last call (the worker's trim
/// uses it: their tasks' memory is free now).
pub(crate) fn take_parked_count() -> usize {
    PARKED_SINCE_TRIM.with(|c| c.replace(0))
}

/// Parks `p` on this thread. When it cannot (no parker, a graceful stop,
/// the kernel refused), the connection is closed: it was idle.
pub(crate) fn park(p: Parked) {
    let Some(pk) = parker().filter(|p| !p.closing.get()) else {
        return;
    };
    let fd = p.client.as_raw_fd();
    let deadline = p.deadline;
    let k = pk.slots.borrow_mut().insert(p);
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
        u64: k,
    };
    // SAFETY: both descriptors are open and owned here; `ev` outlives the call.
    let r = unsafe { libc::epoll_ctl(pk.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    if r != 0 {
        tracing::debug!("cannot park a connection: {}", io::Error::last_os_error());
        drop(pk.slots.borrow_mut().take(k));
        return;
    }
    if let Some(d) = deadline {
        let mut t = pk.timers.borrow_mut();
        let first = t.peek().is_none_or(|&Reverse((f, _))| d < f);
        t.push(Reverse((d, k)));
        if first {
            pk.earlier.notify_one();
        }
    }
    PARKED_SINCE_TRIM.with(|c| c.set(c.get() + 1));
}

/// Whether this worker thread is stopping softly: idle connections close, and
/// responses end their connection (`Connection: close`), as in HAProxy.
pub(crate) fn stopping() -> bool {
    STOPPING.try_with(Cell::get).unwrap_or(false)
}

/// A soft stop on this thread: parked connections are closed, except those
/// `keep` selects (`option idle-close-on-response`: they close after their
/// next response), none is parked any more, and [`stopping`] says so from now on.
pub(crate) fn soft_stop(keep: impl Fn(&Parked) -> bool) {
    let _ = STOPPING.try_with(|s| s.set(true));
    if let Some(pk) = parker() {
        pk.closing.set(true);
        let gone: Vec<Parked> = {
            let mut slots = pk.slots.borrow_mut();
            let keys: Vec<u64> = (slots.v.iter().enumerate())
                .filter(|(_, s)| s.rec.as_ref().is_some_and(|p| !keep(p)))
                .map(|(i, s)| key(i as u32, s.gen))
                .collect();
            keys.into_iter().filter_map(|k| slots.take(k)).collect()
        };
        // Their deadlines stay in the heap, stale, until they come up.
        pk.stale
            .set(pk.stale.get() + gone.iter().filter(|p| p.deadline.is_some()).count());
        drop(gone);
    }
}

/// The parker of this worker thread: installs it, then resumes parked
/// connections through `resume` as their clients speak and closes those whose
/// keep-alive time runs out. Runs for the worker's life; the parked
/// connections are closed when the thread's parker goes.
pub(crate) async fn run(resume: impl Fn(Parked)) {
    // SAFETY: epoll_create1 has no memory arguments; the result is checked.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        tracing::warn!(
            "idle connections stay in their tasks: epoll_create1: {}",
            io::Error::last_os_error()
        );
        return;
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: the OwnedFd is moved into the AsyncFd, which keeps it open and
    // unchanged until it is dropped.
    let ep = match unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }
    {
        Ok(ep) => ep,
        Err(e) => {
            tracing::warn!("idle connections stay in their tasks: {e}");
            return;
        }
    };
    let pk = Rc::new(Parker {
        ep,
        slots: RefCell::default(),
        timers: RefCell::default(),
        stale: Cell::new(0),
        earlier: tokio::sync::Notify::new(),
        closing: Cell::new(false),
    });
    PARKER.with(|p| *p.borrow_mut() = Some(pk.clone()));
    let _gone = Uninstall;
    let mut events: Vec<libc::epoll_event> = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    loop {
        let next = pk.timers.borrow().peek().map(|&Reverse((d, _))| d);
        let sleep = async {
            match next {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = pk.ep.readable() => {
                let Ok(mut guard) = r else { return };
                let n = wait_events(guard.get_inner().as_raw_fd(), &mut events);
                if n < events.len() {
                    guard.clear_ready();
                }
                for ev in &events[..n] {
                    let k = ev.u64;
                    let Some(p) = pk.slots.borrow_mut().take(k) else { continue };
                    // SAFETY: both descriptors are open; DEL ignores the event argument.
                    unsafe {
                        libc::epoll_ctl(
                            pk.ep.as_raw_fd(),
                            libc::EPOLL_CTL_DEL,
                            p.client.as_raw_fd(),
                            std::ptr::null_mut(),
                        );
                    }
                    if p.deadline.is_some() {
                        pk.stale.set(pk.stale.get() + 1);
                    }
                    resume(p);
                }
                pk.compact_timers();
            }
            _ = sleep => {
                let now = Instant::now();
                loop {
                    let due = {
                        let mut t = pk.timers.borrow_mut();
                        match t.peek().copied() {
                            Some(Reverse((d, k))) if d <= now => {
                                t.pop();
                                Some((d, k))
                            }
                            _ => None,
                        }
                    };
                    let Some((d, k)) = due else { break };
                    // Out of keep-alive time: closed quietly, as a session would.
                    let gone = pk.slots.borrow_mut().take_if_due(k, d);
                    match gone {
                        Some(p) => drop(p),
                        None => pk.stale.set(pk.stale.get().saturating_sub(1)),
                    }
                }
            }
            _ = pk.earlier.notified() => {}
        }
    }
}

impl Parker {
    /// Rebuilds the deadline heap from the parked records once stale entries
    /// outnumber live ones, so connections that park and resume often do not
    /// grow it.
    fn compact_timers(&self) {
        let mut t = self.timers.borrow_mut();
        if self.stale.get() < 1024 || self.stale.get() * 2 < t.len() {
            return;
        }
        let slots = self.slots.borrow();
        let live: Vec<_> = (slots.v.iter().enumerate())
            .filter_map(|(i, s)| {
                let d = s.rec.as_ref()?.deadline?;
                Some(Reverse((d, key(i as u32, s.gen))))
            })
            .collect();
        *t = BinaryHeap::from(live);
        self.stale.set(0);
    }
}

/// Clears the thread's parker when its task ends, closing what it held.
struct Uninstall;

impl Drop for Uninstall {
    fn drop(&mut self) {
        let pk = PARKER.try_with(|p| p.borrow_mut().take()).ok().flatten();
        if let Some(pk) = pk {
            let all = pk.slots.borrow_mut().drain();
            drop(all);
        }
    }
}

/// The ready events of `ep`, without blocking.
fn wait_events(ep: RawFd, events: &mut [libc::epoll_event]) -> usize {
    let max = events.len() as libc::c_int;
    // SAFETY: `events` is valid for `max` entries and lives through the call.
    let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), max, 0) };
    usize::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    /// A parked connection is its slot (plus its deadline in the heap): keep
    /// it small, it is what thousands of idle clients cost.
    #[test]
    fn a_parked_slot_stays_small() {
        let n = std::mem::size_of::<super::Slot>();
        assert!(n <= 120, "{n} bytes");
    }
}
